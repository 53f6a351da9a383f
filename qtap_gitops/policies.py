"""Access policies, as data: the S3 writer's IAM policy, the bucket's TLS-only policy, and the
Vault ACL that lets ESO read the agent's secret and nothing else."""

from __future__ import annotations

import json
from typing import Any

from .aws_names import partition_for_region
from .settings import VaultSettings

IAM_POLICY_VERSION = "2012-10-17"


def bucket_arn(bucket: str, region: str) -> str:
    return f"arn:{partition_for_region(region)}:s3:::{bucket}"


def writer_policy(bucket: str, region: str, kms_key_arn: str | None = None) -> dict[str, Any]:
    """What Qtap's S3 key may do: PutObject into the bucket, nothing else.

    Qtap's s3 store calls only PutObject (key = the payload's SHA-1 digest); it never checks,
    lists or reads the bucket (qpoint-io/qtap pkg/services/objectstore/s3). With SSE-KMS,
    PutObject also needs kms:GenerateDataKey on the bucket's key, and a multipart upload (which
    minio-go uses for large payloads) kms:Decrypt to complete; both only through S3.
    Ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html
    """
    statements: list[dict[str, Any]] = [
        {
            "Sid": "QtapPutObjectOnly",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn(bucket, region)}/*",
        }
    ]
    if kms_key_arn:
        statements.append(
            {
                "Sid": "QtapEncryptWithBucketKey",
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": kms_key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
            }
        )
    return {"Version": IAM_POLICY_VERSION, "Statement": statements}


def tls_only_bucket_policy(bucket: str, region: str) -> dict[str, Any]:
    """Deny every request to the bucket that does not use TLS."""
    arn = bucket_arn(bucket, region)
    return {
        "Version": IAM_POLICY_VERSION,
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def to_json(document: dict[str, Any]) -> str:
    """Stable JSON for a policy document, so an unchanged policy never shows a diff."""
    return json.dumps(document, indent=2, sort_keys=False)


def vault_read_policy(vault: VaultSettings) -> str:
    """HCL granting `read` on the one KV v2 secret.

    KV v2 ACL paths carry the `data/` segment; a v1-style path on the bare secret path grants
    nothing. ESO's plain `remoteRef` reads need only `read` on `data/`; token self-lookup comes
    from Vault's `default` policy, which the role keeps.
    """
    return (
        f"# Read-only access for External Secrets Operator to the Qtap agent's secret.\n"
        f'path "{vault.data_path}" {{\n'
        f'  capabilities = ["read"]\n'
        f"}}\n"
    )

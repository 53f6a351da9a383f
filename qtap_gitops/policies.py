"""Access policies, as data: the S3 writer's IAM policy (for a user's key or the agent's role),
the role's trust policies (IRSA, EKS Pod Identity), the bucket's TLS-only policy, and the Vault
ACL that lets ESO read the agent's secret and nothing else."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
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


def role_writer_policy(
    buckets: Sequence[tuple[str, str]], kms_key_arn: str | None = None
) -> dict[str, Any]:
    """The agent role's policy: `writer_policy`'s statements for every (bucket, region), merged.

    One PutObject statement lists every bucket's objects; the KMS statement (one key per stack)
    allows the S3 service of each bucket's region. IAM requires unique Sids, so statements are
    merged rather than repeated. With one bucket this is exactly `writer_policy`.
    """
    if not buckets:
        raise ValueError("a writer policy needs at least one bucket")
    merged: dict[str, dict[str, Any]] = {}
    for bucket, region in buckets:
        for statement in writer_policy(bucket, region, kms_key_arn)["Statement"]:
            sid = statement["Sid"]
            if sid not in merged:
                merged[sid] = copy.deepcopy(statement)
                continue
            if sid == "QtapPutObjectOnly":
                _append_unique(merged[sid], ["Resource"], statement["Resource"])
            else:
                _append_unique(
                    merged[sid],
                    ["Condition", "StringEquals", "kms:ViaService"],
                    statement["Condition"]["StringEquals"]["kms:ViaService"],
                )
    return {"Version": IAM_POLICY_VERSION, "Statement": list(merged.values())}


def _append_unique(statement: dict[str, Any], path: list[str], value: str) -> None:
    """Turn the string at `path` into a list holding `value` too (no duplicates)."""
    node = statement
    for key in path[:-1]:
        node = node[key]
    current = node[path[-1]]
    values = current if isinstance(current, list) else [current]
    if value not in values:
        values = [*values, value]
    node[path[-1]] = values if len(values) > 1 else values[0]


# Trust policies of the agent's role. EKS documents both shapes:
# IRSA: https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html
# Pod Identity: https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html
STS_AUDIENCE = "sts.amazonaws.com"
POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"


def irsa_trust_policy(
    oidc_provider_arn: str, issuer: str, namespace: str, service_account: str
) -> dict[str, Any]:
    """Only the one ServiceAccount's projected token, issued by the cluster's OIDC provider for
    STS, may assume the role (sub pins namespace and name; aud pins the token's audience)."""
    return {
        "Version": IAM_POLICY_VERSION,
        "Statement": [
            {
                "Sid": "QtapAgentServiceAccount",
                "Effect": "Allow",
                "Principal": {"Federated": oidc_provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                        f"{issuer}:aud": STS_AUDIENCE,
                    }
                },
            }
        ],
    }


def pod_identity_trust_policy() -> dict[str, Any]:
    """The EKS Pod Identity service assumes the role (and tags the session with the pod's
    cluster, namespace and ServiceAccount); which pods get it is decided by the
    PodIdentityAssociation, which names one ServiceAccount."""
    return {
        "Version": IAM_POLICY_VERSION,
        "Statement": [
            {
                "Sid": "QtapAgentPodIdentity",
                "Effect": "Allow",
                "Principal": {"Service": POD_IDENTITY_PRINCIPAL},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }


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
    """HCL granting `read` on the stack's one KV v2 secret (see `vault_read_policy_at`)."""
    return vault_read_policy_at(vault.data_path)


def kv2_data_path(kv_mount: str, path: str) -> str:
    """The KV v2 API path of the secret `path` in `kv_mount` (`secret/data/qpoint/qtap`)."""
    return f"{kv_mount}/data/{path}"


def vault_read_policy_at(data_path: str) -> str:
    """HCL granting `read` on the one KV v2 secret at `data_path`.

    KV v2 ACL paths carry the `data/` segment; a v1-style path on the bare secret path grants
    nothing. ESO's plain `remoteRef` reads need only `read` on `data/`; token self-lookup comes
    from Vault's `default` policy, which the role keeps.
    """
    return (
        f"# Read-only access for External Secrets Operator to the Qtap agent's secret.\n"
        f'path "{data_path}" {{\n'
        f'  capabilities = ["read"]\n'
        f"}}\n"
    )

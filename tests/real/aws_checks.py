"""Apply a generated object store (bucket settings, IAM user and policy) to moto, and prove what
the writer's key may do with IAM enforcement on.

Each `check_*` function raises AssertionError listing every problem it found; the same function
runs on what the program generates (it must pass) and on broken versions of it (it must fail).

What moto can and cannot prove (measured, see shared/reference/real-services-in-tests.md):
- it evaluates identity policies (Action and Resource, wildcards, explicit Deny), so the writer
  policy is proven by calling S3 and IAM with the writer's key;
- it ignores policy conditions, and with the TLS-only bucket policy attached it denies every
  object request, even over "TLS" and with auth off; so that policy is not attached here and is
  checked structurally instead (`check_tls_only_policy`);
- its S3 never calls KMS, and it authorises KMS calls against Resource "*", so the writer's
  key-scoped KMS statement cannot be exercised: `check_kms_statement` checks it
  structurally, and the object written must carry the bucket's SSE-KMS key.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.real.generated import (
    BUCKET,
    BUCKET_POLICY,
    ENCRYPTION,
    IAM_USER,
    IAM_USER_POLICY,
    LIFECYCLE,
    OWNERSHIP,
    PUBLIC_ACCESS_BLOCK,
    VERSIONING,
)

# moto's built-in credentials; valid only while IAM enforcement is off.
BOOTSTRAP = ("testing", "testing")
ALLOW_EVERYTHING = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
# Qtap names objects by the SHA-1 digest of the payload (40 hex characters).
PAYLOAD = b'{"request": "GET /v1/charges", "status": 502}'
DIGEST_KEY = hashlib.sha1(PAYLOAD, usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Credentials:
    key_id: str
    secret: str


@dataclass(frozen=True)
class Aws:
    """Clients for one moto endpoint; each identity gets its own."""

    endpoint: str

    def client(self, service: str, credentials: Credentials, region: str) -> BaseClient:
        return _client(self.endpoint, service, credentials, region)


@functools.cache
def _client(endpoint: str, service: str, credentials: Credentials, region: str) -> BaseClient:
    """Cached: a boto3 client costs tens of milliseconds to build, a test needs a dozen."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=credentials.key_id,
        aws_secret_access_key=credentials.secret,
        # No proxy from the environment, and no retry: a denial must show at once.
        config=Config(proxies={}, retries={"total_max_attempts": 1}),
    )


# Pulumi's camelCase inputs -> the S3 API's shapes (the same mapping the AWS provider makes).
_AWS_NAMES = {
    "id": "ID",
    "sseAlgorithm": "SSEAlgorithm",
    "kmsMasterKeyId": "KMSMasterKeyID",
    "mfaDelete": "MFADelete",
}


def aws_shape(value: Any) -> Any:
    """`{"expiration": {"days": 7}}` -> `{"Expiration": {"Days": 7}}`, recursively."""
    if isinstance(value, dict):
        return {_AWS_NAMES.get(k, k[:1].upper() + k[1:]): aws_shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [aws_shape(v) for v in value]
    return value


# Inputs that say which bucket, not how it is configured.
_ADDRESSING = frozenset({"bucket", "region", "expectedBucketOwner"})


def _settings(inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in inputs.items() if k not in _ADDRESSING}


def create_admin(aws: Aws) -> Credentials:
    """An IAM user allowed everything, created while auth is off: moto's default key stops
    working once enforcement is on."""
    iam = aws.client("iam", Credentials(*BOOTSTRAP), "us-east-1")
    iam.create_user(UserName="test-admin")
    iam.put_user_policy(UserName="test-admin", PolicyName="all", PolicyDocument=ALLOW_EVERYTHING)
    key = iam.create_access_key(UserName="test-admin")["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def _create_bucket(s3: BaseClient, bucket: str, region: str) -> None:
    if region == "us-east-1":  # the one region S3 refuses as a LocationConstraint
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})


def apply_bucket(aws: Aws, admin: Credentials, store: Mapping[str, Any]) -> None:
    """Create a generated ObjectStore's bucket with its settings (its children's inputs)."""
    bucket = store[BUCKET]["bucket"]
    region = store[BUCKET]["region"]
    s3 = aws.client("s3", admin, region)
    _create_bucket(s3, bucket, region)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration=aws_shape(_settings(store[PUBLIC_ACCESS_BLOCK])),
    )
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [aws_shape(store[OWNERSHIP]["rule"])]}
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={"Rules": aws_shape(store[ENCRYPTION]["rules"])},
    )
    s3.put_bucket_versioning(
        Bucket=bucket,
        VersioningConfiguration=aws_shape(store[VERSIONING]["versioningConfiguration"]),
    )
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": aws_shape(store[LIFECYCLE]["rules"])}
    )
    # The TLS-only BucketPolicy is deliberately not attached: moto ignores its
    # aws:SecureTransport condition and would deny every object request to everyone.


def apply_object_store(aws: Aws, admin: Credentials, store: Mapping[str, Any]) -> Credentials:
    """Create what one generated ObjectStore registers (its children's inputs by type) and
    return the writer's new access key."""
    apply_bucket(aws, admin, store)
    region = store[BUCKET]["region"]
    user, policy = store[IAM_USER], store[IAM_USER_POLICY]
    iam = aws.client("iam", admin, region)
    iam.create_user(UserName=user["name"], Path=user.get("path", "/"))
    iam.put_user_policy(
        UserName=policy["user"], PolicyName=policy["name"], PolicyDocument=policy["policy"]
    )
    key = iam.create_access_key(UserName=user["name"])["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def _public_read_policy(bucket: str) -> str:
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _outcome(call: Callable[[], Any]) -> str:
    try:
        call()
    except ClientError as error:
        code = error.response["Error"]["Code"]
        return "denied" if code == "AccessDenied" else f"failed with {code}"
    return "allowed"


def check_writer_key(
    aws: Aws, admin: Credentials, writer: Credentials, store: Mapping[str, Any]
) -> None:
    """With IAM enforcement on, the writer's key can PutObject into its bucket (a plain key and
    a 40-hex SHA-1 digest key, as Qtap writes) and nothing else in S3 or IAM."""
    bucket = store[BUCKET]["bucket"]
    region = store[BUCKET]["region"]
    other_bucket = f"{bucket}-other"
    admin_s3 = aws.client("s3", admin, region)
    _create_bucket(admin_s3, other_bucket, region)
    s3 = aws.client("s3", writer, region)
    iam = aws.client("iam", writer, region)
    problems: list[str] = []

    for key in (DIGEST_KEY, "qtap-probe"):
        outcome = _outcome(lambda key=key: s3.put_object(Bucket=bucket, Key=key, Body=PAYLOAD))
        if outcome != "allowed":
            problems.append(f"PutObject {bucket}/{key}: {outcome}, expected allowed")
    digest_written = not problems

    # The object Qtap wrote picks up the bucket's default encryption.
    # (Read at once: a too-broad key could delete it below.)
    if digest_written:
        head = admin_s3.head_object(Bucket=bucket, Key=DIGEST_KEY)
        default = store[ENCRYPTION]["rules"][0]["applyServerSideEncryptionByDefault"]
        if head.get("ServerSideEncryption") != default["sseAlgorithm"]:
            problems.append(
                f"the object is encrypted with {head.get('ServerSideEncryption')!r},"
                f" the bucket's default is {default['sseAlgorithm']!r}"
            )
        if head.get("SSEKMSKeyId") != default.get("kmsMasterKeyId"):
            problems.append(
                f"the object's KMS key is {head.get('SSEKMSKeyId')!r},"
                f" the bucket's is {default.get('kmsMasterKeyId')!r}"
            )

    must_be_denied: dict[str, Callable[[], Any]] = {
        f"PutObject into another bucket ({other_bucket})": lambda: s3.put_object(
            Bucket=other_bucket, Key=DIGEST_KEY, Body=PAYLOAD
        ),
        "GetObject": lambda: s3.get_object(Bucket=bucket, Key=DIGEST_KEY),
        "DeleteObject": lambda: s3.delete_object(Bucket=bucket, Key=DIGEST_KEY),
        "ListBucket (ListObjectsV2)": lambda: s3.list_objects_v2(Bucket=bucket),
        "DeleteBucket": lambda: s3.delete_bucket(Bucket=bucket),
        "ListBuckets": lambda: s3.list_buckets(),
        "PutBucketPolicy (could open the bucket)": lambda: s3.put_bucket_policy(
            Bucket=bucket, Policy=_public_read_policy(bucket)
        ),
        "DeletePublicAccessBlock": lambda: s3.delete_public_access_block(Bucket=bucket),
        "iam:ListUsers": lambda: iam.list_users(),
        "iam:CreateAccessKey (a second key for itself)": lambda: iam.create_access_key(
            UserName=store[IAM_USER]["name"]
        ),
    }
    for action, call in must_be_denied.items():
        outcome = _outcome(call)
        if outcome != "denied":
            problems.append(f"{action}: {outcome}, expected AccessDenied")

    assert not problems, f"writer key of {bucket}:\n  " + "\n  ".join(problems)


def _differences(generated: Any, actual: Any, path: str = "") -> list[str]:
    """Where `actual` (read back) lacks or changes something `generated` set."""
    if isinstance(generated, dict):
        if not isinstance(actual, dict):
            return [f"{path or '/'}: {actual!r} is not a mapping"]
        return [
            problem
            for key, value in generated.items()
            for problem in _differences(value, actual.get(key), f"{path}/{key}")
        ]
    if isinstance(generated, list):
        if not isinstance(actual, list) or len(actual) != len(generated):
            return [f"{path}: {actual!r}, generated {generated!r}"]
        return [
            problem
            for index, (g, a) in enumerate(zip(generated, actual, strict=True))
            for problem in _differences(g, a, f"{path}/{index}")
        ]
    return (
        [] if generated == actual else [f"{path}: reads back {actual!r}, generated {generated!r}"]
    )


def check_bucket_reads_back(
    aws: Aws,
    admin: Credentials,
    store: Mapping[str, Any],
    *,
    retention_days: int,
    kms_key_id: str | None,
) -> None:
    """The bucket's public access block, ownership, encryption, versioning and lifecycle read
    back as generated; public access is fully blocked, SSE matches the stack's kmsKeyId (AES256
    without one), and objects expire after the stack's retention."""
    bucket = store[BUCKET]["bucket"]
    s3 = aws.client("s3", admin, store[BUCKET]["region"])
    problems: list[str] = []

    public = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    problems += [
        f"public access block{p}"
        for p in _differences(aws_shape(_settings(store[PUBLIC_ACCESS_BLOCK])), public)
    ]
    flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    if not all(public.get(flag) is True for flag in flags):
        problems.append(f"public access is not fully blocked: {public}")

    ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    problems += [
        f"ownership{p}" for p in _differences([aws_shape(store[OWNERSHIP]["rule"])], ownership)
    ]

    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    problems += [
        f"encryption{p}"
        for p in _differences(aws_shape(store[ENCRYPTION]["rules"]), encryption["Rules"])
    ]
    default = encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]
    expected_default = (
        {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key_id}
        if kms_key_id
        else {"SSEAlgorithm": "AES256"}
    )
    if default != expected_default:
        problems.append(f"default encryption {default}, the stack asks for {expected_default}")

    versioning = s3.get_bucket_versioning(Bucket=bucket)
    problems += [
        f"versioning{p}"
        for p in _differences(aws_shape(store[VERSIONING]["versioningConfiguration"]), versioning)
    ]

    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    problems += [f"lifecycle{p}" for p in _differences(aws_shape(store[LIFECYCLE]["rules"]), rules)]
    whole_bucket = [
        r for r in rules if r.get("Status") == "Enabled" and r.get("Filter", {}).get("Prefix") == ""
    ]
    expiries = [r.get("Expiration", {}).get("Days") for r in whole_bucket]
    if expiries != [retention_days]:
        problems.append(
            f"objects expire after {expiries} days (enabled whole-bucket rules), the stack's"
            f" retention is {retention_days}"
        )

    assert not problems, f"bucket {bucket}:\n  " + "\n  ".join(problems)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def check_tls_only_policy(store: Mapping[str, Any]) -> None:
    """The bucket policy denies, to everyone, every S3 action on the bucket and its objects
    when the request does not use TLS, and grants nothing (moto cannot evaluate the condition,
    so this is structural)."""
    bucket = store[BUCKET]["bucket"]
    arn = f"arn:aws:s3:::{bucket}"
    document = json.loads(store[BUCKET_POLICY]["policy"])
    problems: list[str] = []
    if store[BUCKET_POLICY]["bucket"] != bucket:
        problems.append(f"the policy is attached to {store[BUCKET_POLICY]['bucket']!r}")
    if document.get("Version") != "2012-10-17":
        problems.append(f"Version {document.get('Version')!r}, expected '2012-10-17'")
    statements = _as_list(document.get("Statement", []))
    if any(s.get("Effect") != "Deny" for s in statements):
        problems.append("the bucket policy has a statement that is not a Deny")
    tls = [
        s
        for s in statements
        if s.get("Effect") == "Deny"
        and s.get("Principal") in ("*", {"AWS": "*"})
        and _as_list(s.get("Action")) == ["s3:*"]
        and sorted(_as_list(s.get("Resource"))) == sorted([arn, f"{arn}/*"])
        and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        and not {"NotAction", "NotResource", "NotPrincipal"} & set(s)
    ]
    if len(tls) != 1:
        problems.append(
            "no statement denies s3:* on the bucket and bucket/* to Principal * when"
            f" aws:SecureTransport is false: {statements}"
        )
    assert not problems, f"TLS-only policy of {bucket}:\n  " + "\n  ".join(problems)


def check_kms_statement(store: Mapping[str, Any], *, kms_key_id: str | None) -> None:
    """With the stack's kmsKeyId, the writer may kms:GenerateDataKey and kms:Decrypt (to complete
    multipart uploads) on exactly that key, only through S3 in the bucket's region; without one,
    the policy has no KMS statement at all."""
    region = store[BUCKET]["region"]
    document = json.loads(store[IAM_USER_POLICY]["policy"])
    statements = _as_list(document["Statement"])
    kms = [s for s in statements if any(a.startswith("kms:") for a in _as_list(s.get("Action")))]
    problems: list[str] = []
    if kms_key_id is None:
        if kms:
            problems.append(f"KMS statements without a kmsKeyId: {kms}")
    else:
        expected = {
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": kms_key_id,
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
        }
        if len(kms) != 1 or {k: v for k, v in kms[0].items() if k != "Sid"} != expected:
            problems.append(
                "expected one statement allowing only kms:GenerateDataKey and kms:Decrypt on"
                f" {kms_key_id} via s3.{region}.amazonaws.com, found {kms}"
            )
    assert not problems, "writer policy, KMS:\n  " + "\n  ".join(problems)

"""Apply what the program generates for a keyless store (the bucket, the agent's IAM role and
its policy) to moto, obtain the role's credentials as the agent would, and prove what they may do
with IAM enforcement on.

As in aws_checks, each `check_*` raises AssertionError listing every problem it found, and runs
on the generated resources (must pass) and on deliberately broken ones (must fail).

What moto proves and what it does not (shared reference "Keyless S3", tried with moto 5):
- STS `AssumeRoleWithWebIdentity` (IRSA) and `AssumeRole` (what EKS Pod Identity's service
  does) return session credentials for the role, which are then authorised against the role's
  policies. moto answers `AssumeRoleWithWebIdentity` with a 500 once enforcement is on, so the
  credentials are obtained first, as a pod would obtain them before it writes;
- moto does not evaluate trust policies (any token assumes any role), so the trust is checked
  structurally (`check_irsa_trust`, `check_pod_identity_trust`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config

from tests.real.aws_checks import (
    DIGEST_KEY,
    PAYLOAD,
    Aws,
    Credentials,
    _create_bucket,
    _outcome,
    _public_read_policy,
)
from tests.real.generated import (
    BUCKET,
    ENCRYPTION,
)

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
WORKLOAD_IDENTITY = "qtap:aws:WorkloadIdentity"
# A projected ServiceAccount token stands here; moto does not verify it.
WEB_IDENTITY_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.sig"


@dataclass(frozen=True)
class Session:
    """Temporary credentials of an assumed role."""

    key_id: str
    secret: str
    token: str


@functools.cache
def _session_client(endpoint: str, service: str, session: Session, region: str) -> BaseClient:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=session.key_id,
        aws_secret_access_key=session.secret,
        aws_session_token=session.token,
        config=Config(proxies={}, retries={"total_max_attempts": 1}),
    )


def apply_role(aws: Aws, admin: Credentials, identity: Mapping[str, Any]) -> str:
    """Create the generated role (name, path, trust) and its inline policy; the role's ARN."""
    role, policy = identity[ROLE], identity[ROLE_POLICY]
    iam = aws.client("iam", admin, "us-east-1")
    arn = iam.create_role(
        RoleName=role["name"],
        Path=role.get("path", "/"),
        AssumeRolePolicyDocument=role["assumeRolePolicy"],
    )["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=policy["role"], PolicyName=policy["name"], PolicyDocument=policy["policy"]
    )
    return str(arn)


def assume(aws: Aws, admin: Credentials, role_arn: str, *, web_identity: bool) -> Session:
    """The role's credentials as the agent gets them: IRSA through the web identity token,
    Pod Identity through the EKS Auth service's AssumeRole. Call before enforcement is on."""
    sts = aws.client("sts", admin, "us-east-1")
    if web_identity:
        answer = sts.assume_role_with_web_identity(
            RoleArn=role_arn, RoleSessionName="qtap-agent", WebIdentityToken=WEB_IDENTITY_TOKEN
        )
    else:
        answer = sts.assume_role(RoleArn=role_arn, RoleSessionName="qtap-agent")
    credentials = answer["Credentials"]
    return Session(
        credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]
    )


def other_bucket_of(store: Mapping[str, Any]) -> str:
    return f"{store[BUCKET]['bucket']}-other"


def create_other_bucket(aws: Aws, admin: Credentials, store: Mapping[str, Any]) -> None:
    region = store[BUCKET]["region"]
    _create_bucket(aws.client("s3", admin, region), other_bucket_of(store), region)


def check_role_session(
    aws: Aws, admin: Credentials, session: Session, store: Mapping[str, Any], role_name: str
) -> None:
    """With IAM enforcement on, the role's session can PutObject into the store's bucket (a
    40-hex digest key, as Qtap writes) and nothing else: not read, list or delete there, not
    write elsewhere, not touch the bucket's settings, not call IAM."""
    bucket, region = store[BUCKET]["bucket"], store[BUCKET]["region"]
    other_bucket = other_bucket_of(store)
    s3 = _session_client(aws.endpoint, "s3", session, region)
    iam = _session_client(aws.endpoint, "iam", session, region)
    problems: list[str] = []

    outcome = _outcome(lambda: s3.put_object(Bucket=bucket, Key=DIGEST_KEY, Body=PAYLOAD))
    if outcome != "allowed":
        problems.append(f"PutObject {bucket}/{DIGEST_KEY}: {outcome}, expected allowed")
    else:
        head = aws.client("s3", admin, region).head_object(Bucket=bucket, Key=DIGEST_KEY)
        default = store[ENCRYPTION]["rules"][0]["applyServerSideEncryptionByDefault"]
        if head.get("ServerSideEncryption") != default["sseAlgorithm"]:
            problems.append(f"the object is not encrypted with {default['sseAlgorithm']}")

    must_be_denied: dict[str, Callable[[], Any]] = {
        "GetObject": lambda: s3.get_object(Bucket=bucket, Key=DIGEST_KEY),
        "ListBucket (ListObjectsV2)": lambda: s3.list_objects_v2(Bucket=bucket),
        "DeleteObject": lambda: s3.delete_object(Bucket=bucket, Key=DIGEST_KEY),
        f"PutObject into another bucket ({other_bucket})": lambda: s3.put_object(
            Bucket=other_bucket, Key=DIGEST_KEY, Body=PAYLOAD
        ),
        "ListBuckets": lambda: s3.list_buckets(),
        "PutBucketPolicy (could open the bucket)": lambda: s3.put_bucket_policy(
            Bucket=bucket, Policy=_public_read_policy(bucket)
        ),
        "iam:ListRoles": lambda: iam.list_roles(),
        "iam:PutRolePolicy (could widen its own role)": lambda: iam.put_role_policy(
            RoleName=role_name,
            PolicyName="more",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                }
            ),
        ),
        "iam:CreateUser (a static key after all)": lambda: iam.create_user(UserName="qtap-x"),
    }
    for action, call in must_be_denied.items():
        outcome = _outcome(call)
        if outcome != "denied":
            problems.append(f"{action}: {outcome}, expected AccessDenied")
    assert not problems, f"role session for {bucket}:\n  " + "\n  ".join(problems)


def _statements(document: str) -> list[dict[str, Any]]:
    statements = json.loads(document).get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def check_irsa_trust(
    identity: Mapping[str, Any],
    *,
    oidc_provider_arn: str,
    issuer: str,
    namespace: str,
    service_account: str,
) -> None:
    """Exactly one statement: the cluster's OIDC provider may assume the role with a web
    identity whose sub is the one ServiceAccount and whose aud is STS; nothing else."""
    expected = {
        "Effect": "Allow",
        "Principal": {"Federated": oidc_provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringEquals": {
                f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                f"{issuer}:aud": "sts.amazonaws.com",
            }
        },
    }
    statements = _statements(identity[ROLE]["assumeRolePolicy"])
    found = [{k: v for k, v in s.items() if k != "Sid"} for s in statements]
    assert found == [expected], f"IRSA trust:\n  expected [{expected}]\n  found {found}"


def check_pod_identity_trust(identity: Mapping[str, Any]) -> None:
    """Exactly one statement: the EKS Pod Identity service may AssumeRole and TagSession."""
    expected = {
        "Effect": "Allow",
        "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
    }
    statements = _statements(identity[ROLE]["assumeRolePolicy"])
    found = [{k: v for k, v in s.items() if k != "Sid"} for s in statements]
    assert found == [expected], f"Pod Identity trust:\n  expected [{expected}]\n  found {found}"

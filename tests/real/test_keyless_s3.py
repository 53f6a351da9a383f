"""Keyless S3, for real on moto with IAM enforcement: the role and policy the program generates
for a keyless variant of prod (its real snapshot without key references), assumed as the agent
assumes it (IRSA: STS AssumeRoleWithWebIdentity; Pod Identity: AssumeRole), may PutObject into
its bucket and nothing else. Each probe is also run on a deliberately broken policy, and the
trust checks on broken trusts, to show they bite."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from qtapctl.mock_engine import reveal
from tests.keyless import ISSUER, OIDC_PROVIDER_ARN, keyless_project
from tests.pulumi_harness import run_stack
from tests.real.aws_checks import Aws, apply_bucket, create_admin
from tests.real.generated import HELM_RELEASE, OBJECT_STORE, Generated
from tests.real.identity_checks import (
    ROLE,
    ROLE_POLICY,
    WORKLOAD_IDENTITY,
    apply_role,
    assume,
    check_irsa_trust,
    check_pod_identity_trust,
    check_role_session,
    create_other_bucket,
)
from tests.real.servers import Moto

pytestmark = pytest.mark.real

STACK = "prod"
MODES = ("irsa", "pod-identity")


@pytest.fixture(scope="module")
def keyless(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Generated]:
    generated = {}
    for mode in MODES:
        run = run_stack(STACK, keyless_project(tmp_path_factory.mktemp(mode), STACK, mode))
        assert run.error is None, run.error
        generated[mode] = Generated(STACK, run)
    return generated


def parts(generated: Generated) -> tuple[dict[str, Any], dict[str, Any]]:
    (store,) = generated.components(OBJECT_STORE)
    (identity,) = generated.components(WORKLOAD_IDENTITY)
    return store, identity


def prove(aws: Aws, moto: Moto, mode: str, store: dict[str, Any], identity: dict[str, Any]) -> None:
    """Create the bucket, the role and its policy; obtain the role's credentials before
    enforcement is on (moto refuses the web identity call with it on); then probe."""
    admin = create_admin(aws)
    apply_bucket(aws, admin, store)
    create_other_bucket(aws, admin, store)
    role_arn = apply_role(aws, admin, identity)
    session = assume(aws, admin, role_arn, web_identity=mode == "irsa")
    moto.set_auth_enforced(enforced=True)
    check_role_session(aws, admin, session, store, identity[ROLE]["name"])


@pytest.mark.parametrize("mode", MODES)
def test_the_agents_role_can_only_put_objects_into_its_bucket(
    aws: Aws, moto: Moto, keyless: dict[str, Generated], mode: str
) -> None:
    store, identity = parts(keyless[mode])
    prove(aws, moto, mode, store, identity)


def test_irsa_trust_names_the_service_account_of_the_chart(keyless: dict[str, Generated]) -> None:
    generated = keyless["irsa"]
    _, identity = parts(generated)
    release = generated.one(HELM_RELEASE)
    account = release["values"]["serviceAccount"]
    assert account["create"] is True
    assert account["annotations"] == {
        "eks.amazonaws.com/role-arn": reveal(generated.run.outputs["agentRoleArn"])
    }
    check_irsa_trust(
        identity,
        oidc_provider_arn=OIDC_PROVIDER_ARN,
        issuer=ISSUER,
        namespace=release["namespace"],
        service_account=account["name"],
    )


def test_pod_identity_trust_and_association(keyless: dict[str, Generated]) -> None:
    generated = keyless["pod-identity"]
    _, identity = parts(generated)
    check_pod_identity_trust(identity)
    release = generated.one(HELM_RELEASE)
    association = identity["aws:eks/podIdentityAssociation:PodIdentityAssociation"]
    assert association["serviceAccount"] == release["values"]["serviceAccount"]["name"]
    assert association["namespace"] == release["namespace"]
    assert association["roleArn"] == generated.run.outputs["agentRoleArn"]


# -- the probes bite -------------------------------------------------------------------------


def _put_statement(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def mutate(identity: dict[str, Any]) -> None:
        document = json.loads(identity[ROLE_POLICY]["policy"])
        change(document["Statement"][0])
        identity[ROLE_POLICY]["policy"] = json.dumps(document)

    return mutate


def _add_statement(statement: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def mutate(identity: dict[str, Any]) -> None:
        document = json.loads(identity[ROLE_POLICY]["policy"])
        document["Statement"].append({"Effect": "Allow", **statement})
        identity[ROLE_POLICY]["policy"] = json.dumps(document)

    return mutate


BUCKET_ARN = "arn:aws:s3:::acme-qtap-prod-payloads"
BROKEN_POLICIES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "wrong bucket": (
        _put_statement(lambda s: s.update(Resource=f"{BUCKET_ARN}-typo/*")),
        "expected allowed",
    ),
    "any bucket": (
        _put_statement(lambda s: s.update(Resource="arn:aws:s3:::*/*")),
        "PutObject into another bucket",
    ),
    "GetObject too": (
        _put_statement(lambda s: s.update(Action=["s3:PutObject", "s3:GetObject"])),
        "GetObject: allowed",
    ),
    "DeleteObject too": (
        _put_statement(lambda s: s.update(Action=["s3:PutObject", "s3:DeleteObject"])),
        "DeleteObject: allowed",
    ),
    "ListBucket too": (
        _add_statement({"Action": "s3:ListBucket", "Resource": BUCKET_ARN}),
        "ListBucket (ListObjectsV2): allowed",
    ),
    "bucket policy too": (
        _add_statement({"Action": "s3:PutBucketPolicy", "Resource": BUCKET_ARN}),
        "PutBucketPolicy (could open the bucket): allowed",
    ),
    "IAM too": (_add_statement({"Action": "iam:*", "Resource": "*"}), "iam:ListRoles: allowed"),
}


@pytest.mark.parametrize("broken", sorted(BROKEN_POLICIES))
@pytest.mark.parametrize("mode", MODES)
def test_each_probe_fails_on_a_broken_policy(
    aws: Aws, moto: Moto, keyless: dict[str, Generated], mode: str, broken: str
) -> None:
    store, identity = parts(keyless[mode])
    mutate, expected = BROKEN_POLICIES[broken]
    identity = copy.deepcopy(identity)
    mutate(identity)
    with pytest.raises(AssertionError, match="role session") as failure:
        prove(aws, moto, mode, store, identity)
    assert expected in str(failure.value)


def _trust_statement(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def mutate(identity: dict[str, Any]) -> None:
        document = json.loads(identity[ROLE]["assumeRolePolicy"])
        change(document["Statement"][0])
        identity[ROLE]["assumeRolePolicy"] = json.dumps(document)

    return mutate


def _sub(value: str) -> Callable[[dict[str, Any]], None]:
    return lambda s: s["Condition"]["StringEquals"].update({f"{ISSUER}:sub": value})


BROKEN_IRSA_TRUSTS = {
    "another service account": _trust_statement(_sub("system:serviceaccount:qpoint:default")),
    "any service account": _trust_statement(
        lambda s: s.update(Condition={"StringLike": {f"{ISSUER}:sub": "system:serviceaccount:*:*"}})
    ),
    "no audience": _trust_statement(lambda s: s["Condition"]["StringEquals"].pop(f"{ISSUER}:aud")),
    "another provider": _trust_statement(
        lambda s: s.update(Principal={"Federated": OIDC_PROVIDER_ARN.replace("EXAMPLE", "OTHER")})
    ),
    "plain AssumeRole": _trust_statement(lambda s: s.update(Action="sts:AssumeRole")),
}
BROKEN_POD_IDENTITY_TRUSTS = {
    "no TagSession": _trust_statement(lambda s: s.update(Action="sts:AssumeRole")),
    "another service": _trust_statement(
        lambda s: s.update(Principal={"Service": "eks.amazonaws.com"})
    ),
    "any AWS principal": _trust_statement(lambda s: s.update(Principal={"AWS": "*"})),
}


@pytest.mark.parametrize("broken", sorted(BROKEN_IRSA_TRUSTS))
def test_the_irsa_trust_check_bites(keyless: dict[str, Generated], broken: str) -> None:
    _, identity = parts(keyless["irsa"])
    identity = copy.deepcopy(identity)
    BROKEN_IRSA_TRUSTS[broken](identity)
    with pytest.raises(AssertionError, match="IRSA trust"):
        check_irsa_trust(
            identity,
            oidc_provider_arn=OIDC_PROVIDER_ARN,
            issuer=ISSUER,
            namespace="qpoint",
            service_account="qtap",
        )


@pytest.mark.parametrize("broken", sorted(BROKEN_POD_IDENTITY_TRUSTS))
def test_the_pod_identity_trust_check_bites(keyless: dict[str, Generated], broken: str) -> None:
    _, identity = parts(keyless["pod-identity"])
    identity = copy.deepcopy(identity)
    BROKEN_POD_IDENTITY_TRUSTS[broken](identity)
    with pytest.raises(AssertionError, match="Pod Identity trust"):
        check_pod_identity_trust(identity)

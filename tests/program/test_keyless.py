"""The whole program on a keyless variant of a committed stack: prod's real snapshot with its
AWS store's key references removed, and a workload identity in its stack file. No IAM user, no
access key, no S3 key in Vault, the ExternalSecret or extraEnv; one role for the agent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qtapctl.mock_engine import ProgramRun, Secret, Unknown, redact, reveal
from tests.conftest import copy_project
from tests.keyless import (
    CLUSTER_NAME,
    ISSUER,
    OIDC_PROVIDER_ARN,
    keyless_project,
    remove_keys,
    set_identity,
)
from tests.pulumi_harness import SENTINEL_KEY_ID, SENTINEL_SECRET_KEY, SENTINEL_TOKEN, run_stack

STACK = "prod"  # SSE-KMS, a protected bucket, strict snapshot: the most to get wrong
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
SECRET = "vault:kv/secretV2:SecretV2"
EXTERNAL = "kubernetes:external-secrets.io/v1:ExternalSecret"
RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"
BUCKET = "aws:s3/bucket:Bucket"
KEY_TYPES = {"aws:iam/user:User", "aws:iam/userPolicy:UserPolicy", "aws:iam/accessKey:AccessKey"}
ROLE_ARN = "arn:aws:iam::123456789012:role/qtap/qtap-agent-prod"
KMS_KEY = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ProgramRun]:
    return {
        mode: run_stack(STACK, keyless_project(tmp_path_factory.mktemp(mode), STACK, mode))
        for mode in ("irsa", "pod-identity")
    }


@pytest.mark.parametrize("mode", ["irsa", "pod-identity"])
def test_no_static_credential_anywhere(runs, mode):
    run = runs[mode]
    assert run.error is None, run.error
    types = {r.type for r in run.registrations}
    assert not KEY_TYPES & types
    assert BUCKET in types
    assert "qtap:aws:WorkloadIdentity" in types
    assert json.loads(reveal(run.one(SECRET).inputs["dataJson"])) == {
        "registration-token": SENTINEL_TOKEN
    }
    assert [d["secretKey"] for d in run.one(EXTERNAL).inputs["spec"]["data"]] == [
        "REGISTRATION_TOKEN"
    ]
    assert [e["name"] for e in run.one(RELEASE).inputs["values"]["extraEnv"]] == [
        "REGISTRATION_TOKEN"
    ]
    everything = json.dumps([reveal(dict(r.inputs)) for r in run.registrations], default=str)
    for marker in (
        "S3_ACCESS_KEY",
        "S3_SECRET_KEY",
        "s3-access-key",
        SENTINEL_KEY_ID,
        SENTINEL_SECRET_KEY,
    ):
        assert marker not in everything, marker
    assert run.outputs["iamUsers"] == []
    assert set(run.outputs["envBindings"]) == {"REGISTRATION_TOKEN"}
    assert run.outputs["agentRoleArn"] == ROLE_ARN
    assert not isinstance(run.outputs["agentRoleArn"], Secret)


def test_irsa_trust_names_the_service_account_the_chart_creates(runs):
    run = runs["irsa"]
    (statement,) = json.loads(run.one(ROLE).inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Federated": OIDC_PROVIDER_ARN}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            f"{ISSUER}:sub": "system:serviceaccount:qpoint:qtap",
            f"{ISSUER}:aud": "sts.amazonaws.com",
        }
    }
    values = run.one(RELEASE).inputs["values"]
    assert values["serviceAccount"] == {
        "create": True,
        "name": "qtap",
        "annotations": {"eks.amazonaws.com/role-arn": ROLE_ARN},
    }
    assert run.one(RELEASE).inputs["namespace"] == "qpoint"
    assert run.of_type(ASSOCIATION) == []


def test_pod_identity_associates_the_role_with_the_service_account_the_chart_creates(runs):
    run = runs["pod-identity"]
    (statement,) = json.loads(run.one(ROLE).inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert statement["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    association = run.one(ASSOCIATION).inputs
    assert (
        association["clusterName"],
        association["namespace"],
        association["serviceAccount"],
    ) == (
        CLUSTER_NAME,
        "qpoint",
        "qtap",
    )
    assert association["roleArn"] == ROLE_ARN
    assert run.one(RELEASE).inputs["values"]["serviceAccount"] == {"create": True, "name": "qtap"}


@pytest.mark.parametrize("mode", ["irsa", "pod-identity"])
def test_role_may_only_put_objects_into_the_stacks_bucket_with_its_kms_key(runs, mode):
    run = runs[mode]
    policy = run.one(ROLE_POLICY).inputs
    assert policy["role"] == "qtap-agent-prod"
    put, kms = json.loads(policy["policy"])["Statement"]
    bucket = run.one(BUCKET).inputs["bucket"]
    assert put == {
        "Sid": "QtapPutObjectOnly",
        "Effect": "Allow",
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    assert kms["Resource"] == KMS_KEY
    assert kms["Action"] == ["kms:GenerateDataKey", "kms:Decrypt"]


@pytest.mark.parametrize("mode", ["irsa", "pod-identity"])
def test_the_agent_starts_only_once_its_identity_is_complete(runs, mode):
    run = runs[mode]
    release = run.one(RELEASE)
    waits_for = {run.by_urn(u).type for u in release.dependencies}
    # IRSA: the role (its ARN is in the values) and its policy; Pod Identity: the policy and
    # the association, which EKS reads when it admits a pod; the Vault secret's KV version is
    # the secrets revision the pods carry.
    expected = {NAMESPACE, EXTERNAL, SECRET, ROLE_POLICY}
    expected |= {ROLE} if mode == "irsa" else {ASSOCIATION}
    assert waits_for == expected
    assert {run.by_urn(u).type for u in run.one(ROLE_POLICY).dependencies} == {ROLE}
    assert run.one(SECRET).dependencies == ()
    assert run.one(BUCKET).protect
    assert run.one(BUCKET).retain_on_delete
    assert not run.one(ROLE).protect


@pytest.mark.parametrize("mode", ["irsa", "pod-identity"])
def test_preview_registers_the_same_graph_with_the_role_arn_unknown(runs, mode, tmp_path: Path):
    preview = run_stack(STACK, keyless_project(tmp_path / "p", STACK, mode), preview=True)
    assert preview.error is None
    assert sorted(r.urn for r in preview.registrations) == sorted(
        r.urn for r in runs[mode].registrations
    )
    if mode == "irsa":
        annotations = preview.one(RELEASE).inputs["values"]["serviceAccount"]["annotations"]
        assert isinstance(annotations["eks.amazonaws.com/role-arn"], Unknown)
    else:
        assert isinstance(preview.one(ASSOCIATION).inputs.get("roleArn", Unknown()), Unknown)


def test_plain_inputs_and_outputs_hold_no_secret(runs):
    for run in runs.values():
        visible = json.dumps([redact(dict(r.inputs)) for r in run.registrations], default=str)
        assert SENTINEL_TOKEN not in visible
        assert SENTINEL_TOKEN not in json.dumps(redact(run.outputs), default=str)


# -- invalid combinations register nothing ---------------------------------------------------


def test_keyless_store_without_identity_registers_nothing(tmp_path: Path):
    run = run_stack(STACK, remove_keys(copy_project(tmp_path / "p"), STACK))
    assert run.registrations == []
    message = str(run.error)
    assert "snapshots/prod/qtap-config.yaml:12: error [s3-aws-keys]" in message
    assert "fix: pulumi config set --path 'qtap:objectStore.identity' irsa --stack prod" in message
    assert "nothing was deployed" in message
    assert "Traceback" not in message


def test_identity_with_keys_registers_nothing(tmp_path: Path):
    run = run_stack(STACK, set_identity(copy_project(tmp_path / "p"), STACK, "pod-identity"))
    assert run.registrations == []
    assert "snapshots/prod/qtap-config.yaml:21:16: error [s3-identity-keys]" in str(run.error)


def test_identity_without_eks_settings_registers_nothing(tmp_path: Path):
    project = set_identity(
        remove_keys(copy_project(tmp_path / "p"), STACK), STACK, "irsa", eks=False
    )
    run = run_stack(STACK, project)
    assert run.registrations == []
    assert "[stack-config-missing]: qtap:eks.oidcProviderArn" in str(run.error)


# -- a snapshot that reads no env variable ----------------------------------------------------

PULSE_STORE = (
    "    - id: qpoint\n      type: pulse\n      url: https://api-pulse.qpoint.io\n"
    "      token:\n        type: env\n        value: REGISTRATION_TOKEN\n"
)


@pytest.mark.parametrize("backend", ["external-secrets", "vault-secrets-operator"])
def test_a_snapshot_that_reads_no_env_variable_deploys_no_secret_sync(tmp_path: Path, backend):
    # Keyless S3 and a stdout event store instead of pulse: nothing for the agent to read from
    # qtap-secrets, so no Vault secret, no ExternalSecret (ESO refuses one without data), and
    # the release waits for nothing but its namespace.
    project = keyless_project(tmp_path, STACK, "irsa")
    snapshot = project / "snapshots" / STACK / "qtap-config.yaml"
    text = snapshot.read_text()
    assert PULSE_STORE in text
    snapshot.write_text(text.replace(PULSE_STORE, "    - id: local\n      type: stdout\n"))
    overrides = {}
    if backend != "external-secrets":
        overrides["qtap:secrets"] = json.dumps({"backend": backend})
    run = run_stack(STACK, project, registration_token=None, config_overrides=overrides)
    assert run.error is None, run.error
    types = {r.type for r in run.registrations}
    assert not types & {SECRET, EXTERNAL, "qtap:vault:VaultSecrets", "qtap:kubernetes:SecretSync"}
    assert not any(t.startswith("kubernetes:secrets.hashicorp.com") for t in types)
    release = run.one(RELEASE)
    assert release.inputs["values"]["extraEnv"] == []
    assert "revision/qtap-secrets" not in release.inputs["values"]["podAnnotations"]
    waits_for = {run.by_urn(u).type for u in release.dependencies}
    assert waits_for == {NAMESPACE, ROLE, ROLE_POLICY}
    assert run.outputs["envBindings"] == {}
    assert run.outputs["secretsRevision"] == ""

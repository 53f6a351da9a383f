"""Keyless S3: keys vs workload identity, the snapshot against the stack settings, and the
role's policies as data. Every invalid combination stops with file:line, what is wrong and the
fix; the program registers nothing for them (tests/program/test_keyless.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qtap_gitops.deployment import DeploymentReport, check_deployment
from qtap_gitops.identity import AGENT_SERVICE_ACCOUNT, agent_role_name, describe_identity
from qtap_gitops.policies import (
    irsa_trust_policy,
    pod_identity_trust_policy,
    role_writer_policy,
    writer_policy,
)
from qtap_gitops.problems import Problem
from qtap_gitops.settings import IdentityMode
from qtap_gitops.stackfile import find_project, load_stack_config
from tests.conftest import copy_project, edit_snapshot
from tests.contract.snapshots import MINIO_STORE
from tests.keyless import (
    CLUSTER_NAME,
    ISSUER,
    OIDC_PROVIDER_ARN,
    edit_stack_file,
    keyless_project,
    remove_keys,
    set_identity,
)

SNAPSHOT = "snapshots/dev/qtap-config.yaml"
KMS_KEY = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def report_for(project: Path, stack: str = "dev") -> DeploymentReport:
    raw, problems = load_stack_config(find_project(project), stack)
    assert raw is not None, problems
    return check_deployment(raw, project, require_secrets=False)


def only_error(report: DeploymentReport, code: str) -> Problem:
    assert [p.code for p in report.errors] == [code], [p.format() for p in report.errors]
    assert report.deployment is None, "nothing may be deployed"
    return report.errors[0]


def line_of(project: Path, relative: str, text: str) -> int:
    lines = (project / relative).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


# -- valid combinations ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["irsa", "pod-identity"])
def test_keyless_store_with_an_identity_deploys_without_any_key_binding(tmp_path, mode):
    report = report_for(keyless_project(tmp_path / "p", "dev", mode))
    assert report.errors == [], [p.format() for p in report.errors]
    deployment = report.deployment
    assert deployment is not None
    assert deployment.settings.object_store.identity is IdentityMode(mode)
    assert [b.name for b in deployment.bindings] == ["REGISTRATION_TOKEN"]


def test_keyed_stores_without_identity_stay_as_they_are(tmp_path):
    report = report_for(copy_project(tmp_path / "p"))
    assert report.errors == []
    assert {b.name for b in report.deployment.bindings} == {
        "REGISTRATION_TOKEN",
        "S3_ACCESS_KEY",
        "S3_SECRET_KEY",
    }


# -- invalid combinations --------------------------------------------------------------------


def test_keyless_store_without_identity_names_the_store_and_both_fixes(tmp_path):
    project = remove_keys(copy_project(tmp_path / "p"), "dev")
    problem = only_error(report_for(project), "s3-aws-keys")
    assert problem.location() == f"{SNAPSHOT}:{line_of(project, SNAPSHOT, '- id: acme_dev_s3')}"
    assert problem.yaml_path == "services.object_stores[0]"
    assert "acme-qtap-dev-payloads" in problem.message
    assert "qtap:objectStore.identity" in problem.message
    assert "pulumi config set --path 'qtap:objectStore.identity' irsa --stack dev" in problem.fix
    assert "pod-identity" in problem.fix
    assert "access_key: {type: env, value: S3_ACCESS_KEY}" in problem.fix


@pytest.mark.parametrize("mode", ["irsa", "pod-identity"])
def test_identity_with_a_store_that_references_keys(tmp_path, mode):
    project = set_identity(copy_project(tmp_path / "p"), "dev", mode)
    problem = only_error(report_for(project), "s3-identity-keys")
    # At the store's access_key reference (its env name), which is what must go.
    line = line_of(project, SNAPSHOT, "value: S3_ACCESS_KEY")
    assert problem.location() == f"{SNAPSHOT}:{line}:16"
    assert problem.yaml_path == "services.object_stores[0].access_key"
    assert f"qtap:objectStore.identity is {mode}" in problem.message
    assert "remove access_key and secret_key from this store in Qplane" in problem.fix
    assert "remove qtap:objectStore.identity from Pulumi.dev.yaml" in problem.fix


ARCHIVE_KEYLESS = """\
    - id: archive
      type: s3
      endpoint: s3.eu-central-1.amazonaws.com
      bucket: acme-qtap-dev-archive
      region: eu-central-1
      access_url: https://{{ENDPOINT}}/{{BUCKET}}/{{DIGEST}}
"""


def test_mixed_snapshot_is_refused_either_way(tmp_path):
    # One keyed and one keyless AWS store: without an identity the keyless one has no
    # credentials; with one, the keyed one contradicts it (one mode per stack).
    project = edit_snapshot(
        copy_project(tmp_path / "p"), "dev", "\nstacks:", ARCHIVE_KEYLESS + "\nstacks:"
    )
    problem = only_error(report_for(project), "s3-aws-keys")
    assert problem.yaml_path == "services.object_stores[1]"
    assert "acme-qtap-dev-archive" in problem.message

    set_identity(project, "dev", "irsa")
    problem = only_error(report_for(project), "s3-identity-keys")
    assert problem.yaml_path == "services.object_stores[0].access_key"


def test_identity_without_an_aws_store_does_not_apply(tmp_path):
    project = copy_project(tmp_path / "p")
    path = project / SNAPSHOT
    text = path.read_text()
    start, end = text.index("    - id: acme_dev_s3"), text.index("\nstacks:")
    path.write_text(
        text[:start] + MINIO_STORE.replace("id: objects", "id: acme_dev_s3") + text[end:]
    )
    set_identity(project, "dev", "irsa")
    problem = only_error(report_for(project), "setting-not-applicable")
    line = line_of(project, "Pulumi.dev.yaml", "identity: irsa")
    assert problem.location() == f"Pulumi.dev.yaml:{line}:5"
    assert problem.yaml_path == "qtap:objectStore.identity"
    assert "has no AWS s3 store" in problem.message
    assert problem.fix == "remove qtap:objectStore.identity"


@pytest.mark.parametrize(
    ("mode", "field"), [("irsa", "oidcProviderArn"), ("pod-identity", "clusterName")]
)
def test_identity_without_its_eks_field(tmp_path, mode, field):
    project = set_identity(remove_keys(copy_project(tmp_path / "p"), "dev"), "dev", mode, eks=False)
    problem = only_error(report_for(project), "stack-config-missing")
    assert problem.yaml_path == f"qtap:eks.{field}"
    assert f"pulumi config set --path 'qtap:eks.{field}'" in problem.fix


def test_eks_field_of_the_other_mode_does_not_apply(tmp_path):
    project = keyless_project(tmp_path / "p", "dev", "pod-identity")
    path = project / "Pulumi.dev.yaml"
    path.write_text(path.read_text() + f"    oidcProviderArn: {OIDC_PROVIDER_ARN}\n")
    problem = only_error(report_for(project), "setting-not-applicable")
    assert problem.yaml_path == "qtap:eks.oidcProviderArn"
    assert problem.line == line_of(project, "Pulumi.dev.yaml", "oidcProviderArn:")


@pytest.mark.parametrize("mode", ["irsa", "pod-identity"])
def test_service_account_values_are_the_programs_with_an_identity(tmp_path, mode):
    project = keyless_project(tmp_path / "p", "dev", mode)
    edit_stack_file(
        project,
        "dev",
        "      logLevel: debug\n",
        "      logLevel: debug\n      serviceAccount:\n        name: mine\n",
    )
    problem = only_error(report_for(project), "chart-values")
    assert problem.yaml_path == "qtap:chart.values.serviceAccount"
    assert (
        problem.location()
        == f"Pulumi.dev.yaml:{line_of(project, 'Pulumi.dev.yaml', 'serviceAccount:')}:7"
    )
    assert problem.fix == "remove qtap:chart.values.serviceAccount"


def test_service_account_values_stay_the_users_with_static_keys(tmp_path):
    project = edit_stack_file(
        copy_project(tmp_path / "p"),
        "dev",
        "      logLevel: debug\n",
        "      logLevel: debug\n      serviceAccount:\n        name: mine\n",
    )
    assert report_for(project).errors == []


# -- check's explanation ---------------------------------------------------------------------


def test_describe_identity_names_the_role_the_service_account_and_each_store(tmp_path):
    irsa = report_for(keyless_project(tmp_path / "a", "dev", "irsa")).deployment
    lines = describe_identity(irsa.settings, irsa.snapshot)
    assert lines[0] == (
        "IAM role qtap-agent-dev (IRSA: ServiceAccount qpoint/qtap annotated with the role, "
        f"trusted through {OIDC_PROVIDER_ARN})"
    )
    assert lines[1:] == [
        "  serves services.object_stores[0]: s3:PutObject into acme-qtap-dev-payloads "
        "(us-east-1), no key"
    ]
    pod = report_for(keyless_project(tmp_path / "b", "dev", "pod-identity")).deployment
    assert (
        f"association of ServiceAccount qpoint/qtap in cluster {CLUSTER_NAME}"
        in (describe_identity(pod.settings, pod.snapshot)[0])
    )
    keyed = report_for(copy_project(tmp_path / "c")).deployment
    assert describe_identity(keyed.settings, keyed.snapshot) == []


# -- policies as data ------------------------------------------------------------------------


def test_irsa_trust_names_the_provider_the_service_account_and_the_audience():
    (statement,) = irsa_trust_policy(OIDC_PROVIDER_ARN, ISSUER, "qpoint", "qtap")["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Federated": OIDC_PROVIDER_ARN}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            f"{ISSUER}:sub": "system:serviceaccount:qpoint:qtap",
            f"{ISSUER}:aud": "sts.amazonaws.com",
        }
    }


def test_pod_identity_trust_is_the_eks_pods_service_with_tag_session():
    (statement,) = pod_identity_trust_policy()["Statement"]
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert statement["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert "Condition" not in statement


def test_role_policy_for_one_bucket_is_exactly_the_writer_policy():
    for kms in (None, KMS_KEY):
        assert role_writer_policy([("b1", "us-west-2")], kms) == writer_policy(
            "b1", "us-west-2", kms
        )


def test_role_policy_for_several_buckets_merges_statements_with_unique_sids():
    document = role_writer_policy(
        [("b1", "us-west-2"), ("b2", "eu-west-1"), ("b3", "us-west-2")], KMS_KEY
    )
    put, kms = document["Statement"]
    assert put == {
        "Sid": "QtapPutObjectOnly",
        "Effect": "Allow",
        "Action": "s3:PutObject",
        "Resource": ["arn:aws:s3:::b1/*", "arn:aws:s3:::b2/*", "arn:aws:s3:::b3/*"],
    }
    assert kms["Resource"] == KMS_KEY
    assert kms["Condition"] == {
        "StringEquals": {
            "kms:ViaService": ["s3.us-west-2.amazonaws.com", "s3.eu-west-1.amazonaws.com"]
        }
    }
    assert len({s["Sid"] for s in document["Statement"]}) == 2
    json.dumps(document)  # a JSON document, as IAM takes it


def test_role_policy_needs_a_bucket():
    with pytest.raises(ValueError, match="at least one bucket"):
        role_writer_policy([])


def test_role_name_is_stable_and_fits_iam():
    assert agent_role_name("prod") == "qtap-agent-prod"
    long = agent_role_name("x" * 80)
    assert len(long) == 64
    assert long == agent_role_name("x" * 80)
    assert long != agent_role_name("x" * 79 + "y")
    assert AGENT_SERVICE_ACCOUNT == "qtap"

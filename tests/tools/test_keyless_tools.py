"""qtapctl on a keyless stack: `check` explains which identity serves which store, `plan` shows
the role with its trust as a document and the association, `import` refuses a keyless export
for a stack without an identity."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import copy_project
from tests.keyless import KEY_BLOCK, OIDC_PROVIDER_ARN, keyless_project, remove_keys, set_identity
from tests.tools.cli import qtapctl


def test_check_explains_which_identity_serves_which_store(tmp_path: Path):
    project = keyless_project(tmp_path / "p", "prod", "irsa")
    result = qtapctl("--project-dir", str(project), "check", "prod")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "   workload identity (no static AWS key):\n" in result.stdout
    assert (
        "     IAM role qtap-agent-prod (IRSA: ServiceAccount qpoint/qtap annotated with the role, "
        f"trusted through {OIDC_PROVIDER_ARN})\n"
        "       serves services.object_stores[0]: s3:PutObject into acme-qtap-prod-payloads "
        "(us-west-2), no key\n"
    ) in result.stdout
    assert "S3_ACCESS_KEY" not in result.stdout


def test_check_refuses_a_keyless_store_without_identity_first(tmp_path: Path):
    project = remove_keys(copy_project(tmp_path / "p"), "dev")
    result = qtapctl("--project-dir", str(project), "check", "dev")
    assert result.returncode == 1
    assert "snapshots/dev/qtap-config.yaml:12: error [s3-aws-keys]" in result.stdout
    assert "fix: pulumi config set --path 'qtap:objectStore.identity' irsa" in result.stdout
    plan = qtapctl("--project-dir", str(project), "plan", "dev")
    assert plan.returncode == 1
    assert "[s3-aws-keys]" in plan.stdout


def test_plan_shows_the_role_its_trust_and_the_association(tmp_path: Path):
    project = keyless_project(tmp_path / "p", "prod", "pod-identity")
    result = qtapctl("--project-dir", str(project), "plan", "prod", "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    (plan,) = json.loads(result.stdout)["stacks"]
    resources = {r["path"]: r for r in plan["resources"]}
    role = resources["qtap/qtap-identity/qtap-identity-role"]
    assert role["inputs"]["assumeRolePolicy"]["Statement"][0]["Principal"] == {
        "Service": "pods.eks.amazonaws.com"
    }
    policy = resources["qtap/qtap-identity/qtap-identity-policy"]["inputs"]["policy"]
    assert policy["Statement"][0]["Action"] == "s3:PutObject"
    association = resources["qtap/qtap-identity/qtap-identity-association"]
    assert association["inputs"]["serviceAccount"] == "qtap"
    assert role["inputs"]["name"] == "qtap-agent-prod"
    assert plan["outputs"]["agentRoleArn"] == "arn:aws:iam::123456789012:role/qtap/qtap-agent-prod"
    assert not [r for r in plan["resources"] if r["type"].startswith("aws:iam/user")]

    text = qtapctl("--project-dir", str(project), "plan", "prod").stdout
    assert "+ aws:eks/podIdentityAssociation:PodIdentityAssociation  qtap-identity-association" in (
        text
    )
    assert "sts:TagSession" in text


def test_import_refuses_a_keyless_export_for_a_stack_without_identity(tmp_path: Path):
    project = copy_project(tmp_path / "p")
    committed = (project / "snapshots/dev/qtap-config.yaml").read_bytes()
    export = committed.decode().replace(KEY_BLOCK, "")
    result = qtapctl("--project-dir", str(project), "import", "dev", stdin=export)
    assert result.returncode == 1
    assert "[s3-aws-keys]" in result.stdout
    assert (project / "snapshots/dev/qtap-config.yaml").read_bytes() == committed

    set_identity(project, "dev", "irsa")
    accepted = qtapctl("--project-dir", str(project), "import", "dev", stdin=export)
    assert accepted.returncode == 0, accepted.stdout
    assert (project / "snapshots/dev/qtap-config.yaml").read_text() == export

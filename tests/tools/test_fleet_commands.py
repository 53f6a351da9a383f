"""`qtapctl stacks`, `qtapctl fleet`, and the fleet contract as `check` reports it, on real stack
files; the end-to-end "Done when" of a second prod cluster in one file."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from qtap_gitops.chart_versions import app_version
from qtapctl.fleet import STACK_KEYS
from tests.conftest import REPO, STACKS, copy_project, schema_file
from tests.tools.cli import qtapctl_inprocess
from tests.tools.rollout_model import qtap_shim, run_step, simulate_deploy, stacks_step
from tests.tools.test_workflows import DEPLOY_WORKFLOW, load

# The whole change that runs prod's snapshot on a second cluster (README, "Add a cluster").
PROD_EU = """\
# Production, second cluster: prod's snapshot, bucket and Vault secret (prod owns them).
config:
  pulumi:disable-default-providers: ["*"]
  aws:region: eu-central-1
  kubernetes:context: acme-prod-eu
  qtap:fleet:
    environment: prod
    owner: prod
    ring: 2
  qtap:chart:
    version: 0.0.35
  qtap:vault:
    address: https://vault.acme.internal:8200
    authMount: kubernetes-prod-eu
"""
# A member's snapshot defaults to its owner's; stating it is the same.
SNAPSHOT_LINE = "  qtap:snapshot: snapshots/prod/qtap-config.yaml\n"


def with_prod_eu(project: Path, text: str = PROD_EU) -> Path:
    (project / "Pulumi.prod-eu.yaml").write_text(text)
    return project


def run(project: Path, *args: str) -> tuple[int, str, str]:
    result = qtapctl_inprocess("--project-dir", str(project), *args)
    return result.status, result.stdout, result.stderr


def test_stacks_lists_every_stack_in_deploy_order_with_stable_keys():
    status, out, err = run(REPO, "stacks", "--format", "json")
    assert status == 0, err
    listed = json.loads(out)
    assert [s["stack"] for s in listed] == list(STACKS)
    assert all(tuple(s) == STACK_KEYS for s in listed)
    assert listed[0] == {
        "stack": "dev",
        "environment": "dev",
        "owner": "dev",
        "ring": 0,
        "context": "acme-dev",
        "delivery": "helm",
        "secrets": "external-secrets",
    }
    assert [s["ring"] for s in listed] == [0, 1, 2]
    status, text, _ = run(REPO, "stacks")
    assert status == 0
    assert text.splitlines()[0].split() == list(STACK_KEYS)
    assert [line.split()[0] for line in text.splitlines()[1:]] == list(STACKS)


def test_stacks_refuses_a_broken_relation_and_prints_no_list(project_copy: Path):
    with_prod_eu(project_copy, PROD_EU.replace("owner: prod", "owner: prod-us"))
    status, out, err = run(project_copy, "stacks", "--format", "json")
    assert status == 1
    assert out == ""
    assert "Pulumi.prod-eu.yaml:8:5: error [fleet-owner-missing]" in err
    assert "fix: add Pulumi.prod-us.yaml" in err


def test_check_refuses_a_member_running_another_snapshot_at_its_owner_key(project_copy: Path):
    with_prod_eu(project_copy, PROD_EU + "  qtap:snapshot: snapshots/staging/qtap-config.yaml\n")
    status, out, _ = run(project_copy, "check")
    assert status == 1
    assert "Pulumi.prod-eu.yaml:8:5: error [fleet-snapshot]: qtap:fleet.owner:" in out
    # Only the member is refused: the owner deploys on its own.
    assert "== stack prod: ok" in out


def test_a_second_owner_of_one_bucket_still_conflicts(project_copy: Path):
    """prod-eu as its own owner with prod's snapshot: two stacks would create one bucket."""
    text = PROD_EU.replace("    owner: prod\n", "").replace("environment: prod", "environment: eu")
    with_prod_eu(project_copy, text + SNAPSHOT_LINE)
    status, out, _ = run(project_copy, "check", "prod-eu")
    assert status == 1
    assert "[shared-bucket]" in out
    assert "bucket acme-qtap-prod-payloads is also created by stack prod" in out


def test_members_vault_role_must_not_collide(project_copy: Path):
    """A member shares its owner's secret, never its kubernetes-auth role or policy."""
    text = PROD_EU.replace("authMount: kubernetes-prod-eu", "role: qtap-prod")
    with_prod_eu(project_copy, text + SNAPSHOT_LINE)
    status, out, _ = run(project_copy, "check", "prod-eu")
    assert status == 1
    assert "stack prod already uses the Vault policy qtap-prod-read" in out
    assert "Vault secret" not in out


def test_done_when_a_second_prod_cluster_is_one_file(tmp_path: Path):
    """check passes, the stacks order and the deploy put it after prod, the inventory lists both
    clusters on one digest."""
    project = with_prod_eu(copy_project(tmp_path / "project"))
    status, out, _ = run(project, "check")
    assert status == 0, out
    assert "check passed: dev, staging, prod, prod-eu" in out

    status, out, _ = run(project, "stacks", "--format", "json")
    listed = json.loads(out)
    assert [s["stack"] for s in listed] == ["dev", "staging", "prod", "prod-eu"]
    assert listed[-1] | {} == {
        "stack": "prod-eu",
        "environment": "prod",
        "owner": "prod",
        "ring": 2,
        "context": "acme-prod-eu",
        "delivery": "helm",
        "secrets": "external-secrets",
    }

    qtap_shim(project)
    workflow = load(DEPLOY_WORKFLOW)
    runs = [
        r
        for r in simulate_deploy(workflow, run_step(stacks_step(workflow, "stages"), project))
        if r.stacks
    ]
    assert [r.stacks for r in runs] == [["dev"], ["staging"], ["prod"], ["prod-eu"]]

    status, out, _ = run(project, "fleet", "--format", "json")
    assert status == 0
    inventory = json.loads(out)
    rows = {row["stack"]: row for row in inventory["stacks"]}
    assert rows["prod-eu"]["snapshot_sha256"] == rows["prod"]["snapshot_sha256"]
    assert rows["prod-eu"]["protection"] == "owner's bucket (prod)"
    (prod,) = [e for e in inventory["environments"] if e["environment"] == "prod"]
    assert prod["stacks"] == ["prod", "prod-eu"]
    assert prod["same_snapshot"] is True


def test_fleet_inventory_shows_versions_modes_credentials_and_digests():
    status, out, _ = run(REPO, "fleet", "--format", "json")
    assert status == 0
    rows = {row["stack"]: row for row in json.loads(out)["stacks"]}
    assert rows["dev"]["chart_version"] == "0.0.38"
    assert rows["dev"]["app_version"] == "v0.17.6"  # the chart's Chart.yaml appVersion
    assert rows["prod"]["protection"] == "protect, versioning"
    assert rows["dev"]["credentials"] == "static key"
    assert rows["dev"]["stores"] == ["s3 acme-qtap-dev-payloads", "pulse"]
    assert len(rows["staging"]["snapshot_sha256"]) == 64
    status, markdown, _ = run(REPO, "fleet")
    assert "| `dev` |" in markdown.replace("<code>", "`").replace("</code>", "`")
    assert "## Environments" in markdown


def test_fleet_inventory_says_when_an_environment_runs_two_snapshots(project_copy: Path):
    """A member whose snapshot differs is refused, and the inventory says the digests differ."""
    with_prod_eu(project_copy, PROD_EU + "  qtap:snapshot: snapshots/staging/qtap-config.yaml\n")
    status, out, _ = run(project_copy, "fleet")
    assert status == 1
    assert "| prod | <code>prod</code>, <code>prod-eu</code> | **no**:" in out
    assert "fleet-snapshot" in out


def test_done_when_the_member_plan_has_no_bucket_or_key(tmp_path: Path):
    project = with_prod_eu(copy_project(tmp_path / "project"))
    status, out, _ = run(project, "plan", "prod-eu", "--format", "json")
    assert status == 0, out
    (plan,) = json.loads(out)["stacks"]
    types = {r["type"] for r in plan["resources"]}
    assert "aws:s3/bucket:Bucket" not in types
    assert "aws:iam/accessKey:AccessKey" not in types


# -- the README's claims ---------------------------------------------------------------------

README = (REPO / "README.md").read_text(encoding="utf-8")


def readme_cluster_file() -> str:
    section = README.split("### Add a cluster (one file)", 1)[1]
    return section.split("```yaml\n", 1)[1].split("```", 1)[0]


def test_the_readme_documents_the_stable_keys_of_stacks_json():
    for key in STACK_KEYS:
        assert f"`{key}`" in README.split("### Deploy order and the commands", 1)[1]


def test_the_readme_cluster_file_is_the_one_the_done_when_test_uses():
    yaml = YAML(typ="safe", pure=True)
    assert yaml.load(readme_cluster_file()) == yaml.load(PROD_EU)


def test_the_readme_cluster_file_passes_check_as_it_stands(project_copy: Path):
    with_prod_eu(project_copy, readme_cluster_file())
    status, out, _ = run(project_copy, "check")
    assert status == 0, out


def test_the_app_version_table_agrees_with_the_charts_own_chart_yaml():
    chart = YAML(typ="safe", pure=True).load(
        schema_file("qtap-chart-0.0.38", "Chart.yaml").read_text()
    )
    assert app_version(str(chart["version"])) == chart["appVersion"] == "v0.17.6"


# -- hostile qtap:fleet values: an answer, never a traceback, never a partial list -------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**12) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
FLEET_VALUES = JSON_VALUES | st.fixed_dictionaries(
    {},
    optional={
        "environment": st.sampled_from(["prod", "dev", "prod-eu", "", "../x"]) | JSON_VALUES,
        "owner": st.sampled_from(["prod", "dev", "prod-eu", "ghost", "a b"]) | JSON_VALUES,
        "ring": st.integers(-2, 6) | JSON_VALUES,
        "organization": st.sampled_from(["acme", "-bad", "a/b"]) | JSON_VALUES,
    },
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(FLEET_VALUES)
def test_stacks_answers_any_fleet_value(project_copy: Path, value: object):
    text = PROD_EU.replace(
        "  qtap:fleet:\n    environment: prod\n    owner: prod\n    ring: 2\n",
        f"  qtap:fleet: {json.dumps(value)}\n",
    )
    with_prod_eu(project_copy, text)
    status, out, err = run(project_copy, "stacks", "--format", "json")
    assert status in (0, 1)
    if status == 0:
        listed = json.loads(out)
        assert sorted(s["stack"] for s in listed) == sorted([*STACKS, "prod-eu"])
        assert all(0 <= s["ring"] <= 4 for s in listed)
    else:
        assert out == ""
        assert "Pulumi.prod-eu.yaml" in err
        assert "fix:" in err
        assert "Traceback" not in err

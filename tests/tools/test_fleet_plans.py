"""Offline resolution of a member's StackReference: the owner is planned first and its outputs
answer the member's reference, so the member's plan shows real names; a change of the owner shows
every member as changed in `diff`.

Until the program reads `qtap:fleet`, the plans here run a small program that does what a member
does with its owner: one StackReference `<org>/<project>/<owner>`, outputs read from it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from qtap_gitops.settings import FleetSettings
from qtap_gitops.stackfile import find_project
from qtapctl.check import check_project
from qtapctl.diff import (
    WORKING_TREE,
    StackDiff,
    members_follow_owners,
    render_json,
    render_markdown,
    render_stacks,
    run_diff,
)
from qtapctl.fleet_plan import plan_stacks, reference_name
from qtapctl.mock_engine import ORGANIZATION, PROJECT, REDACTED
from tests.conftest import copy_project
from tests.tools.cli import qtapctl_inprocess
from tests.tools.test_fleet_commands import PROD_EU, SNAPSHOT_LINE, with_prod_eu

PROGRAM = """
import hashlib
import json

import pulumi

config = pulumi.Config("qtap")
fleet = json.loads(config.get("fleet") or "{}")
stack = pulumi.get_stack()
owner = fleet.get("owner", stack)
if owner == stack:
    snapshot = config.get("snapshot") or f"snapshots/{stack}/qtap-config.yaml"
    with open(snapshot, "rb") as handle:
        pulumi.export("snapshotSha256", hashlib.sha256(handle.read()).hexdigest())
    pulumi.export("bucketName", f"bucket-of-{stack}")
    pulumi.export("writerKey", pulumi.Output.secret("the-key"))
else:
    org = fleet.get("organization") or pulumi.get_organization()
    ref = pulumi.StackReference(f"{org}/{pulumi.get_project()}/{owner}")
    pulumi.export("ownerBucket", ref.get_output("bucketName"))
    pulumi.export("ownerSnapshotSha256", ref.get_output("snapshotSha256"))
    pulumi.export("ownerKey", ref.get_output("writerKey"))
"""


@pytest.fixture
def program(tmp_path: Path) -> Path:
    path = tmp_path / "program" / "__main__.py"
    path.parent.mkdir()
    path.write_text(PROGRAM)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_reference_name_is_org_project_owner():
    fleet = FleetSettings(environment="prod", owner="prod", ring=2)
    assert reference_name(fleet) == f"{ORGANIZATION}/{PROJECT}/prod"
    assert (
        reference_name(FleetSettings(environment="prod", owner="prod", ring=2, organization="acme"))
        == f"acme/{PROJECT}/prod"
    )


def test_a_member_plan_shows_its_owners_outputs(project_copy: Path, program: Path):
    project = find_project(with_prod_eu(project_copy))
    checked = check_project(project, ["prod-eu"])
    plans = plan_stacks(project, ["prod-eu"], checked, program=program)
    assert list(plans) == ["prod-eu"]  # the owner was planned for it, not shown
    plan = plans["prod-eu"]
    assert plan.error is None
    assert plan.outputs == {
        "ownerBucket": "bucket-of-prod",
        "ownerSnapshotSha256": sha256(project_copy / "snapshots/prod/qtap-config.yaml"),
        "ownerKey": REDACTED,  # a secret output of the owner stays secret in the member
    }


def test_an_organization_setting_names_the_owners_organization(project_copy: Path, program: Path):
    text = PROD_EU.replace("    ring: 2\n", "    ring: 2\n    organization: acme-platform\n")
    project = find_project(with_prod_eu(project_copy, text + SNAPSHOT_LINE))
    plans = plan_stacks(project, ["prod", "prod-eu"], check_project(project, []), program=program)
    assert plans["prod-eu"].outputs["ownerBucket"] == "bucket-of-prod"


def test_a_member_of_an_owner_that_cannot_be_planned_says_so(project_copy: Path, tmp_path: Path):
    broken = tmp_path / "broken" / "__main__.py"
    broken.parent.mkdir()
    broken.write_text("raise RuntimeError('boom')\n")
    project = find_project(with_prod_eu(project_copy))
    plans = plan_stacks(project, ["prod-eu"], check_project(project, []), program=broken)
    assert plans["prod-eu"].error is not None
    assert "its owner prod cannot be planned" in plans["prod-eu"].error


def test_members_follow_a_changed_owner():
    diffs = [StackDiff("prod"), StackDiff("prod-eu"), StackDiff("dev"), StackDiff("dev-eu")]
    diffs[0].snapshot_note = "the snapshot's bytes changed (no change of its values)"
    owners = {"prod": "prod", "prod-eu": "prod", "dev": "dev", "dev-eu": "dev"}
    members_follow_owners(diffs, owners)
    assert [d.stack for d in diffs if d.changed] == ["prod", "prod-eu"]
    assert diffs[1].owner_changed == "prod"
    assert "its owner prod changes" in render_markdown("b", "h", diffs)
    (shown,) = json.loads(render_json("b", "h", diffs))["stacks"][1]["warnings"]
    assert shown.startswith("its owner prod changes: this cluster runs the owner's snapshot")


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True)


def test_diff_shows_every_member_when_the_owners_settings_change(tmp_path: Path):
    """The real program: prod's retention changes, prod-eu's own plan does not; both are shown
    (and so previewed: `--format stacks` lists both)."""
    project_dir = with_prod_eu(copy_project(tmp_path / "repo"))
    git(project_dir, "init", "-q", "-b", "main")
    git(project_dir, "add", "-A")
    git(project_dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "base")
    stack_file = project_dir / "Pulumi.prod.yaml"
    stack_file.write_text(stack_file.read_text().replace("retentionDays: 90", "retentionDays: 60"))
    _, _, diffs = run_diff(find_project(project_dir), "main", None)
    changed = {d.stack: d for d in diffs if d.changed}
    assert sorted(changed) == ["prod", "prod-eu"]
    assert changed["prod-eu"].owner_changed == "prod"
    assert changed["prod"].resources  # the owner's own change is shown as such
    assert json.loads(render_stacks("main", WORKING_TREE, diffs)) == ["prod", "prod-eu"]


def test_plan_of_a_member_runs_the_program_after_its_owner(project_copy: Path):
    """The command as a user runs it, with the real program: the member is planned (with the
    owner's outputs at hand) and only the member is shown."""
    with_prod_eu(project_copy)
    result = qtapctl_inprocess(
        "--project-dir", str(project_copy), "plan", "prod-eu", "--format", "json"
    )
    assert result.status == 0, result.output
    (plan,) = json.loads(result.stdout)["stacks"]
    assert plan["stack"] == "prod-eu"
    assert plan["error"] is None
    assert plan["resources"]

"""Rollout in the workflows: deploy ring by ring (owners, then members), drift and preview of every
stack, all from `qtapctl stacks`; no workflow names a stack.

The deploy plan is modelled from deploy.yml itself (tests/tools/rollout_model.py): its stage
jobs, their `needs` and `if:`, and the lists its first job's real script writes.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from ruamel.yaml import YAML

from qtap_gitops.fleet import FleetNode, deploy_order
from qtap_gitops.settings import MAX_RING, FleetSettings
from tests.conftest import REPO, copy_project
from tests.tools.cli import qtapctl_inprocess
from tests.tools.rollout_model import (
    JobRun,
    deployed,
    qtap_shim,
    run_step,
    simulate_deploy,
    stacks_job_outputs,
    stacks_step,
    stage_name,
    stage_outputs_of,
)
from tests.tools.test_workflows import (
    DEPLOY_WORKFLOW,
    DRIFT_WORKFLOW,
    PR_WORKFLOW,
    actionlint,
    describe,
    jobs,
    load,
)

STAGES = [f"ring{r}-{part}" for r in range(MAX_RING + 1) for part in ("owners", "members")]


def test_deploy_has_one_stage_per_ring_and_role_each_after_the_previous():
    workflow = load(DEPLOY_WORKFLOW)
    names = [n for n in jobs(workflow) if n != "stacks"]
    assert names == STAGES
    previous = "stacks"
    for name in names:
        job = jobs(workflow)[name]
        assert job["needs"] == ("stacks" if previous == "stacks" else ["stacks", previous])
        # A bounded number of stacks at once; one failure never cancels a running `pulumi up`.
        assert job["strategy"]["fail-fast"] is False
        assert 1 <= job["strategy"]["max-parallel"] <= 10
        assert job["strategy"]["matrix"] == {
            "stack": f"${{{{ fromJSON(needs.stacks.outputs.{name}) }}}}"
        }
        previous = name
    assert set(jobs(workflow)["stacks"]["outputs"]) == set(STAGES)


def test_no_workflow_names_a_stack():
    for path in (DEPLOY_WORKFLOW, DRIFT_WORKFLOW, PR_WORKFLOW):
        text = path.read_text(encoding="utf-8")
        code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
        for stack in ("dev", "staging", "prod"):
            assert f"stack: {stack}" not in code, path.name
            assert f"[{stack}" not in code, path.name


def entry(stack: str, owner: str, ring: int) -> dict[str, Any]:
    return {
        "stack": stack,
        "environment": owner,
        "owner": owner,
        "ring": ring,
        "context": f"ctx-{stack}",
        "delivery": "helm",
        "secrets": "external-secrets",
    }


def test_the_deploy_script_puts_each_stack_in_the_stage_the_model_expects(tmp_path: Path):
    """The real step (bash + jq) against a fleet that fills every stage."""
    fleet = []
    for ring in range(MAX_RING + 1):
        fleet += [entry(f"o{ring}", f"o{ring}", ring), entry(f"m{ring}", f"o{ring}", ring)]
        fleet.append(entry(f"late{ring}", "o0", ring))
    outputs = run_step(
        stacks_step(load(DEPLOY_WORKFLOW), "stages"), tmp_path, stacks_json=json.dumps(fleet)
    )
    assert outputs == stage_outputs_of(fleet, STAGES)
    assert json.loads(outputs["ring3-members"]) == ["m3", "late3"]


# -- ordering as properties over generated fleets ------------------------------------------------

NAMES = st.text(alphabet="abcdefghij0123456789-", min_size=1, max_size=8).filter(
    lambda s: s[0].isalnum()
)


@st.composite
def fleets(draw: st.DrawFn) -> list[FleetNode]:
    """Valid fleets: owners in any ring, members in their owner's ring or later."""
    names = draw(st.lists(NAMES, min_size=1, max_size=12, unique=True))
    owners: dict[str, int] = {}
    nodes = []
    for i, name in enumerate(names):
        if i == 0 or not owners or draw(st.booleans()):
            ring = draw(st.integers(0, MAX_RING))
            owners[name] = ring
            fleet = FleetSettings(environment=name, owner=name, ring=ring)
        else:
            owner = draw(st.sampled_from(sorted(owners)))
            ring = draw(st.integers(owners[owner], MAX_RING))
            fleet = FleetSettings(environment=owner, owner=owner, ring=ring)
        nodes.append(FleetNode(stack=name, source=f"Pulumi.{name}.yaml", fleet=fleet))
    return nodes


def entries_of(nodes: Sequence[FleetNode]) -> list[dict[str, Any]]:
    """`stacks --format json` of `nodes` (the list qtapctl writes: deploy order)."""
    return [entry(n.stack, n.owner, n.fleet.ring) for n in deploy_order(nodes)]


@functools.cache
def deploy_workflow() -> dict[str, Any]:
    return load(DEPLOY_WORKFLOW)


def plan_of(nodes: Sequence[FleetNode], failing: frozenset[str] = frozenset()) -> list[JobRun]:
    workflow = deploy_workflow()
    return simulate_deploy(workflow, stage_outputs_of(entries_of(nodes), STAGES), failing)


@given(fleets())
def test_every_stack_is_deployed_exactly_once(nodes: list[FleetNode]):
    assert sorted(deployed(plan_of(nodes))) == sorted(n.stack for n in nodes)


@given(fleets())
def test_owners_deploy_in_an_earlier_stage_than_their_members_and_rings_in_order(
    nodes: list[FleetNode],
):
    runs = [r for r in plan_of(nodes) if r.stacks]
    stage_of = {stack: i for i, run in enumerate(runs) for stack in run.stacks}
    by_stack = {n.stack: n for n in nodes}
    for node in nodes:
        if node.is_member:
            assert stage_of[node.owner] < stage_of[node.stack]
    rings = [by_stack[s].fleet.ring for run in runs for s in run.stacks]
    assert rings == sorted(rings)
    # The order `stacks` prints is an order the workflow can keep.
    order = [e["stack"] for e in entries_of(nodes)]
    assert [stage_of[s] for s in order] == sorted(stage_of[s] for s in order)


@given(fleets(), st.data())
def test_a_failure_stops_every_later_stage(nodes: list[FleetNode], data: st.DataObject):
    failing = data.draw(st.sampled_from(sorted(n.stack for n in nodes)))
    runs = plan_of(nodes, frozenset({failing}))
    (failed,) = [i for i, r in enumerate(runs) if r.result == "failure"]
    assert failing in runs[failed].stacks
    # Every stack of the failing stage still ran (a running `pulumi up` is never cancelled)...
    entries = entries_of(nodes)
    stage = stage_name(next(e for e in entries if e["stack"] == failing))
    assert runs[failed].stacks == [e["stack"] for e in entries if stage_name(e) == stage]
    # ... and nothing after it.
    assert all(r.result == "skipped" for r in runs[failed + 1 :])
    assert all(r.result != "failure" for r in runs[:failed])


# -- a fourth and a fifth stack file: deployed, previewed, drift-checked with no workflow edit ---


def add_stack(project: Path, name: str, *, like: str, settings: dict[str, Any]) -> None:
    yaml = YAML(typ="rt", pure=True)
    document = yaml.load((project / f"Pulumi.{like}.yaml").read_text())
    if "qtap:fleet" in settings and settings["qtap:fleet"].get("owner") not in (None, name):
        # A member states none of the settings only its owner may set (the bucket, the secret).
        document["config"].pop("qtap:objectStore", None)
        document["config"]["qtap:vault"].pop("path", None)
    document["config"].update(settings)
    with (project / f"Pulumi.{name}.yaml").open("w") as handle:
        yaml.dump(document, handle)


def five_stack_project(root: Path) -> Path:
    """The repository's project and workflows, plus `qa` (an owner in ring 1) and `prod-eu`
    (a member of prod in ring 2)."""
    project = copy_project(root)
    shutil.copytree(REPO / ".github", root / ".github")
    qa_snapshot = project / "snapshots" / "qa" / "qtap-config.yaml"
    qa_snapshot.parent.mkdir()
    text = (project / "snapshots" / "staging" / "qtap-config.yaml").read_text()
    qa_snapshot.write_text(text.replace("acme-qtap-staging-payloads", "acme-qtap-qa-payloads"))
    add_stack(
        project,
        "qa",
        like="staging",
        settings={
            "kubernetes:context": "acme-qa",
            "qtap:vault": {"address": "https://vault.qa.acme.internal:8200"},
        },
    )
    add_stack(project, "prod-eu", like="prod", settings=PROD_EU)
    qtap_shim(project)
    return project


# What "Add a cluster" in the README asks for (plus the snapshot path until a member's snapshot
# defaults to its owner's, see tests/tools/test_fleet_commands.py).
PROD_EU: dict[str, Any] = {
    "kubernetes:context": "acme-prod-eu",
    "aws:region": "eu-central-1",
    "qtap:fleet": {"environment": "prod", "owner": "prod", "ring": 2},
    "qtap:snapshot": "snapshots/prod/qtap-config.yaml",
}


def test_a_new_stack_file_is_deployed_in_its_ring_with_no_workflow_edit(tmp_path: Path):
    project = five_stack_project(tmp_path / "repo")
    for name in ("deploy.yml", "drift.yml", "pull-request.yml"):
        assert (project / ".github/workflows" / name).read_bytes() == (
            REPO / ".github/workflows" / name
        ).read_bytes()
    workflow = load(project / ".github/workflows/deploy.yml")
    outputs = run_step(stacks_step(workflow, "stages"), project)
    runs = [r for r in simulate_deploy(workflow, outputs) if r.stacks]
    assert [(r.name, r.stacks) for r in runs] == [
        ("ring0-owners", ["dev"]),
        ("ring1-owners", ["qa", "staging"]),
        ("ring2-owners", ["prod"]),
        ("ring2-members", ["prod-eu"]),
    ]
    # prod failing stops prod-eu, which reads prod's outputs.
    stopped = simulate_deploy(workflow, outputs, frozenset({"prod"}))
    assert "prod-eu" not in deployed(stopped)
    subprocess.run(["git", "init", "-q", str(project)], check=True, timeout=60)
    status, findings = actionlint(cwd=project)
    assert status == 0, describe(findings)


def test_a_new_stack_file_is_drift_checked_with_no_workflow_edit(tmp_path: Path):
    project = five_stack_project(tmp_path / "repo")
    workflow = load(project / ".github/workflows/drift.yml")
    outputs = run_step(stacks_step(workflow, "stacks"), project)
    listed = json.loads(stacks_job_outputs(jobs(workflow)["stacks"], outputs)["stacks"])
    assert listed == ["dev", "qa", "staging", "prod", "prod-eu"]


def test_a_new_stack_file_is_previewed_with_no_workflow_edit(tmp_path: Path):
    """The preview matrix is `diff --format stacks`; a pull request that adds two stack files
    lists both (everything they deploy is new), and nothing else changed."""
    project = five_stack_project(tmp_path / "repo")
    git = ["git", "-C", str(project)]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True, timeout=60)
    # main has the repository's three stacks; the pull request adds qa and prod-eu.
    subprocess.run(
        [*git, "add", "--", ".", ":!Pulumi.qa.yaml", ":!Pulumi.prod-eu.yaml", ":!snapshots/qa"],
        check=True,
        timeout=60,
    )
    subprocess.run(
        [*git, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "base"],
        check=True,
        timeout=60,
    )
    preview = jobs(load(project / ".github/workflows/pull-request.yml"))["preview"]
    assert preview["strategy"]["matrix"] == {
        "stack": "${{ fromJSON(needs.offline-diff.outputs.stacks) }}"
    }
    result = qtapctl_inprocess("--project-dir", str(project), "diff", "--format", "stacks")
    assert result.status == 0, result.output
    assert sorted(json.loads(result.stdout)) == ["prod-eu", "qa"]

"""qtapctl plan and diff in the argocd and flux delivery modes: the mode's objects are shown, the
snapshot they carry only as its digest and size, and a snapshot edit touches only its carriers."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from qtap_gitops.stackfile import find_project
from qtapctl.plan import RENDERERS, plan_stack
from tests.conftest import REPO, copy_project
from tests.pulumi_harness import SENTINEL_TOKEN, SENTINELS, sentinel_cloud
from tests.tools.cli import qtapctl

MODE_OBJECTS = {
    "argocd": {"kubernetes:argoproj.io/v1alpha1:Application"},
    "flux": {
        "kubernetes:source.toolkit.fluxcd.io/v1:HelmRepository",
        "kubernetes:core/v1:ConfigMap",
        "kubernetes:helm.toolkit.fluxcd.io/v2:HelmRelease",
    },
}
# Lines of the committed staging snapshot: a plan must never print them.
SNAPSHOT_LINES = ("record_req_headers: true", "version: 2")


def with_mode(project: Path, stack: str, mode: str) -> Path:
    stack_file = project / f"Pulumi.{stack}.yaml"
    stack_file.write_text(stack_file.read_text() + f"  qtap:delivery:\n    mode: {mode}\n")
    return project


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.parametrize("mode", sorted(MODE_OBJECTS))
def test_plan_shows_the_mode_objects_and_only_the_snapshot_digest(tmp_path: Path, mode):
    project = find_project(with_mode(copy_project(tmp_path / "p"), "staging", mode))
    plan = plan_stack(project, "staging", registration_token=SENTINEL_TOKEN, cloud=sentinel_cloud())
    assert plan.error is None, plan.error
    types = {r.type for r in plan.resources}
    assert MODE_OBJECTS[mode] <= types
    assert "kubernetes:helm.sh/v3:Release" not in types
    raw = (REPO / "snapshots/staging/qtap-config.yaml").read_bytes()
    summary = plan.snapshot["summary"]
    assert summary.startswith(f"<snapshot: {len(raw)} bytes, sha256 {plan.snapshot['sha256']}")
    for render in RENDERERS.values():
        rendered = render([plan])
        assert summary in rendered
        for line in SNAPSHOT_LINES:
            assert line not in rendered, f"{line!r} printed by {render.__name__}"
        for sentinel in SENTINELS:
            assert sentinel not in rendered


@pytest.mark.parametrize(("mode", "changed"), [("argocd", 1), ("flux", 2)])
def test_diff_of_a_snapshot_edit_changes_only_the_carrying_objects(tmp_path: Path, mode, changed):
    repo = with_mode(copy_project(tmp_path / "repo"), "staging", mode)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "base")
    snapshot = repo / "snapshots/staging/qtap-config.yaml"
    snapshot.write_text(snapshot.read_text().replace("level: headers", "level: full"))

    result = qtapctl("--project-dir", str(repo), "diff", "--base", "HEAD", "--format", "markdown")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert (
        "Stacks changed: <code>staging</code>. Unchanged: <code>dev</code>, <code>prod</code>."
        in text
    )
    assert f"Resources: 0 to add, {changed} to change, 0 to remove." in text
    for line in SNAPSHOT_LINES:
        assert line not in text

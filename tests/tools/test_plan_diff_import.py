"""qtapctl plan, diff and import: deterministic, secret-free, local to the stack that changed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from qtap_gitops.stackfile import find_project
from qtapctl import fleet_plan as fleet
from qtapctl.diff import MARKER, diff_stack, render_json, render_markdown, render_text
from qtapctl.plan import RENDERERS, plan_stack
from tests.conftest import REPO, STACKS, copy_project
from tests.pulumi_harness import SENTINEL_TOKEN, SENTINELS, sentinel_cloud
from tests.tools.cli import qtapctl, qtapctl_process


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository holding a copy of the project on branch main, one commit."""
    project = copy_project(tmp_path / "repo")
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "base")
    return project


# -- plan ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_plan_all_is_byte_identical_across_runs(fmt):
    # Two interpreters (each with its own hash seed and import order): one process as a user
    # runs it, one in this process after whatever the other tests imported and ran before.
    first = qtapctl_process("plan", "--all", "--format", fmt)
    second = qtapctl("plan", "--all", "--format", fmt)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    for stack in STACKS:
        assert stack in first.stdout


def test_plan_shows_what_a_reviewer_needs():
    plan = json.loads(qtapctl("plan", "prod", "--format", "json").stdout)["stacks"][0]
    resources = {r["type"]: r for r in plan["resources"]}
    bucket = resources["aws:s3/bucket:Bucket"]
    assert bucket["parent"] == "qtap/qtap-acme-qtap-prod-payloads"
    assert resources["qtap:index:QtapEnvironment"]["parent"] is None
    assert bucket["protect"] is True
    assert bucket["retain_on_delete"] is True
    policy = resources["aws:iam/userPolicy:UserPolicy"]["inputs"]["policy"]
    assert policy["Statement"][0]["Action"] == "s3:PutObject"
    assert (
        'path "secret/data/qpoint/qtap-prod"'
        in resources["vault:index/policy:Policy"]["inputs"]["policy"]
    )
    external = resources["kubernetes:external-secrets.io/v1:ExternalSecret"]["inputs"]["spec"][
        "data"
    ]
    assert {d["secretKey"] for d in external} == {
        "REGISTRATION_TOKEN",
        "S3_ACCESS_KEY",
        "S3_SECRET_KEY",
    }
    values = resources["kubernetes:helm.sh/v3:Release"]["inputs"]["values"]
    raw = (REPO / "snapshots/prod/qtap-config.yaml").read_bytes()
    assert values["config"].startswith(f"<snapshot: {len(raw)} bytes, sha256 ")
    assert "version: 2" not in json.dumps(values), "the snapshot is shown as digest and size only"
    assert plan["pending"]
    assert "qtap:registrationToken" in plan["pending"][0]


def test_sentinel_secrets_never_appear_in_any_plan_format():
    project = find_project(REPO)
    plans = [
        plan_stack(project, stack, registration_token=SENTINEL_TOKEN, cloud=sentinel_cloud())
        for stack in STACKS
    ]
    assert all(p.error is None for p in plans)
    for render in RENDERERS.values():
        rendered = render(plans)
        assert "[secret]" in rendered
        for sentinel in SENTINELS:
            assert sentinel not in rendered


def test_plan_of_a_broken_stack_shows_the_contract_and_fails(project_copy: Path):
    snapshot = project_copy / "snapshots/dev/qtap-config.yaml"
    snapshot.write_text(
        snapshot.read_text().replace("type: pulse", "type: pulse-lagacy")
    )  # a typo: unknown type
    result = qtapctl("--project-dir", str(project_copy), "plan", "dev")
    assert result.returncode == 1
    assert "cannot plan" in result.stdout
    assert "[store-type]" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


# -- diff ----------------------------------------------------------------------------------


def test_snapshot_change_shows_in_that_stacks_diff_only(repo: Path):
    snapshot = repo / "snapshots/staging/qtap-config.yaml"
    snapshot.write_text(snapshot.read_text().replace("level: headers", "level: full"))
    result = qtapctl("--project-dir", str(repo), "diff", "--base", "HEAD", "--format", "markdown")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith(MARKER)
    assert (
        "Stacks changed: <code>staging</code>. Unchanged: <code>dev</code>, <code>prod</code>."
        in text
    )
    assert "### Stack <code>staging</code>" in text
    assert "### Stack <code>dev</code>" not in text
    assert "### Stack <code>prod</code>" not in text
    # Brackets and underscores are character references: shown literally, never markdown.
    assert (
        "| <code>stacks.default.plugins&#91;type=http&#95;capture&#93;.config.level</code> "
        "| 'headers' | 'full' |" in text
    )
    assert "Resources: 0 to add, 1 to change, 0 to remove." in text
    stacks = qtapctl("--project-dir", str(repo), "diff", "--base", "HEAD", "--format", "stacks")
    assert json.loads(stacks.stdout) == ["staging"]


def test_default_base_is_the_merge_base_with_main(repo: Path):
    git(repo, "checkout", "-q", "-b", "feature")
    stack_file = repo / "Pulumi.dev.yaml"
    stack_file.write_text(stack_file.read_text().replace("retentionDays: 7", "retentionDays: 10"))
    git(
        repo,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.com",
        "commit",
        "-qam",
        "longer retention",
    )
    result = qtapctl("--project-dir", str(repo), "diff", "--format", "text")
    assert result.returncode == 0, result.stderr
    assert "=== stack dev" in result.stdout
    assert "expiration.days: 7 -> 10" in result.stdout
    assert "=== stack staging" not in result.stdout


def test_unchanged_working_tree_has_an_empty_diff(repo: Path):
    result = qtapctl("--project-dir", str(repo), "diff", "--base", "HEAD", "--format", "markdown")
    assert "No stack's inputs changed." in result.stdout
    assert (
        json.loads(
            qtapctl(
                "--project-dir", str(repo), "diff", "--base", "HEAD", "--format", "stacks"
            ).stdout
        )
        == []
    )


def test_breaking_change_is_shown_as_such(repo: Path):
    snapshot = repo / "snapshots/prod/qtap-config.yaml"
    snapshot.write_text(snapshot.read_text().replace("version: 2", "version: 1"))
    result = qtapctl("--project-dir", str(repo), "diff", "--base", "HEAD", "--format", "markdown")
    assert "**This change breaks the stack**" in result.stdout
    assert "[version]" in result.stdout


def test_sentinel_secrets_never_appear_in_a_diff(tmp_path: Path):
    old_project = find_project(REPO)
    new_project = find_project(copy_project(tmp_path / "new"))
    snapshot = new_project.directory / "snapshots/dev/qtap-config.yaml"
    snapshot.write_text(snapshot.read_text().replace("level: full", "level: headers"))
    diffs = []
    for stack in STACKS:
        before = plan_stack(
            old_project, stack, registration_token=SENTINEL_TOKEN, cloud=sentinel_cloud()
        )
        after = plan_stack(
            new_project,
            stack,
            registration_token="another-" + SENTINEL_TOKEN,
            cloud=sentinel_cloud(),
        )
        diffs.append(diff_stack(stack, before, after, old_project, new_project))
    assert [d.stack for d in diffs if d.changed] == ["dev"]
    for render in (render_markdown, render_text, render_json):
        rendered = render("base", "head", diffs)
        assert not any(sentinel in rendered for sentinel in SENTINELS)


def test_diff_without_main_says_what_to_do(tmp_path: Path):
    project = copy_project(tmp_path / "p")
    git(project, "init", "-q", "-b", "trunk")
    result = qtapctl("--project-dir", str(project), "diff")
    assert result.returncode == 2
    assert "give --base" in result.stderr
    assert "Traceback" not in result.stderr


# -- import --------------------------------------------------------------------------------


def test_import_of_an_invalid_export_leaves_the_committed_file_unchanged(
    project_copy: Path, tmp_path: Path
):
    committed = project_copy / "snapshots/staging/qtap-config.yaml"
    before = committed.read_bytes()
    export = tmp_path / "export.yaml"
    export.write_text(
        before.decode().replace(
            "type: env\n        value: REGISTRATION_TOKEN", "type: text\n        value: qp_live"
        )
    )
    result = qtapctl("--project-dir", str(project_copy), "import", "staging", str(export))
    assert result.returncode == 1
    assert "[secret-as-text]" in result.stdout
    assert "import refused: snapshots/staging/qtap-config.yaml is unchanged" in result.stdout
    assert committed.read_bytes() == before
    assert not list(committed.parent.glob(".qtap-config.yaml.*")), "no temporary file left behind"


def test_import_of_a_valid_export_writes_it_byte_for_byte_and_shows_the_semantic_diff(
    project_copy: Path,
):
    committed = project_copy / "snapshots/dev/qtap-config.yaml"
    export = (
        committed.read_bytes().replace(b"level: full", b"level: summary").replace(b"\n", b"\r\n")
    )
    export += b"# exported from Qplane\r\n"
    result = qtapctl("--project-dir", str(project_copy), "import", "dev", stdin=export.decode())
    assert result.returncode == 0, result.stdout
    assert committed.read_bytes() == export
    assert (
        "changed  stacks.default.plugins[type=http_capture].config.level: 'full' -> 'summary'"
        in result.stdout
    )
    assert "semantic diff against the previous snapshot (1 change(s))" in result.stdout


def test_import_names_secrets_a_new_reference_needs(project_copy: Path):
    committed = project_copy / "snapshots/dev/qtap-config.yaml"
    axiom = "    - id: axiom\n      type: axiom\n      dataset:\n        type: text\n        value: qtap\n      token:\n        type: env\n        value: AXIOM_TOKEN\n"
    export = committed.read_text().replace("  object_stores:\n", axiom + "  object_stores:\n")
    result = qtapctl("--project-dir", str(project_copy), "import", "dev", stdin=export)
    assert result.returncode == 0, result.stdout
    assert (
        "pulumi config set --secret --path 'qtap:secretEnv.AXIOM_TOKEN' '<value>' --stack dev"
        in result.stdout
    )


def test_import_for_an_unknown_stack_is_refused():
    result = qtapctl("import", "qa", stdin="version: 2\n")
    assert result.returncode != 0
    assert "unknown stack(s) qa" in result.stderr


def test_diff_plans_only_the_stacks_whose_inputs_changed(repo: Path, monkeypatch):
    """A stack whose Pulumi.yaml, stack file, snapshot and check verdict are unchanged has the
    same plan in both revisions: diff does not run it, and its diff is still empty."""
    planned: list[str] = []
    real = fleet.plan_stack

    def counting(project, stack, **kwargs):
        planned.append(stack)
        return real(project, stack, **kwargs)

    monkeypatch.setattr(fleet, "plan_stack", counting)
    snapshot = repo / "snapshots/dev/qtap-config.yaml"
    snapshot.write_text(snapshot.read_text().replace("acme-qtap-dev-payloads", "acme-qtap-dev-2"))
    result = qtapctl("--project-dir", str(repo), "diff", "--base", "HEAD", "--format", "stacks")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["dev"]
    assert planned == ["dev", "dev"]  # base and head of the changed stack only
    planned.clear()
    stack_file = repo / "Pulumi.prod.yaml"
    stack_file.write_text(stack_file.read_text() + "# reviewed\n")  # any byte of a stack file
    qtapctl("--project-dir", str(repo), "diff", "--base", "HEAD", "--format", "stacks")
    assert sorted(planned) == ["dev", "dev", "prod", "prod"]

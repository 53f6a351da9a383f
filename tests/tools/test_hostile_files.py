"""Committed files are hostile: one test per way issue 8 found the tools could be misled.

Each test names what it proves. Most run qtapctl in this process (fast); the ones about
processes (a closed pipe, a signal, two imports at once) run it as a separate process.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qtapctl import importer
from tests.conftest import REPO, copy_project
from tests.tools.cli import qtapctl, qtapctl_inprocess

OUTSIDE_MARKER = "OUTSIDE-FILE-CONTENT-d41d8cd9"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


def commit(repo: Path, message: str = "change") -> None:
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", message)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    project = copy_project(tmp_path / "repo")
    git(project, "init", "-q", "-b", "main")
    commit(project, "base")
    return project


def set_setting(project: Path, stack: str, line: str) -> None:
    """Add one `qtap:` setting line (e.g. `qtap:snapshot: x.yaml`) to a stack file."""
    path = project / f"Pulumi.{stack}.yaml"
    path.write_text(path.read_text().replace("config:\n", f"config:\n  {line}\n", 1))


def tree(root: Path) -> dict[str, bytes | str]:
    """Every file under `root` (symlinks by target), to compare before and after a command."""
    found: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root))
        if path.is_symlink():
            found[relative] = "-> " + os.readlink(path)
        elif path.is_file():
            found[relative] = path.read_bytes()
    return found


def outside_file(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "secret.yaml"
    secret.parent.mkdir(exist_ok=True)
    secret.write_text(f"version: 2\nleak: {OUTSIDE_MARKER}\n")
    return secret


# -- paths stay inside the project ---------------------------------------------------------


@pytest.mark.parametrize(
    "setting",
    ["../outside/secret.yaml", "/etc/os-release", "snapshots/../../outside/secret.yaml"],
)
def test_snapshot_path_outside_the_project_is_refused_by_every_command(
    project_copy: Path, tmp_path: Path, setting: str
):
    copy = project_copy
    outside_file(tmp_path)
    set_setting(copy, "dev", f"qtap:snapshot: {setting}")
    export = (copy / "snapshots/dev/qtap-config.yaml").read_bytes()
    before_outside = tree(tmp_path / "outside")
    for args in (["check", "dev"], ["plan", "dev"], ["plan", "dev", "--format", "markdown"]):
        run = qtapctl_inprocess("--project-dir", str(copy), *args)
        assert run.status == 1, run.output
        assert "qtap:snapshot" in run.output
        assert OUTSIDE_MARKER not in run.output
        assert "ID=" not in run.output  # nothing of /etc/os-release either
    run = qtapctl_inprocess("--project-dir", str(copy), "import", "dev", stdin=export)
    assert run.status == 1
    assert "import refused" in run.stdout
    assert tree(tmp_path / "outside") == before_outside


def test_snapshot_symlink_leading_outside_is_never_read_or_printed(repo: Path, tmp_path: Path):
    secret = outside_file(tmp_path)
    snapshot = repo / "snapshots/dev/qtap-config.yaml"
    snapshot.unlink()
    snapshot.symlink_to(secret)
    check = qtapctl_inprocess("--project-dir", str(repo), "check", "dev")
    assert check.status == 1
    assert "leads outside the project directory" in check.stdout
    assert OUTSIDE_MARKER not in check.output
    for fmt in ("markdown", "text", "json"):
        diff = qtapctl_inprocess(
            "--project-dir", str(repo), "diff", "--base", "HEAD", "--format", fmt
        )
        assert diff.status == 1, diff.output
        assert OUTSIDE_MARKER not in diff.output


def test_committed_symlink_to_etc_os_release_is_refused_in_diff(repo: Path):
    snapshot = repo / "snapshots/dev/qtap-config.yaml"
    snapshot.unlink()
    snapshot.symlink_to("/etc/os-release")
    commit(repo, "symlink")
    diff = qtapctl_inprocess(
        "--project-dir", str(repo), "diff", "--base", "HEAD~1", "--head", "HEAD"
    )
    assert diff.status == 1
    assert "leads outside the project directory" in diff.stdout
    if Path("/etc/os-release").exists():
        values = [
            line.split("=", 1)[1].strip('"')
            for line in Path("/etc/os-release").read_text().splitlines()
            if "=" in line
        ]
        assert values
        for value in values:
            if len(value) >= 8:  # long enough not to occur by chance
                assert value not in diff.output


def test_snapshot_that_is_not_a_regular_file_is_refused_without_blocking(project_copy: Path):
    snapshot = project_copy / "snapshots/dev/qtap-config.yaml"
    snapshot.unlink()
    os.mkfifo(snapshot)  # reading a FIFO would block forever
    run = qtapctl_inprocess("--project-dir", str(project_copy), "check", "dev")
    assert run.status == 1
    assert "is not a regular file" in run.stdout


@pytest.mark.parametrize(
    ("setting", "why"),
    [
        (".github/workflows/deploy.yml", "is under .github/"),
        (".github/workflows/deploy.yaml", "is under .github/"),
        ("Pulumi.staging.yaml", "Pulumi project or stack settings file"),
        ("snapshots/dev/qtap-config.json", "is not a .yaml file"),
        ("../x/y.yaml", "contains '..'"),
    ],
)
def test_import_only_ever_writes_a_yaml_snapshot_inside_the_project(
    project_copy: Path, tmp_path: Path, setting: str, why: str
):
    workflow = project_copy / ".github/workflows/deploy.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text("name: deploy\n")
    set_setting(project_copy, "dev", f"qtap:snapshot: {setting}")
    export = (REPO / "snapshots/dev/qtap-config.yaml").read_bytes()
    before = tree(tmp_path)
    run = qtapctl_inprocess("--project-dir", str(project_copy), "import", "dev", stdin=export)
    assert run.status == 1
    assert why in run.output
    assert tree(tmp_path) == before
    assert qtapctl_inprocess("--project-dir", str(project_copy), "check", "dev").status == 1


def test_import_never_writes_through_a_symlink(project_copy: Path, tmp_path: Path):
    snapshot = project_copy / "snapshots/dev/qtap-config.yaml"
    real = project_copy / "snapshots/dev/real.yaml"
    snapshot.rename(real)
    snapshot.symlink_to("real.yaml")  # inside the project: readable, but never written through
    assert qtapctl_inprocess("--project-dir", str(project_copy), "check", "dev").status == 0
    export = real.read_bytes().replace(b"retention", b"retention")
    export = export.replace(b"http_capture", b"http_capture\n      # changed")
    before = tree(tmp_path)
    run = qtapctl_inprocess("--project-dir", str(project_copy), "import", "dev", stdin=export)
    assert run.status == 1
    assert "is a symlink" in run.stdout
    assert tree(tmp_path) == before


def test_stack_config_dir_outside_the_project_is_refused(project_copy: Path):
    pulumi_yaml = project_copy / "Pulumi.yaml"
    pulumi_yaml.write_text(pulumi_yaml.read_text() + "stackConfigDir: ../elsewhere\n")
    run = qtapctl_inprocess("--project-dir", str(project_copy), "check")
    assert run.status == 2
    assert "stackConfigDir leads outside the project directory" in run.stderr


def test_non_utf8_project_file_is_a_message(project_copy: Path):
    (project_copy / "Pulumi.yaml").write_bytes(b"name: q\xfftap\n")
    run = qtapctl_inprocess("--project-dir", str(project_copy), "check")
    assert run.status == 2
    assert run.stderr.startswith("qtapctl: ")


# -- import --------------------------------------------------------------------------------


def _changed_export(project: Path) -> bytes:
    return (project / "snapshots/dev/qtap-config.yaml").read_bytes() + b"# re-exported\n"


def test_import_keeps_the_snapshot_file_mode(project_copy: Path):
    snapshot = project_copy / "snapshots/dev/qtap-config.yaml"
    snapshot.chmod(0o644)
    run = qtapctl_inprocess(
        "--project-dir", str(project_copy), "import", "dev", stdin=_changed_export(project_copy)
    )
    assert run.status == 0, run.output
    assert snapshot.stat().st_mode & 0o777 == 0o644
    snapshot.chmod(0o640)
    export = _changed_export(project_copy)
    assert (
        qtapctl_inprocess("--project-dir", str(project_copy), "import", "dev", stdin=export).status
        == 0
    )
    assert snapshot.stat().st_mode & 0o777 == 0o640


def test_import_leaves_no_temporary_or_lock_file_anywhere(project_copy: Path):
    before = set(tree(project_copy))
    ok = qtapctl_inprocess(
        "--project-dir", str(project_copy), "import", "dev", stdin=_changed_export(project_copy)
    )
    assert ok.status == 0
    refused = qtapctl_inprocess(
        "--project-dir", str(project_copy), "import", "dev", stdin=b"version: 1\n"
    )
    assert refused.status == 1
    assert set(tree(project_copy)) == before
    assert sorted(os.listdir(project_copy / "snapshots/dev")) == ["qtap-config.yaml"]


def test_import_refuses_a_snapshot_changed_since_it_was_read(
    project_copy: Path, monkeypatch: pytest.MonkeyPatch
):
    snapshot = project_copy / "snapshots/dev/qtap-config.yaml"
    edited_meanwhile = snapshot.read_bytes() + b"# edited by hand meanwhile\n"
    check_project = importer.check_project

    def check_while_someone_edits(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = check_project(*args, **kwargs)
        snapshot.write_bytes(edited_meanwhile)
        return result

    monkeypatch.setattr(importer, "check_project", check_while_someone_edits)
    run = qtapctl_inprocess(
        "--project-dir", str(project_copy), "import", "dev", stdin=_changed_export(project_copy)
    )
    assert run.status == 1
    assert "the snapshot changed on disk while this import was running" in run.stdout
    assert "wrote" not in run.stdout
    assert snapshot.read_bytes() == edited_meanwhile


def test_import_refuses_while_another_import_holds_the_project(project_copy: Path):
    fd = os.open(project_copy, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        run = qtapctl(
            "--project-dir",
            str(project_copy),
            "import",
            "dev",
            stdin=_changed_export(project_copy).decode(),
        )
    finally:
        os.close(fd)
    assert run.returncode == 1
    assert "another import into this project is running" in run.stdout
    assert "Traceback" not in run.stderr


def test_two_concurrent_imports_write_once(project_copy: Path):
    """Started together: whichever reaches the file second finds it changed after it started
    (or the project locked) and refuses instead of overwriting the first one's export."""
    base = (project_copy / "snapshots/dev/qtap-config.yaml").read_bytes()
    exports = [base + b"# export A\n", base + b"# export B\n"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "qtapctl", "--project-dir", str(project_copy), "import", "dev"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for _ in exports
    ]
    outputs = [p.communicate(e, timeout=300) for p, e in zip(processes, exports, strict=True)]
    wrote = [i for i, (out, _) in enumerate(outputs) if b"\nwrote " in b"\n" + out]
    refused = [i for i, (out, _) in enumerate(outputs) if b"import refused" in out]
    assert all(b"Traceback" not in err for _, err in outputs)
    # Two writers on the same original file cannot both succeed: the later one sees the change.
    assert len(wrote) == 1, outputs
    assert len(refused) == 1, outputs
    assert (project_copy / "snapshots/dev/qtap-config.yaml").read_bytes() == exports[wrote[0]]


def test_import_of_a_recursive_alias_writes_nothing(project_copy: Path, tmp_path: Path):
    before = tree(tmp_path)
    export = b"version: 2\nloop: &a [*a]\n"
    run = qtapctl_inprocess("--project-dir", str(project_copy), "import", "dev", stdin=export)
    assert run.status == 1
    assert "import refused" in run.stdout
    assert tree(tmp_path) == before


def _closed_pipe_run(*args: str, stdin: bytes = b"") -> tuple[int, bytes]:
    """Run qtapctl with its stdout read by nobody (the reader closed it, as `| head` does)."""
    read, write = os.pipe()
    os.close(read)
    process = subprocess.run(
        [sys.executable, "-m", "qtapctl", *args],
        input=stdin,
        stdout=write,
        stderr=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        timeout=300,
        check=False,
    )
    os.close(write)
    return process.returncode, process.stderr


@pytest.mark.parametrize("command", [["check"], ["plan", "dev"], ["import", "dev"]])
def test_a_closed_output_pipe_ends_quietly(project_copy: Path, command: list[str]):
    status, stderr = _closed_pipe_run(
        "--project-dir", str(project_copy), *command, stdin=_changed_export(project_copy)
    )
    assert stderr == b"", stderr.decode()
    assert status == 1


# -- output that cannot be hijacked --------------------------------------------------------

HOSTILE_KEY = "evil\x1b[2J\x1b]0;pwned\x07\r\u202eNUL\x00|`x`\n```\n# INJECTED HEADING\n<img src=x>"


def _hostile_snapshot(project: Path) -> None:
    snapshot = project / "snapshots/staging/qtap-config.yaml"
    text = snapshot.read_text()
    quoted = json.dumps(HOSTILE_KEY)  # a JSON string is a YAML double-quoted scalar
    snapshot.write_text(
        text.replace("stacks:\n", f"{quoted}: {quoted}\nx_extra:\n  {quoted}: 1\nstacks:\n", 1)
    )


def test_terminal_output_shows_control_characters_escaped(project_copy: Path):
    _hostile_snapshot(project_copy)
    for args in (["check"], ["plan", "staging"]):
        run = qtapctl_inprocess("--project-dir", str(project_copy), *args)
        assert "evil" in run.output, "the hostile key is reported (escaped)"
        for raw in ("\x1b", "\r", "\x00", "\x07", "\u202e"):
            assert raw not in run.output, (args, raw)
        # A newline inside the key cannot start a line of its own.
        assert not any("INJECTED" in line.split("evil")[0] for line in run.output.splitlines())


def test_markdown_diff_keeps_its_structure_whatever_the_snapshot_holds(repo: Path):
    _hostile_snapshot(repo)
    run = qtapctl_inprocess(
        "--project-dir", str(repo), "diff", "--base", "HEAD", "--format", "markdown"
    )
    text = run.stdout
    assert text.startswith("<!-- qtap-gitops:diff -->\n")
    for raw in ("\x1b", "\r", "\x00", "\u202e"):
        assert raw not in text, raw
    # Outside fenced blocks (which show their text literally) nothing of the input is markup;
    # every fence opened is closed by a line of the same backticks.
    outside: list[str] = []
    fence = None
    for line in text.split("\n"):
        run_ = re.match(r"(`{3,})", line)
        if fence is None and run_:
            fence = run_.group(1)
        elif fence is not None and line == fence:
            fence = None
        elif fence is None:
            outside.append(line)
    assert fence is None, "a fence was left open"
    assert "<img" not in "\n".join(outside)
    headings = [line for line in outside if line.startswith("#")]
    assert all(h.startswith(("## Qtap: offline diff", "### Stack ")) for h in headings), headings
    # Table rows keep their column count: an input `|` is a character reference.
    for line in outside:
        if line.startswith("| "):
            assert len(re.findall(r"(?<!\\)\|", line)) in (4, 6), line


# -- reviews that tell the truth -----------------------------------------------------------


def test_diff_sees_a_snapshot_outside_snapshots_dir_through_that_revisions_settings(repo: Path):
    config = repo / "config" / "dev.yaml"
    config.parent.mkdir()
    (repo / "snapshots/dev/qtap-config.yaml").rename(config)
    set_setting(repo, "dev", "qtap:snapshot: config/dev.yaml")
    commit(repo, "move the dev snapshot")
    config.write_text(config.read_text().replace("level: full", "level: headers"))
    text = qtapctl_inprocess("--project-dir", str(repo), "diff", "--base", "HEAD")
    assert text.status == 0, text.output
    assert "=== stack dev" in text.stdout
    assert "snapshot config/dev.yaml" in text.stdout
    stacks = qtapctl_inprocess(
        "--project-dir", str(repo), "diff", "--base", "HEAD", "--format", "stacks"
    )
    assert json.loads(stacks.stdout) == ["dev"]
    commit(repo, "dev at headers")
    between = qtapctl_inprocess(
        "--project-dir",
        str(repo),
        "diff",
        "--base",
        "HEAD~1",
        "--head",
        "HEAD",
        "--format",
        "stacks",
    )
    assert json.loads(between.stdout) == ["dev"]


def test_a_stack_broken_in_head_is_reported_failing_not_as_removals(repo: Path):
    snapshot = repo / "snapshots/prod/qtap-config.yaml"
    snapshot.write_text(snapshot.read_text().replace("version: 2", "version: 1"))
    for fmt in ("markdown", "text"):
        run = qtapctl_inprocess(
            "--project-dir", str(repo), "diff", "--base", "HEAD", "--format", fmt
        )
        assert run.status == 1
        assert "to remove" not in run.stdout
        assert "[version]" in run.stdout
    assert (
        "Failing after this change"
        in qtapctl_inprocess(
            "--project-dir", str(repo), "diff", "--base", "HEAD", "--format", "markdown"
        ).stdout
    )
    data = json.loads(
        qtapctl_inprocess(
            "--project-dir", str(repo), "diff", "--base", "HEAD", "--format", "json"
        ).stdout
    )
    prod = next(s for s in data["stacks"] if s["stack"] == "prod")
    assert prod["resources"] == []
    assert "[version]" in prod["errorAfter"]


def _share_a_bucket(project: Path) -> None:
    staging = project / "snapshots/staging/qtap-config.yaml"
    staging.write_text(
        staging.read_text().replace("acme-qtap-staging-payloads", "acme-qtap-dev-payloads")
    )


def test_plan_diff_and_import_refuse_two_stacks_sharing_a_bucket(repo: Path):
    export = (repo / "snapshots/staging/qtap-config.yaml").read_text()
    export = export.replace("acme-qtap-staging-payloads", "acme-qtap-dev-payloads")
    imported = qtapctl_inprocess(
        "--project-dir", str(repo), "import", "staging", stdin=export.encode()
    )
    assert imported.status == 1
    assert "[shared-bucket]" in imported.stdout

    _share_a_bucket(repo)
    for args in (["check", "staging"], ["plan", "--all"], ["plan", "staging"]):
        run = qtapctl_inprocess("--project-dir", str(repo), *args)
        assert run.status == 1, args
        assert "[shared-bucket]" in run.stdout, args
    diff = qtapctl_inprocess("--project-dir", str(repo), "diff", "--base", "HEAD")
    assert diff.status == 1
    assert "[shared-bucket]" in diff.stdout


def test_plan_refuses_secret_env_given_as_a_string_without_a_traceback(project_copy: Path):
    set_setting(project_copy, "dev", "qtap:secretEnv: just-a-string")
    check = qtapctl_inprocess("--project-dir", str(project_copy), "check", "dev")
    plan = qtapctl_inprocess("--project-dir", str(project_copy), "plan", "dev")
    assert check.status == 1
    assert plan.status == 1
    assert "qtap:secretEnv" in plan.stdout
    assert "Traceback" not in plan.output


def test_plan_of_chart_pod_annotations_as_a_string_fails_cleanly(project_copy: Path):
    stack_file = project_copy / "Pulumi.dev.yaml"
    stack_file.write_text(
        stack_file.read_text().replace("      logLevel: debug\n", "      podAnnotations: hello\n")
    )
    for fmt in ("text", "json", "markdown"):
        plan = qtapctl_inprocess("--project-dir", str(project_copy), "plan", "dev", "--format", fmt)
        assert plan.status == 1
        assert "Traceback" not in plan.output
    assert json.loads(plan_json(project_copy))["stacks"][0]["error"]


def plan_json(project: Path) -> str:
    return qtapctl_inprocess(
        "--project-dir", str(project), "plan", "dev", "--format", "json"
    ).stdout


def test_a_file_named_pulumi_dot_dot_yaml_is_not_a_stack(project_copy: Path):
    (project_copy / "Pulumi..yaml").write_text("config: {}\n")
    run = qtapctl_inprocess("--project-dir", str(project_copy), "check")
    assert run.status == 0, run.output
    assert "== stack :" not in run.stdout
    assert "check passed: dev, staging, prod" in run.stdout


def test_diff_leaves_no_scratch_tree_behind_on_sigterm(repo: Path, tmp_path: Path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "qtapctl", "--project-dir", str(repo), "diff", "--base", "HEAD"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=str(REPO), TMPDIR=str(scratch)),
    )
    deadline = time.monotonic() + 120
    while not list(scratch.glob("qtap-diff-*")) and process.poll() is None:
        assert time.monotonic() < deadline, "diff never created its scratch tree"
        time.sleep(0.01)
    assert process.poll() is None, "diff ended before it could be signalled"
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM
    assert b"Traceback" not in stderr
    assert list(scratch.glob("qtap-diff-*")) == []


def test_plan_runs_what_check_accepts_even_a_snapshot_without_env_references(
    project_copy: Path,
):
    """Found by the property suite: `version: 2` alone passed check, and plan crashed."""
    (project_copy / "snapshots/dev/qtap-config.yaml").write_text("version: 2\n")
    assert qtapctl_inprocess("--project-dir", str(project_copy), "check", "dev").status == 0
    plan = qtapctl_inprocess("--project-dir", str(project_copy), "plan", "dev")
    assert plan.status == 0, plan.stdout

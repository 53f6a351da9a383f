"""The pipeline's guards: zizmor's audit (auditor persona, offline) finds nothing, every job that
holds cloud credentials installs only hash-checked packages (as the GitHub test job and .ci/run
do), scripts/_venv.sh picks the lock beside the requirements file by itself, scripts/lock pins
pip-tools, and Dependabot watches the actions and the pip pins."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.conftest import REPO
from tests.tools.test_workflows import (
    PR_WORKFLOW,
    credential_jobs,
    jobs,
    load,
    steps,
)

INSTALL = "./scripts/qtap check"


# -- zizmor, the real binary -----------------------------------------------------------------------


def zizmor(target: Path) -> tuple[int, list[dict[str, Any]]]:
    binary = Path(sys.executable).parent / "zizmor"
    if not binary.is_file():
        found = shutil.which("zizmor")
        if found is None:
            pytest.fail("zizmor not found: install requirements-dev.txt")
        binary = Path(found)
    result = subprocess.run(
        [str(binary), "--offline", "--persona", "auditor", "--format", "json", str(target)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    findings = json.loads(result.stdout) if result.stdout.strip() else []
    assert isinstance(findings, list), result.stderr
    return result.returncode, findings


def describe(findings: list[dict[str, Any]]) -> str:
    return "\n".join(f"{f.get('ident')}: {f.get('desc')}" for f in findings)


@pytest.mark.real
def test_zizmor_auditor_persona_reports_nothing():
    """Every workflow and dependabot.yml, every audit, every severity and confidence."""
    status, findings = zizmor(REPO)
    assert findings == [], describe(findings)
    assert status == 0


@pytest.mark.real
def test_zizmor_reports_a_dangerous_workflow(tmp_path: Path):
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "bad.yml").write_text(
        "name: bad\n"
        "on: pull_request_target\n"
        "permissions: write-all\n"
        "jobs:\n"
        "  build:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - uses: actions/checkout@v5\n"
        "        with:\n"
        "          ref: ${{ github.event.pull_request.head.sha }}\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n'
    )
    status, findings = zizmor(tmp_path)
    assert status != 0
    found = {f["ident"] for f in findings}
    assert {"dangerous-triggers", "template-injection", "unpinned-uses", "artipacked"} <= found


# -- hash-checked installs -------------------------------------------------------------------------


def test_every_credential_job_installs_from_the_hash_checked_lock():
    seen = []
    for file, name, job in credential_jobs():
        installs = [s for s in steps(job) if s.get("run", "").strip() == INSTALL]
        assert len(installs) == 1, f"{file}: job {name}"
        assert installs[0]["env"] == {"QTAP_REQUIRE_HASHES": "1"}, f"{file}: job {name}"
        setup = next(s for s in steps(job) if "setup-python" in s.get("uses", ""))
        assert "requirements.lock" in setup["with"]["cache-dependency-path"].split()
        seen.append(file)
    assert sorted(set(seen)) == ["_pulumi-up.yml", "drift.yml", "pull-request.yml"]


def test_ci_run_installs_hash_checked_like_the_github_test_job():
    lines = (REPO / ".ci" / "run").read_text().splitlines()
    commands = [line for line in lines if line.startswith("./scripts/")]
    assert commands == ["./scripts/qtap plan --all", "./scripts/test"]
    export = lines.index("export QTAP_REQUIRE_HASHES=1")
    assert export < lines.index(commands[0])


def test_lock_script_pins_pip_tools_and_writes_both_locks():
    text = (REPO / "scripts" / "lock").read_text()
    (version,) = re.findall(r"^PIP_TOOLS_VERSION=(\S+)$", text, re.MULTILINE)
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    assert '"pip-tools==$PIP_TOOLS_VERSION"' in text
    assert not re.search(r"install[^\n]*\bpip-tools\b(?!==)", text)
    assert "for name in requirements requirements-dev; do" in text
    assert "--generate-hashes" in text


def fake_root(tmp_path: Path, *, lock: bool) -> Path:
    """A copy of scripts/_venv.sh beside a .venv whose python records every pip call."""
    root = tmp_path / "root"
    (root / "scripts").mkdir(parents=True)
    shutil.copy2(REPO / "scripts" / "_venv.sh", root / "scripts" / "_venv.sh")
    for name in ("requirements.txt", "requirements-dev.txt", "constraints.txt"):
        (root / name).write_text(f"# {name}\n")
    if lock:
        for name in ("requirements.lock", "requirements-dev.lock"):
            (root / name).write_text(f"# {name}\n")
    python = root / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "-m" ]; then echo "$*" >> "$(dirname "$0")/../pip-calls"; exit 0; fi\n'
        f'exec {sys.executable} "$@"\n'
    )
    python.chmod(python.stat().st_mode | stat.S_IEXEC)
    return root


def venv_install(root: Path, requirements: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", f'source scripts/_venv.sh {requirements} && echo "venv=$venv"'],
        cwd=root,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def pip_calls(root: Path) -> list[str]:
    """The `pip install` calls _venv.sh made (its progress line also runs `pip list`)."""
    calls = root / ".venv" / "pip-calls"
    lines = calls.read_text().splitlines() if calls.exists() else []
    return [line for line in lines if line.startswith("-m pip install")]


@pytest.mark.parametrize("requirements", ["requirements.txt", "requirements-dev.txt"])
def test_venv_installs_from_the_matching_lock_with_hashes_once(tmp_path: Path, requirements):
    root = fake_root(tmp_path, lock=True)
    assert venv_install(root, requirements).returncode == 0
    lock = root / requirements.replace(".txt", ".lock")
    (call,) = pip_calls(root)
    assert call.endswith(f"--require-hashes --no-deps -r {lock}")
    # Installed once: the stamp keeps a second run from installing again...
    assert venv_install(root, requirements).returncode == 0
    assert len(pip_calls(root)) == 1
    # ...until the lock changes.
    lock.write_text("# changed\n")
    assert venv_install(root, requirements).returncode == 0
    assert len(pip_calls(root)) == 2


def test_venv_without_a_lock_refuses_when_hashes_are_required(tmp_path: Path):
    root = fake_root(tmp_path, lock=False)
    result = venv_install(root, "requirements.txt", QTAP_REQUIRE_HASHES="1")
    assert result.returncode == 1
    assert "requirements.lock is missing" in result.stderr
    assert pip_calls(root) == []
    # A developer without a lock still gets the pinned requirements.
    assert venv_install(root, "requirements.txt").returncode == 0
    (call,) = pip_calls(root)
    assert call.endswith(f"-r {root / 'requirements.txt'}")


# -- the PR preview of every listed stack ----------------------------------------------------------


def test_pr_previews_every_listed_stack_even_when_the_diff_job_fails():
    workflow = load(PR_WORKFLOW)
    preview = jobs(workflow)["preview"]
    condition = " ".join(preview["if"].split())
    # !cancelled(): the preview runs although `needs` failed (a broken stack fails the diff job).
    assert condition.startswith("!cancelled() && ")
    assert "needs.offline-diff.outputs.stacks != ''" in condition
    diff_job = jobs(workflow)["offline-diff"]
    # The diff job fails last, after the stacks output is set and the comment posted.
    names = [s.get("name") for s in steps(diff_job)]
    assert names[-1] == "Fail when the change breaks a stack"
    stacks_step = next(s for s in steps(diff_job) if s.get("id") == "stacks")
    assert "|| true" in stacks_step["run"]


# -- dependabot ------------------------------------------------------------------------------------


def test_dependabot_updates_actions_and_pip_pins():
    config = YAML(typ="safe", pure=True).load((REPO / ".github" / "dependabot.yml").read_text())
    assert config["version"] == 2
    updates = {(u["package-ecosystem"], u["directory"]): u for u in config["updates"]}
    assert {("github-actions", "/"), ("pip", "/"), ("pip", "/policy")} == set(updates)
    for update in updates.values():
        assert update["schedule"]["interval"] in {"daily", "weekly"}
        assert update["cooldown"]["default-days"] >= 1

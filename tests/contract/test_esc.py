"""Pulumi ESC environments imported by a stack file (`environment:`): the offline tools report the
secrets such an environment may hold as provided at deploy time, never as missing, and
`--require-secrets` accepts them (only Pulumi Cloud can open the environment)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qtap_gitops.esc import (
    INLINE,
    PROVIDED_CODE,
    StackEnvironments,
    split_pending,
    stack_environments,
)
from qtap_gitops.problems import Problem, Severity
from qtap_gitops.stackfile import find_project
from qtap_gitops.yamlsource import parse_yaml
from qtapctl.inputs import SECRET_ENV_KEY, TOKEN_KEY, program_inputs
from qtapctl.plan import plan_stack
from tests.conftest import edit_snapshot
from tests.tools.cli import qtapctl

AXIOM_STORE = (
    "    - id: axiom\n      type: axiom\n      dataset:\n        type: text\n        value: qtap\n"
    "      token:\n        type: env\n        value: AXIOM_TOKEN\n"
)


def environments_of(text: str) -> tuple[StackEnvironments, list[Problem]]:
    parsed = parse_yaml(text, "Pulumi.dev.yaml", what="stack settings file")
    assert parsed.problems == []
    return stack_environments(parsed.root, "Pulumi.dev.yaml")


def import_environment(
    project: Path, stack: str, block: str = "environment:\n  - qtap/{stack}\n"
) -> Path:
    path = project / f"Pulumi.{stack}.yaml"
    path.write_text(block.format(stack=stack) + path.read_text())
    return project


# --- reading `environment:` ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "imports"),
    [
        ("config: {}\n", ()),
        ("environment:\n  - qtap/dev\nconfig: {}\n", ("qtap/dev",)),
        ("environment: [qtap/base, qtap/dev@stable]\n", ("qtap/base", "qtap/dev@stable")),
        ("environment:\n  - legacy-env\n", ("legacy-env",)),
        ("environment:\n  - qtap/dev: {merge: false}\n", ("qtap/dev",)),
        ("environment:\n  imports: [qtap/dev]\n", ("qtap/dev",)),
        (
            "environment:\n  values:\n    pulumiConfig:\n      qtap:registrationToken: x\n",
            (INLINE,),
        ),
    ],
)
def test_imported_environments_are_read(text: str, imports: tuple[str, ...]):
    environments, problems = environments_of(text)
    assert problems == []
    assert environments.imports == imports
    assert bool(environments) is bool(imports)


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("environment: qtap/dev\n", "must be a list of names", 1),
        ("config: {}\nenvironment:\n  - 42\n", "item 0 is not an environment name", 3),
        ("environment:\n  - ../../etc\n", "item 0 is not an environment name", 2),
        ("environment: []\n", "imports no environment", 1),
        ("environment:\n  import: [qtap/dev]\n", "only `imports` and `values`, not import", 2),
    ],
)
def test_a_malformed_environment_key_is_an_error_at_its_line(text: str, message: str, line: int):
    environments, problems = environments_of(text)
    assert not environments
    (problem,) = problems
    assert problem.severity is Severity.ERROR
    assert problem.code == "stack-environment"
    assert problem.file == "Pulumi.dev.yaml"
    assert problem.line == line
    assert message in problem.message
    assert "pulumi config env add" in problem.fix


def test_only_missing_secrets_are_restated_as_provided():
    missing = Problem(
        severity=Severity.WARNING,
        code="secret-missing",
        file="snapshots/dev/qtap-config.yaml",
        line=9,
        column=9,
        yaml_path="services.event_stores[0].token.value",
        message="REGISTRATION_TOKEN is the Qplane registration token, and stack dev has no "
        "qtap:registrationToken",
        fix="run: pulumi config set --secret ...",
    )
    other = Problem(
        severity=Severity.WARNING,
        code="other",
        file="f",
        line=None,
        column=None,
        yaml_path="",
        message="m",
        fix="",
    )
    still, provided = split_pending(
        [missing, other], StackEnvironments("Pulumi.dev.yaml", ("qtap/dev",))
    )
    assert still == [other]
    (restated,) = provided
    assert restated.code == PROVIDED_CODE
    assert (restated.file, restated.line) == (missing.file, missing.line)
    assert restated.message == (
        "REGISTRATION_TOKEN <- qtap:registrationToken: not in Pulumi.dev.yaml; provided at "
        "deploy time by Pulumi ESC environment qtap/dev (not checked offline)"
    )
    # Without imports nothing changes.
    assert split_pending([missing], StackEnvironments("Pulumi.dev.yaml")) == ([missing], [])


# --- the tools ------------------------------------------------------------------------------------


def test_check_reports_the_token_as_provided_by_the_environment(project_copy: Path):
    import_environment(project_copy, "dev")
    for args in ((), ("--require-secrets",)):
        result = qtapctl("--project-dir", str(project_copy), "check", "dev", *args)
        assert result.returncode == 0, result.stdout
        assert (
            "secrets provided at deploy time by Pulumi ESC (not checked offline):" in result.stdout
        )
        assert (
            "REGISTRATION_TOKEN <- qtap:registrationToken: not in Pulumi.dev.yaml; provided at "
            "deploy time by Pulumi ESC environment qtap/dev" in result.stdout
        )
        assert "secrets to set before" not in result.stdout
        assert "pulumi config set --secret" not in result.stdout
        assert "secret-missing" not in result.stdout


def test_without_an_environment_the_same_stack_still_fails_require_secrets(project_copy: Path):
    result = qtapctl("--project-dir", str(project_copy), "check", "dev", "--require-secrets")
    assert result.returncode == 1
    assert "error [secret-missing]" in result.stdout
    assert "Pulumi ESC" not in result.stdout


def test_secret_env_values_are_provided_by_the_environment_too(project_copy: Path):
    edit_snapshot(project_copy, "dev", "  object_stores:\n", AXIOM_STORE + "  object_stores:\n")
    import_environment(project_copy, "dev")
    result = qtapctl("--project-dir", str(project_copy), "check", "dev", "--require-secrets")
    assert result.returncode == 0, result.stdout
    assert "AXIOM_TOKEN <- qtap:secretEnv.AXIOM_TOKEN: not in Pulumi.dev.yaml; provided" in (
        result.stdout
    )


def test_plan_fills_the_provided_secrets_and_does_not_list_them_as_missing(project_copy: Path):
    edit_snapshot(project_copy, "dev", "  object_stores:\n", AXIOM_STORE + "  object_stores:\n")
    import_environment(project_copy, "dev")
    inputs = program_inputs(find_project(project_copy), "dev")
    assert inputs.pending == []
    assert sorted(p.message.split(" ", 1)[0] for p in inputs.provided_at_deploy) == [
        "AXIOM_TOKEN",
        "REGISTRATION_TOKEN",
    ]
    assert {TOKEN_KEY, SECRET_ENV_KEY} <= inputs.secret_keys
    plan = plan_stack(find_project(project_copy), "dev")
    assert plan.error is None
    assert plan.pending == []


def test_a_malformed_environment_stops_check_and_plan_alike(project_copy: Path):
    import_environment(project_copy, "dev", "environment: qtap/dev\n")
    result = qtapctl("--project-dir", str(project_copy), "check", "dev")
    assert result.returncode == 1
    assert "Pulumi.dev.yaml:1:14: error [stack-environment]: environment: must be a list" in (
        result.stdout
    )
    assert "Traceback" not in result.stdout + result.stderr
    plan = plan_stack(find_project(project_copy), "dev")
    assert plan.error is not None
    assert "[stack-environment]" in plan.error


def test_import_names_a_new_secret_as_provided_by_the_environment(project_copy: Path):
    import_environment(project_copy, "dev")
    committed = project_copy / "snapshots/dev/qtap-config.yaml"
    export = committed.read_text().replace("  object_stores:\n", AXIOM_STORE + "  object_stores:\n")
    result = qtapctl("--project-dir", str(project_copy), "import", "dev", stdin=export)
    assert result.returncode == 0, result.stdout
    assert (
        "secret provided at deploy time: AXIOM_TOKEN <- qtap:secretEnv.AXIOM_TOKEN: not in "
        "Pulumi.dev.yaml; provided at deploy time by Pulumi ESC environment qtap/dev"
    ) in result.stdout
    assert "secret to set before deploy" not in result.stdout

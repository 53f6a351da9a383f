"""Pulumi.yaml's config declarations, checked with the rules the Pulumi CLI applies to them.

The rules are read from pulumi/pulumi (not executed here: no Pulumi CLI in the tests):
- `sdk/go/common/workspace/project.json` (`configTypeDeclaration`): the attributes a declaration
  may have (type, items, description, secret, default, value; nothing else), `type` one of
  string, integer, boolean, array, and an array needs `items`.
- `sdk/go/common/workspace/project.go` `Project.Validate`: not both `default` and `value`; a typed
  default must have its type; a key outside the project's namespace takes only a `value`.
- `sdk/go/common/workspace/config.go` `mergeConfig`: a project key that the stack does not set and
  that has neither `default` nor `value` is missing ("Stack 'dev' is missing configuration
  value ..."), which stops every command; otherwise the default is copied into the stack's
  config as a plain value. Then, for typed keys only, `validateStackConfigValue`: a `secret: true`
  key must be encrypted on the stack ("must be encrypted as it's secret") and the value must
  have the declared type (`ValidateConfigValue`; plain values are strings there).
The merged configuration is what the CLI hands to the program; the last tests run the program
with it, through the PULUMI_CONFIG environment variable as the Python language host does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from qtapctl.mock_engine import ProgramRun, redact, run_program
from tests.conftest import REPO, STACKS, copy_project
from tests.pulumi_harness import SENTINEL_TOKEN, run_stack, sentinel_cloud

DECLARATION_ATTRIBUTES = frozenset({"type", "items", "description", "secret", "default", "value"})
SIMPLE_TYPES = frozenset({"string", "integer", "boolean", "array"})


def load_yaml(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def is_primitive(value: Any) -> bool:
    return isinstance(value, (str, int, bool)) and value is not None


def namespaced_by_project(project: str, key: str) -> bool:
    return ":" not in key or key.startswith(f"{project}:")


def valid_value(type_name: str, items: dict[str, Any] | None, value: Any) -> bool:
    """ValidateConfigValue (project.go)."""
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        if isinstance(value, bool):
            return False
        if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
            return True
        return isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+", value) is not None
    if type_name == "boolean":
        return value in ("true", "false") or isinstance(value, bool)
    if not isinstance(value, list) or items is None:
        return False
    return all(valid_value(items["type"], items.get("items"), item) for item in value)


def project_problems(project: dict[str, Any]) -> list[str]:
    """project.json's configTypeDeclaration and Project.Validate."""
    name = project.get("name")
    problems: list[str] = []
    if not isinstance(name, str) or not name:
        return ["project is missing a non-empty string 'name' attribute"]
    for key, declaration in (project.get("config") or {}).items():
        if is_primitive(declaration) or isinstance(declaration, list):
            continue  # shorthand: a default (project keys) or a value (others)
        if not isinstance(declaration, dict):
            problems.append(f"{key}: not a config declaration")
            continue
        unknown = set(declaration) - DECLARATION_ATTRIBUTES
        if unknown:
            problems.append(f"{key}: attributes not allowed: {sorted(unknown)}")
        type_name = declaration.get("type")
        if type_name is not None and type_name not in SIMPLE_TYPES:
            problems.append(f"{key}: type {type_name!r} is not one of {sorted(SIMPLE_TYPES)}")
        if type_name == "array" and "items" not in declaration:
            problems.append(f"{key}: an array needs 'items'")
        if declaration.get("default") is not None and declaration.get("value") is not None:
            problems.append(f"{key}: cannot have both a 'default' and 'value' attribute")
        if namespaced_by_project(name, key):
            default = declaration.get("default")
            typed_default = type_name in SIMPLE_TYPES and default is not None
            if typed_default and not valid_value(type_name, declaration.get("items"), default):
                problems.append(f"{key}: the default is not of type {type_name}")
        elif type_name is not None or "default" in declaration or "value" not in declaration:
            problems.append(f"{key}: a key outside the project takes only a 'value'")
    return problems


@dataclass(frozen=True)
class StackValue:
    value: Any
    """A primitive's string form, or an object's structure."""
    secure: bool = False

    @property
    def engine_form(self) -> str:
        """What the program receives (objects as JSON text)."""
        if isinstance(self.value, str):
            return self.value
        return json.dumps(self.value)


def engine_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def stack_config(path: Path) -> dict[str, StackValue]:
    """A stack file's config as the CLI holds it: primitives as strings, objects as objects."""
    config: dict[str, StackValue] = {}
    for key, value in ((load_yaml(path) or {}).get("config") or {}).items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            config[key] = StackValue("<ciphertext>", secure=True)
        elif isinstance(value, (dict, list)):
            config[key] = StackValue(value)
        else:
            config[key] = StackValue(engine_string(value))
    return config


def full_key(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def merge(project: dict[str, Any], stack: str, config: dict[str, StackValue]) -> dict[str, Any]:
    """mergeConfig + validateStackConfigValues; raises what the CLI would print."""
    name = project["name"]
    merged = dict(config)
    missing: list[str] = []
    declarations = project.get("config") or {}
    for key in sorted(declarations):
        declaration = declarations[key]
        if is_primitive(declaration) or isinstance(declaration, list):
            declaration = (
                {"default": declaration}
                if namespaced_by_project(name, key)
                else {"value": declaration}
            )
        target = full_key(name, key)
        default = declaration.get("default", declaration.get("value"))
        if target not in merged:
            if default is None:
                if target.split(":", 1)[0] == name:
                    missing.append(key)
                continue
            merged[target] = StackValue(
                engine_string(default) if is_primitive(default) else default
            )
    if missing:
        plural = "value" if len(missing) == 1 else "values"
        listed = " and ".join(f"'{k}'" for k in sorted(missing))
        raise CliRefusalError(f"Stack '{stack}' is missing configuration {plural} {listed}")
    for key in sorted(declarations):
        declaration = declarations[key]
        if not isinstance(declaration, dict) or declaration.get("type") is None:
            continue
        value = merged[full_key(name, key)]
        if declaration.get("secret") and not value.secure:
            raise CliRefusalError(
                f"Stack '{stack}' with configuration key '{key}' must be encrypted as it's secret"
            )
        content = "sentinel" if value.secure else value.value
        if not valid_value(declaration["type"], declaration.get("items"), content):
            raise CliRefusalError(
                f"Stack '{stack}' with configuration key '{key}' must be of type "
                f"'{declaration['type']}'"
            )
    return merged


class CliRefusalError(Exception):
    pass


PROJECT = load_yaml(REPO / "Pulumi.yaml")


def test_pulumi_yaml_declarations_are_valid_for_the_cli():
    assert project_problems(PROJECT) == []
    assert PROJECT["name"] == "qtap"


def test_every_project_key_has_a_default_so_the_program_explains_what_is_missing():
    for key, declaration in PROJECT["config"].items():
        assert "default" in declaration, f"the CLI would require {key} on every stack"
        assert not declaration.get("secret"), (
            f"{key}: a secret key with a default fails on every stack that does not set it"
        )


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("token", [None, "secure"])
def test_the_cli_accepts_every_stack_with_or_without_a_registration_token(stack, token):
    config = stack_config(REPO / f"Pulumi.{stack}.yaml")
    if token:
        config["qtap:registrationToken"] = StackValue("<ciphertext>", secure=True)
    merged = merge(PROJECT, stack, config)
    assert set(merged) >= {f"qtap:{key}" for key in PROJECT["config"]}


def test_the_cli_accepts_a_sealed_secrets_stack_without_vault():
    config = stack_config(REPO / "Pulumi.dev.yaml")
    del config["qtap:vault"]
    config["qtap:secrets"] = StackValue({"backend": "sealed-secrets"})
    merge(PROJECT, "dev", config)


@pytest.mark.parametrize(
    ("declaration", "refusal"),
    [
        # The declaration this project had before: required on every stack.
        (
            {"type": "string", "secret": True},
            "Stack 'dev' is missing configuration value 'registrationToken'",
        ),
        # A default does not help a secret key: it is applied as a plain value, then refused.
        (
            {"type": "string", "secret": True, "default": ""},
            "Stack 'dev' with configuration key 'registrationToken' must be encrypted",
        ),
    ],
)
def test_the_rules_refuse_what_the_cli_refuses(declaration, refusal):
    project = {**PROJECT, "config": {**PROJECT["config"], "registrationToken": declaration}}
    assert project_problems(project) == []
    with pytest.raises(CliRefusalError, match=re.escape(refusal)):
        merge(project, "dev", stack_config(REPO / "Pulumi.dev.yaml"))


def test_the_schema_rules_refuse_an_object_type_and_unknown_attributes():
    bad = {
        "name": "qtap",
        "config": {
            "chart": {"type": "object"},
            "vault": {"description": "x", "required": True},
            "list": {"type": "array"},
            "both": {"default": "a", "value": "b"},
            "aws:region": {"default": "us-east-1"},
        },
    }
    problems = project_problems(bad)
    assert len(problems) == 5, problems


# -- the program under the configuration the CLI hands it ---------------------------------


def cli_environment(project_dir: Path, stack: str, token: str | None) -> dict[str, str]:
    """PULUMI_CONFIG and PULUMI_CONFIG_SECRET_KEYS as the language host sets them."""
    config = stack_config(project_dir / f"Pulumi.{stack}.yaml")
    if token is not None:
        config["qtap:registrationToken"] = StackValue(token, secure=True)
    merged = merge(PROJECT, stack, config)
    return {
        "PULUMI_CONFIG": json.dumps({k: v.engine_form for k, v in merged.items()}),
        "PULUMI_CONFIG_SECRET_KEYS": json.dumps(sorted(k for k, v in merged.items() if v.secure)),
    }


def via_environment(monkeypatch, project_dir: Path, stack: str, token: str | None) -> ProgramRun:
    for name, value in cli_environment(project_dir, stack, token).items():
        monkeypatch.setenv(name, value)
    # No config through set_all_config: the program must find it in the environment.
    return run_program(
        project_dir, stack, {}, set(), sentinel_cloud(), program=REPO / "__main__.py"
    )


def view(run: ProgramRun) -> dict[str, Any]:
    return {
        r.urn: (json.dumps(redact(r.inputs), default=str, sort_keys=True), r.provider)
        for r in run.registrations
    }


@pytest.mark.parametrize("stack", STACKS)
def test_the_program_reads_the_cli_config_from_the_environment_like_from_set_all_config(
    monkeypatch, stack
):
    from_environment = via_environment(monkeypatch, REPO, stack, SENTINEL_TOKEN)
    assert from_environment.error is None
    monkeypatch.delenv("PULUMI_CONFIG")
    monkeypatch.delenv("PULUMI_CONFIG_SECRET_KEYS")
    from_set_all_config = run_stack(stack)
    assert view(from_environment) == view(from_set_all_config)
    assert from_environment.outputs == from_set_all_config.outputs


def test_a_stack_without_a_pulse_store_runs_with_the_cli_defaults(monkeypatch, tmp_path: Path):
    project = copy_project(tmp_path / "p")
    path = project / "snapshots/dev/qtap-config.yaml"
    text = path.read_text()
    start, end = text.index("    - id: qpoint"), text.index("  object_stores:")
    path.write_text(text[:start] + "    - id: console\n      type: stdout\n" + text[end:])
    run = via_environment(monkeypatch, project, "dev", token=None)
    assert run.error is None
    assert set(run.outputs["envBindings"]) == {"S3_ACCESS_KEY", "S3_SECRET_KEY"}


def test_a_missing_token_is_the_programs_message_not_the_clis(monkeypatch):
    run = via_environment(monkeypatch, REPO, "staging", token=None)
    assert run.registrations == []
    assert "pulumi config set --secret 'qtap:registrationToken' '<token>' --stack staging" in str(
        run.error
    )


def test_a_plaintext_token_in_the_stack_file_is_refused_by_the_program(monkeypatch, tmp_path: Path):
    project = copy_project(tmp_path / "p")
    path = project / "Pulumi.dev.yaml"
    path.write_text(path.read_text() + "  qtap:registrationToken: plain-text-token-5b1e\n")
    run = via_environment(monkeypatch, project, "dev", token=None)
    assert run.registrations == []
    assert "[secret-plaintext]" in str(run.error)
    assert "plain-text-token-5b1e" not in str(run.error)

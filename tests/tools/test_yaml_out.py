"""The tools print YAML with PyYAML (qtapctl/yaml_out.py) exactly as they did with ruamel.yaml:
every plan of every stack, delivery mode and secrets backend, and the sealed manifest, byte for
byte; and any JSON-like value printed reads back as itself under YAML 1.2."""

from __future__ import annotations

import io
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString

from qtap_gitops.sealing import load_certificate, seal_values, sealed_secret_manifest
from qtap_gitops.settings import SealedSecretsScope
from qtap_gitops.stackfile import find_project
from qtapctl import yaml_out
from qtapctl.plan import StackPlan, plan_stack, to_yaml
from tests.backends import SEALED, VSO, backend_project
from tests.conftest import copy_project
from tests.sealing_keys import controller_key
from tests.tools.test_delivery_plan import with_mode


def _literal_blocks(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _literal_blocks(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_literal_blocks(v) for v in value]
    if isinstance(value, str) and "\n" in value:
        return LiteralScalarString(value)
    return value


def ruamel_plan_yaml(value: Any) -> str:
    """qtapctl/plan.py `to_yaml` as it was with ruamel.yaml."""
    dumper = YAML(typ="rt", pure=True)
    dumper.default_flow_style = False
    dumper.width = 4096
    buffer = io.StringIO()
    data = json.loads(json.dumps(value, sort_keys=True, default=str))
    dumper.dump(_literal_blocks(data), buffer)
    return buffer.getvalue()


def ruamel_manifest_yaml(manifest: dict[str, Any]) -> str:
    """qtapctl/seal.py's manifest as it was printed with ruamel.yaml."""
    dumper = YAML(typ="safe")
    dumper.default_flow_style = False
    dumper.width = 1 << 16
    buffer = io.StringIO()
    dumper.dump(manifest, buffer)
    return buffer.getvalue()


def printed_values(plan: StackPlan) -> list[Any]:
    """Every value the renderers pass through `to_yaml`."""
    values: list[Any] = [plan.outputs]
    for resource in plan.resources:
        values.append(resource.inputs)
        values.append({"waits for": resource.depends_on})
    return values


CASES = {
    "dev": lambda root: (copy_project(root), "dev"),
    "staging": lambda root: (copy_project(root), "staging"),
    "prod": lambda root: (copy_project(root), "prod"),
    "staging argocd": lambda root: (with_mode(copy_project(root), "staging", "argocd"), "staging"),
    "staging flux": lambda root: (with_mode(copy_project(root), "staging", "flux"), "staging"),
    "dev sealed-secrets": lambda root: (backend_project(root, "dev", SEALED), "dev"),
    "prod vault-secrets-operator": lambda root: (backend_project(root, "prod", VSO), "prod"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_plan_prints_as_ruamel_printed_it(case: str, tmp_path: Path):
    project, stack = CASES[case](tmp_path / "project")
    plan = plan_stack(find_project(project), stack)
    assert plan.error is None, plan.error
    values = printed_values(plan)
    assert len(values) > 3
    for value in values:
        assert to_yaml(value) == ruamel_plan_yaml(value)


@cache
def _certificate():  # type: ignore[no-untyped-def]
    return load_certificate(controller_key().certificate_pem)


@pytest.mark.parametrize("scope", list(SealedSecretsScope))
def test_the_sealed_manifest_prints_as_ruamel_printed_it(scope: SealedSecretsScope):
    encrypted = seal_values(
        _certificate(),
        bytes(32),
        namespace="qpoint",
        name="qtap-secrets",
        scope=scope,
        values={"REGISTRATION_TOKEN": "t", "S3_SECRET_KEY": "s/+=", "EMPTY": ""},
    )
    manifest = sealed_secret_manifest(
        name="qtap-secrets",
        namespace="qpoint",
        scope=scope,
        encrypted_data=encrypted,
        labels={"app.kubernetes.io/part-of": "qtap"},
    )
    assert yaml_out.dump(manifest, width=1 << 16, sort_keys=True) == ruamel_manifest_yaml(manifest)


@pytest.mark.parametrize(
    "value",
    [
        {"a": "yes", "b": "on", "c": "true", "d": "0x1F", "e": "1e3", "f": "", "g": "~"},
        {"h": "2001-01-01", "i": "=", "j": "<<", "k": "0o17", "l": "012", "m": "1_000"},
        {"policy": 'path "kv/data/qtap/*" {\n  capabilities = ["read"]\n}\n', "n": None},
        {"lead": "  indented\nblock", "keep": "a\n\n", "strip": "a\nb", "u": "é ü 中"},
        {"floats": [1.5, 1e-05, 1e20, -0.0], "ints": [0, -1, 2**70], "empty": [{}, []]},
        None,
        "a top-level string",
    ],
)
def test_ordinary_values_print_as_ruamel_printed_them(value: Any):
    assert to_yaml(value) == ruamel_plan_yaml(value)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner),
    max_leaves=12,
)


@given(json_values)
def test_any_json_value_reads_back_as_itself_under_yaml_1_2(value: Any):
    loader = YAML(typ="safe", pure=True)
    assert loader.load(to_yaml(value)) == json.loads(json.dumps(value, sort_keys=True))

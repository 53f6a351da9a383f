"""Per stack, every generated Kubernetes object against real schemas: core kinds with
kubernetes-validate (strict, 1.30 and the newest bundled version), ESO kinds against the real ESO
v2.9.0 CRDs, and the Helm release values against the qtap chart's values.yaml."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from tests.conftest import STACKS
from tests.real.generated import EXTERNAL_SECRET, HELM_RELEASE, generated
from tests.real.k8s_schemas import (
    api_object,
    check_core_object,
    check_eso_object,
    check_release_values,
    structural_to_jsonschema,
)

pytestmark = pytest.mark.real


def objects_of_group(stack: str, prefix: str) -> list[dict[str, Any]]:
    """Every registered Kubernetes object whose type token starts with `prefix`."""
    program = generated(stack)
    return [
        api_object(r.type, program.inputs_of(r))
        for r in program.run.registrations
        if r.type.startswith(prefix)
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_core_objects_validate_strictly(stack: str) -> None:
    objects = objects_of_group(stack, "kubernetes:core/")
    assert {o["kind"] for o in objects} >= {"Namespace", "ServiceAccount"}
    for obj in objects:
        check_core_object(obj)


@pytest.mark.parametrize("stack", STACKS)
def test_eso_objects_validate_against_the_eso_crds(stack: str) -> None:
    objects = objects_of_group(stack, "kubernetes:external-secrets.io/")
    assert {o["kind"] for o in objects} == {"SecretStore", "ExternalSecret"}
    for obj in objects:
        check_eso_object(obj)


@pytest.mark.parametrize("stack", STACKS)
def test_release_values_are_chart_values_and_env_vars(stack: str) -> None:
    program = generated(stack)
    values = program.one(HELM_RELEASE)["values"]
    check_release_values(values)
    # The token reaches the agent only through the Secret ESO writes, never as a chart value.
    assert "registrationToken" not in values
    assert "registrationTokenSecretRefName" not in values

    # Each env var reads a key that the ExternalSecret writes into the Secret it targets.
    spec = program.one(EXTERNAL_SECRET)["spec"]
    written = sorted((spec["target"]["name"], item["secretKey"]) for item in spec["data"])
    read = sorted(
        (env["valueFrom"]["secretKeyRef"]["name"], env["valueFrom"]["secretKeyRef"]["key"])
        for env in values["extraEnv"]
    )
    assert read == written


# The translation of the structural schema is what makes a CRD schema judge like the API server.


def test_translation_lets_null_through_where_the_crd_says_nullable() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "string", "nullable": True}}}
    assert not jsonschema.Draft4Validator(schema).is_valid({"x": None})
    assert jsonschema.Draft4Validator(structural_to_jsonschema(schema)).is_valid({"x": None})


def test_translation_accepts_int_or_string_and_nothing_else() -> None:
    schema = {"type": "object", "properties": {"port": {"x-kubernetes-int-or-string": True}}}
    validator = jsonschema.Draft4Validator(structural_to_jsonschema(schema))
    assert validator.is_valid({"port": 8200})
    assert validator.is_valid({"port": "https"})
    assert not validator.is_valid({"port": 1.5})
    assert not validator.is_valid({"port": ["8200"]})


def test_translation_rejects_unknown_fields_unless_preserved() -> None:
    closed = {"type": "object", "properties": {"a": {"type": "string"}}}
    preserved = {**closed, "x-kubernetes-preserve-unknown-fields": True}
    assert jsonschema.Draft4Validator(closed).is_valid({"a": "x", "b": "y"})
    assert not jsonschema.Draft4Validator(structural_to_jsonschema(closed)).is_valid({"b": "y"})
    assert jsonschema.Draft4Validator(structural_to_jsonschema(preserved)).is_valid({"b": "y"})

"""Validate generated Kubernetes objects and chart values against real schemas.

- Core kinds (Namespace, ServiceAccount, EnvVar inside a Pod): kubernetes-validate in strict
  mode (unknown fields fail) against Kubernetes 1.30 and the newest bundled version.
- ESO kinds: the real ESO v2.9.0 CRDs (schema directory, external-secrets-v2.9.0/), their `v1`
  structural schema translated to JSON Schema the way the API server reads it.
- Chart values: the keys of the qtap chart's values.yaml (schema directory, qtap-chart-0.0.38/).

Each `check_*` function raises AssertionError listing every problem it found.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from tests.conftest import schema_file

ESO_CRDS = schema_file("external-secrets-v2.9.0")
CHART_VALUES = schema_file("qtap-chart-0.0.38", "values.yaml")
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())

# values.yaml names this key only in a comment ("# OR registrationTokenSecretRefName"), yet the
# chart reads it; it is a real key of the chart, though this program must never set it.
CHART_KEYS_ONLY_IN_COMMENTS = frozenset({"registrationTokenSecretRefName"})


def api_object(type_token: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """A Kubernetes object from a Pulumi registration: `kubernetes:core/v1:Namespace` ->
    apiVersion `v1`, kind `Namespace`, plus every input (metadata, spec, ...)."""
    _, group_version, kind = type_token.split(":")
    group, version = group_version.split("/")
    api_version = version if group == "core" else f"{group}/{version}"
    for key, expected in (("apiVersion", api_version), ("kind", kind)):
        if key in inputs and inputs[key] != expected:
            raise AssertionError(f"{type_token} registered {key} {inputs[key]!r}")
    return {**inputs, "apiVersion": api_version, "kind": kind}


def _describe(error: jsonschema.ValidationError) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"{where}: {error.message}"


def core_problems(obj: Mapping[str, Any]) -> list[str]:
    """kubernetes-validate, strict, on each version in KUBERNETES_VERSIONS."""
    problems = []
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(dict(obj), version, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"Kubernetes {version}: {_describe(error)}")
        except kubernetes_validate.SchemaNotFoundError as error:
            problems.append(f"Kubernetes {version}: no schema ({error.message})")
    return problems


def check_core_object(obj: Mapping[str, Any]) -> None:
    problems = core_problems(obj)
    name = f"{obj.get('kind')} {obj.get('metadata', {}).get('name')}"
    assert not problems, f"{name}:\n  " + "\n  ".join(problems)


# ESO custom resources.


def structural_to_jsonschema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A CRD's structural schema as JSON Schema that judges an object as the API server does:
    - `nullable: true` lets `null` through;
    - `x-kubernetes-int-or-string: true` means an integer or a string;
    - an object with `properties` and neither `additionalProperties` nor
      `x-kubernetes-preserve-unknown-fields` accepts no other field (the API server would prune
      it, or reject it with strict field validation; here an unknown field fails).
    CEL rules (`x-kubernetes-validations`) are not evaluated.
    """
    out = dict(schema)
    if "properties" in out:
        out["properties"] = {k: structural_to_jsonschema(v) for k, v in out["properties"].items()}
    for key in ("items", "additionalProperties", "not"):
        if isinstance(out.get(key), dict):
            out[key] = structural_to_jsonschema(out[key])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in out:
            out[key] = [structural_to_jsonschema(s) for s in out[key]]
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if out.pop("nullable", False):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        else:
            out = {"anyOf": [{"type": "null"}, out]}
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@functools.cache
def _crd_validators(
    folders: tuple[tuple[str, Path], ...],
) -> dict[tuple[str, str], jsonschema.protocols.Validator]:
    """(apiVersion, kind) -> validator, for every served version of each CRD in `folders`."""
    validators = {}
    for _, folder in folders:
        for path in sorted(folder.glob("*.yaml")):
            crd = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if version.get("served"):
                    schema = structural_to_jsonschema(version["schema"]["openAPIV3Schema"])
                    validators[(f"{group}/{version['name']}", kind)] = jsonschema.Draft4Validator(
                        schema
                    )
    return validators


def eso_problems(obj: Mapping[str, Any]) -> list[str]:
    validator = _crd_validators((("ESO v2.9.0", ESO_CRDS),)).get(
        (obj.get("apiVersion"), obj.get("kind"))
    )
    if validator is None:
        return [f"ESO v2.9.0 serves no {obj.get('kind')} in {obj.get('apiVersion')}"]
    problems = sorted(_describe(e) for e in validator.iter_errors(dict(obj)))
    # The CRD leaves metadata to the API server (ObjectMeta); check it as ObjectMeta, strictly,
    # through a ConfigMap that carries it.
    carrier = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj.get("metadata")}
    problems += [f"metadata: {p}" for p in core_problems(carrier)]
    return problems


def check_eso_object(obj: Mapping[str, Any]) -> None:
    problems = eso_problems(obj)
    name = f"{obj.get('kind')} {obj.get('metadata', {}).get('name')}"
    assert not problems, f"{name} against the ESO v2.9.0 CRD:\n  " + "\n  ".join(problems)


# Chart values.


@functools.cache
def chart_defaults() -> dict[str, Any]:
    return yaml.safe_load(CHART_VALUES.read_text(encoding="utf-8"))


def chart_keys() -> frozenset[str]:
    return frozenset(chart_defaults()) | CHART_KEYS_ONLY_IN_COMMENTS


def _env_var_problems(item: Any) -> list[str]:
    """An extraEnv item, validated as a container's env entry (core/v1 EnvVar) of a Pod."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "env-var-probe"},
        "spec": {"containers": [{"name": "qtap", "image": "qtap", "env": [item]}]},
    }
    return core_problems(pod)


def check_release_values(values: Mapping[str, Any]) -> None:
    """Every top-level key is one the chart defines, with the YAML type of its default (when
    the default is not null), and every extraEnv item is a valid Kubernetes EnvVar."""
    defaults = chart_defaults()
    problems = [
        f"{key}: not a key of the chart's values.yaml" for key in sorted(set(values) - chart_keys())
    ]
    for key, value in values.items():
        default = defaults.get(key)
        if default is not None and not isinstance(value, type(default)):
            problems.append(
                f"{key}: a {type(value).__name__}, the chart's default is a"
                f" {type(default).__name__}"
            )
    for index, item in enumerate(values.get("extraEnv") or []):
        problems += [f"extraEnv[{index}] as EnvVar: {p}" for p in _env_var_problems(item)]
    assert not problems, "release values:\n  " + "\n  ".join(problems)


# -- Other controllers' custom resources: the real CRDs of Argo CD v3.5.1 (Application), Flux 2.9
# (HelmRelease, HelmRepository), Vault Secrets Operator v1.4.1 and Sealed Secrets v0.36.6, judged
# with the same structural-schema translation as the ESO kinds, strict.

DELIVERY_CRDS = {
    "Argo CD v3.5.1": schema_file("argo-cd-v3.5.1"),
    "Flux 2.9": schema_file("flux-v2.9"),
}
BACKEND_CRDS = {
    "vault-secrets-operator v1.4.1": schema_file("vault-secrets-operator-v1.4.1"),
    "sealed-secrets v0.36.6": schema_file("sealed-secrets-v0.36.6"),
}


def _crd_problems(obj: Mapping[str, Any], crds: Mapping[str, Path]) -> list[str]:
    validator = _crd_validators(tuple(crds.items())).get((obj.get("apiVersion"), obj.get("kind")))
    if validator is None:
        return [f"no CRD in {', '.join(crds)} serves {obj.get('kind')} {obj.get('apiVersion')}"]
    problems = sorted(_describe(e) for e in validator.iter_errors(dict(obj)))
    carrier = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj.get("metadata")}
    problems += [f"metadata: {p}" for p in core_problems(carrier)]
    return problems


def _check(obj: Mapping[str, Any], crds: Mapping[str, Path]) -> None:
    problems = _crd_problems(obj, crds)
    name = f"{obj.get('kind')} {obj.get('metadata', {}).get('name')}"
    assert not problems, f"{name} against its CRD:\n  " + "\n  ".join(problems)


def delivery_problems(obj: Mapping[str, Any]) -> list[str]:
    return _crd_problems(obj, DELIVERY_CRDS)


def check_delivery_object(obj: Mapping[str, Any]) -> None:
    _check(obj, DELIVERY_CRDS)


def backend_crd_problems(obj: Mapping[str, Any]) -> list[str]:
    return _crd_problems(obj, BACKEND_CRDS)


def check_backend_object(obj: Mapping[str, Any]) -> None:
    _check(obj, BACKEND_CRDS)

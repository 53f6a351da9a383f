"""The values of the qtap Helm release, built from the snapshot and the env bindings.

The chart (qpoint/qtap 0.0.38, templates unchanged since the chart was added) renders
`.Values.config` verbatim into a ConfigMap mounted with `subPath`, appends `extraEnv` after its
own env variables, and has no checksum annotation: a config change alone never restarts the
DaemonSet. So the program owns three values: `config` (the snapshot's exact text), `extraEnv`
(one secretKeyRef per binding) and a pod annotation with the snapshot's sha256 that rolls the
pods when the snapshot changes. Users add anything else the chart defines through
`qtap:chart.values`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from .bindings import EnvBinding
from .problems import Problem, problem
from .qtap_schema import CHART_MANAGED_ENV
from .settings import IdentityMode, position_of

# The annotation IRSA reads on a ServiceAccount (aws/amazon-eks-pod-identity-webhook).
IRSA_ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"

SECRET_NAME = "qtap-secrets"
SNAPSHOT_CHECKSUM_ANNOTATION = "checksum/qtap-config"

# Top-level keys of qpoint/qtap 0.0.38 values.yaml, with the nested keys of its fixed-shape
# sections (None = free-form Kubernetes structure such as resources or tolerations).
CHART_VALUE_KEYS: dict[str, frozenset[str] | None] = {
    "image": frozenset({"repository", "pullPolicy", "tag"}),
    "imagePullSecrets": None,
    "nameOverride": None,
    "fullnameOverride": None,
    "args": None,
    "registrationEndpoint": None,
    "serviceAccount": frozenset({"create", "automount", "annotations", "name"}),
    "podAnnotations": None,
    "podLabels": None,
    "podSecurityContext": None,
    "securityContext": None,
    "logLevel": None,
    "logEncoding": None,
    "status": frozenset({"addr", "port"}),
    "middlewareEgress": frozenset({"addr", "port"}),
    "resources": None,
    "volumes": None,
    "volumeMounts": None,
    "nodeSelector": None,
    "tolerations": None,
    "affinity": None,
    "integrations": frozenset({"containerd"}),
    "registrationToken": None,
    "registrationTokenSecretRefName": None,
    "config": None,
    "extraEnv": None,
}
CONTAINERD_KEYS = frozenset({"enabled", "hostSocketPath"})
LOG_LEVELS = frozenset({"debug", "info", "warn", "error", "dpanic", "panic", "fatal"})
LOG_ENCODINGS = frozenset({"console", "json"})

_OWNED = {
    "config": "the program sets it to the committed snapshot, byte for byte",
    "registrationToken": "it would put the token into Helm values and Pulumi state in plaintext; "
    "the token reaches the agent through the Kubernetes Secret",
    "registrationTokenSecretRefName": "the token already reaches the agent as REGISTRATION_TOKEN "
    "through extraEnv",
}


class _ChartValueErrors:
    """Collects `chart-values` problems, each at its key's position in the stack file."""

    def __init__(self, source: str, positions: Mapping[str, tuple[int, int]]) -> None:
        self.source = source
        self.positions = positions
        self.problems: list[Problem] = []

    def __call__(self, path: str, message: str, fix: str) -> None:
        key = f"qtap:chart.values.{path}"
        line, column = position_of(self.positions, key)
        self.problems.append(
            problem(
                "chart-values",
                self.source,
                (line, column),
                key,
                message,
                fix,
            )
        )


def check_chart_values(
    values: Mapping[str, Any],
    source: str,
    positions: Mapping[str, tuple[int, int]],
    *,
    identity: IdentityMode | None = None,
) -> list[Problem]:
    """Problems with `qtap:chart.values` (unknown keys, program-owned keys, bad enums).

    With a workload identity, `serviceAccount` is the program's too: the role's trust or the
    Pod Identity association names exactly the ServiceAccount the program sets there."""
    error = _ChartValueErrors(source, positions)
    for key, value in values.items():
        _check_top_level_key(key, value, identity, error)
    _check_string_maps(values, error)
    _check_log_settings(values, error)
    annotations = values.get("podAnnotations")
    if isinstance(annotations, dict) and SNAPSHOT_CHECKSUM_ANNOTATION in annotations:
        error(
            f"podAnnotations.{SNAPSHOT_CHECKSUM_ANNOTATION}",
            "the program sets this annotation to the snapshot's sha256 so pods roll on a new snapshot",
            "remove it",
        )
    _check_extra_env(values.get("extraEnv"), error)
    return error.problems


def _check_top_level_key(
    key: str, value: Any, identity: IdentityMode | None, error: _ChartValueErrors
) -> None:
    """A key the chart defines, not owned by the program, of its section's shape."""
    if key not in CHART_VALUE_KEYS:
        error(
            key,
            f"the qtap chart defines no value {key!r}; Helm would ignore it silently",
            "remove it or correct the spelling (see the chart's values.yaml)",
        )
        return
    if key == "serviceAccount" and identity is not None:
        error(
            key,
            f"serviceAccount cannot be set here with qtap:objectStore.identity "
            f"{identity.value}: the program sets it to the ServiceAccount the agent's IAM "
            "role is bound to",
            "remove qtap:chart.values.serviceAccount",
        )
        return
    if key in _OWNED:
        error(key, f"{key} cannot be set here: {_OWNED[key]}", f"remove qtap:chart.values.{key}")
        return
    nested = CHART_VALUE_KEYS[key]
    if nested is not None and isinstance(value, dict):
        _check_section_keys(key, value, nested, error)
    elif nested is not None:
        shown = "a list" if isinstance(value, list) else repr(value)[:60]
        error(key, f"must be a mapping, found {shown}", "see the chart's values.yaml")


def _check_section_keys(
    key: str, value: dict[Any, Any], nested: frozenset[str], error: _ChartValueErrors
) -> None:
    """The keys of a fixed-shape section (and of integrations.containerd)."""
    for sub in value:
        if sub not in nested:
            error(
                f"{key}.{sub}",
                f"the chart's {key} has no key {sub!r}",
                f"use: {', '.join(sorted(nested))}",
            )
    containerd = value.get("containerd") if key == "integrations" else None
    if isinstance(containerd, dict):
        for sub in containerd:
            if sub not in CONTAINERD_KEYS:
                error(
                    f"integrations.containerd.{sub}",
                    f"the chart's integrations.containerd has no key {sub!r}",
                    f"use: {', '.join(sorted(CONTAINERD_KEYS))}",
                )


def _check_string_maps(values: Mapping[str, Any], error: _ChartValueErrors) -> None:
    # Values the chart renders as a string map (podAnnotations: the program adds its checksum
    # annotation to it): any other shape crashes the plan or the template.
    for key in ("podAnnotations", "podLabels", "nodeSelector"):
        found = values.get(key)
        if found is not None and not (
            isinstance(found, dict) and all(isinstance(v, str) for v in found.values())
        ):
            error(key, "must be a mapping of names to strings", f"write {key}: {{name: value}}")


def _check_log_settings(values: Mapping[str, Any], error: _ChartValueErrors) -> None:
    # Values the chart renders as one string: one word of a fixed set.
    for key, allowed in (("logLevel", LOG_LEVELS), ("logEncoding", LOG_ENCODINGS)):
        if key in values and not isinstance(values[key], str):
            error(key, "must be a single word", f"use one of: {', '.join(sorted(allowed))}")
    if isinstance(values.get("logLevel"), str) and values["logLevel"] not in LOG_LEVELS:
        error(
            "logLevel",
            f"{values['logLevel']!r} is not a Qtap log level",
            f"use one of: {', '.join(sorted(LOG_LEVELS))}",
        )
    if isinstance(values.get("logEncoding"), str) and values["logEncoding"] not in LOG_ENCODINGS:
        error(
            "logEncoding", f"{values['logEncoding']!r} is not a log encoding", "use console or json"
        )


def _check_extra_env(extra_env: Any, error: _ChartValueErrors) -> None:
    """extraEnv: a list of named variables, none of them one the chart sets itself."""
    if extra_env is None:
        return
    if not isinstance(extra_env, list):
        error("extraEnv", "must be a list of env variables", "write a YAML list of {name, value}")
        return
    for index, item in enumerate(extra_env):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name:
            error(f"extraEnv[{index}]", "each entry needs a 'name'", "write {name: X, value: Y}")
        elif name in CHART_MANAGED_ENV:
            error(
                f"extraEnv[{index}]",
                f"{name} is set by the chart itself",
                "set it through its chart value",
            )


def check_extra_env_against_bindings(
    values: Mapping[str, Any], bindings: Iterable[EnvBinding], source: str
) -> list[Problem]:
    """User extraEnv entries may not redefine a variable the snapshot's bindings fill."""
    bound = {b.name for b in bindings}
    problems = []
    for index, item in enumerate(values.get("extraEnv") or []):
        if isinstance(item, dict) and item.get("name") in bound:
            problems.append(
                problem(
                    "chart-values",
                    source,
                    (None, None),
                    f"qtap:chart.values.extraEnv[{index}]",
                    f"{item['name']} is filled from the Kubernetes Secret {SECRET_NAME} because the "
                    "snapshot references it",
                    "remove this entry",
                )
            )
    return problems


def secret_env_var(binding: EnvBinding) -> dict[str, Any]:
    """An EnvVar that reads `binding` from the synced Secret (the key is the env name)."""
    return {
        "name": binding.name,
        "valueFrom": {"secretKeyRef": {"name": SECRET_NAME, "key": binding.name}},
    }


def service_account_values(
    identity: IdentityMode, service_account: str, role_arn: Any
) -> dict[str, Any]:
    """The chart's `serviceAccount` for a workload identity: created under a fixed name (the one
    the role's trust or the Pod Identity association names); with IRSA annotated with the role
    ARN (`role_arn` may be a pulumi Output), which the EKS Pod Identity webhook turns into
    AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE in the pod."""
    values: dict[str, Any] = {"create": True, "name": service_account}
    if identity is IdentityMode.IRSA:
        values["annotations"] = {IRSA_ROLE_ANNOTATION: role_arn}
    return values


def with_service_account(
    values: Mapping[str, Any], service_account: Mapping[str, Any]
) -> dict[str, Any]:
    """`values` (from `release_values`) with the program's `serviceAccount`."""
    return {**values, "serviceAccount": dict(service_account)}


def release_values(
    snapshot_text: str,
    snapshot_sha256: str,
    bindings: Iterable[EnvBinding],
    user_values: Mapping[str, Any],
) -> dict[str, Any]:
    """The complete, secret-free values of the qtap release."""
    values: dict[str, Any] = copy.deepcopy(dict(user_values))
    values["config"] = snapshot_text
    values["extraEnv"] = [secret_env_var(b) for b in bindings] + list(values.get("extraEnv") or [])
    annotations = dict(values.get("podAnnotations") or {})
    annotations[SNAPSHOT_CHECKSUM_ANNOTATION] = snapshot_sha256
    values["podAnnotations"] = annotations
    return values

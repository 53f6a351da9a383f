"""Baseline for benchmarks/program_vs_baseline.py: the SDK floor of one stack's deployment.

It replays the registrations the real program made (read from the JSON file named by
QTAP_BENCH_REPLAY): each custom resource through the same SDK class the program used (noted by
benchmarks/recording_program.py), with the same name, parent, dependencies, inputs (secret ones as secret
Outputs) and protect/retain options; each of the program's components as the SDK's
`ComponentResource` with the same type and registered outputs; then the same stack outputs. What it costs is what the Pulumi SDK charges for that
deployment; what the program costs beyond it is its own work (reading config, the checks,
deriving values, wiring Outputs between resources)."""

from __future__ import annotations

import importlib
import json
import os
import re
from typing import Any

import pulumi

SECRET = "__secret__"
_HUMP = re.compile(r"(?<=[a-z0-9])([A-Z])")


def _input(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {SECRET}:
        return pulumi.Output.secret(_input(value[SECRET]))
    if isinstance(value, dict):
        return {k: _input(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_input(v) for v in value]
    return value


def _python_name(wire_name: str) -> str:
    """`dataJson` -> `data_json`: the SDK classes take their inputs by Python name (nested
    dicts keep the wire names, which the SDK passes through unchanged)."""
    return _HUMP.sub(r"_\1", wire_name).lower()


def _provider_input(value: Any) -> Any:
    """A provider's recorded input is the JSON text the SDK sends for a non-string setting
    (`maxRetries: "2"`); the class takes the value itself and encodes it again."""
    try:
        return json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return value


registered: dict[str, pulumi.Resource] = {}
with open(os.environ["QTAP_BENCH_REPLAY"], encoding="utf-8") as handle:
    replay = json.load(handle)
for record in replay["resources"]:
    options = pulumi.ResourceOptions(
        parent=registered.get(record["parent"] or ""),
        # The program's inputs that come from other resources make it wait for them; the
        # floor waits for the same resources.
        depends_on=[registered[urn] for urn in record["dependencies"] if urn in registered],
        protect=record["protect"],
        retain_on_delete=record["retain_on_delete"],
    )
    resource: pulumi.Resource
    if record["custom"]:
        sdk_class = getattr(importlib.import_module(record["module"]), record["class"])
        inputs = {_python_name(k): _input(v) for k, v in record["inputs"].items()}
        if record["type"].startswith("pulumi:providers:"):
            inputs = {k: _provider_input(v) for k, v in inputs.items()}
        resource = sdk_class(record["name"], opts=options, **inputs)
    else:
        resource = pulumi.ComponentResource(record["type"], record["name"], None, options)
        if record["outputs"] is not None:
            resource.register_outputs(_input(record["outputs"]))
    registered[record["urn"]] = resource
for name, value in replay["exports"].items():
    pulumi.export(name, _input(value))

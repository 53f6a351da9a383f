"""Baseline for benchmarks/program_vs_baseline.py: the SDK floor of one stack's deployment.

It replays the registrations the real program made (read from the JSON file named by
QTAP_BENCH_REPLAY): the same resource types and names, the same parents, the same inputs (secret
ones as secret Outputs) and the same protect/retain options, through the SDK's generic
`CustomResource`/`ComponentResource`, with the same SDK imports as the program. What it costs is
what the Pulumi SDK charges for that deployment; what the program costs beyond it is its own
work (reading config, the checks, deriving values, the typed resource classes)."""

from __future__ import annotations

import json
import os
from typing import Any

import pulumi
import pulumi_aws  # noqa: F401  (imported for the same start-up cost as the program)
import pulumi_kubernetes  # noqa: F401
import pulumi_vault  # noqa: F401

SECRET = "__secret__"


def _input(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {SECRET}:
        return pulumi.Output.secret(_input(value[SECRET]))
    if isinstance(value, dict):
        return {k: _input(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_input(v) for v in value]
    return value


registered: dict[str, pulumi.Resource] = {}
for record in json.loads(open(os.environ["QTAP_BENCH_REPLAY"], encoding="utf-8").read()):  # noqa: SIM115
    options = pulumi.ResourceOptions(
        parent=registered.get(record["parent"] or ""),
        protect=record["protect"],
        retain_on_delete=record["retain_on_delete"],
    )
    if record["custom"]:
        resource: pulumi.Resource = pulumi.CustomResource(
            record["type"], record["name"], _input(record["inputs"]), options
        )
    else:
        resource = pulumi.ComponentResource(record["type"], record["name"], None, options)
    registered[record["urn"]] = resource

"""Baseline for benchmarks/program_vs_baseline.py: the same SDK imports as the real program,
registering a given number of bare resources (no inputs, no components, no checks)."""

from __future__ import annotations

import os

import pulumi
import pulumi_aws  # noqa: F401  (imported for the same start-up cost as the program)
import pulumi_kubernetes  # noqa: F401
import pulumi_vault  # noqa: F401

for index in range(int(os.environ["QTAP_BENCH_RESOURCES"])):
    pulumi.CustomResource("qtap:bench:Bare", f"bare-{index}", {})

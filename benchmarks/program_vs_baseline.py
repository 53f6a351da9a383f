"""Wall time of the real program per stack under the mock engine, beside the SDK floor: a
baseline program that replays the same registrations (types, names, parents, inputs, options)
through the SDK's generic resource classes (benchmarks/baseline_program.py).

    .venv/bin/python benchmarks/program_vs_baseline.py [--rounds 7]

Each figure is the median of the rounds, after one warm-up run that pays the one-time imports.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qtap_gitops.stackfile import find_project  # noqa: E402
from qtapctl.inputs import ProgramInputs, program_inputs  # noqa: E402
from qtapctl.mock_engine import ProgramRun, Secret, Unknown, run_program  # noqa: E402


def _plain(value: object) -> object:
    """A recorded input as JSON the baseline can replay (secrets marked, unknowns dropped)."""
    if isinstance(value, Secret):
        return {"__secret__": _plain(value.value)}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return None if isinstance(value, Unknown) else value


def replay_file(run: ProgramRun, directory: str) -> str:
    records = [
        {
            "type": r.type,
            "name": r.name,
            "urn": r.urn,
            "parent": r.parent,
            "custom": r.custom,
            "inputs": _plain(dict(r.inputs)),
            "protect": r.protect,
            "retain_on_delete": r.retain_on_delete,
        }
        for r in run.registrations
    ]
    path = os.path.join(directory, "replay.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(records, handle)
    return path


def timed(function: Callable[[], ProgramRun], rounds: int) -> float:
    function()  # warm-up: module imports, schema loading
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    project = find_project(ROOT)
    scratch = tempfile.mkdtemp(prefix="qtap-bench-")
    print(f"{'stack':8} {'resources':>9} {'program ms':>11} {'baseline ms':>12} {'ratio':>6}")
    for stack in project.stacks():
        inputs = program_inputs(project, stack, registration_token="benchmark-token")

        def program(stack: str = stack, inputs: ProgramInputs = inputs) -> ProgramRun:
            run = run_program(ROOT, stack, inputs.config, inputs.secret_keys)
            if run.error:
                raise run.error
            return run

        recorded = program()
        count = len(recorded.registrations)
        os.environ["QTAP_BENCH_REPLAY"] = replay_file(recorded, scratch)

        def baseline(stack: str = stack) -> ProgramRun:
            return run_program(ROOT, stack, {}, program=ROOT / "benchmarks" / "baseline_program.py")

        assert len(baseline().registrations) == count
        program_s, baseline_s = timed(program, args.rounds), timed(baseline, args.rounds)
        print(
            f"{stack:8} {count:>9} {program_s * 1000:>11.1f} {baseline_s * 1000:>12.1f} "
            f"{program_s / baseline_s:>6.2f}"
        )


if __name__ == "__main__":
    main()

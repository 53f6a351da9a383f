"""Wall time of the real program per stack under the mock engine, beside a baseline program
with the same SDK imports registering the same number of bare resources.

    .venv/bin/python benchmarks/program_vs_baseline.py [--rounds 7]

Each figure is the median of the rounds, after one warm-up run that pays the one-time imports.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qtap_gitops.stackfile import find_project  # noqa: E402
from qtapctl.inputs import ProgramInputs, program_inputs  # noqa: E402
from qtapctl.mock_engine import ProgramRun, run_program  # noqa: E402


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
    print(f"{'stack':8} {'resources':>9} {'program ms':>11} {'baseline ms':>12} {'ratio':>6}")
    for stack in project.stacks():
        inputs = program_inputs(project, stack, registration_token="benchmark-token")

        def program(stack: str = stack, inputs: ProgramInputs = inputs) -> ProgramRun:
            run = run_program(ROOT, stack, inputs.config, inputs.secret_keys)
            if run.error:
                raise run.error
            return run

        count = len(program().registrations)
        os.environ["QTAP_BENCH_RESOURCES"] = str(count)

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

"""Wall time of the real program per stack under the mock engine, beside the SDK floor: a
baseline program that replays the same registrations (SDK classes, names, parents, inputs,
options) and nothing else (benchmarks/baseline_program.py).

    .venv/bin/python benchmarks/program_vs_baseline.py [--rounds 21] [--cold]

Program and baseline run in turns, after one warm-up run each that pays the one-time imports;
times are medians, `ratio` the median of the rounds' ratios, `spread` their 10th-90th percentile.
`--cold` runs each in a fresh interpreter instead (benchmarks/cold_run.py): the figure of one
`pulumi up`, imports included, where the default figure is that of one more stack in a
process that planned one already (`qtapctl plan --all`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
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


def replay_file(run: ProgramRun, classes: list[dict[str, str]], directory: str) -> str:
    """The registrations of `run`, each with the SDK class that created it (`classes`)."""
    class_of = {(c["type"], c["name"]): c for c in classes}
    if len(class_of) != len(run.registrations):
        raise AssertionError("the recorded classes do not match the program's registrations")
    records = [
        {
            "module": class_of[r.type, r.name]["module"],
            "class": class_of[r.type, r.name]["class"],
            "type": r.type,
            "name": r.name,
            "urn": r.urn,
            "parent": r.parent,
            "dependencies": list(r.dependencies),
            "custom": r.custom,
            "inputs": _plain(dict(r.inputs)),
            "protect": r.protect,
            "retain_on_delete": r.retain_on_delete,
            "outputs": _plain(run.component_outputs.get(r.urn)),
        }
        for r in run.registrations
    ]
    path = os.path.join(directory, "replay.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"resources": records, "exports": _plain(run.outputs)}, handle)
    return path


def _shape(run: ProgramRun) -> list[tuple[object, ...]]:
    names = {r.urn: r.name for r in run.registrations}
    needs = {r.urn: sorted(names.get(d, d) for d in r.dependencies) for r in run.registrations}
    # Registrations complete in whatever order their inputs resolve: compare them sorted.
    return sorted(
        (
            (
                r.type,
                r.name,
                names.get(r.parent or ""),
                needs[r.urn],
                r.custom,
                r.protect,
                _plain(dict(r.inputs)),
            )
            for r in run.registrations
        ),
        key=lambda shape: (str(shape[0]), str(shape[1])),
    )


def same_deployment(program: ProgramRun, baseline: ProgramRun) -> None:
    """The floor is only fair if it registers and exports what the program does."""
    for mine, floor in zip(_shape(program), _shape(baseline), strict=True):
        if mine != floor:
            raise AssertionError(f"the baseline registers\n  {floor}\ninstead of\n  {mine}")
    if _plain(program.outputs) != _plain(baseline.outputs):
        raise AssertionError("the baseline's stack outputs differ from the program's")
    if len(program.component_outputs) != len(baseline.component_outputs):
        raise AssertionError("the baseline registers the outputs of fewer components")


def timed(
    program: Callable[[], object], baseline: Callable[[], object], rounds: int
) -> tuple[list[float], list[float]]:
    """Samples of both, taken in turns so that a busy machine slows both alike."""
    program(), baseline()  # warm-up: module imports, schema loading
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(rounds):
        for function, sink in ((program, samples[0]), (baseline, samples[1])):
            start = time.perf_counter()
            function()
            sink.append(time.perf_counter() - start)
    return samples


def _cold(
    stack: str, inputs: ProgramInputs, scratch: str
) -> tuple[Callable[[], object], Callable[[], object]]:
    """The program and the baseline, each run in a fresh interpreter (benchmarks/cold_run.py)."""
    inputs_file = os.path.join(scratch, f"inputs-{stack}.json")
    with open(inputs_file, "w", encoding="utf-8") as handle:
        json.dump(
            {"config": dict(inputs.config), "secret_keys": sorted(inputs.secret_keys)}, handle
        )

    def run(which: str) -> Callable[[], object]:
        command = [sys.executable, str(BENCH / "cold_run.py"), which, stack, inputs_file]
        return lambda: subprocess.run(command, check=True)

    return run("program"), run("baseline")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument(
        "--cold",
        action="store_true",
        help="each run in a fresh interpreter with its imports, as `pulumi up` runs a stack",
    )
    args = parser.parse_args()
    project = find_project(ROOT)
    scratch = tempfile.mkdtemp(prefix="qtap-bench-")
    print(
        f"{'stack':8} {'resources':>9} {'program ms':>11} {'baseline ms':>12} {'ratio':>6} {'spread':>9}"
    )
    for stack in project.stacks():
        inputs = program_inputs(project, stack, registration_token="benchmark-token")

        def program(stack: str = stack, inputs: ProgramInputs = inputs) -> ProgramRun:
            run = run_program(ROOT, stack, inputs.config, inputs.secret_keys)
            if run.error:
                raise run.error
            return run

        recorded = program()
        count = len(recorded.registrations)
        os.environ["QTAP_BENCH_CLASSES"] = os.path.join(scratch, "classes.json")
        noted = run_program(
            ROOT, stack, inputs.config, inputs.secret_keys, program=BENCH / "recording_program.py"
        )
        if noted.error:
            raise noted.error
        with open(os.environ["QTAP_BENCH_CLASSES"], encoding="utf-8") as handle:
            classes = json.load(handle)
        os.environ["QTAP_BENCH_REPLAY"] = replay_file(recorded, classes, scratch)

        def baseline(stack: str = stack) -> ProgramRun:
            return run_program(ROOT, stack, {}, program=BENCH / "baseline_program.py")

        same_deployment(recorded, baseline())
        if args.cold:
            mine, floor = timed(*_cold(stack, inputs, scratch), args.rounds)
        else:
            mine, floor = timed(program, baseline, args.rounds)
        ratios = sorted(m / f for m, f in zip(mine, floor, strict=True))
        print(
            f"{stack:8} {count:>9} {statistics.median(mine) * 1000:>11.1f} "
            f"{statistics.median(floor) * 1000:>12.1f} {statistics.median(ratios):>6.2f} "
            f"{ratios[len(ratios) // 10]:>5.2f}-{ratios[-1 - len(ratios) // 10]:.2f}"
        )


if __name__ == "__main__":
    main()

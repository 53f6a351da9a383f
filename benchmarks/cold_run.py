"""One run in a fresh interpreter, as `pulumi up` runs a stack's program: the imports, then
the program (or the baseline) once under the mock engine. benchmarks/program_vs_baseline.py
`--cold` times this script as a whole.

    python benchmarks/cold_run.py program|baseline STACK INPUTS_JSON
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qtapctl.mock_engine import run_program  # noqa: E402


def main(which: str, stack: str, inputs_file: str) -> int:
    with open(inputs_file, encoding="utf-8") as handle:
        inputs = json.load(handle)
    if which == "program":
        run = run_program(ROOT, stack, inputs["config"], set(inputs["secret_keys"]))
    else:
        run = run_program(ROOT, stack, {}, program=ROOT / "benchmarks" / "baseline_program.py")
    if run.error is not None:
        print(f"{which} failed: {run.error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    status = main(*sys.argv[1:4])
    sys.stdout.flush()
    # The SDK leaves its event loop to the interpreter's teardown, which then reports a closed
    # self-pipe on stderr; the run is over, so the process ends here.
    os._exit(status)

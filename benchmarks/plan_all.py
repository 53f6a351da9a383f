"""Wall time of `qtapctl plan --all`, as a user runs it (a new process each time).

.venv/bin/python benchmarks/plan_all.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "qtapctl", "plan", "--all"]
    samples = []
    for _ in range(args.rounds + 1):
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    steady = samples[1:]  # the first run also warms the OS file cache
    print(
        f"plan --all: median {statistics.median(steady):.2f} s, "
        f"min {min(steady):.2f} s, max {max(steady):.2f} s over {len(steady)} runs"
    )


if __name__ == "__main__":
    main()

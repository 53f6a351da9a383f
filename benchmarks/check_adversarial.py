"""Time of the snapshot contract's `check` on adversarial 1 MiB snapshots and the real ones.

Every input of at most 1 MiB (the size cap) must be decided in well under a second: a
pull request may commit anything, and CI runs `check` on it.

.venv/bin/python benchmarks/check_adversarial.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qtap_gitops.snapshot import MAX_SNAPSHOT_BYTES, check_snapshot_bytes  # noqa: E402

LIMIT = MAX_SNAPSHOT_BYTES


def fill(head: str, line: Callable[[int], str], tail: str = "") -> bytes:
    """`head`, then numbered lines while the whole stays within the size cap."""
    parts = [head]
    size = len(head.encode()) + len(tail.encode())
    index = 0
    while True:
        text = line(index)
        if size + len(text.encode()) > LIMIT:
            break
        parts.append(text)
        size += len(text.encode())
        index += 1
    parts.append(tail)
    return "".join(parts).encode()


# Rule expressions of 4 KiB: many are parsed until the per-snapshot budget
# (qtap_gitops/snapshot/rules.py RULE_BUDGET) is spent.
RULE = ("a == 1 && " * 410)[:4090] + "a == 1"


def alias_bomb() -> bytes:
    lines = ["version: 2", "bomb:", "  l0: &l0 [" + ", ".join(["lol"] * 10) + "]"]
    lines += [f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, 10)]
    return fill("\n".join(lines) + "\n", lambda i: f"# padding {i:08d}\n")


def cases() -> dict[str, bytes]:
    out = {
        "aliases (billion laughs, padded)": alias_bomb(),
        "aliases (one anchor, many aliases)": fill(
            "version: 2\nx: &x [a, b, c, d, e, f, g, h]\ny:\n", lambda i: "  - *x\n"
        ),
        "depth (nested flow lists)": fill("version: 2\nx: ", lambda i: "["),
        "depth (nested block maps)": fill(
            "version: 2\n", lambda i: "  " * min(i, 2000) + f"k{i}:\n"
        ),
        "width (one mapping, many keys)": fill("version: 2\nx:\n", lambda i: f"  k{i}: v\n"),
        "width (flow list of scalars)": fill("version: 2\nx: [", lambda i: "a,", "a]\n"),
        "one long scalar": fill("version: 2\nx: ", lambda i: "a" * 1000, "\n"),
        "comments only after the root": fill("version: 2\n", lambda i: f"# {i:010d}\n"),
        "many documents": fill("version: 2\n", lambda i: "---\na: 1\n"),
        "duplicate keys": fill("version: 2\nx:\n", lambda i: "  k: v\n"),
        "rule expressions (4 KiB each)": fill(
            "version: 2\ncontrol:\n  default: allow\n  rules:\n",
            lambda i: f"    - name: r{i}\n      expr: '{RULE}'\n      actions: [deny]\n",
        ),
        "one rule expression of 1 MiB": fill(
            "version: 2\ncontrol:\n  rules:\n    - name: r\n      expr: ",
            lambda i: "a == 1 && ",
            "a\n",
        ),
    }
    for stack in ("dev", "staging", "prod"):
        out[f"real snapshot: {stack}"] = (
            ROOT / "snapshots" / stack / "qtap-config.yaml"
        ).read_bytes()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    worst = 0.0
    for name, raw in cases().items():
        samples = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            report = check_snapshot_bytes(raw, "snapshot.yaml")
            samples.append(time.perf_counter() - start)
        worst = max(worst, max(samples))
        verdict = "accepted" if report.snapshot is not None else f"{len(report.errors)} error(s)"
        first = report.errors[0].code if report.errors else ""
        print(
            f"{name:38} {len(raw):>8} B  median {statistics.median(samples) * 1000:8.1f} ms  "
            f"max {max(samples) * 1000:8.1f} ms  {verdict} {first}"
        )
    print(f"slowest decision: {worst * 1000:.1f} ms (bound: 1000 ms)")


if __name__ == "__main__":
    main()

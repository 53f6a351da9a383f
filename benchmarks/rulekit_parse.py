"""Time of the rulekit parser: per expression, and for every rule of the committed snapshots.

.venv/bin/python benchmarks/rulekit_parse.py [--rounds 200]

Prints the one-off cost of building the Lark LALR tables (paid once per process), the median
parse time of each expression of the three snapshots (plus a long one, for scale), the time
to parse all of the snapshots' rules together, and the whole snapshot check of each stack.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ruamel.yaml import YAML  # noqa: E402

from qtap_gitops.rulekit import legacy as rulekit_legacy  # noqa: E402
from qtap_gitops.rulekit import parse  # noqa: E402
from qtap_gitops.rulekit import parser as rulekit_parser  # noqa: E402
from qtap_gitops.snapshot import check_snapshot  # noqa: E402

STACKS = ("dev", "staging", "prod")
LONG = (
    "tags == 'db-svc' OR domain matches /example\\.com$/ OR src.process.path matches |^/usr/bin/| "
    "OR (process.uid != 0 AND tags contains 'internal-svc') "
    "OR (destination.port <= 1023 AND destination.ip == 192.168.0.0/16) "
    'OR in_zone(dst.domain, "example.com") OR request.headers["user-agent"] == "curl"'
)


def snapshot_expressions() -> list[tuple[str, str]]:
    """(where, expression) of every rule expression in the committed snapshots."""
    found = []
    for stack in STACKS:
        root = YAML(typ="rt").load((ROOT / "snapshots" / stack / "qtap-config.yaml").read_text())
        for name, stack_config in (root.get("stacks") or {}).items():
            for plugin in stack_config.get("plugins") or []:
                for rule in (plugin.get("config") or {}).get("rules") or []:
                    if "expr" in rule:
                        found.append((f"{stack}/{name}/{plugin['type']}", str(rule["expr"])))
        for section, key in (("control", "rules"), ("rulekit", "macros")):
            for item in (root.get(section) or {}).get(key) or []:
                found.append((f"{stack}/{section}", str(item["expr"])))
    return found


def median_seconds(function: Callable[[], object], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    arguments = argparse.ArgumentParser()
    arguments.add_argument("--rounds", type=int, default=200)
    rounds = arguments.parse_args().rounds

    for what, build in (
        ("current grammar", rulekit_parser._parser),
        ("older goyacc grammar", rulekit_legacy._parser),
    ):
        start = time.perf_counter()
        build()
        print(f"Lark LALR tables of the {what}, once per process: ", end="")
        print(f"{(time.perf_counter() - start) * 1e3:.1f} ms")

    expressions = snapshot_expressions()
    for where, expression in [*expressions, ("(long, for scale)", LONG)]:
        seconds = median_seconds(partial(parse, expression), rounds)
        older = median_seconds(partial(rulekit_legacy.older_grammar_problem, expression), rounds)
        print(f"{seconds * 1e6:8.1f} us (+{older * 1e6:.1f} us older grammar)  {where}: ", end="")
        print(expression[:50])

    def parse_all() -> None:
        for _, expression in expressions:
            parse(expression)
            rulekit_legacy.older_grammar_problem(expression)

    total = median_seconds(parse_all, rounds)
    print(f"all {len(expressions)} snapshot rules, both grammars: {total * 1e6:.1f} us", end="")
    print(f" (median of {rounds})")
    for stack in STACKS:
        path = ROOT / "snapshots" / stack / "qtap-config.yaml"
        seconds = median_seconds(partial(check_snapshot, path), max(rounds // 10, 5))
        print(f"check of the {stack} snapshot (whole contract): {seconds * 1e3:.2f} ms")


if __name__ == "__main__":
    main()

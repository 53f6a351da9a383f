"""Command line of qtapctl. User mistakes end with a message and exit status 1, not a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from qtap_gitops.stackfile import Project, ProjectError, find_project

from .check import run_check


def _stacks(project: Project, names: Sequence[str], all_stacks: bool) -> list[str]:
    known = project.stacks()
    if all_stacks or not names:
        return known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(
            f"qtapctl: unknown stack(s) {', '.join(unknown)}; this project has: {', '.join(known)}"
        )
    return list(names)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qtapctl", description="Check and review the Qtap stacks of this Pulumi project."
    )
    parser.add_argument(
        "--project-dir", type=Path, default=Path.cwd(), help="the Pulumi project (default: .)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser(
        "check", help="check snapshot, settings and env bindings of stacks (default: all)"
    )
    check.add_argument("stacks", nargs="*")
    check.add_argument("--all", action="store_true", help="every stack (the default)")
    check.add_argument(
        "--require-secrets",
        action="store_true",
        help="fail when a secret the snapshot needs is not set in the stack file",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        project = find_project(args.project_dir)
    except ProjectError as error:
        print(f"qtapctl: {error}", file=sys.stderr)
        return 2
    if args.command == "check":
        stacks = _stacks(project, args.stacks, args.all)
        return run_check(project, stacks, sys.stdout, require_secrets=args.require_secrets)
    return 2

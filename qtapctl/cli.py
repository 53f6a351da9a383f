"""Command line of qtapctl. User mistakes end with a message and exit status 1, not a traceback.

Exit status: 0 done, 1 the stacks (or the export) fail the contract, 2 the command cannot run
(usage, no project, unknown stack, git failure). A closed output pipe (`| head`) ends quietly.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from qtap_gitops.stackfile import Project, ProjectError, find_project

from .check import check_project, containment_problem, project_stacks, run_check
from .diff import RENDERERS as DIFF_RENDERERS
from .diff import DiffError, run_diff
from .escape import terminal_line
from .fleet import INVENTORY_RENDERERS, STACK_RENDERERS, run_fleet, run_stacks
from .fleet_plan import plan_stacks
from .importer import import_snapshot
from .plan import RENDERERS

MAX_EXPORT_BYTES = 16 * 1024 * 1024  # far above the snapshot limit: read enough to refuse it


class UsageError(Exception):
    pass


def _stacks(project: Project, names: Sequence[str], all_stacks: bool) -> list[str]:
    known = project_stacks(project)
    if all_stacks or not names:
        return known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(
            f"unknown stack(s) {', '.join(terminal_line(n) for n in unknown)}; "
            f"this project has: {', '.join(known)}"
        )
    return list(dict.fromkeys(names))


def _read_export(name: str, stdin: TextIO) -> tuple[bytes, str]:
    if name == "-":
        return stdin.buffer.read(MAX_EXPORT_BYTES + 1), "<stdin>"
    try:
        with open(name, "rb") as handle:
            return handle.read(MAX_EXPORT_BYTES + 1), name
    except OSError as error:
        raise UsageError(f"cannot read {terminal_line(name)}: {error.strerror}") from None


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

    plan = sub.add_parser("plan", help="what each stack would deploy, offline (default: all)")
    plan.add_argument("stacks", nargs="*")
    plan.add_argument("--all", action="store_true", help="every stack (the default)")
    plan.add_argument("--format", choices=sorted(RENDERERS), default="text")

    diff = sub.add_parser("diff", help="per-stack changes between two git revisions, offline")
    diff.add_argument("--base", help="base revision (default: the merge base of HEAD and main)")
    diff.add_argument("--head", help="head revision (default: the working tree)")
    diff.add_argument("--format", choices=sorted(DIFF_RENDERERS), default="text")

    imported = sub.add_parser(
        "import", help="check a fresh Qplane export and write it as a stack's snapshot"
    )
    imported.add_argument("stack")
    imported.add_argument("file", nargs="?", default="-", help="the export (default: stdin)")

    # -- fleets (qtapctl/fleet.py)
    stacks = sub.add_parser(
        "stacks", help="every stack in deploy order: ring, owner before members, name"
    )
    stacks.add_argument("--format", choices=sorted(STACK_RENDERERS), default="text")
    fleet = sub.add_parser(
        "fleet", help="the inventory: what each cluster runs, and one snapshot per environment"
    )
    fleet.add_argument("--format", choices=sorted(INVENTORY_RENDERERS), default="markdown")

    # -- seal (qtapctl/seal.py)
    seal = sub.add_parser("seal", help="write a stack's SealedSecret manifest, for git delivery")
    seal.add_argument("stack")
    seal.add_argument("--cert", help="the controller's certificate (default: the stack's)")
    seal.add_argument(
        "--values", default="-", help="YAML file of env name -> value (default: stdin)"
    )
    seal.add_argument("--output", help="write the manifest here (default: stdout)")
    return parser


def _run(args: argparse.Namespace, started_ns: int) -> int:
    try:
        project = find_project(args.project_dir)
    except (ProjectError, OSError, UnicodeDecodeError) as error:
        raise UsageError(str(error)) from None
    problem = containment_problem(project)
    if problem:
        raise UsageError(problem)
    if args.command == "check":
        stacks = _stacks(project, args.stacks, args.all)
        return run_check(project, stacks, sys.stdout, require_secrets=args.require_secrets)
    if args.command == "plan":
        stacks = _stacks(project, args.stacks, args.all)
        checked = check_project(project, stacks)
        plans = list(plan_stacks(project, stacks, checked).values())
        sys.stdout.write(RENDERERS[args.format](plans))
        return 1 if any(p.error for p in plans) else 0
    if args.command == "diff":
        try:
            base, head, diffs = run_diff(project, args.base, args.head)
        except DiffError as error:
            raise UsageError(f"diff: {error}") from None
        sys.stdout.write(DIFF_RENDERERS[args.format](base, head, diffs))
        return 1 if any(d.failing for d in diffs) else 0
    if args.command == "import":
        stack = _stacks(project, [args.stack], False)[0]
        raw, source = _read_export(args.file, sys.stdin)
        return import_snapshot(project, stack, raw, source, sys.stdout, started_ns=started_ns)
    if args.command == "stacks":
        return run_stacks(project, args.format, sys.stdout, sys.stderr)
    if args.command == "fleet":
        return run_fleet(project, args.format, sys.stdout)
    if args.command == "seal":
        from .seal import run_seal  # cryptography: loaded by the one command that seals

        stack = _stacks(project, [args.stack], False)[0]
        return run_seal(
            project, stack, values_path=args.values, cert_path=args.cert, output=args.output
        )
    return 2


def _quiet_after_broken_pipe() -> None:
    """The reader went away (`| head`): drop whatever is still buffered, without a traceback
    (Python's own recipe, https://docs.python.org/3/library/signal.html#note-on-sigpipe)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a file (captured in tests)
        pass


def main(argv: Sequence[str] | None = None, *, started_ns: int | None = None) -> int:
    """Run one command; `started_ns` is when the process started (default: now)."""
    started_ns = started_ns if started_ns is not None else time.time_ns()
    args = build_parser().parse_args(argv)
    try:
        status = _run(args, started_ns)
        sys.stdout.flush()
        return status
    except UsageError as error:
        print(f"qtapctl: {terminal_line(error)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        _quiet_after_broken_pipe()
        return 1

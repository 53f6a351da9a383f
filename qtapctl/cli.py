"""Command line of qtapctl. User mistakes end with a message and exit status 1, not a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from qtap_gitops.stackfile import Project, ProjectError, find_project

from .check import run_check
from .diff import RENDERERS as DIFF_RENDERERS
from .diff import DiffError, run_diff
from .importer import import_snapshot
from .plan import RENDERERS, plan_stack
from .seal import run_seal


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

    # -- seal (qtapctl/seal.py)
    seal = sub.add_parser("seal", help="write a stack's SealedSecret manifest, for git delivery")
    seal.add_argument("stack")
    seal.add_argument("--cert", help="the controller's certificate (default: the stack's)")
    seal.add_argument(
        "--values", default="-", help="YAML file of env name -> value (default: stdin)"
    )
    seal.add_argument("--output", help="write the manifest here (default: stdout)")
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
    if args.command == "plan":
        plans = [plan_stack(project, stack) for stack in _stacks(project, args.stacks, args.all)]
        sys.stdout.write(RENDERERS[args.format](plans))
        return 1 if any(p.error for p in plans) else 0
    if args.command == "diff":
        try:
            base, head, diffs = run_diff(project, args.base, args.head)
        except DiffError as error:
            print(f"qtapctl diff: {error}", file=sys.stderr)
            return 2
        sys.stdout.write(DIFF_RENDERERS[args.format](base, head, diffs))
        return 0
    if args.command == "import":
        _stacks(project, [args.stack], False)
        if args.file == "-":
            raw, source = sys.stdin.buffer.read(), "<stdin>"
        else:
            try:
                raw, source = Path(args.file).read_bytes(), args.file
            except OSError as error:
                print(f"qtapctl import: cannot read {args.file}: {error.strerror}", file=sys.stderr)
                return 2
        return import_snapshot(project, args.stack, raw, source, sys.stdout)
    if args.command == "seal":
        _stacks(project, [args.stack], False)
        return run_seal(
            project, args.stack, values_path=args.values, cert_path=args.cert, output=args.output
        )
    return 2

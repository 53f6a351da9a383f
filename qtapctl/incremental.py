"""`diff` skips the stacks a change cannot affect.

A stack's plan depends on Pulumi.yaml, its stack file, its snapshot and, for a fleet member, its
owner's stack file and snapshot (and on the program, which is the same for both revisions of a
diff). `input_digest` hashes exactly those bytes: a stack whose digest and whose `check` verdict
are the same in base and head has the same plan in both, so `diff` does not run it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from qtap_gitops.paths import PathRefusal, read_snapshot
from qtap_gitops.settings import check_settings, default_snapshot_path
from qtap_gitops.snapshot import MAX_SNAPSHOT_BYTES
from qtap_gitops.stackfile import Project, load_stack_config

from .check import ProjectCheck, problems_block


def _snapshot_bytes(project: Project, stack: str) -> tuple[str, bytes]:
    raw, _ = load_stack_config(project, stack)
    settings = check_settings(raw)[0] if raw is not None else None
    relative = settings.snapshot_path if settings else default_snapshot_path(stack)
    data = read_snapshot(project.directory, relative, MAX_SNAPSHOT_BYTES)
    if isinstance(data, PathRefusal):
        return relative, b"refused:" + repr(data).encode()
    return relative, b"missing" if data is None else b"file:" + data


def _file_bytes(path: Path) -> bytes:
    try:
        return b"file:" + path.read_bytes()
    except OSError as error:
        return f"unreadable:{type(error).__name__}".encode()


def _owner(checked: ProjectCheck, stack: str) -> str | None:
    report = checked.reports.get(stack)
    deployment = report.deployment if report else None
    if deployment is None or not deployment.settings.is_member:
        return None
    return deployment.settings.fleet.owner


def input_digest(project: Project, checked: ProjectCheck, stack: str) -> str:
    """sha256 of everything `stack`'s plan reads: Pulumi.yaml, its stack file, its snapshot,
    its owner's stack file and snapshot when it is a fleet member, and its `check` verdict
    (its own errors and the cross-stack conflicts it takes part in)."""
    digest = hashlib.sha256()

    def part(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    part("Pulumi.yaml", _file_bytes(project.directory / "Pulumi.yaml"))
    owner = _owner(checked, stack)
    for name in [stack] if owner is None else [stack, owner]:
        part(f"stack file {name}", _file_bytes(project.stack_file(name)))
        relative, data = _snapshot_bytes(project, name)
        part(f"snapshot {name} {relative}", data)
    refused = checked.errors(stack) if stack in checked.reports else []
    part("check", problems_block(refused).encode())
    return digest.hexdigest()


def unchanged_stacks(
    old: tuple[Project, ProjectCheck, Sequence[str]],
    new: tuple[Project, ProjectCheck, Sequence[str]],
) -> set[str]:
    """Stacks of both revisions whose plans cannot differ: the same `input_digest`."""
    (old_project, old_checked, old_stacks), (new_project, new_checked, new_stacks) = old, new
    both = [s for s in new_stacks if s in set(old_stacks)]
    # A stack `check` refuses is still "planned" (its plan is the refusal, at no cost): the
    # diff shows a stack that fails in head whether or not the change touched it.
    return {
        s
        for s in both
        if not new_checked.errors(s)
        and input_digest(old_project, old_checked, s) == input_digest(new_project, new_checked, s)
    }

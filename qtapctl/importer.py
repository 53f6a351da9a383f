"""`qtapctl import`: take a fresh Qplane export for a stack, check it, commit-ready on disk.

The export is checked with the same contract the program applies; an invalid one is refused
with the contract's messages and the committed snapshot is left exactly as it was. A valid one
is written byte for byte (atomically), followed by its semantic diff against the file it
replaces and the secrets any new env reference needs.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TextIO

from qtap_gitops.bindings import SecretInventory, derive_bindings, unresolved_sources
from qtap_gitops.esc import load_stack_environments, split_pending
from qtap_gitops.identity import check_identity
from qtap_gitops.problems import format_problems
from qtap_gitops.settings import check_settings
from qtap_gitops.snapshot import check_snapshot_bytes
from qtap_gitops.stackfile import Project, load_stack_config
from qtap_gitops.yamldiff import diff_yaml, show


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def import_snapshot(project: Project, stack: str, raw: bytes, source: str, out: TextIO) -> int:
    config, problems = load_stack_config(project, stack)
    settings, setting_problems = check_settings(config) if config else (None, [])
    if settings is None:
        out.write(format_problems(problems + setting_problems) + "\n")
        out.write(f"import refused: fix the settings of stack {stack} first\n")
        return 1

    target = project.directory / settings.snapshot_path
    report = check_snapshot_bytes(raw, source, strict=settings.strict_snapshot)
    refused = list(report.errors)
    if report.snapshot is not None:
        _, binding_problems = derive_bindings(report.snapshot)
        refused += binding_problems
        # Keyless S3: a store without keys needs the stack's workload identity, and vice versa.
        refused += check_identity(settings, report.snapshot, config.positions if config else {})
    if refused:
        out.write(format_problems(report.problems + refused[len(report.errors) :]) + "\n")
        out.write(f"import refused: {settings.snapshot_path} is unchanged\n")
        return 1
    assert report.snapshot is not None

    previous = target.read_bytes() if target.exists() else None
    if previous == raw:
        out.write(f"{settings.snapshot_path} already holds this export; nothing changed\n")
        return 0
    _write_atomically(target, raw)
    out.write(
        f"wrote {settings.snapshot_path} ({len(raw)} bytes, sha256 {report.snapshot.sha256[:12]})\n"
    )

    changes = diff_yaml(previous.decode("utf-8", "replace") if previous else None, raw.decode())
    out.write(f"semantic diff against the previous snapshot ({len(changes)} change(s)):\n")
    for change in changes:
        out.write(f"  {change.kind:8} {change.path}: {show(change.old)} -> {show(change.new)}\n")
    for warning in report.warnings:
        out.write(warning.format() + "\n")

    bindings, _ = derive_bindings(report.snapshot)
    inventory = SecretInventory(
        stack, settings.source, settings.registration_token_set, settings.secret_env_names
    )
    stack_file = project.stack_file(stack)
    environments, _ = load_stack_environments(stack_file, project.display(stack_file))
    missing, provided = split_pending(
        unresolved_sources(report.snapshot, bindings, inventory), environments
    )
    for pending in missing:
        out.write(f"secret to set before deploy: {pending.message}\n  {pending.fix}\n")
    for pending in provided:
        out.write(f"secret provided at deploy time: {pending.message}\n  {pending.fix}\n")
    out.write("review with './scripts/qtap diff', then commit the snapshot\n")
    return 0

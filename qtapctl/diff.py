"""`qtapctl diff`: what a change does to each stack, between two git revisions, offline.

Both sides are planned with the current program (so the diff shows what the change of
configuration and snapshots does), resources are matched by their path in the component tree,
and a changed snapshot is also shown as a semantic YAML diff (path: old -> new).
"""

from __future__ import annotations

import io
import json
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qtap_gitops.settings import check_settings, default_snapshot_path
from qtap_gitops.stackfile import Project, find_project, load_stack_config
from qtap_gitops.yamldiff import MISSING, Change, diff_values, diff_yaml, show

from .plan import StackPlan, plan_stack

MARKER = "<!-- qtap-gitops:diff -->"
WORKING_TREE = "working tree"


class DiffError(Exception):
    pass


@dataclass
class ResourceChange:
    path: str
    type: str
    kind: str  # added | removed | changed
    changes: list[Change] = field(default_factory=list)


@dataclass
class StackDiff:
    stack: str
    resources: list[ResourceChange] = field(default_factory=list)
    outputs: list[Change] = field(default_factory=list)
    snapshot_file: str | None = None
    snapshot: list[Change] = field(default_factory=list)
    error_before: str | None = None
    error_after: str | None = None
    warnings: list[str] = field(default_factory=list)
    """Day-2 consequences a reviewer must not miss (see `day2_warnings`)."""

    @property
    def changed(self) -> bool:
        return bool(
            self.resources or self.outputs or self.snapshot or self.error_before != self.error_after
        )


def _git(root: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise DiffError(f"git {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def default_base(root: Path) -> str:
    """The merge base of HEAD with main (or origin/main): what a pull request is compared with."""
    for branch in ("main", "origin/main"):
        try:
            return _git(root, "merge-base", "HEAD", branch).strip()
        except DiffError:
            continue
    raise DiffError("no 'main' or 'origin/main' to compare with; give --base <revision>")


def materialize(project: Project, revision: str, destination: Path) -> Project:
    """The project's configuration and snapshots as of `revision`, written to `destination`."""
    top = Path(_git(project.directory, "rev-parse", "--show-toplevel").strip())
    prefix = project.directory.resolve().relative_to(top.resolve())
    listed = _git(
        top,
        "ls-tree",
        "-r",
        "--name-only",
        revision,
        "--",
        str(prefix) if str(prefix) != "." else ".",
    )
    for name in listed.splitlines():
        relative = Path(name).relative_to(prefix) if str(prefix) != "." else Path(name)
        wanted = relative.parts[0] == "snapshots" or (
            len(relative.parts) == 1
            and relative.name.startswith("Pulumi.")
            and relative.suffix == ".yaml"
        )
        if not wanted:
            continue
        blob = subprocess.run(
            ["git", "-C", str(top), "show", f"{revision}:{name}"], capture_output=True, check=True
        ).stdout
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob)
    if not (destination / "Pulumi.yaml").exists():
        raise DiffError(f"revision {revision} has no Pulumi.yaml in {prefix}")
    return find_project(destination)


def snapshot_path(project: Project, stack: str) -> str:
    raw, _ = load_stack_config(project, stack)
    if raw is not None:
        settings, _ = check_settings(raw)
        if settings is not None:
            return settings.snapshot_path
    return default_snapshot_path(stack)


def _read(project: Project | None, relative: str) -> str | None:
    if project is None:
        return None
    path = project.directory / relative
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def diff_stack(
    stack: str,
    before: StackPlan | None,
    after: StackPlan | None,
    old_project: Project | None,
    new_project: Project | None,
) -> StackDiff:
    result = StackDiff(stack)
    result.error_before = before.error if before else None
    result.error_after = after.error if after else None
    old = before.by_path() if before else {}
    new = after.by_path() if after else {}
    for path in sorted(old.keys() | new.keys()):
        a, b = old.get(path), new.get(path)
        if a is None and b is not None:
            result.resources.append(ResourceChange(path, b.type, "added"))
        elif b is None and a is not None:
            result.resources.append(ResourceChange(path, a.type, "removed"))
        elif a is not None and b is not None:
            changes = diff_values(_resource_view(a), _resource_view(b))
            if changes:
                result.resources.append(ResourceChange(path, b.type, "changed", changes))
    result.outputs = diff_values(before.outputs if before else {}, after.outputs if after else {})
    result.warnings = day2_warnings(before, after)

    new_file = snapshot_path(new_project, stack) if new_project else None
    old_file = snapshot_path(old_project, stack) if old_project else None
    result.snapshot_file = new_file or old_file
    old_text = _read(old_project, old_file) if old_file else None
    new_text = _read(new_project, new_file) if new_file else None
    if old_text != new_text:
        result.snapshot = diff_yaml(old_text, new_text)
    return result


def _resource_view(resource: Any) -> dict[str, Any]:
    return {
        "inputs": resource.inputs,
        "protect": resource.protect,
        "retainOnDelete": resource.retain_on_delete,
        "replacementTrigger": resource.replacement_trigger,
    }


# -- day-2 warnings (buckets leaving the stack, the release replaced) ------------------------

BUCKET = "aws:s3/bucket:Bucket"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"


def day2_warnings(before: StackPlan | None, after: StackPlan | None) -> list[str]:
    """What a change does that no table row says loudly enough.

    A plan sees one revision; only a diff sees a bucket that was there and is gone, so the
    warning lives here. Buckets are retained on delete in every stack (components/object_store):
    Pulumi forgets them and AWS keeps them, data and protections included.
    """
    if before is None or after is None or before.error or after.error:
        return []
    warnings: list[str] = []
    old, new = before.by_path(), after.by_path()
    kept = {r.inputs.get("bucket") for r in new.values() if r.type == BUCKET}
    for resource in old.values():
        bucket = resource.inputs.get("bucket")
        if resource.type != BUCKET or bucket in kept:
            continue
        warnings.append(
            f"bucket {bucket} leaves the stack: it is NOT deleted. Pulumi stops managing it and "
            "AWS keeps it with its data, encryption, public access block, lifecycle and TLS "
            "policy (retainOnDelete)."
            + (
                " It is protected: the update stops until it is unprotected "
                "(pulumi state unprotect '<urn>'), then it is kept the same way."
                if resource.protect
                else ""
            )
            + " To delete it on purpose, empty it (every object version) and delete it with the "
            "AWS CLI after this change is deployed; see README, Day 2."
        )
    for path, resource in new.items():
        previous = old.get(path)
        if resource.type != HELM_RELEASE or previous is None:
            continue
        moved = [
            key
            for key in ("name", "namespace")
            if previous.inputs.get(key) != resource.inputs.get(key)
        ]
        if moved:
            warnings.append(
                f"the Helm release is REPLACED ({', '.join(moved)}: "
                + ", ".join(f"{previous.inputs.get(k)} -> {resource.inputs.get(k)}" for k in moved)
                + "): the old release is deleted first (deleteBeforeReplace, the agent binds a "
                "host port on every node), so the agent stops capturing on every node until "
                "the new release is ready."
            )
    return warnings


def run_diff(
    project: Project, base: str | None, head: str | None
) -> tuple[str, str, list[StackDiff]]:
    base = base or default_base(project.directory)
    with tempfile.TemporaryDirectory(prefix="qtap-diff-") as scratch:
        old_project = materialize(project, base, Path(scratch) / "base")
        new_project = materialize(project, head, Path(scratch) / "head") if head else project
        stacks = sorted(
            set(old_project.stacks()) | set(new_project.stacks()),
            key=lambda s: (new_project.stacks() + old_project.stacks()).index(s),
        )
        diffs = []
        for stack in stacks:
            before = plan_stack(old_project, stack) if stack in old_project.stacks() else None
            after = plan_stack(new_project, stack) if stack in new_project.stacks() else None
            diffs.append(diff_stack(stack, before, after, old_project, new_project))
    return base, head or WORKING_TREE, diffs


# -- rendering ------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    return show(value).replace("|", "\\|").replace("\n", " ")


def render_markdown(base: str, head: str, diffs: Sequence[StackDiff]) -> str:
    changed = [d for d in diffs if d.changed]
    out = io.StringIO()
    out.write(f"{MARKER}\n## Qtap: offline diff `{base[:12]}` → `{head[:12]}`\n\n")
    if not changed:
        out.write("No stack's inputs changed.\n")
        return out.getvalue()
    unchanged = [d.stack for d in diffs if not d.changed]
    out.write(
        f"Stacks changed: {', '.join(f'`{d.stack}`' for d in changed)}."
        + (f" Unchanged: {', '.join(f'`{s}`' for s in unchanged)}." if unchanged else "")
        + "\n\n"
    )
    for diff in changed:
        out.write(f"### Stack `{diff.stack}`\n\n")
        if diff.error_after:
            out.write("**This change breaks the stack** (nothing would be deployed):\n\n")
            out.write(f"```text\n{diff.error_after}\n```\n\n")
        elif diff.error_before:
            out.write("This change fixes a stack that could not be planned before.\n\n")
        for warning in diff.warnings:
            one_line = warning.replace("|", "\\|").replace("\n", " ")
            out.write(f"> **Warning:** {one_line}\n\n")
        counts = {
            k: sum(r.kind == k for r in diff.resources) for k in ("added", "removed", "changed")
        }
        out.write(
            f"Resources: {counts['added']} to add, {counts['changed']} to change, "
            f"{counts['removed']} to remove.\n\n"
        )
        if diff.resources:
            out.write("| | resource | input | before | after |\n|---|---|---|---|---|\n")
            sign = {"added": "+", "removed": "-", "changed": "~"}
            for resource in diff.resources:
                rows = resource.changes if resource.kind == "changed" else [None]
                for change in rows:
                    if change is None:
                        out.write(
                            f"| {sign[resource.kind]} | `{resource.path}` ({resource.type}) | | | |\n"
                        )
                    else:
                        out.write(
                            f"| {sign[resource.kind]} | `{resource.path}` | `{change.path}` "
                            f"| {_cell(change.old)} | {_cell(change.new)} |\n"
                        )
            out.write("\n")
        if diff.outputs:
            out.write("| output | before | after |\n|---|---|---|\n")
            for change in diff.outputs:
                out.write(f"| `{change.path}` | {_cell(change.old)} | {_cell(change.new)} |\n")
            out.write("\n")
        if diff.snapshot:
            out.write(
                f"Snapshot `{diff.snapshot_file}`, semantic diff:\n\n| path | before | after |\n|---|---|---|\n"
            )
            for change in diff.snapshot:
                out.write(f"| `{change.path}` | {_cell(change.old)} | {_cell(change.new)} |\n")
            out.write("\n")
    return out.getvalue()


def render_text(base: str, head: str, diffs: Sequence[StackDiff]) -> str:
    out = io.StringIO()
    out.write(f"diff {base[:12]} -> {head}\n")
    changed = [d for d in diffs if d.changed]
    if not changed:
        out.write("no stack's inputs changed\n")
    for diff in changed:
        out.write(f"=== stack {diff.stack}\n")
        if diff.error_after:
            out.write("  breaks the stack:\n    " + diff.error_after.replace("\n", "\n    ") + "\n")
        for warning in diff.warnings:
            out.write(f"  warning: {warning}\n")
        for resource in diff.resources:
            sign = {"added": "+", "removed": "-", "changed": "~"}[resource.kind]
            out.write(f"  {sign} {resource.type}  {resource.path}\n")
            if resource.kind == "changed":
                for change in resource.changes:
                    out.write(f"      {change.path}: {show(change.old)} -> {show(change.new)}\n")
        for change in diff.outputs:
            out.write(f"  output {change.path}: {show(change.old)} -> {show(change.new)}\n")
        if diff.snapshot:
            out.write(f"  snapshot {diff.snapshot_file}:\n")
            for change in diff.snapshot:
                out.write(f"      {change.path}: {show(change.old)} -> {show(change.new)}\n")
    return out.getvalue()


def render_stacks(base: str, head: str, diffs: Sequence[StackDiff]) -> str:
    return json.dumps([d.stack for d in diffs if d.changed]) + "\n"


def render_json(base: str, head: str, diffs: Sequence[StackDiff]) -> str:
    def change(c: Change) -> dict[str, Any]:
        return {
            "path": c.path,
            "kind": c.kind,
            "before": None if c.old is MISSING else c.old,
            "after": None if c.new is MISSING else c.new,
        }

    payload = {
        "base": base,
        "head": head,
        "stacks": [
            {
                "stack": d.stack,
                "resources": [
                    {
                        "path": r.path,
                        "type": r.type,
                        "kind": r.kind,
                        "changes": [change(c) for c in r.changes],
                    }
                    for r in d.resources
                ],
                "outputs": [change(c) for c in d.outputs],
                "snapshot": {"file": d.snapshot_file, "changes": [change(c) for c in d.snapshot]},
                "errorAfter": d.error_after,
                "warnings": d.warnings,
            }
            for d in diffs
            if d.changed
        ],
    }
    return json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n"


RENDERERS = {
    "markdown": render_markdown,
    "text": render_text,
    "json": render_json,
    "stacks": render_stacks,
}

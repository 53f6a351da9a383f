"""`qtapctl diff`: what a change does to each stack, between two git revisions, offline.

Both sides are planned with the current program (so the diff shows what the change of
configuration and snapshots does), resources are matched by their path in the component tree,
and a changed snapshot is also shown as a semantic YAML diff (path: old -> new).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tempfile
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from qtap_gitops.paths import PathRefusal, read_snapshot
from qtap_gitops.settings import check_settings, default_snapshot_path
from qtap_gitops.snapshot import MAX_SNAPSHOT_BYTES
from qtap_gitops.stackfile import Project, ProjectError, find_project, load_stack_config
from qtap_gitops.yamldiff import MISSING, Change, diff_values, diff_yaml, show

from .check import ProjectCheck, check_project, containment_problem, project_stacks
from .escape import md_code, md_fence, md_text, terminal_block, terminal_line
from .fleet import list_stacks
from .fleet_plan import plan_stacks
from .incremental import unchanged_stacks
from .plan import PlannedResource, StackPlan, problem_lines
from .replacement import replacement_order, replacement_reasons
from .signals import exit_cleanly_on_signals
from .stack_inputs import environment_changes, secret_changes, stack_inputs

MARKER = "<!-- qtap-gitops:diff -->"
WORKING_TREE = "working tree"
SCRATCH_PREFIX = "qtap-diff-"


class DiffError(Exception):
    pass


@dataclass
class ResourceChange:
    path: str
    type: str
    kind: str  # added | removed | changed | replaced
    changes: list[Change] = field(default_factory=list)
    """Changed inputs; for an added resource, every input it is created with."""
    reasons: list[str] = field(default_factory=list)
    """Why a replaced resource is replaced, and in which order."""
    moved_from: str | None = None
    """The path the resource had in base, when an alias carries it over to a new path."""


SIGNS = {"added": "+", "removed": "-", "changed": "~", "replaced": "+-"}
KINDS = ("added", "changed", "replaced", "removed")


@dataclass
class StackDiff:
    stack: str
    resources: list[ResourceChange] = field(default_factory=list)
    outputs: list[Change] = field(default_factory=list)
    snapshot_file: str | None = None
    snapshot: list[Change] = field(default_factory=list)
    snapshot_note: str | None = None
    error_before: str | None = None
    error_after: str | None = None
    warnings: list[str] = field(default_factory=list)
    """Day-2 consequences a reviewer must not miss (see `day2_warnings`)."""
    secrets: list[str] = field(default_factory=list)
    """Encrypted config values added, removed or changed (never their values)."""
    environment: list[str] = field(default_factory=list)
    """What changed in the stack file's Pulumi ESC `environment:` block."""
    head_warnings: list[str] = field(default_factory=list)
    """Every contract warning of the head revision (shown even when nothing else changed)."""
    new_secrets: list[str] = field(default_factory=list)
    """Secrets head needs before deploy that base did not."""
    certificate: list[str] = field(default_factory=list)
    """A change of the Sealed Secrets controller's certificate the values are sealed with."""
    owner_changed: str | None = None
    """The fleet owner whose change this member follows (see `members_follow_owners`)."""

    @property
    def changed(self) -> bool:
        """Whether merging can change what this stack deploys. A stack that cannot be planned in
        head is always shown: the review must say so."""
        return bool(
            self.owner_changed
            or self.resources
            or self.outputs
            or self.snapshot
            or self.snapshot_note
            or self.secrets
            or self.environment
            or self.certificate
            or self.error_after is not None
            or self.error_before != self.error_after
        )

    @property
    def failing(self) -> bool:
        return self.error_after is not None


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


def _safe_parts(name: str) -> tuple[str, ...] | None:
    """The parts of a path from a git tree, or None for one git itself would never check out."""
    parts = PurePosixPath(name).parts
    if not parts or PurePosixPath(name).is_absolute():
        return None
    if any(p in ("", ".", "..") or p.casefold() == ".git" for p in parts):
        return None
    return parts


def _write_entry(destination: Path, parts: tuple[str, ...], mode: str, data: bytes) -> None:
    target = destination.joinpath(*parts)
    parent = destination
    for part in parts[:-1]:  # never write through a symlink the tree itself created
        parent = parent / part
        if parent.is_symlink():
            return
        parent.mkdir(exist_ok=True)
    if os.path.lexists(target):
        return
    if mode == "120000":
        # Kept as the symlink it is: reading it goes through qtap_gitops.paths, which refuses
        # one that leads outside the materialized project.
        os.symlink(os.fsdecode(data), target)
        return
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    fd = os.open(target, flags, 0o755 if mode == "100755" else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def materialize(project: Project, revision: str, destination: Path) -> Project:
    """The project's whole tree as of `revision`, written to `destination`.

    Read from git objects (ls-tree and cat-file), not `git archive`: `.gitattributes` in the
    revision under review could otherwise hide files (export-ignore) or rewrite them
    (export-subst).
    """
    top = Path(_git(project.directory, "rev-parse", "--show-toplevel").strip())
    prefix = project.directory.resolve().relative_to(top.resolve())
    commit = _git(top, "rev-parse", "--verify", "--end-of-options", f"{revision}^{{commit}}")
    commit = commit.strip()
    spec = "." if str(prefix) == "." else f"{prefix.as_posix()}/"
    listed = subprocess.run(
        ["git", "-C", str(top), "ls-tree", "-r", "-z", "--full-tree", commit, "--", spec],
        capture_output=True,
        check=False,
    )
    if listed.returncode != 0:
        raise DiffError(f"git ls-tree {revision}: {listed.stderr.decode(errors='replace')}")
    entries: list[tuple[str, str, str]] = []
    for record in listed.stdout.split(b"\0"):
        if not record:
            continue
        meta, _, name = record.partition(b"\t")
        mode, kind, oid = meta.decode().split()
        if kind != "blob":  # submodules are not part of this project's tree
            continue
        entries.append((mode, oid, os.fsdecode(name)))
    destination.mkdir(parents=True)
    if entries:
        batch = subprocess.run(
            ["git", "-C", str(top), "cat-file", "--batch"],
            input="".join(f"{oid}\n" for _, oid, _ in entries).encode(),
            capture_output=True,
            check=False,
        )
        if batch.returncode != 0:
            raise DiffError(f"git cat-file: {batch.stderr.decode(errors='replace')}")
        stream = io.BytesIO(batch.stdout)
        for mode, _, entry_name in entries:
            header = stream.readline().split()
            size = int(header[2])
            data = stream.read(size)
            stream.read(1)  # the newline after each object
            relative = PurePosixPath(entry_name)
            if str(prefix) != ".":
                relative = relative.relative_to(prefix.as_posix())
            parts = _safe_parts(relative.as_posix())
            if parts is not None:
                _write_entry(destination, parts, mode, data)
    project_file = destination / "Pulumi.yaml"
    if project_file.is_symlink() or not project_file.is_file():
        raise DiffError(f"revision {revision} has no Pulumi.yaml in {prefix}")
    try:
        materialized = find_project(destination)
    except (ProjectError, UnicodeDecodeError) as error:
        raise DiffError(f"revision {revision}: {error}") from None
    problem = containment_problem(materialized)
    if problem:
        raise DiffError(f"revision {revision}: {problem}")
    return materialized


def snapshot_path(project: Project, stack: str) -> str:
    raw, _ = load_stack_config(project, stack)
    if raw is not None:
        settings, _ = check_settings(raw)
        if settings is not None:
            return settings.snapshot_path
    return default_snapshot_path(stack)


def _read(project: Project | None, relative: str | None) -> str | None:
    """The snapshot's text, only if its path stays inside that revision's project."""
    if project is None or relative is None:
        return None
    data = read_snapshot(project.directory, relative, MAX_SNAPSHOT_BYTES)
    if data is None or isinstance(data, PathRefusal) or len(data) > MAX_SNAPSHOT_BYTES:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
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
    if not result.failing:
        # A stack that cannot be planned in head deploys nothing new; listing its resources as
        # removals would misstate what merging does.
        result.resources = diff_resources(before, after)
        result.outputs = diff_values(
            before.outputs if before else {}, after.outputs if after else {}
        )
        result.warnings = day2_warnings(before, after)
    result.warnings = switch_warnings(old_project, new_project, stack) + result.warnings
    result.certificate = certificate_change(before, after)
    if result.certificate:
        result.warnings.append(CERTIFICATE_SWAP)
    if after is not None and not after.error:
        result.head_warnings = list(after.warnings)
        known = set(before.pending) if before and not before.error else set()
        result.new_secrets = [p for p in after.pending if p not in known]
    old_inputs = stack_inputs(old_project, stack) if old_project else None
    new_inputs = stack_inputs(new_project, stack) if new_project else None
    result.secrets = secret_changes(old_inputs, new_inputs)
    result.environment = environment_changes(old_inputs, new_inputs)
    _diff_snapshot(result, old_project, new_project)
    return result


def _diff_snapshot(
    result: StackDiff, old_project: Project | None, new_project: Project | None
) -> None:
    stack = result.stack
    new_file = snapshot_path(new_project, stack) if new_project else None
    old_file = snapshot_path(old_project, stack) if old_project else None
    result.snapshot_file = new_file or old_file
    old_text = _read(old_project, old_file)
    new_text = _read(new_project, new_file)
    if old_text != new_text:
        try:
            result.snapshot = diff_yaml(old_text, new_text)
        except (RecursionError, ValueError, TypeError) as error:
            result.snapshot_note = (
                f"the snapshot changed but cannot be compared ({type(error).__name__})"
            )
        if not result.snapshot and not result.snapshot_note:
            result.snapshot_note = "the snapshot's bytes changed (no change of its values)"


def _urn_key(urn: str) -> tuple[str, str] | None:
    """(type, name) of a URN. The parent type chain is left out: the SDK's `create_urn` and the
    mock engine spell it differently (the root Stack's type included or not), while type and
    name identify a resource of this program as long as they are unique in the plan."""
    parts = urn.split("::")
    if len(parts) < 4:
        return None
    return parts[-2].rsplit("$", 1)[-1], parts[-1]


def _matched(
    old: dict[str, PlannedResource], new: dict[str, PlannedResource]
) -> list[tuple[str, PlannedResource | None, PlannedResource | None]]:
    """(path, base, head) pairs. A head resource whose alias names a base resource's URN is that
    resource moved (Pulumi updates it in place), never a deletion plus a creation."""
    keys: dict[tuple[str, str], list[str]] = {}
    for path, resource in old.items():
        key = _urn_key(resource.urn)
        if key is not None:
            keys.setdefault(key, []).append(path)
    moved: dict[str, str] = {}
    for path, resource in new.items():
        for alias in resource.aliases:
            origins = keys.get(_urn_key(alias) or ("", ""), [])
            if len(origins) != 1:
                continue
            origin = origins[0]
            if origin not in new and origin not in moved.values():
                moved[path] = origin
                break
    pairs: list[tuple[str, PlannedResource | None, PlannedResource | None]] = []
    for path in sorted((old.keys() - set(moved.values())) | new.keys()):
        pairs.append((path, old.get(moved.get(path, path)), new.get(path)))
    return pairs


def _resource_view(resource: PlannedResource) -> dict[str, Any]:
    return {
        "inputs": resource.inputs,
        "protect": resource.protect,
        "retainOnDelete": resource.retain_on_delete,
        "replacementTrigger": resource.replacement_trigger,
    }


def diff_resources(before: StackPlan | None, after: StackPlan | None) -> list[ResourceChange]:
    old = before.by_path() if before else {}
    new = after.by_path() if after else {}
    found: list[ResourceChange] = []
    for path, a, b in _matched(old, new):
        if a is None and b is not None:
            view = _resource_view(b)
            found.append(ResourceChange(path, b.type, "added", diff_values({}, view["inputs"])))
        elif b is None and a is not None:
            found.append(ResourceChange(path, a.type, "removed"))
        elif a is not None and b is not None:
            changes = diff_values(_resource_view(a), _resource_view(b))
            moved_from = a.path if a.path != path else None
            if not changes and moved_from is None:
                continue
            reasons = replacement_reasons(b.type, changes)
            if reasons:
                reasons.append(replacement_order(b.delete_before_replace))
            kind = "replaced" if reasons else "changed"
            found.append(ResourceChange(path, b.type, kind, changes, reasons, moved_from))
    return found


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


# The procedures quoted from README.md ("Delivery modes", "Secrets backends"): a switch of a
# running stack is not a hand-over, and the review is where the operator must read that.
DELIVERY_SWITCH = (
    "Switching a running stack to another mode is not a hand-over: Pulumi creates the new "
    "delivery object before it deletes the old one, and both deliver a release named `qtap` in "
    "the same namespace. Remove the old delivery first, then switch, accepting a short gap in "
    "capture: `pulumi destroy --target '<URN of the QtapRelease, ArgoCdDelivery or "
    "FluxDelivery>' --target-dependents`, then `pulumi up` with the new mode (README, Delivery "
    "modes)."
)
BACKEND_SWITCH = (
    "Switching a running stack keeps its namespace (the Namespace is aliased to its former "
    "URN). From ESO to VSO, VSO takes over the existing `qtap-secrets`. The Sealed Secrets "
    "controller does not overwrite a Secret it does not own: before switching to "
    "`sealed-secrets`, run `kubectl annotate secret qtap-secrets -n <namespace> "
    "sealedsecrets.bitnami.com/managed=true` (README, Secrets backends)."
)


def _switches(project: Project | None, stack: str) -> tuple[str, str] | None:
    if project is None:
        return None
    raw, _ = load_stack_config(project, stack)
    settings = check_settings(raw)[0] if raw is not None else None
    if settings is None:
        return None
    return settings.delivery.mode.value, settings.secrets.backend.value


CERTIFICATE_SWAP = (
    "the sealing certificate changes: every value is sealed again under the new certificate, "
    "and values sealed from now on are readable only by the holder of the new certificate's "
    "private key (the Sealed Secrets controller that serves it); check that its fingerprint is "
    "the one `kubeseal --fetch-cert` prints for the stack's cluster"
)


def certificate_change(before: StackPlan | None, after: StackPlan | None) -> list[str]:
    """The sealing certificate's fingerprint, subject and validity, before and after."""
    old = before.sealing_certificate if before and not before.error else None
    new = after.sealing_certificate if after and not after.error else None
    if old is None or new is None or old == new:
        return []

    def shown(cert: dict[str, str]) -> str:
        return (
            f"sha256 {cert['sha256']} ({cert['subject']}, valid {cert['notBefore']} to "
            f"{cert['notAfter']})"
        )

    return [f"{shown(old)} -> {shown(new)}"]


def switch_warnings(old: Project | None, new: Project | None, stack: str) -> list[str]:
    """A delivery mode or secrets backend switch of a stack that exists in both revisions."""
    before, after = _switches(old, stack), _switches(new, stack)
    if before is None or after is None:
        return []
    warnings = []
    if before[0] != after[0]:
        warnings.append(f"delivery mode switches {before[0]} -> {after[0]}. {DELIVERY_SWITCH}")
    if before[1] != after[1]:
        warnings.append(f"secrets backend switches {before[1]} -> {after[1]}. {BACKEND_SWITCH}")
    return warnings


def _plans(
    project: Project,
    stacks: Sequence[str],
    checked: ProjectCheck | None = None,
    skip: Collection[str] = (),
) -> dict[str, StackPlan]:
    """Each stack planned with that revision's own settings; a stack `check` refuses (its own
    errors, or a conflict with another stack of that revision) is not run, nor one in `skip`
    (unchanged between the revisions: see qtapctl/incremental.py). A fleet member is planned
    with its owner's outputs (qtapctl/fleet_plan.py)."""
    checked = checked or check_project(project, stacks)
    return plan_stacks(project, [s for s in stacks if s not in skip], checked)


# -- fleets: a member changes when its owner changes -----------------------------------------


def members_follow_owners(diffs: Sequence[StackDiff], owners: Mapping[str, str]) -> None:
    """Mark every member of a changed owner as changed (`owners`: stack -> its owner in head).

    A member deploys its owner's snapshot and reads the owner's outputs, so any change of the
    owner (snapshot, settings) reaches every cluster of the environment: each is previewed and
    deployed, even when its own plan shows no difference.
    """
    by_stack = {d.stack: d for d in diffs}
    for diff in diffs:
        owner = owners.get(diff.stack, diff.stack)
        if owner != diff.stack and owner in by_stack and by_stack[owner].changed:
            diff.owner_changed = owner
            diff.warnings.append(
                f"its owner {owner} changes: this cluster runs the owner's snapshot and reads "
                "its outputs, so it is previewed and deployed with it"
            )


def _owners(project: Project) -> dict[str, str]:
    entries, _ = list_stacks(project)
    return {e.stack: e.owner for e in entries}


def run_diff(
    project: Project, base: str | None, head: str | None
) -> tuple[str, str, list[StackDiff]]:
    base = base or default_base(project.directory)
    with (
        exit_cleanly_on_signals(),
        tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX) as scratch,
    ):
        old_project = materialize(project, base, Path(scratch) / "base")
        new_project = materialize(project, head, Path(scratch) / "head") if head else project
        old_stacks, new_stacks = project_stacks(old_project), project_stacks(new_project)
        stacks = list(dict.fromkeys([*new_stacks, *old_stacks]))
        old_checked = check_project(old_project, old_stacks)
        new_checked = check_project(new_project, new_stacks)
        same = unchanged_stacks(
            (old_project, old_checked, old_stacks), (new_project, new_checked, new_stacks)
        )
        before = _plans(old_project, old_stacks, old_checked, skip=same)
        after = _plans(new_project, new_stacks, new_checked, skip=same)
        diffs = [
            diff_stack(stack, before.get(stack), after.get(stack), old_project, new_project)
            for stack in stacks
        ]
        for diff in diffs:
            if diff.stack in same:
                # Not planned again (its inputs are unchanged); its head warnings are the
                # contract's, which the check of head already holds.
                diff.head_warnings = [p.format() for p in new_checked.reports[diff.stack].warnings]
        members_follow_owners(diffs, _owners(new_project))
    return base, head or WORKING_TREE, diffs


# -- rendering ------------------------------------------------------------------------------
# Everything from the revisions (stack names, paths, keys, values, messages) is escaped where it
# lands, so the comment's structure (marker, headings, tables, fences) is fixed by this code.


def _cell(value: Any) -> str:
    return md_text(show(value))


def _counts(diff: StackDiff) -> dict[str, int]:
    return {k: sum(r.kind == k for r in diff.resources) for k in KINDS}


def counts_line(diff: StackDiff) -> str:
    counts = _counts(diff)
    return (
        f"Resources: {counts['added']} to add, {counts['changed']} to change, "
        f"{counts['removed']} to remove. {counts['replaced']} to replace (+-)."
    )


def _resource_title(resource: ResourceChange) -> str:
    moved = f" (was {resource.moved_from})" if resource.moved_from else ""
    return f"{resource.path}{moved}"


def _md_resources(diff: StackDiff, out: io.StringIO) -> None:
    out.write("| | resource | input | before | after |\n|---|---|---|---|---|\n")
    for resource in diff.resources:
        sign = md_text(SIGNS[resource.kind])
        title = md_code(_resource_title(resource))
        out.write(f"| {sign} | {title} ({md_text(resource.type)}) | | | |\n")
        if resource.reasons:
            out.write(f"| | | replaced: {md_text('; '.join(resource.reasons))} | | |\n")
        for change in resource.changes:
            out.write(
                f"| {sign} | {title} | {md_code(change.path)} "
                f"| {_cell(change.old)} | {_cell(change.new)} |\n"
            )
    out.write("\n")


def _notes(diff: StackDiff) -> list[tuple[str, list[str]]]:
    """The stack's notes below its warnings, each kind with its label (lower case in text)."""
    return [
        ("Encrypted value ", diff.secrets),
        ("Pulumi ESC environment: ", diff.environment),
        ("Sealing certificate: ", diff.certificate),
    ]


def _md_stack_notes(diff: StackDiff, out: io.StringIO) -> None:
    for warning in diff.warnings:
        out.write(f"> **Warning:** {md_text(warning)}\n\n")
    for label, lines in _notes(diff):
        for line in lines:
            out.write(f"- {label}{md_text(line)}\n")
    for warning in diff.head_warnings:
        out.write(f"- Contract warning: {md_code(warning)}\n")
    for pending in diff.new_secrets:
        out.write(f"- New secret to set before deploy: {md_text(pending)}\n")
    if any(lines for _, lines in _notes(diff)) or diff.head_warnings or diff.new_secrets:
        out.write("\n")


def render_markdown(base: str, head: str, diffs: Sequence[StackDiff]) -> str:
    changed = [d for d in diffs if d.changed]
    quiet = [d for d in diffs if not d.changed and (d.head_warnings or d.new_secrets)]
    out = io.StringIO()
    out.write(f"{MARKER}\n## Qtap: offline diff {md_code(base[:12])} → {md_code(head[:12])}\n\n")
    _md_summary(diffs, changed, out)
    for diff in changed:
        _md_changed_stack(diff, out)
    for diff in quiet:
        out.write(f"### Stack {md_code(diff.stack)} (unchanged)\n\n")
        _md_stack_notes(diff, out)
    return out.getvalue()


def _md_summary(diffs: Sequence[StackDiff], changed: list[StackDiff], out: io.StringIO) -> None:
    """Which stacks changed, which did not, and which fail after the change."""
    if not changed:
        out.write("No stack's inputs changed.\n")
    unchanged = [d.stack for d in diffs if not d.changed]
    failing = [d.stack for d in diffs if d.failing]
    if changed:
        out.write(
            f"Stacks changed: {', '.join(md_code(d.stack) for d in changed)}."
            + (f" Unchanged: {', '.join(md_code(s) for s in unchanged)}." if unchanged else "")
            + "\n\n"
        )
    if failing:
        out.write(
            f"**Failing after this change**: {', '.join(md_code(s) for s in failing)} "
            "(nothing can be deployed to them until fixed).\n\n"
        )


def _md_changed_stack(diff: StackDiff, out: io.StringIO) -> None:
    out.write(f"### Stack {md_code(diff.stack)}\n\n")
    if diff.error_after:
        out.write("**This change breaks the stack** (nothing would be deployed):\n\n")
        out.write(md_fence(diff.error_after) + "\n")
    elif diff.error_before:
        out.write("This change fixes a stack that could not be planned before.\n\n")
    _md_stack_notes(diff, out)
    if not diff.failing:
        out.write(f"{counts_line(diff)}\n\n")
    if diff.resources:
        _md_resources(diff, out)
    _md_outputs_and_snapshot(diff, out)


def _md_outputs_and_snapshot(diff: StackDiff, out: io.StringIO) -> None:
    if diff.outputs:
        out.write("| output | before | after |\n|---|---|---|\n")
        for change in diff.outputs:
            out.write(f"| {md_code(change.path)} | {_cell(change.old)} | {_cell(change.new)} |\n")
        out.write("\n")
    if diff.snapshot:
        out.write(
            f"Snapshot {md_code(diff.snapshot_file)}, semantic diff:\n\n"
            "| path | before | after |\n|---|---|---|\n"
        )
        for change in diff.snapshot:
            out.write(f"| {md_code(change.path)} | {_cell(change.old)} | {_cell(change.new)} |\n")
        out.write("\n")
    elif diff.snapshot_note:
        out.write(f"Snapshot {md_code(diff.snapshot_file)}: {md_text(diff.snapshot_note)}.\n\n")


def _text_stack_notes(diff: StackDiff, out: io.StringIO) -> None:
    for warning in diff.warnings:
        out.write(f"  warning: {terminal_line(warning)}\n")
    for label, lines in _notes(diff):
        for line in lines:
            out.write(f"  {label.lower()}{terminal_line(line)}\n")
    for warning in diff.head_warnings:
        out.write(problem_lines("contract warning", warning))
    for pending in diff.new_secrets:
        out.write(f"  new secret to set before deploy: {terminal_line(pending)}\n")


def render_text(base: str, head: str, diffs: Sequence[StackDiff]) -> str:
    out = io.StringIO()
    out.write(f"diff {terminal_line(base[:12])} -> {terminal_line(head)}\n")
    changed = [d for d in diffs if d.changed]
    if not changed:
        out.write("no stack's inputs changed\n")
    for diff in changed:
        _text_changed_stack(diff, out)
    for diff in diffs:
        if not diff.changed and (diff.head_warnings or diff.new_secrets):
            out.write(f"=== stack {terminal_line(diff.stack)} (unchanged)\n")
            _text_stack_notes(diff, out)
    failing = [d.stack for d in diffs if d.failing]
    if failing:
        out.write(f"failing after this change: {', '.join(terminal_line(s) for s in failing)}\n")
    return out.getvalue()


def _text_changed_stack(diff: StackDiff, out: io.StringIO) -> None:
    out.write(f"=== stack {terminal_line(diff.stack)}\n")
    if diff.error_after:
        block = terminal_block(diff.error_after).replace("\n", "\n    ")
        out.write(f"  breaks the stack:\n    {block}\n")
    _text_stack_notes(diff, out)
    if not diff.failing:
        out.write(f"  {counts_line(diff)}\n")
    for resource in diff.resources:
        out.write(
            f"  {SIGNS[resource.kind]} {terminal_line(resource.type)}  "
            f"{terminal_line(_resource_title(resource))}\n"
        )
        if resource.reasons:
            out.write(f"      replaced: {terminal_line('; '.join(resource.reasons))}\n")
        for change in resource.changes:
            out.write(f"      {_line(change)}\n")
    for change in diff.outputs:
        out.write(f"  output {_line(change)}\n")
    if diff.snapshot:
        out.write(f"  snapshot {terminal_line(diff.snapshot_file)}:\n")
        for change in diff.snapshot:
            out.write(f"      {_line(change)}\n")
    elif diff.snapshot_note:
        out.write(
            f"  snapshot {terminal_line(diff.snapshot_file)}: {terminal_line(diff.snapshot_note)}\n"
        )


def _line(change: Change) -> str:
    return terminal_line(f"{change.path}: {show(change.old)} -> {show(change.new)}")


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
                        "reasons": r.reasons,
                        "movedFrom": r.moved_from,
                    }
                    for r in d.resources
                ],
                "outputs": [change(c) for c in d.outputs],
                "snapshot": {"file": d.snapshot_file, "changes": [change(c) for c in d.snapshot]},
                "errorAfter": d.error_after,
                "snapshotNote": d.snapshot_note,
                "warnings": d.warnings,
                "secrets": d.secrets,
                "sealingCertificate": d.certificate,
                "environment": d.environment,
                "headWarnings": d.head_warnings,
                "newSecrets": d.new_secrets,
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

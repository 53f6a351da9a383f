"""`qtapctl import`: take a fresh Qplane export for a stack, check it, commit-ready on disk.

The export is checked exactly as `check` would check it once committed (settings, snapshot
contract, env bindings, conflicts with the other stacks); an invalid one is refused with the
contract's messages and nothing is written. A valid one replaces the stack's snapshot byte for
byte, and only that file:

- the path is `qtap:snapshot`, which must be a `.yaml` file inside the project, reached without
  a symlink, outside `.git/` and `.github/`, and not a Pulumi settings file (qtap_gitops.paths);
- the file keeps its mode; the replacement is atomic (a hidden temporary file beside it, removed
  on any exit, then `rename`), and no directory on the way may be a symlink even if one appears
  after the check (qtapctl/project_files.py, shared with `seal --output`);
- imports of one project are serialized by an exclusive lock on the project directory itself
  (no lock file), and the snapshot is compared with what was read before replacing it: if
  another process changed it meanwhile, the import is refused instead of overwriting that.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TextIO

from qtap_gitops.esc import PROVIDED_CODE
from qtap_gitops.paths import PathRefusal, writable_snapshot
from qtap_gitops.problems import Problem
from qtap_gitops.settings import check_settings
from qtap_gitops.stackfile import Project, load_stack_config
from qtap_gitops.yamldiff import Change, diff_yaml, show

from .check import Replacement, check_project, problems_block
from .escape import terminal_line
from .project_files import WriteRefusedError, write_inside
from .signals import exit_cleanly_on_signals

TEMPORARY_PREFIX = ".qtap-import-"
CHANGED_MEANWHILE = (
    "the snapshot changed on disk while this import was running (another import or an edit); "
    "look at what changed, then import again"
)


class ImportRefusedError(Exception):
    """Why the snapshot was not written (the file is as it was)."""


@dataclass(frozen=True)
class Observed:
    """The snapshot file as read before checking: what must still be there when replacing."""

    data: bytes | None
    identity: tuple[int, int, int, int] | None  # device, inode, size, mtime (ns)
    mode: int | None
    changed_ns: int = 0
    """Last change of the file's content or inode (the later of mtime and ctime)."""


def _observe(path: Path) -> Observed:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return Observed(None, None, None)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise ImportRefusedError(
                f"{path.name} is a symlink; import never writes through one"
            ) from None
        raise ImportRefusedError(f"cannot read the current snapshot: {error.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ImportRefusedError("the current snapshot is not a regular file")
        data = handle.read()
    identity = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
    changed = max(info.st_mtime_ns, info.st_ctime_ns)
    return Observed(data, identity, stat.S_IMODE(info.st_mode), changed)


@contextmanager
def _project_lock(directory: Path) -> Iterator[None]:
    """An exclusive lock on the project directory's own inode: no lock file anywhere."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ImportRefusedError(
                "another import into this project is running; run this one again after it"
            ) from None
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _replace(project_dir: Path, relative: str, data: bytes, observed: Observed) -> None:
    """Write `data` to the snapshot unless the file changed since `observed`; atomic, with
    no symlink on the way (qtapctl/project_files.py)."""
    current = _observe(project_dir / relative)
    if current.identity != observed.identity or current.data != observed.data:
        raise ImportRefusedError(CHANGED_MEANWHILE)
    try:
        write_inside(project_dir, PurePosixPath(relative), data, prefix=TEMPORARY_PREFIX)
    except WriteRefusedError as error:
        raise ImportRefusedError(str(error)) from None


def _refuse(out: TextIO, problems: list[Problem], why: str) -> int:
    if problems:
        out.write(problems_block(problems) + "\n")
    out.write(f"import refused: {terminal_line(why)}\n")
    return 1


def import_snapshot(
    project: Project,
    stack: str,
    raw: bytes,
    source: str,
    out: TextIO,
    *,
    started_ns: int | None = None,
) -> int:
    """Check `raw` and write it as `stack`'s snapshot. `started_ns` is when the command started:
    a snapshot changed after it was changed by someone else while this import ran (two imports
    started together: the second to reach the file refuses instead of overwriting the first)."""
    config, problems = load_stack_config(project, stack)
    settings, setting_problems = check_settings(config) if config else (None, [])
    if settings is None:
        return _refuse(out, problems + setting_problems, f"fix the settings of stack {stack} first")
    relative = settings.snapshot_path
    unchanged = f"{relative} is unchanged"

    target = writable_snapshot(project.directory, relative)
    if isinstance(target, PathRefusal):
        return _refuse(out, [], f"qtap:snapshot: {target.message} ({target.fix}); nothing written")
    try:
        observed = _observe(target)
    except ImportRefusedError as error:
        return _refuse(out, [], f"{error}; {unchanged}")
    if started_ns is not None and observed.changed_ns > started_ns:
        return _refuse(out, [], f"{CHANGED_MEANWHILE}; {unchanged}")

    checked = check_project(project, [stack], replacements={stack: Replacement(raw, source)})
    report = checked.reports[stack]
    errors = checked.errors(stack)
    if errors or report.deployment is None:
        return _refuse(out, report.problems + errors[len(report.errors) :], unchanged)
    deployment = report.deployment

    if observed.data == raw:
        out.write(f"{terminal_line(relative)} already holds this export; nothing changed\n")
        return 0
    # Everything shown after writing is computed first: a failure here writes nothing.
    previous_text = observed.data.decode("utf-8", "replace") if observed.data is not None else None
    try:
        changes = diff_yaml(previous_text, raw.decode("utf-8"))
    except (RecursionError, ValueError, TypeError) as error:
        # The contract should have refused such a document; never write what cannot be shown.
        return _refuse(
            out, [], f"the export cannot be compared ({type(error).__name__}); {unchanged}"
        )

    try:
        with exit_cleanly_on_signals(), _project_lock(project.directory):
            _replace(project.directory.resolve(), relative, raw, observed)
    except ImportRefusedError as error:
        return _refuse(out, [], f"{error}; {unchanged}")
    except OSError as error:
        return _refuse(out, [], f"cannot write {relative}: {error.strerror}; {unchanged}")

    out.write(
        f"wrote {terminal_line(relative)} ({len(raw)} bytes, "
        f"sha256 {deployment.snapshot.sha256[:12]})\n"
    )
    out.write(f"semantic diff against the previous snapshot ({len(changes)} change(s)):\n")
    for change in changes:
        out.write(f"  {_change_line(change)}\n")
    if report.warnings:
        out.write(problems_block(report.warnings) + "\n")
    # Keyless stores and Pulumi ESC environments are part of the same check (qtapctl/check.py).
    for pending in report.pending:
        when = (
            "provided at deploy time" if pending.code == PROVIDED_CODE else "to set before deploy"
        )
        out.write(
            f"secret {when}: {terminal_line(pending.message)}\n  {terminal_line(pending.fix)}\n"
        )
    out.write("review with './scripts/qtap diff', then commit the snapshot\n")
    return 0


def _change_line(change: Change) -> str:
    return terminal_line(f"{change.kind:8} {change.path}: {show(change.old)} -> {show(change.new)}")

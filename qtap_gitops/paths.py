"""Paths a stack file names stay inside the project.

A stack file and the files it points at arrive in pull requests, and what the tools read ends up
in a terminal or a PR comment (the semantic diff of a snapshot). So a path from configuration is
resolved (symlinks included) and must land on a regular file inside the project directory; a
path `import` writes must in addition be a plain `.yaml` file reached without any symlink,
outside `.git/` and `.github/`, and never a Pulumi settings file. The program, `check`, `plan`,
`diff` and `import` all go through here, so they refuse the same paths with the same words.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

SNAPSHOT_SUFFIX = ".yaml"
# Directories whose files drive the repository itself: a snapshot written there would replace
# a CI workflow or git's own data.
RESERVED_DIRECTORIES = frozenset({".git", ".github"})


@dataclass(frozen=True)
class PathRefusal:
    """Why a configured path is refused: what is wrong and how to fix it (no file content)."""

    message: str
    fix: str


def _printable(relative: str) -> bool:
    return relative.isprintable() and "\\" not in relative


def check_relative_path(relative: str, *, what: str = "the path") -> PathRefusal | None:
    """A path from configuration, before touching the disk: relative, no `..`, printable."""
    if not relative or not relative.strip():
        return PathRefusal(f"{what} is empty", "name a file inside the project")
    if not _printable(relative):
        return PathRefusal(
            f"{what} holds a control character or a backslash",
            "use a plain relative path with '/' between directories",
        )
    pure = PurePosixPath(relative)
    if pure.is_absolute() or relative.startswith("~"):
        return PathRefusal(
            f"{what} is absolute; it must be relative to the project directory",
            "give the path from the project directory, e.g. snapshots/<stack>/qtap-config.yaml",
        )
    if ".." in pure.parts:
        return PathRefusal(
            f"{what} contains '..'; it must stay inside the project directory",
            "give the path from the project directory without '..'",
        )
    return None


def _reserved(relative: PurePosixPath) -> PathRefusal | None:
    parts = [p.casefold() for p in relative.parts]
    if any(part in RESERVED_DIRECTORIES for part in parts[:-1]):
        return PathRefusal(
            f"{relative} is under {relative.parts[0]}/, which holds the repository's own "
            "workflows or data, not snapshots",
            "keep snapshots under snapshots/<stack>/",
        )
    name = relative.name.casefold()
    if name.startswith("pulumi") and name.endswith((".yaml", ".yml")):
        return PathRefusal(
            f"{relative} is a Pulumi project or stack settings file, not a snapshot",
            "keep snapshots under snapshots/<stack>/",
        )
    if not name.endswith(SNAPSHOT_SUFFIX) or name == SNAPSHOT_SUFFIX:
        return PathRefusal(
            f"{relative} is not a .yaml file; a snapshot is a YAML file named *.yaml",
            "name the snapshot file <something>.yaml, e.g. snapshots/<stack>/qtap-config.yaml",
        )
    return None


def check_snapshot_setting(relative: str) -> PathRefusal | None:
    """`qtap:snapshot` as written: relative, inside, a `.yaml` file in no reserved place."""
    refusal = check_relative_path(relative, what="the snapshot path")
    if refusal is not None:
        return refusal
    return _reserved(PurePosixPath(relative))


def _inside(project_dir: Path, path: Path) -> PurePosixPath | None:
    try:
        return PurePosixPath(path.relative_to(project_dir).as_posix())
    except ValueError:
        return None


def resolve_snapshot(project_dir: Path, relative: str) -> Path | PathRefusal:
    """Where the snapshot named by `qtap:snapshot` really is, for reading.

    Symlinks are followed, but the file they lead to must be inside the project, a regular file
    (not a device, FIFO or directory) and itself a valid snapshot path. A missing file is
    returned as is: the snapshot check reports it in its own words.
    """
    refusal = check_snapshot_setting(relative)
    if refusal is not None:
        return refusal
    root = project_dir.resolve()
    resolved = (root / relative).resolve()
    inside = _inside(root, resolved)
    if inside is None:
        return PathRefusal(
            f"{relative} leads outside the project directory (through a symlink)",
            "commit the snapshot itself as a file inside the project, not a symlink out of it",
        )
    refusal = _reserved(inside) if str(inside) != relative else None
    if refusal is not None:
        return PathRefusal(f"{relative} is a symlink to {inside}: {refusal.message}", refusal.fix)
    try:
        mode = resolved.stat().st_mode
    except FileNotFoundError:
        return resolved
    except OSError as error:
        return PathRefusal(f"{relative} cannot be read: {error.strerror}", "")
    if not stat.S_ISREG(mode):
        return PathRefusal(
            f"{relative} is not a regular file", "commit the snapshot as a plain YAML file"
        )
    return resolved


def read_snapshot(project_dir: Path, relative: str, limit: int) -> bytes | PathRefusal | None:
    """The bytes of the snapshot at `relative` (at most `limit` + 1), None when it is missing.

    Opens without following a final symlink and without blocking on a FIFO swapped in after the
    check, and reads only a regular file.
    """
    where = resolve_snapshot(project_dir, relative)
    if isinstance(where, PathRefusal):
        return where
    try:
        fd = os.open(where, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as error:
        return PathRefusal(f"{relative} cannot be read: {error.strerror}", "")
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return PathRefusal(
                f"{relative} is not a regular file", "commit the snapshot as a plain YAML file"
            )
        return handle.read(limit + 1)


def writable_snapshot(project_dir: Path, relative: str) -> Path | PathRefusal:
    """The file `import` may replace for `qtap:snapshot`: no symlink anywhere on the way.

    Existing directories on the way must be real directories and the file, if it exists, a
    regular file; what does not exist yet is created by the caller under the checked parent.
    """
    refusal = check_snapshot_setting(relative)
    if refusal is not None:
        return refusal
    root = project_dir.resolve()
    current = root
    parts = PurePosixPath(relative).parts
    for index, part in enumerate(parts):
        current = current / part
        try:
            mode = current.lstat().st_mode
        except FileNotFoundError:
            break
        last = index == len(parts) - 1
        if stat.S_ISLNK(mode):
            return PathRefusal(
                f"{PurePosixPath(*parts[: index + 1])} is a symlink; import writes only a "
                "plain file inside the project, never through a symlink",
                "replace the symlink by the snapshot file itself (git rm it, then import)",
            )
        if last and not stat.S_ISREG(mode):
            return PathRefusal(
                f"{relative} exists and is not a regular file",
                "remove it, or point qtap:snapshot at a file",
            )
        if not last and not stat.S_ISDIR(mode):
            return PathRefusal(
                f"{PurePosixPath(*parts[: index + 1])} is not a directory",
                "point qtap:snapshot at a file under a directory",
            )
    return root / relative

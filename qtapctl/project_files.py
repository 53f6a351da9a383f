"""Writing one file inside the project the way a hostile checkout cannot redirect.

`import` (the snapshot) and `seal --output` (a SealedSecret manifest) write into a working
tree that may come from a pull request, so a directory on the way or the file itself may be a
symlink planted to make the tool overwrite something elsewhere. The writer therefore:

- walks from the project directory one component at a time with `O_NOFOLLOW` directory
  descriptors (`openat`), so a symlinked directory is refused even if it appears after a check;
- refuses a final name that is a symlink or not a regular file (`lstat` relative to the
  directory descriptor);
- writes a hidden temporary file beside the target (`O_CREAT|O_EXCL|O_NOFOLLOW`, same directory,
  so the same filesystem), fsyncs it and renames it over the target: a reader sees the old file
  or the new one, never a part; the temporary file is removed on any failure;
- keeps the mode of the file it replaces (a new file gets 0666 minus the umask).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path, PurePosixPath

from qtap_gitops.paths import RESERVED_DIRECTORIES

_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class WriteRefusedError(Exception):
    """Why nothing was written (no file content, no path outside the project)."""


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _open_directory(parent: int, part: str, shown: PurePosixPath) -> int:
    """The directory `part` under the descriptor `parent`, created if missing; never a link."""
    for attempt in range(2):
        try:
            return os.open(part, _DIRECTORY_FLAGS, dir_fd=parent)
        except FileNotFoundError:
            if attempt:
                raise
            # Made meanwhile by someone else: open it (and refuse it if it is a link).
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o777, dir_fd=parent)
        except OSError as error:
            if error.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
            # Linux says ENOTDIR for a symlink opened with O_DIRECTORY|O_NOFOLLOW: tell which.
            link = stat.S_ISLNK(os.stat(part, dir_fd=parent, follow_symlinks=False).st_mode)
            if link or error.errno == errno.ELOOP:
                raise WriteRefusedError(f"{shown} is a symlink; never written through") from None
            raise WriteRefusedError(f"{shown} is not a directory") from None
    raise AssertionError("unreachable")


def _existing_mode(directory: int, name: str, shown: PurePosixPath) -> int | None:
    try:
        info = os.stat(name, dir_fd=directory, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        raise WriteRefusedError(f"{shown} is a symlink; never written through")
    if not stat.S_ISREG(info.st_mode):
        raise WriteRefusedError(f"{shown} exists and is not a regular file")
    return stat.S_IMODE(info.st_mode)


def write_inside(project_dir: Path, relative: PurePosixPath, data: bytes, *, prefix: str) -> None:
    """Replace `project_dir/relative` by `data`, atomically, with no symlink on the way.

    Raises `WriteRefusedError` (a symlink or a non-directory on the way) or `OSError`; in both
    cases the target is as it was and no temporary file remains."""
    parts = relative.parts
    if not parts or any(part in ("", ".", "..") for part in parts):
        raise WriteRefusedError(f"{relative} is not a file path inside the project")
    directory = os.open(project_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for index, part in enumerate(parts[:-1]):
            inner = _open_directory(directory, part, PurePosixPath(*parts[: index + 1]))
            os.close(directory)
            directory = inner
        name = parts[-1]
        mode = _existing_mode(directory, name, relative)
        temporary = f"{prefix}{secrets.token_hex(8)}.tmp"
        fd = os.open(
            temporary,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
            dir_fd=directory,
        )
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fchmod(handle.fileno(), _default_mode() if mode is None else mode)
                os.fsync(handle.fileno())
            os.replace(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary, dir_fd=directory)
    finally:
        os.close(directory)


def relative_inside(project_dir: Path, path: str) -> PurePosixPath:
    """`path` (as given on the command line, relative to the current directory) as a path
    relative to the project directory; refused outside it, or in `.git/` and `.github/`, or
    when it names a Pulumi settings file."""
    absolute = Path(os.path.abspath(path))
    for root in (Path(os.path.abspath(project_dir)), project_dir.resolve()):
        try:
            relative = PurePosixPath(absolute.relative_to(root).as_posix())
        except ValueError:
            continue
        break
    else:
        raise WriteRefusedError(
            f"{path} is outside the project directory; only files inside it are written"
        )
    if relative == PurePosixPath("."):
        raise WriteRefusedError(f"{path} is the project directory, not a file")
    folded = [part.casefold() for part in relative.parts]
    if any(part in RESERVED_DIRECTORIES for part in folded[:-1]):
        raise WriteRefusedError(f"{relative} is under {relative.parts[0]}/, the repository's own")
    if folded[-1].startswith("pulumi") and folded[-1].endswith((".yaml", ".yml")):
        raise WriteRefusedError(f"{relative} is a Pulumi project or stack settings file")
    return relative

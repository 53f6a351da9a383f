"""Fetch the schema files the tests read, exactly as listed in tests/schema-sources.json.

Each entry names an upstream GitHub repository, a tag or commit, a path and the file's sha256.
The file is downloaded from `<base-url>/<repository>/<ref>/<path>` (default base: GitHub's raw
file host) and written to `<dest>/<file>` only when its sha256 matches; any mismatch, missing
file or oversized download fails the run with every problem listed, and nothing unverified is
left in the destination. Standard library only, so a bare runner can run it before any install.

    ./scripts/fetch-schemas                     # into the directory the tests read
    ./scripts/fetch-schemas --dest DIR          # anywhere else
    ./scripts/fetch-schemas --check             # verify what is there, download nothing
    ./scripts/fetch-schemas --base-url file:///mirror   # an offline mirror laid out the same way
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOCK_FILE = REPO / "tests" / "schema-sources.json"
DEFAULT_BASE_URL = "https://raw.githubusercontent.com"
# The largest listed file is a few hundred KiB; anything far bigger is not what the lock means.
MAX_BYTES = 8 * 1024 * 1024
TIMEOUT_SECONDS = 60

_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_REF = re.compile(r"^[A-Za-z0-9_.+-]+$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def default_schema_dir() -> Path:
    """Where the tests read schema files: QTAP_SCHEMA_DIR, else QTAP_SHARED_DIR/schemas, else
    ../shared/schemas beside the checkout."""
    explicit = os.environ.get("QTAP_SCHEMA_DIR")
    if explicit:
        return Path(explicit)
    shared = os.environ.get("QTAP_SHARED_DIR")
    if shared:
        return Path(shared) / "schemas"
    return REPO.parent / "shared" / "schemas"


class LockError(Exception):
    pass


@dataclass(frozen=True)
class Source:
    file: str
    repository: str
    ref: str
    path: str
    sha256: str

    def url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/{self.repository}/{self.ref}/{self.path}"


def _relative(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise LockError(f"{what} must be a non-empty string")
    parts = value.split("/")
    if value.startswith("/") or "\\" in value or any(p in ("", ".", "..") for p in parts):
        raise LockError(f"{what} {value!r} must be a relative path without '.' or '..' segments")
    return value


def load_sources(lock: Path = LOCK_FILE) -> list[Source]:
    try:
        data = json.loads(lock.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise LockError(f"cannot read {lock}: {error}") from error
    entries = data.get("files") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise LockError(f"{lock}: 'files' must be a non-empty list")
    sources: list[Source] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"{lock.name}: files[{index}]"
        if not isinstance(entry, dict):
            raise LockError(f"{where} must be an object")
        file = _relative(entry.get("file"), f"{where}.file")
        path = _relative(entry.get("path"), f"{where}.path")
        repository, ref, digest = entry.get("repository"), entry.get("ref"), entry.get("sha256")
        if not isinstance(repository, str) or not _REPOSITORY.match(repository):
            raise LockError(f"{where}.repository must be owner/name, got {repository!r}")
        if not isinstance(ref, str) or not _REF.match(ref):
            raise LockError(f"{where}.ref must be a tag or commit, got {ref!r}")
        if not isinstance(digest, str) or not _SHA256.match(digest):
            raise LockError(f"{where}.sha256 must be 64 lowercase hex digits")
        if file in seen:
            raise LockError(f"{where}.file {file} is listed twice")
        seen.add(file)
        sources.append(Source(file, repository, ref, path, digest))
    return sources


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify(sources: Sequence[Source], dest: Path) -> list[str]:
    """Problems with the files already in `dest` (empty when every file is there and intact)."""
    problems = []
    for source in sources:
        target = dest / source.file
        if not target.is_file():
            problems.append(f"{source.file}: missing in {dest}")
            continue
        actual = sha256_of(target)
        if actual != source.sha256:
            problems.append(
                f"{source.file}: sha256 {actual} in {dest}, expected {source.sha256} "
                f"({source.repository}@{source.ref}:{source.path})"
            )
    return problems


def _download(url: str) -> bytes:
    scheme = url.split(":", 1)[0].lower()
    # https for GitHub; file:// for an offline mirror. Never plain http.
    if scheme not in ("https", "file"):
        raise ValueError(f"refusing {scheme}:// (only https:// and file:// are allowed)")
    with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (scheme checked above)
        body = response.read(MAX_BYTES + 1)
    if not isinstance(body, bytes):
        raise ValueError("the response has no body")
    if len(body) > MAX_BYTES:
        raise ValueError(f"larger than {MAX_BYTES} bytes")
    return body


def _write(target: Path, body: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(body)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def fetch(sources: Sequence[Source], dest: Path, base_url: str, log: list[str]) -> list[str]:
    """Download every source whose file is not already in `dest` with the right sha256.

    Returns the problems; a file is written only after its digest matched."""
    problems = []
    for source in sources:
        target = dest / source.file
        if target.is_file() and sha256_of(target) == source.sha256:
            log.append(f"ok       {source.file} (already present)")
            continue
        url = source.url(base_url)
        try:
            body = _download(url)
        except (OSError, ValueError, urllib.error.URLError) as error:
            problems.append(f"{source.file}: cannot download {url}: {error}")
            continue
        actual = hashlib.sha256(body).hexdigest()
        if actual != source.sha256:
            problems.append(
                f"{source.file}: sha256 mismatch for {url}: got {actual}, expected "
                f"{source.sha256}; the file was not written"
            )
            continue
        _write(target, body)
        log.append(f"fetched  {source.file} (sha256 {actual[:12]}, {len(body)} bytes)")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="fetch-schemas",
        description="Download the schema files listed in tests/schema-sources.json and check "
        "each sha256.",
    )
    parser.add_argument(
        "--dest",
        type=Path,
        default=None,
        help="destination directory (default: QTAP_SCHEMA_DIR, else QTAP_SHARED_DIR/schemas, "
        "else ../shared/schemas beside the checkout)",
    )
    parser.add_argument("--base-url", default=DEFAULT_BASE_URL, help="https:// or file:// base")
    parser.add_argument("--lock", type=Path, default=LOCK_FILE, help=argparse.SUPPRESS)
    parser.add_argument(
        "--check", action="store_true", help="verify the files in the destination; no download"
    )
    args = parser.parse_args(argv)
    dest: Path = args.dest if args.dest is not None else default_schema_dir()
    try:
        sources = load_sources(args.lock)
    except LockError as error:
        print(f"fetch-schemas: {error}", file=sys.stderr)
        return 2

    log: list[str] = []
    problems = verify(sources, dest) if args.check else fetch(sources, dest, args.base_url, log)
    for line in log:
        print(line)
    if problems:
        print(f"fetch-schemas: {len(problems)} problem(s) in {dest}:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"fetch-schemas: {len(sources)} file(s) verified in {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

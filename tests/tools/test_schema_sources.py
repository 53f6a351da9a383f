"""The schema directory and its fetcher: one list of upstream files with their sha256
(tests/schema-sources.json), a fetcher that accepts only those bytes, and tests that fail (never
skip) when the directory is missing. The fetcher runs here offline, against a file:// mirror laid
out like GitHub's raw host (`<repository>/<ref>/<path>`)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tests.conftest as conftest
from scripts.fetch_schemas import (
    LOCK_FILE,
    LockError,
    Source,
    default_schema_dir,
    load_sources,
    verify,
)
from tests.conftest import REPO, SCHEMA_DIR, SchemaDirectoryMissingError, schema_file

FETCH = REPO / "scripts" / "fetch-schemas"


def fetch_schemas(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FETCH), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"},
    )


def mirror_of(sources: list[Source], contents: dict[str, bytes], root: Path) -> str:
    """A file:// base URL under which each source's bytes sit at <repository>/<ref>/<path>."""
    for source in sources:
        if source.file in contents:
            target = root / source.repository / source.ref / source.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(contents[source.file])
    return root.as_uri()


def lock_for(contents: dict[str, bytes], path: Path) -> Path:
    files = [
        {
            "file": f"upstream-v1/{name}",
            "repository": "example/upstream",
            "ref": "v1.0.0",
            "path": f"config/{name}",
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        for name, body in contents.items()
    ]
    path.write_text(json.dumps({"files": files}))
    return path


CONTENTS = {"a.yaml": b"kind: A\n", "b.yaml": b"kind: B\n"}


# --- the list ---------------------------------------------------------------------------------


def test_the_list_names_each_upstream_file_once_with_a_digest():
    sources = load_sources()
    assert len(sources) == len({s.file for s in sources}) >= 2
    files = {s.file for s in sources}
    # What the tests read today must be listed (a new schema file needs a new entry).
    for needed in (
        "external-secrets-v2.9.0/external-secrets.io_externalsecrets.yaml",
        "external-secrets-v2.9.0/external-secrets.io_secretstores.yaml",
        "qtap-chart-0.0.38/values.yaml",
    ):
        assert needed in files
    for source in sources:
        assert source.url("https://raw.githubusercontent.com").startswith(
            f"https://raw.githubusercontent.com/{source.repository}/{source.ref}/"
        )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"file": "../escape.yaml"}, "relative path"),
        ({"file": "/etc/passwd"}, "relative path"),
        ({"path": "a/../../b"}, "relative path"),
        ({"repository": "not a repo"}, "owner/name"),
        ({"ref": "v1/../x"}, "tag or commit"),
        ({"sha256": "ABC"}, "64 lowercase hex"),
    ],
)
def test_a_malformed_list_is_refused(tmp_path: Path, entry: dict[str, str], message: str):
    good = {
        "file": "x/a.yaml",
        "repository": "o/r",
        "ref": "v1",
        "path": "a.yaml",
        "sha256": "0" * 64,
    }
    lock = tmp_path / "lock.json"
    lock.write_text(json.dumps({"files": [{**good, **entry}]}))
    with pytest.raises(LockError, match=message):
        load_sources(lock)


# --- the directory the tests read --------------------------------------------------------------


def test_the_schema_directory_holds_every_listed_file_with_its_digest():
    if not SCHEMA_DIR.is_dir():
        pytest.fail(
            f"the schema directory {SCHEMA_DIR} does not exist; run ./scripts/fetch-schemas",
            pytrace=False,
        )
    assert verify(load_sources(), SCHEMA_DIR) == []


def test_a_missing_schema_directory_fails_with_the_command_that_fetches_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(conftest, "SCHEMA_DIR", tmp_path / "absent")
    with pytest.raises(SchemaDirectoryMissingError) as raised:
        schema_file("qtap-chart-0.0.38", "values.yaml")
    message = str(raised.value)
    assert "does not exist" in message
    assert "./scripts/fetch-schemas" in message
    assert "QTAP_SCHEMA_DIR" in message


def test_the_schema_directory_is_configurable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("QTAP_SCHEMA_DIR", raising=False)
    monkeypatch.delenv("QTAP_SHARED_DIR", raising=False)
    assert default_schema_dir() == REPO.parent / "shared" / "schemas"
    monkeypatch.setenv("QTAP_SHARED_DIR", str(tmp_path / "shared"))
    assert default_schema_dir() == tmp_path / "shared" / "schemas"
    monkeypatch.setenv("QTAP_SCHEMA_DIR", str(tmp_path / "elsewhere"))
    assert default_schema_dir() == tmp_path / "elsewhere"


# --- the fetcher, offline ----------------------------------------------------------------------


def test_fetching_good_files_writes_them_and_a_second_run_downloads_nothing(tmp_path: Path):
    lock = lock_for(CONTENTS, tmp_path / "lock.json")
    sources = load_sources(lock)
    base = mirror_of(
        sources, {s.file: CONTENTS[s.path.split("/")[-1]] for s in sources}, tmp_path / "m"
    )
    dest = tmp_path / "schemas"

    first = fetch_schemas("--lock", str(lock), "--base-url", base, "--dest", str(dest))
    assert first.returncode == 0, first.stderr
    assert (dest / "upstream-v1" / "a.yaml").read_bytes() == CONTENTS["a.yaml"]
    assert "2 file(s) verified" in first.stdout

    shutil.rmtree(tmp_path / "m")  # the mirror is gone: only verified local files are used
    second = fetch_schemas("--lock", str(lock), "--base-url", base, "--dest", str(dest))
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("already present") == 2


def test_a_tampered_file_fails_loudly_and_is_not_written(tmp_path: Path):
    lock = lock_for(CONTENTS, tmp_path / "lock.json")
    sources = load_sources(lock)
    served = {s.file: CONTENTS[s.path.split("/")[-1]] for s in sources}
    served["upstream-v1/b.yaml"] = b"kind: B\nspec: {evil: true}\n"
    base = mirror_of(sources, served, tmp_path / "m")
    dest = tmp_path / "schemas"

    result = fetch_schemas("--lock", str(lock), "--base-url", base, "--dest", str(dest))
    assert result.returncode == 1
    assert "upstream-v1/b.yaml: sha256 mismatch" in result.stderr
    assert hashlib.sha256(served["upstream-v1/b.yaml"]).hexdigest() in result.stderr
    assert "the file was not written" in result.stderr
    assert not (dest / "upstream-v1" / "b.yaml").exists()
    assert (dest / "upstream-v1" / "a.yaml").is_file()  # the good one is kept
    assert [p.name for p in (dest / "upstream-v1").iterdir()] == ["a.yaml"]  # no temp file left


def test_a_missing_upstream_file_fails(tmp_path: Path):
    lock = lock_for(CONTENTS, tmp_path / "lock.json")
    sources = load_sources(lock)
    base = mirror_of(sources, {"upstream-v1/a.yaml": CONTENTS["a.yaml"]}, tmp_path / "m")
    result = fetch_schemas("--lock", str(lock), "--base-url", base, "--dest", str(tmp_path / "d"))
    assert result.returncode == 1
    assert "upstream-v1/b.yaml: cannot download" in result.stderr


def test_a_tampered_local_copy_is_replaced_by_the_verified_download(tmp_path: Path):
    lock = lock_for(CONTENTS, tmp_path / "lock.json")
    sources = load_sources(lock)
    base = mirror_of(
        sources, {s.file: CONTENTS[s.path.split("/")[-1]] for s in sources}, tmp_path / "m"
    )
    dest = tmp_path / "schemas"
    (dest / "upstream-v1").mkdir(parents=True)
    (dest / "upstream-v1" / "a.yaml").write_bytes(b"kind: Tampered\n")

    check = fetch_schemas("--lock", str(lock), "--dest", str(dest), "--check")
    assert check.returncode == 1
    assert "upstream-v1/a.yaml: sha256" in check.stderr
    assert "upstream-v1/b.yaml: missing" in check.stderr

    fetched = fetch_schemas("--lock", str(lock), "--base-url", base, "--dest", str(dest))
    assert fetched.returncode == 0, fetched.stderr
    assert (dest / "upstream-v1" / "a.yaml").read_bytes() == CONTENTS["a.yaml"]


def test_plain_http_is_refused(tmp_path: Path):
    lock = lock_for(CONTENTS, tmp_path / "lock.json")
    result = fetch_schemas(
        "--lock", str(lock), "--base-url", "http://127.0.0.1:9", "--dest", str(tmp_path / "d")
    )
    assert result.returncode == 1
    assert "refusing http://" in result.stderr


def test_the_real_list_fetches_from_a_mirror_of_the_real_files(tmp_path: Path):
    """Every entry of the real list, served from a mirror built from the schema directory: all
    pass; one byte changed in one file fails that file."""
    sources = load_sources(LOCK_FILE)
    contents = {s.file: schema_file(*s.file.split("/")).read_bytes() for s in sources}
    base = mirror_of(sources, contents, tmp_path / "m")
    good = fetch_schemas("--base-url", base, "--dest", str(tmp_path / "good"))
    assert good.returncode == 0, good.stderr
    assert verify(sources, tmp_path / "good") == []

    victim = sources[0]
    mirrored = tmp_path / "m" / victim.repository / victim.ref / victim.path
    mirrored.write_bytes(mirrored.read_bytes().replace(b"a", b"b", 1))
    bad = fetch_schemas("--base-url", base, "--dest", str(tmp_path / "bad"))
    assert bad.returncode == 1
    assert f"{victim.file}: sha256 mismatch" in bad.stderr
    assert bad.stderr.count("sha256 mismatch") == 1

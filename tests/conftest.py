"""Shared fixtures: the repository root and a disposable copy of the Pulumi project."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import tests.hypothesis_profiles  # noqa: F401 - registers and loads the Hypothesis profile
from scripts.fetch_schemas import default_schema_dir

REPO = Path(__file__).resolve().parent.parent
# Real CRDs and the qtap chart's values.yaml, which some tests check against, are read from ONE
# schema directory: QTAP_SCHEMA_DIR, else QTAP_SHARED_DIR/schemas, else ../shared/schemas beside
# the checkout. They are never copied into the repository; ./scripts/fetch-schemas downloads
# exactly the files listed in tests/schema-sources.json and checks each sha256.
SCHEMA_DIR = default_schema_dir()
# The workspace's shared/ folder, of which schemas/ is one part (kept for QTAP_SHARED_DIR users).
SHARED = Path(os.environ.get("QTAP_SHARED_DIR") or REPO.parent / "shared")
FETCH_COMMAND = "./scripts/fetch-schemas"


class SchemaDirectoryMissingError(FileNotFoundError):
    pass


def schema_file(*parts: str) -> Path:
    """A file (or folder) of the schema directory; fails, never skips, when it is not there."""
    path = SCHEMA_DIR.joinpath(*parts)
    if not path.exists():
        state = "has no " + "/".join(parts) if SCHEMA_DIR.is_dir() else "does not exist"
        raise SchemaDirectoryMissingError(
            f"the schema directory {SCHEMA_DIR} {state}: the tests read real CRDs and chart "
            f"values from it. Get them with `{FETCH_COMMAND}` (downloads the files listed in "
            "tests/schema-sources.json from GitHub and checks each sha256), or point "
            "QTAP_SCHEMA_DIR (or QTAP_SHARED_DIR, whose schemas/ is used) at a copy"
        )
    return path


def shared_file(*parts: str) -> Path:
    """A file of the shared folder; `shared_file("schemas", ...)` is `schema_file(...)`."""
    if parts and parts[0] == "schemas":
        return schema_file(*parts[1:])
    path = SHARED.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: set QTAP_SHARED_DIR to the shared/ folder beside the checkout"
        )
    return path


STACKS = ("dev", "staging", "prod")
PROJECT_FILES = ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.staging.yaml", "Pulumi.prod.yaml")


def copy_project(destination: Path) -> Path:
    """The project's configuration and snapshots, copied; the code stays in the repository."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        shutil.copy2(REPO / name, destination / name)
    shutil.copytree(REPO / "snapshots", destination / "snapshots")
    return destination


def edit_snapshot(project: Path, stack: str, old: str, new: str) -> Path:
    """Replace `old` (which must occur) by `new` in `stack`'s snapshot of a copied project."""
    path = project / "snapshots" / stack / "qtap-config.yaml"
    text = path.read_text()
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new))
    return project


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")

"""Shared fixtures: the repository root and a disposable copy of the Pulumi project."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import tests.hypothesis_profiles  # noqa: F401 - registers and loads the Hypothesis profile

REPO = Path(__file__).resolve().parent.parent
# The real ESO CRDs and the qtap chart's values.yaml, which some tests check against, live in
# the workspace's shared/ folder beside the checkout (CI lays a copy there); they are read in
# place, never copied into the repository. QTAP_SHARED_DIR points elsewhere if needed.
SHARED = Path(os.environ.get("QTAP_SHARED_DIR") or REPO.parent / "shared")


def shared_file(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: the tests read the real ESO CRDs and chart values from shared/ "
            "beside the checkout; set QTAP_SHARED_DIR to where that folder is"
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

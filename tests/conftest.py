"""Shared fixtures: the repository root and a disposable copy of the Pulumi project."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
STACKS = ("dev", "staging", "prod")
PROJECT_FILES = ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.staging.yaml", "Pulumi.prod.yaml")


def copy_project(destination: Path) -> Path:
    """The project's configuration and snapshots, copied; the code stays in the repository."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        shutil.copy2(REPO / name, destination / name)
    shutil.copytree(REPO / "snapshots", destination / "snapshots")
    return destination


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")

"""The stack file (`Pulumi.<stack>.yaml`) and `Pulumi.yaml` are as hostile as a snapshot
(issue 17, item 8): no symlink followed, nothing but a regular file opened, the size bounded
before reading, and nothing from outside the project printed."""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

import pytest

from qtap_gitops.stackfile import (
    MAX_STACK_FILE_BYTES,
    FileRefusal,
    ProjectError,
    find_project,
    read_settings_file,
)
from tests.tools.cli import qtapctl_inprocess

OUTSIDE_MARKER = "OUTSIDE-STACK-FILE-CONTENT-5f1b"


def replace_with_symlink(path: Path, target: Path | str) -> None:
    path.unlink()
    path.symlink_to(target)


def check_dev(project: Path) -> tuple[int, str]:
    run = qtapctl_inprocess("--project-dir", str(project), "check", "dev")
    return run.status, run.output


def test_a_stack_file_symlink_to_dev_zero_is_refused_at_once(project_copy: Path):
    replace_with_symlink(project_copy / "Pulumi.dev.yaml", "/dev/zero")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    status, output = check_dev(project_copy)
    assert time.monotonic() - started < 5
    # ru_maxrss is in KiB on Linux: reading /dev/zero would grow it without bound.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 * 1024
    assert status == 1
    assert "[settings-file-symlink]" in output
    assert "fix: commit the file itself instead of a symlink" in output
    assert "Traceback" not in output


def test_a_stack_file_symlink_outside_the_project_is_never_read_or_printed(
    project_copy: Path, tmp_path: Path
):
    outside = tmp_path / "outside.yaml"
    outside.write_text(f"config:\n  qtap:namespace: {OUTSIDE_MARKER}\n  bad: [\n")
    replace_with_symlink(project_copy / "Pulumi.dev.yaml", outside)
    for command in (["check", "dev"], ["plan", "dev"]):
        run = qtapctl_inprocess("--project-dir", str(project_copy), *command)
        assert run.status == 1
        assert OUTSIDE_MARKER not in run.output
        assert "settings-file-symlink" in run.output


def test_a_fifo_stack_file_is_refused_without_blocking(project_copy: Path):
    path = project_copy / "Pulumi.dev.yaml"
    path.unlink()
    os.mkfifo(path)
    started = time.monotonic()
    status, output = check_dev(project_copy)
    assert time.monotonic() - started < 5
    assert status == 1
    assert "[settings-file-not-regular]" in output


def test_a_directory_named_like_a_stack_file_is_refused(project_copy: Path):
    path = project_copy / "Pulumi.dev.yaml"
    path.unlink()
    path.mkdir()
    status, output = check_dev(project_copy)
    assert status == 1
    assert "[settings-file-not-regular]" in output


def test_an_oversized_stack_file_is_refused_from_its_size(project_copy: Path):
    path = project_copy / "Pulumi.dev.yaml"
    with path.open("a") as handle:
        handle.write("#" * (MAX_STACK_FILE_BYTES + 10) + "\n")
    status, output = check_dev(project_copy)
    assert status == 1
    assert "[stack-file-too-large]" in output


def test_read_settings_file_never_opens_a_device_or_fifo(tmp_path: Path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert isinstance(read_settings_file(fifo, 100), FileRefusal)
    link = tmp_path / "link"
    link.symlink_to("/dev/zero")
    refusal = read_settings_file(link, 100)
    assert isinstance(refusal, FileRefusal)
    assert refusal.code == "settings-file-symlink"
    with pytest.raises(FileNotFoundError):
        read_settings_file(tmp_path / "missing", 100)


def test_a_symlinked_pulumi_yaml_is_refused(project_copy: Path, tmp_path: Path):
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text(f"name: {OUTSIDE_MARKER}\nruntime: python\n")
    replace_with_symlink(project_copy / "Pulumi.yaml", outside)
    with pytest.raises(ProjectError) as error:
        find_project(project_copy)
    assert "symlink" in str(error.value)
    assert OUTSIDE_MARKER not in str(error.value)
    run = qtapctl_inprocess("--project-dir", str(project_copy), "check")
    assert run.status == 2
    assert OUTSIDE_MARKER not in run.output
    assert "Traceback" not in run.output

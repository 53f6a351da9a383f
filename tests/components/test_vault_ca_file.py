"""The Vault provider's CA file (components/providers.py): written only in this user's 0700
directory, never through a symlink, never taken over from another user (issue 17 item 11)."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

from components.providers import VaultCaFileError, vault_ca_file

CA = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
OTHER_UID = 54321


@pytest.fixture
def tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The machine's shared temporary directory, for this test only."""
    shared = tmp_path / "tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    return shared


def private_dir(tmp: Path) -> Path:
    return tmp / f"qtap-gitops-{os.getuid()}"


def expect_ours(path: Path) -> None:
    info = path.lstat()
    assert stat.S_ISREG(info.st_mode)
    assert info.st_uid == os.getuid()
    assert path.read_text() == CA


def test_the_file_is_in_a_private_directory_and_stable(tmp: Path):
    path = Path(vault_ca_file(CA))
    assert path.parent == private_dir(tmp)
    info = path.parent.lstat()
    assert stat.S_IMODE(info.st_mode) == 0o700
    assert info.st_uid == os.getuid()
    expect_ours(path)
    inode = path.stat().st_ino
    assert vault_ca_file(CA) == str(path)
    assert path.stat().st_ino == inode  # our own file with this content is reused
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_a_pre_planted_symlink_at_the_path_is_replaced_not_followed(tmp: Path):
    path = Path(vault_ca_file(CA))
    path.unlink()
    victim = tmp / "victim"
    victim.write_text(CA)  # even a link to the right content is not a file of ours
    path.symlink_to(victim)
    assert vault_ca_file(CA) == str(path)
    expect_ours(path)
    assert victim.read_text() == CA
    assert not path.is_symlink()


def test_a_file_owned_by_another_user_is_never_reused(tmp: Path):
    path = Path(vault_ca_file(CA))
    os.chown(path, OTHER_UID, OTHER_UID)
    vault_ca_file(CA)
    expect_ours(path)


def test_a_file_with_other_content_is_rewritten(tmp: Path):
    path = Path(vault_ca_file(CA))
    path.write_text("-----BEGIN CERTIFICATE-----\nATTACKER\n-----END CERTIFICATE-----\n")
    vault_ca_file(CA)
    expect_ours(path)


@pytest.mark.parametrize(
    "plant",
    ["world-writable", "group-writable", "other owner", "symlink to a directory", "a file"],
)
def test_an_unsafe_directory_is_refused_and_nothing_written(tmp: Path, plant: str):
    directory = private_dir(tmp)
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    if plant == "symlink to a directory":
        directory.symlink_to(elsewhere, target_is_directory=True)
    elif plant == "a file":
        directory.write_text("")
    else:
        directory.mkdir()
        mode = {"world-writable": 0o777, "group-writable": 0o770}.get(plant, 0o700)
        directory.chmod(mode)
        if plant == "other owner":
            os.chown(directory, OTHER_UID, OTHER_UID)
    with pytest.raises(VaultCaFileError, match="fix: remove"):
        vault_ca_file(CA)
    assert list(elsewhere.iterdir()) == []
    if directory.is_dir() and not directory.is_symlink():
        assert list(directory.iterdir()) == []

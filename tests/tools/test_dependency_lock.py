"""The hashed locks scripts/_venv.sh installs from (requirements.lock for the runtime,
requirements-dev.lock for the tests) pin exactly what constraints.txt pins, and every package in
them carries sha256 digests to check downloads with."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO

DEV_LOCK = REPO / "requirements-dev.lock"
RUNTIME_LOCK = REPO / "requirements.lock"
LOCKS = [RUNTIME_LOCK, DEV_LOCK]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", re.MULTILINE)


def _normalized(pins: list[tuple[str, str]]) -> dict[str, str]:
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in pins}


def _pins(path: Path) -> dict[str, str]:
    return _normalized(PIN.findall(path.read_text()))


def _entries(lock: Path) -> list[str]:
    """The lock's requirement entries, each with its continuation lines."""
    text = lock.read_text()
    return [e for e in re.split(r"\n(?=[A-Za-z0-9])", text) if PIN.match(e)]


def test_the_dev_lock_pins_exactly_what_constraints_pins():
    assert _pins(DEV_LOCK) == _pins(REPO / "constraints.txt")


def test_the_runtime_lock_pins_the_runtime_at_the_constrained_versions():
    runtime = _pins(RUNTIME_LOCK)
    constrained = _pins(REPO / "constraints.txt")
    # Every direct runtime requirement, nothing of the test tools, each at its constraint.
    assert set(_pins(REPO / "requirements.txt")) <= set(runtime)
    assert "pytest" not in runtime
    assert "zizmor" not in runtime
    assert {name: constrained.get(name) for name in runtime} == runtime


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: p.name)
def test_every_locked_package_carries_sha256_digests(lock: Path):
    entries = _entries(lock)
    assert len(entries) == len(PIN.findall(lock.read_text()))
    for entry in entries:
        digests = re.findall(r"--hash=sha256:([0-9a-f]+)", entry)
        assert digests, entry.splitlines()[0]
        assert all(len(d) == 64 for d in digests), entry.splitlines()[0]


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: p.name)
def test_the_lock_names_no_machine_specific_source(lock: Path):
    text = lock.read_text()
    assert "--find-links" not in text
    assert "--index-url" not in text
    assert "--extra-index-url" not in text

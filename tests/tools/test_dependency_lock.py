"""The hashed lock the GitHub test job installs from (QTAP_REQUIRE_HASHES=1) pins exactly what
constraints.txt pins, and every package in it carries sha256 digests to check downloads with."""

from __future__ import annotations

import re

from tests.conftest import REPO

LOCK = REPO / "requirements-dev.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", re.MULTILINE)


def _normalized(pins: list[tuple[str, str]]) -> dict[str, str]:
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in pins}


def _entries() -> list[str]:
    """The lock's requirement entries, each with its continuation lines."""
    text = LOCK.read_text()
    return [e for e in re.split(r"\n(?=[A-Za-z0-9])", text) if PIN.match(e)]


def test_the_lock_pins_exactly_what_constraints_pins():
    locked = _normalized(PIN.findall(LOCK.read_text()))
    constrained = _normalized(PIN.findall((REPO / "constraints.txt").read_text()))
    assert locked == constrained


def test_every_locked_package_carries_sha256_digests():
    entries = _entries()
    assert len(entries) == len(PIN.findall(LOCK.read_text()))
    for entry in entries:
        digests = re.findall(r"--hash=sha256:([0-9a-f]+)", entry)
        assert digests, entry.splitlines()[0]
        assert all(len(d) == 64 for d in digests), entry.splitlines()[0]


def test_the_lock_names_no_machine_specific_source():
    text = LOCK.read_text()
    assert "--find-links" not in text
    assert "--index-url" not in text
    assert "--extra-index-url" not in text

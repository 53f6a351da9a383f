"""A plan shared out among processes is the plan made in one: same stacks, same order, same
bytes, members planned with the outputs of an owner planned in another process."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from qtap_gitops.stackfile import find_project
from qtapctl import fleet_plan
from qtapctl.check import check_project
from qtapctl.fleet_plan import plan_stacks, plan_workers
from tests.conftest import copy_project
from tests.tools.test_fleet_commands import with_prod_eu


def test_a_parallel_plan_is_byte_identical_to_the_serial_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    project = find_project(with_prod_eu(copy_project(tmp_path / "project")))
    stacks = project.stacks()
    assert "prod-eu" in stacks
    checked = check_project(project, stacks)
    serial = plan_stacks(project, stacks, checked, workers=1)
    monkeypatch.setattr(fleet_plan, "MIN_PARALLEL_STACKS", 2)
    parallel = plan_stacks(project, stacks, checked, workers=2)
    assert list(parallel) == stacks
    as_json = {stack: json.dumps(plan.to_json(), sort_keys=True) for stack, plan in serial.items()}
    assert {stack: json.dumps(p.to_json(), sort_keys=True) for stack, p in parallel.items()} == (
        as_json
    )
    # The member's plan names its owner's bucket: the owner's outputs crossed the processes.
    member = parallel["prod-eu"]
    assert member.error is None
    assert member.outputs["buckets"] == parallel["prod"].outputs["buckets"]


@pytest.mark.parametrize(("value", "expected"), [("1", 1), ("3", 3), ("0", 1)])
def test_the_workers_variable_chooses_the_processes(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: int
):
    monkeypatch.setenv(fleet_plan.WORKERS_VARIABLE, value)
    assert plan_workers() == expected


def test_without_the_variable_every_usable_core_plans(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(fleet_plan.WORKERS_VARIABLE, raising=False)
    assert plan_workers() == len(os.sched_getaffinity(0))

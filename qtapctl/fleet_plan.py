"""Offline plans of a fleet: a member's StackReference is answered with its owner's own plan.

A member reads its owner's outputs (`<org>/<project>/<owner>`, see qtap_gitops/fleet.py). Offline
there is no Pulumi service to read them from, so the owner is planned first (whether or not it
was asked for) and its outputs are handed to the member's fake cloud: the member's plan then
shows the owner's real names (bucket, Vault path, key version, snapshot digest), and a change of
the owner's plan changes its members' plans too.

Stacks are planned in waves (owners, then their members); a large wave is shared out among one
process per core. The processes are started fresh (`spawn`), never forked: a fork would copy
the parent's asyncio loop and the Pulumi runtime's threads, and a forked child waited on them
for ever. Each plan is a pure function of the project's files, so the parallel plan is
byte-identical to the serial one (tests/tools/test_fleet_plan_parallel.py).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qtap_gitops.fleet import FleetNode
from qtap_gitops.problems import Problem
from qtap_gitops.settings import FleetSettings
from qtap_gitops.stackfile import Project

from .check import ProjectCheck
from .mock_engine import ORGANIZATION, PROJECT, REDACTED, FakeCloud, Secret
from .plan import PROGRAM, StackPlan, plan_stack

WORKERS_VARIABLE = "QTAP_PLAN_WORKERS"
# A fresh process pays the program's imports (about 1.5 s) before its first plan, and a plan
# takes about 80 ms: below this many stacks a second process would not pay for itself.
MIN_PARALLEL_STACKS = 40


def reference_name(fleet: FleetSettings) -> str:
    """The owner's stack as a member's StackReference names it, offline."""
    return f"{fleet.organization or ORGANIZATION}/{PROJECT}/{fleet.owner}"


def owner_outputs(plan: StackPlan) -> dict[str, Any]:
    """The owner's outputs as its stack would hold them; a value the plan shows redacted is a
    secret output (its value is never known offline, and never needed to review a member)."""
    return {k: Secret(v) if v == REDACTED else v for k, v in plan.outputs.items()}


def plan_workers() -> int:
    """Processes for a large plan: `QTAP_PLAN_WORKERS` if set (1 plans in this process), else
    one per core this process may use."""
    configured = os.environ.get(WORKERS_VARIABLE, "").strip()
    if configured.isdigit():
        return max(1, int(configured))
    return max(1, len(os.sched_getaffinity(0)))


@dataclass(frozen=True)
class _Task:
    """One stack to plan, with everything a fresh process needs for it."""

    project: Project
    stack: str
    refused: tuple[Problem, ...]
    stack_outputs: Mapping[str, Mapping[str, Any]] | None
    program: Path


def _plan_task(task: _Task) -> StackPlan:
    cloud = FakeCloud(stack_outputs=task.stack_outputs) if task.stack_outputs else None
    return plan_stack(
        task.project, task.stack, refused=task.refused, cloud=cloud, program=task.program
    )


_pools: dict[int, ProcessPoolExecutor] = {}


def _pool(workers: int) -> ProcessPoolExecutor:
    """One pool per size for the whole process: `diff` plans two revisions, and a second pool
    would pay the workers' imports again. Python shuts the pool down at exit."""
    if workers not in _pools:
        _pools[workers] = ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn")
        )
    return _pools[workers]


def _plan_wave(tasks: Sequence[_Task], workers: int) -> list[StackPlan]:
    if workers < 2 or len(tasks) < max(MIN_PARALLEL_STACKS, 2):
        return [_plan_task(task) for task in tasks]
    chunks = max(1, len(tasks) // (workers * 4))
    return list(_pool(workers).map(_plan_task, tasks, chunksize=chunks))


def _needed(
    stacks: Sequence[str], nodes: Mapping[str, FleetNode], checked: ProjectCheck
) -> list[str]:
    """`stacks`, and the owner of every member among them that `check` does not refuse."""
    needed = dict.fromkeys(stacks)
    for stack in stacks:
        node = nodes.get(stack)
        if node is not None and node.is_member and not checked.errors(stack):
            needed.setdefault(node.owner)
    return list(needed)


def plan_stacks(
    project: Project,
    stacks: Sequence[str],
    checked: ProjectCheck,
    *,
    program: Path = PROGRAM,
    workers: int | None = None,
) -> dict[str, StackPlan]:
    """Each stack of `stacks` planned; a member after its owner, with the owner's outputs."""
    nodes: Mapping[str, FleetNode] = {n.stack: n for n in checked.fleet}
    workers = plan_workers() if workers is None else workers
    plans: dict[str, StackPlan] = {}
    waiting = _needed(stacks, nodes, checked)
    while waiting:
        before = len(plans)
        wave: list[_Task] = []
        for stack in waiting:
            refused = tuple(checked.errors(stack))
            node = nodes.get(stack)
            # A refused member is never run, so a broken relation (a cycle) is never followed.
            if refused or node is None or not node.is_member:
                wave.append(_Task(project, stack, refused, None, program))
            elif node.owner in plans:
                owner = plans[node.owner]
                if owner.error is not None:
                    plans[stack] = StackPlan(
                        stack,
                        error=f"its owner {node.owner} cannot be planned, so the outputs this "
                        f"stack reads from it are unknown; see the plan of {node.owner}",
                    )
                    continue
                outputs = {reference_name(node.fleet): owner_outputs(owner)}
                wave.append(_Task(project, stack, refused, outputs, program))
        if not wave and len(plans) == before:
            raise AssertionError(f"no stack of {waiting} can be planned: check refuses cycles")
        for task, planned in zip(wave, _plan_wave(wave, workers), strict=True):
            plans[task.stack] = planned
        waiting = [stack for stack in waiting if stack not in plans]
    return {stack: plans[stack] for stack in stacks}

"""Offline plans of a fleet: a member's StackReference is answered with its owner's own plan.

A member reads its owner's outputs (`<org>/<project>/<owner>`, see qtap_gitops/fleet.py). Offline
there is no Pulumi service to read them from, so the owner is planned first (whether or not it
was asked for) and its outputs are handed to the member's fake cloud: the member's plan then
shows the owner's real names (bucket, Vault path, key version, snapshot digest), and a change of
the owner's plan changes its members' plans too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from qtap_gitops.fleet import FleetNode
from qtap_gitops.settings import FleetSettings
from qtap_gitops.stackfile import Project

from .check import ProjectCheck
from .mock_engine import ORGANIZATION, PROJECT, REDACTED, FakeCloud, Secret
from .plan import PROGRAM, StackPlan, plan_stack


def reference_name(fleet: FleetSettings) -> str:
    """The owner's stack as a member's StackReference names it, offline."""
    return f"{fleet.organization or ORGANIZATION}/{PROJECT}/{fleet.owner}"


def owner_outputs(plan: StackPlan) -> dict[str, Any]:
    """The owner's outputs as its stack would hold them; a value the plan shows redacted is a
    secret output (its value is never known offline, and never needed to review a member)."""
    return {k: Secret(v) if v == REDACTED else v for k, v in plan.outputs.items()}


def plan_stacks(
    project: Project,
    stacks: Sequence[str],
    checked: ProjectCheck,
    *,
    program: Path = PROGRAM,
) -> dict[str, StackPlan]:
    """Each stack of `stacks` planned; a member after its owner, with the owner's outputs."""
    nodes: Mapping[str, FleetNode] = {n.stack: n for n in checked.fleet}
    plans: dict[str, StackPlan] = {}

    def plan(stack: str) -> StackPlan:
        if stack in plans:
            return plans[stack]
        refused = checked.errors(stack)
        node = nodes.get(stack)
        cloud = None
        # A refused member is never run, so a broken relation (a cycle) is never followed.
        if not refused and node is not None and node.is_member:
            owner = plan(node.owner)
            if owner.error is not None:
                plans[stack] = StackPlan(
                    stack,
                    error=f"its owner {node.owner} cannot be planned, so the outputs this stack "
                    f"reads from it are unknown; see the plan of {node.owner}",
                )
                return plans[stack]
            cloud = FakeCloud(stack_outputs={reference_name(node.fleet): owner_outputs(owner)})
        plans[stack] = plan_stack(project, stack, refused=refused, cloud=cloud, program=program)
        return plans[stack]

    return {stack: plan(stack) for stack in stacks}

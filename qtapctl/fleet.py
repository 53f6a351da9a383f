"""`qtapctl stacks` and `qtapctl fleet`: the project's stacks in deploy order, and the inventory
of what runs where.

`stacks --format json` is what the workflows read (deploy ring by ring, drift of every stack),
so no workflow names a stack. Its JSON is a list, in deploy order, of objects with exactly these
keys (stable; a new key is an addition, never a rename):

    stack        the stack name (`Pulumi.<stack>.yaml`)
    environment  the Qplane environment it runs (`qtap:fleet.environment`)
    owner        the stack that owns the environment (itself for an owner)
    ring         rollout ring, 0 first (`qtap:fleet.ring`)
    context      `kubernetes:context`, or null when unset
    delivery     `helm`, `argocd` or `flux` (`qtap:delivery.mode`)
    secrets      the secrets backend (`qtap:secrets.backend`)

Only the settings are read (no snapshot), so the list is cheap; the relation's own contract
(missing owner, owner that is a member, cycles, rings) is still checked and refuses the list.

`fleet --format json` is `{"stacks": [...], "environments": [...]}`: one object per stack with
the fields of `InventoryRow`, and per environment its `stacks`, the distinct snapshot `digests`
they run, `complete` (every cluster's snapshot is known) and `same_snapshot`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

from qtap_gitops.chart_versions import app_version
from qtap_gitops.deployment import Deployment
from qtap_gitops.fleet import FleetNode, deploy_key, deploy_order, node_of
from qtap_gitops.fleet import relation_problems as fleet_relation_problems
from qtap_gitops.problems import Problem
from qtap_gitops.settings import StackSettings, check_settings
from qtap_gitops.stackfile import Project, load_stack_config

from .check import check_project, problems_block, project_stacks
from .escape import md_code, md_text, terminal_line

STACK_KEYS = ("stack", "environment", "owner", "ring", "context", "delivery", "secrets")


@dataclass(frozen=True)
class StackEntry:
    stack: str
    environment: str
    owner: str
    ring: int
    context: str | None
    delivery: str
    secrets: str


def _entry(settings: StackSettings, context: str | None) -> StackEntry:
    fleet = settings.fleet
    return StackEntry(
        stack=settings.stack,
        environment=fleet.environment,
        owner=fleet.owner,
        ring=fleet.ring,
        context=context,
        delivery=settings.delivery.mode.value,
        secrets=settings.secrets.backend.value,
    )


def list_stacks(project: Project) -> tuple[list[StackEntry], list[Problem]]:
    """Every stack in deploy order, or the problems that keep the order from being known."""
    entries: dict[str, StackEntry] = {}
    nodes: list[FleetNode] = []
    problems: list[Problem] = []
    known = project_stacks(project)
    for stack in known:
        raw, load_problems = load_stack_config(project, stack)
        if raw is None:
            problems.extend(load_problems)
            continue
        settings, setting_problems = check_settings(raw)
        if settings is None:
            problems.extend(p for p in setting_problems if p.is_error)
            continue
        entries[stack] = _entry(settings, raw.values.get("kubernetes:context") or None)
        nodes.append(node_of(settings, raw))
    problems.extend(problem for _, problem in fleet_relation_problems(nodes, known))
    return [entries[node.stack] for node in deploy_order(nodes)], problems


def render_stacks_json(entries: Sequence[StackEntry]) -> str:
    return json.dumps([asdict(e) for e in entries], indent=2) + "\n"


def render_stacks_text(entries: Sequence[StackEntry]) -> str:
    rows = [list(STACK_KEYS)] + [
        [terminal_line("-" if v is None else v) for v in asdict(e).values()] for e in entries
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(STACK_KEYS))]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        + "\n"
        for row in rows
    )


STACK_RENDERERS = {"json": render_stacks_json, "text": render_stacks_text}


def run_stacks(project: Project, fmt: str, out: TextIO, err: TextIO) -> int:
    entries, problems = list_stacks(project)
    if problems:
        # Nothing on stdout: a workflow reading it must never deploy a partial list.
        err.write(problems_block(problems) + "\n")
        err.write("stacks: the deploy order cannot be known until these are fixed\n")
        return 1
    out.write(STACK_RENDERERS[fmt](entries))
    return 0


# -- the inventory --------------------------------------------------------------------------


@dataclass
class InventoryRow:
    stack: str
    environment: str | None
    """None (and so owner and ring) when the stack's settings do not parse."""
    owner: str | None
    ring: int | None
    chart_version: str | None = None
    app_version: str | None = None
    delivery: str | None = None
    secrets: str | None = None
    credentials: str | None = None
    """`static key`, `keyless (irsa|pod-identity)`, or `none` (no AWS bucket)."""
    stores: list[str] = field(default_factory=list)
    snapshot_sha256: str | None = None
    protection: str | None = None
    """The bucket's `protect`/`versioning`; a member's bucket is its owner's."""
    errors: list[str] = field(default_factory=list)


@dataclass
class EnvironmentSummary:
    environment: str
    stacks: list[str] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)
    """The distinct snapshot digests its clusters run."""
    complete: bool = True
    """Every cluster's snapshot is known (none fails its checks)."""

    @property
    def same_snapshot(self) -> bool:
        return self.complete and len(self.digests) == 1


def _credentials(deployment: Deployment) -> str:
    identity = deployment.settings.object_store.identity
    if identity is not None:
        return f"keyless ({identity.value})"
    return "static key" if deployment.snapshot.aws_stores else "none"


def _stores(deployment: Deployment) -> list[str]:
    snapshot = deployment.snapshot
    stores = [
        f"s3 {store.bucket}" + ("" if store.aws_managed else f" ({store.endpoint})")
        for store in snapshot.s3_stores
    ]
    return stores + (["pulse"] if snapshot.has_pulse_store else [])


def _protection(deployment: Deployment, node: FleetNode) -> str:
    if node.is_member:
        return f"owner's bucket ({node.owner})"
    store = deployment.settings.object_store
    flags = [f for f, on in (("protect", store.protect), ("versioning", store.versioning)) if on]
    return ", ".join(flags) or "none"


def _row(node: FleetNode, deployment: Deployment | None, errors: list[Problem]) -> InventoryRow:
    row = InventoryRow(node.stack, node.fleet.environment, node.owner, node.fleet.ring)
    row.errors = [_first_line(p) for p in errors]
    if deployment is not None:
        settings = deployment.settings
        row.chart_version = settings.chart.version
        row.app_version = app_version(settings.chart.version)
        row.delivery = settings.delivery.mode.value
        row.secrets = settings.secrets.backend.value
        row.credentials = _credentials(deployment)
        row.stores = _stores(deployment)
        row.snapshot_sha256 = deployment.snapshot.sha256
        row.protection = _protection(deployment, node)
    return row


def _first_line(problem: Problem) -> str:
    return problem.format().split("\n", 1)[0]


def inventory(project: Project) -> tuple[list[InventoryRow], list[EnvironmentSummary]]:
    """One row per stack in deploy order (stacks whose settings do not parse last), and per
    environment whether all its clusters run one snapshot."""
    stacks = project_stacks(project)
    checked = check_project(project, stacks)
    rows = [
        _row(node, checked.reports[node.stack].deployment, checked.errors(node.stack))
        for node in sorted(checked.fleet, key=deploy_key)
    ]
    placed = {row.stack for row in rows}
    rows += [
        InventoryRow(s, None, None, None, errors=[_first_line(p) for p in checked.errors(s)])
        for s in stacks
        if s not in placed
    ]
    environments: dict[str, EnvironmentSummary] = {}
    for row in rows:
        if row.environment is None:
            continue
        summary = environments.setdefault(row.environment, EnvironmentSummary(row.environment))
        summary.stacks.append(row.stack)
        if row.snapshot_sha256 is None:
            summary.complete = False
        elif row.snapshot_sha256 not in summary.digests:
            summary.digests.append(row.snapshot_sha256)
    return rows, sorted(environments.values(), key=lambda e: e.environment)


def render_inventory_json(
    rows: Sequence[InventoryRow], environments: Sequence[EnvironmentSummary]
) -> str:
    payload: dict[str, Any] = {
        "stacks": [asdict(r) for r in rows],
        "environments": [{**asdict(e), "same_snapshot": e.same_snapshot} for e in environments],
    }
    return json.dumps(payload, indent=2, sort_keys=True) + "\n"


def _cell(value: object) -> str:
    return "-" if value in (None, "", []) else md_text(value)


def render_inventory_markdown(
    rows: Sequence[InventoryRow], environments: Sequence[EnvironmentSummary]
) -> str:
    out = io.StringIO()
    out.write("# Qtap fleet\n\n")
    out.write(
        "| stack | environment | ring | chart | app | delivery | secrets | S3 credentials "
        "| stores | snapshot sha256 | protection |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    for row in rows:
        role = "" if row.owner in (row.stack, None) else f" (member of {md_code(row.owner)})"
        digest = md_code(row.snapshot_sha256[:12]) if row.snapshot_sha256 else "-"
        out.write(
            f"| {md_code(row.stack)}{role} | {_cell(row.environment)} | {_cell(row.ring)} "
            f"| {_cell(row.chart_version)} | {_cell(row.app_version or 'unknown')} "
            f"| {_cell(row.delivery)} | {_cell(row.secrets)} | {_cell(row.credentials)} "
            f"| {_cell(', '.join(row.stores))} | {digest} | {_cell(row.protection)} |\n"
        )
    out.write("\n## Environments\n\n| environment | clusters | one snapshot |\n|---|---|---|\n")
    for env in environments:
        digests = ", ".join(md_code(d[:12]) for d in env.digests)
        if env.same_snapshot:
            same = f"yes ({digests})"
        elif env.complete:
            same = f"**no**: {digests}"
        else:
            same = "**unknown**: a cluster fails its checks"
        stacks = ", ".join(md_code(s) for s in env.stacks)
        out.write(f"| {md_text(env.environment)} | {stacks} | {same} |\n")
    failing = [row for row in rows if row.errors]
    if failing:
        out.write("\n## Stacks that fail their checks\n\n")
        for row in failing:
            out.write(f"- {md_code(row.stack)}: " + "; ".join(md_code(e) for e in row.errors))
            out.write("\n")
    return out.getvalue()


INVENTORY_RENDERERS = {"json": render_inventory_json, "markdown": render_inventory_markdown}


def run_fleet(project: Project, fmt: str, out: TextIO) -> int:
    rows, environments = inventory(project)
    out.write(INVENTORY_RENDERERS[fmt](rows, environments))
    return 1 if any(row.errors for row in rows) else 0

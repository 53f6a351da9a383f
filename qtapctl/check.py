"""`qtapctl check`: the snapshot contract, the settings and the env bindings of every stack.

Every tool starts from `check_project`, so `plan`, `diff` and `import` refuse exactly what
`check` refuses, cross-stack conflicts included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TextIO

from qtap_gitops.cross_stack import (
    CrossStackProblem,
    cross_stack_conflicts,
    fleet_conflicts,
    problems_of,
)
from qtap_gitops.deployment import DeploymentReport, check_deployment
from qtap_gitops.esc import PROVIDED_CODE, load_stack_environments, split_pending
from qtap_gitops.fleet import FleetNode, node_of
from qtap_gitops.identity import describe_identity
from qtap_gitops.problems import Problem, sort_problems
from qtap_gitops.settings import check_settings
from qtap_gitops.stackfile import Project, load_stack_config

from .escape import terminal_line


@dataclass(frozen=True)
class Replacement:
    """A snapshot checked in place of a stack's committed one (the export `import` writes)."""

    data: bytes
    source: str


@dataclass
class ProjectCheck:
    reports: dict[str, DeploymentReport]
    conflicts: list[CrossStackProblem] = field(default_factory=list)
    fleet: list[FleetNode] = field(default_factory=list)
    """Every stack whose settings parse, as the fleet relation sees it (see fleet.py)."""

    def errors(self, stack: str) -> list[Problem]:
        """Everything that stops `stack`: its own errors and the conflicts it takes part in."""
        return self.reports[stack].errors + problems_of(stack, self.conflicts)

    def shared(self, stacks: Sequence[str]) -> list[Problem]:
        return [c.problem for c in self.conflicts if set(c.stacks) & set(stacks)]


def check_stack(
    project: Project,
    stack: str,
    *,
    require_secrets: bool,
    replacement: Replacement | None = None,
) -> DeploymentReport:
    raw, problems = load_stack_config(project, stack)
    if raw is None:
        return DeploymentReport(stack, problems=problems)
    # Secrets an imported Pulumi ESC environment may hold are provided at deploy time, not
    # missing; --require-secrets accepts them (see qtap_gitops/esc.py).
    path = project.stack_file(stack)
    environments, env_problems = load_stack_environments(path, project.display(path))
    if env_problems:
        return DeploymentReport(stack, problems=env_problems)
    report = check_deployment(
        raw,
        project.directory,
        require_secrets=require_secrets and not environments,
        snapshot_bytes=replacement.data if replacement else None,
        snapshot_source=replacement.source if replacement else None,
    )
    missing, provided = split_pending(report.pending, environments)
    report.pending = missing + provided
    return report


def check_project(
    project: Project,
    stacks: Sequence[str],
    *,
    require_secrets: bool = False,
    replacements: Mapping[str, Replacement] | None = None,
) -> ProjectCheck:
    """`stacks` checked, and every stack of the project checked against them for conflicts."""
    every = list(dict.fromkeys([*stacks, *project_stacks(project)]))
    reports = {
        stack: check_stack(
            project,
            stack,
            require_secrets=require_secrets and stack in stacks,
            replacement=(replacements or {}).get(stack),
        )
        for stack in every
    }
    ordered = [reports[s] for s in project_stacks(project) if s in reports]
    ordered += [r for s, r in reports.items() if r not in ordered]
    nodes = fleet_nodes(project, reports)
    conflicts = cross_stack_conflicts(ordered) + fleet_conflicts(nodes, list(reports))
    return ProjectCheck(reports, conflicts, nodes)


def fleet_nodes(project: Project, reports: Mapping[str, DeploymentReport]) -> list[FleetNode]:
    """The fleet relation of the checked stacks: a stack whose settings do not parse has no
    place in it (its owner or members are told it fails its checks)."""
    nodes = []
    for stack, report in reports.items():
        raw, _ = load_stack_config(project, stack)
        settings = check_settings(raw)[0] if raw is not None else None
        if settings is None:
            continue
        deployment = report.deployment
        nodes.append(
            node_of(
                settings,
                raw,
                snapshot_sha256=deployment.snapshot.sha256 if deployment else None,
                passes=deployment is not None,
            )
        )
    return nodes


def valid_stack_name(name: str) -> bool:
    """Pulumi's rule for stack names: letters, digits, '-', '_' and '.', not empty."""
    return bool(name) and name.isascii() and all(c.isalnum() or c in "-_." for c in name)


def project_stacks(project: Project) -> list[str]:
    """The project's stacks; a file like `Pulumi..yaml` names no stack and is left out."""
    return [s for s in project.stacks() if valid_stack_name(s)]


def containment_problem(project: Project) -> str | None:
    """Why the project's stack files cannot be trusted to stay inside it, if they cannot."""
    root = project.directory.resolve()
    config_dir = project.stack_config_dir.resolve()
    if config_dir != root and root not in config_dir.parents:
        return (
            "Pulumi.yaml's stackConfigDir leads outside the project directory; "
            "keep the stack settings files inside the project"
        )
    return None


def render_report(report: DeploymentReport, out: TextIO) -> None:
    deployment = report.deployment
    status = "ok" if not report.errors else f"{len(report.errors)} error(s)"
    out.write(f"== stack {terminal_line(report.stack)}: {status}\n")
    if deployment is not None:
        snapshot = deployment.snapshot
        out.write(
            f"   snapshot {terminal_line(snapshot.file)} ({len(snapshot.raw)} bytes, "
            f"sha256 {snapshot.sha256[:12]})\n"
        )
        out.write("   env bindings:\n")
        width = max((len(terminal_line(b.name)) for b in deployment.bindings), default=0)
        for binding in deployment.bindings:
            out.write(
                f"     {terminal_line(binding.name).ljust(width)}  <- "
                f"{terminal_line(binding.source.describe())}"
                f"  [vault property {terminal_line(binding.vault_property)}]\n"
            )
        if not deployment.bindings:
            out.write("     (the snapshot references no env variables)\n")
        identity = describe_identity(deployment.settings, snapshot)
        if identity:  # keyless S3: which role serves which store
            out.write("   workload identity (no static AWS key):\n")
            out.write("".join(f"     {terminal_line(line)}\n" for line in identity))
    to_set = [p for p in report.pending if p.code != PROVIDED_CODE]
    from_environment = [p for p in report.pending if p.code == PROVIDED_CODE]
    if to_set:
        out.write("   secrets to set before `pulumi up` (not stored in the stack file):\n")
        for problem in to_set:
            out.write(
                f"     - {terminal_line(problem.message)}\n       {terminal_line(problem.fix)}\n"
            )
    if from_environment:
        out.write("   secrets provided at deploy time by Pulumi ESC (not checked offline):\n")
        for problem in from_environment:
            out.write(
                f"     - {terminal_line(problem.message)}\n       {terminal_line(problem.fix)}\n"
            )
    if report.problems:
        out.write("   " + problems_block(report.problems).replace("\n", "\n   ") + "\n")


def problems_block(problems: Sequence[Problem]) -> str:
    """Problems for a terminal, one line each plus its `fix:` line: a newline inside a key or
    message (they quote the user's file) cannot start a line of its own."""
    lines = []
    for problem in sort_problems(problems):
        lines.append(terminal_line(replace(problem, fix="").format()))
        if problem.fix:
            lines.append(f"    fix: {terminal_line(problem.fix)}")
    return "\n".join(lines)


def run_check(
    project: Project, stacks: Sequence[str], out: TextIO, *, require_secrets: bool = False
) -> int:
    checked = check_project(project, stacks, require_secrets=require_secrets)
    shared = checked.shared(stacks)
    for stack in stacks:
        render_report(checked.reports[stack], out)
    if shared:
        out.write("== across stacks\n   " + problems_block(shared).replace("\n", "\n   ") + "\n")
    failed = [s for s in stacks if checked.reports[s].errors]
    if failed or shared:
        names = ", ".join(terminal_line(s) for s in failed)
        out.write(f"check failed: {names or 'cross-stack conflicts'}\n")
        return 1
    out.write(f"check passed: {', '.join(terminal_line(s) for s in stacks)}\n")
    return 0

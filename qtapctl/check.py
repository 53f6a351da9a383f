"""`qtapctl check`: the snapshot contract, the settings and the env bindings of every stack."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from qtap_gitops.deployment import DeploymentReport, check_deployment
from qtap_gitops.esc import PROVIDED_CODE, load_stack_environments, split_pending
from qtap_gitops.identity import describe_identity
from qtap_gitops.problems import Problem, Severity, format_problems
from qtap_gitops.stackfile import Project, load_stack_config


@dataclass
class StackCheck:
    stack: str
    report: DeploymentReport


def check_stack(project: Project, stack: str, *, require_secrets: bool) -> DeploymentReport:
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
        raw, project.directory, require_secrets=require_secrets and not environments
    )
    missing, provided = split_pending(report.pending, environments)
    report.pending = missing + provided
    return report


def cross_stack_problems(reports: Sequence[DeploymentReport]) -> list[Problem]:
    """Two stacks must never own the same bucket, or the same secret, role or policy in one Vault."""
    problems: list[Problem] = []
    buckets: dict[str, str] = {}
    vault_names: dict[tuple[str, str, str], str] = {}
    for report in reports:
        deployment = report.deployment
        if deployment is None:
            continue
        for store in deployment.snapshot.aws_stores:
            other = buckets.setdefault(store.bucket, deployment.stack)
            if other != deployment.stack:
                problems.append(
                    Problem(
                        severity=Severity.ERROR,
                        code="shared-bucket",
                        file=deployment.snapshot.file,
                        line=store.line,
                        column=None,
                        yaml_path=store.yaml_path,
                        message=f"bucket {store.bucket} is also created by stack {other}; two stacks "
                        "cannot own one bucket",
                        fix="give each environment its own bucket in Qplane",
                    )
                )
        vault = deployment.settings.vault
        if vault is None:
            continue
        # Within one Vault server, each of these names belongs to exactly one stack.
        for what, name, setting in (
            ("secret", f"{vault.kv_mount}/{vault.path}", "qtap:vault.path"),
            ("kubernetes-auth role", f"{vault.auth_mount}/{vault.role}", "qtap:vault.role"),
            ("policy", vault.policy_name, "qtap:vault.role"),
        ):
            owner = vault_names.setdefault((vault.address, what, name), deployment.stack)
            if owner != deployment.stack:
                problems.append(
                    Problem(
                        severity=Severity.ERROR,
                        code="shared-vault-name",
                        file=deployment.settings.source,
                        line=None,
                        column=None,
                        yaml_path=setting,
                        message=f"stack {owner} already uses the Vault {what} {name} at {vault.address}; "
                        "each stack would overwrite the other's",
                        fix=f"give this stack its own {setting}",
                    )
                )
    return problems


def render_report(report: DeploymentReport, out: TextIO) -> None:
    deployment = report.deployment
    status = "ok" if not report.errors else f"{len(report.errors)} error(s)"
    out.write(f"== stack {report.stack}: {status}\n")
    if deployment is not None:
        snapshot = deployment.snapshot
        out.write(
            f"   snapshot {snapshot.file} ({len(snapshot.raw)} bytes, sha256 {snapshot.sha256[:12]})\n"
        )
        out.write("   env bindings:\n")
        width = max((len(b.name) for b in deployment.bindings), default=0)
        for binding in deployment.bindings:
            out.write(
                f"     {binding.name.ljust(width)}  <- {binding.source.describe()}"
                f"  [vault property {binding.vault_property}]\n"
            )
        if not deployment.bindings:
            out.write("     (the snapshot references no env variables)\n")
        identity = describe_identity(deployment.settings, snapshot)
        if identity:  # keyless S3: which role serves which store
            out.write("   workload identity (no static AWS key):\n")
            out.write("".join(f"     {line}\n" for line in identity))
    to_set = [p for p in report.pending if p.code != PROVIDED_CODE]
    from_environment = [p for p in report.pending if p.code == PROVIDED_CODE]
    if to_set:
        out.write("   secrets to set before `pulumi up` (not stored in the stack file):\n")
        for problem in to_set:
            out.write(f"     - {problem.message}\n       {problem.fix}\n")
    if from_environment:
        out.write("   secrets provided at deploy time by Pulumi ESC (not checked offline):\n")
        for problem in from_environment:
            out.write(f"     - {problem.message}\n       {problem.fix}\n")
    if report.problems:
        out.write("   " + format_problems(report.problems).replace("\n", "\n   ") + "\n")


def run_check(
    project: Project, stacks: Sequence[str], out: TextIO, *, require_secrets: bool = False
) -> int:
    reports = [check_stack(project, s, require_secrets=require_secrets) for s in stacks]
    shared = cross_stack_problems(reports) if len(reports) > 1 else []
    for report in reports:
        render_report(report, out)
    if shared:
        out.write("== across stacks\n   " + format_problems(shared).replace("\n", "\n   ") + "\n")
    failed = [r.stack for r in reports if r.errors]
    if failed or shared:
        out.write(f"check failed: {', '.join(failed) or 'cross-stack conflicts'}\n")
        return 1
    out.write(f"check passed: {', '.join(stacks)}\n")
    return 0

"""Everything one stack deploys, checked together: settings, snapshot and env bindings.

The Pulumi program and the offline tools share this: the program calls `prepare_deployment`
with `require_secrets=True` and registers nothing unless it returns; the check command reports
unset secrets as pending (they may be supplied at deploy time, e.g. by CI).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .bindings import (
    EnvBinding,
    SecretInventory,
    conflicting_secret_env,
    derive_bindings,
    unresolved_sources,
    unused_secrets,
)
from .identity import check_identity
from .paths import PathRefusal, read_snapshot
from .problems import ContractError, Problem, problem
from .provider_settings import ProviderSettings, check_provider_settings, check_stack_file
from .release_values import check_chart_values, check_extra_env_against_bindings
from .settings import (
    NAMESPACE,
    RawStackConfig,
    SealedSecretsBackendSettings,
    StackSettings,
    check_settings,
    kms_region_problems,
    position_of,
)
from .snapshot import (
    MAX_SNAPSHOT_BYTES,
    Snapshot,
    SnapshotReport,
    check_snapshot,
    check_snapshot_bytes,
)


@dataclass(frozen=True)
class Deployment:
    settings: StackSettings
    snapshot: Snapshot
    bindings: tuple[EnvBinding, ...]
    warnings: tuple[Problem, ...]
    pending: tuple[Problem, ...] = ()
    providers: ProviderSettings | None = None
    """Settings of the explicit providers (kubernetes:context, aws:region, regions)."""
    positions: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """Where each setting is in the stack file (RawStackConfig.positions), for problems found
    across stacks."""

    @property
    def stack(self) -> str:
        return self.settings.stack


@dataclass
class DeploymentReport:
    stack: str
    problems: list[Problem] = field(default_factory=list)
    pending: list[Problem] = field(default_factory=list)
    deployment: Deployment | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]


def _snapshot_report(
    raw: RawStackConfig, settings: StackSettings, project_dir: Path
) -> SnapshotReport | Problem:
    """The committed snapshot, read only if `qtap:snapshot` stays inside the project."""
    relative = settings.snapshot_path
    data = read_snapshot(project_dir, relative, MAX_SNAPSHOT_BYTES)
    if isinstance(data, PathRefusal):
        key = f"{NAMESPACE}:snapshot"
        where = position_of(raw.positions, key)
        return problem("snapshot-path", settings.source, where, key, data.message, data.fix)
    if data is None:  # missing: the snapshot check says so in its own words
        return check_snapshot(project_dir / relative, relative, strict=settings.strict_snapshot)
    return check_snapshot_bytes(data, relative, strict=settings.strict_snapshot)


def _value_problems(raw: RawStackConfig, settings: StackSettings) -> list[Problem]:
    """The settings' values judged by what consumes them: the chart, and kubeseal."""
    problems = check_chart_values(
        settings.chart.values,
        settings.source,
        raw.positions,
        identity=settings.object_store.identity,
    )
    if isinstance(settings.secrets, SealedSecretsBackendSettings):
        # The controller's certificate must be able to seal (kubeseal's checks); cryptography
        # is imported by the stacks that seal, not by every stack.
        from .sealing import certificate_problems

        certificate = settings.secrets.sealed_secrets.certificate
        problems += certificate_problems(
            certificate, source=settings.source, positions=raw.positions
        )
    return problems


def check_deployment(
    raw: RawStackConfig,
    project_dir: Path,
    *,
    require_secrets: bool,
    snapshot_bytes: bytes | None = None,
    snapshot_source: str | None = None,
) -> DeploymentReport:
    """Check one stack. `snapshot_bytes` (named `snapshot_source` in messages) stands in for the
    committed snapshot: `import` checks an export as if it were committed, before writing it."""
    report = DeploymentReport(raw.stack)
    settings, setting_problems = check_settings(raw)
    report.problems.extend(setting_problems)
    # The rest of the stack file is judged with the settings, so one run names every mistake.
    report.problems.extend(check_stack_file(raw))
    if settings is None:
        return report
    report.problems.extend(_value_problems(raw, settings))

    if snapshot_bytes is not None:
        read: SnapshotReport | Problem = check_snapshot_bytes(
            snapshot_bytes,
            snapshot_source or settings.snapshot_path,
            strict=settings.strict_snapshot,
        )
    else:
        read = _snapshot_report(raw, settings, project_dir)
    if isinstance(read, Problem):
        report.problems.append(read)
        return report
    snapshot_report = read
    report.problems.extend(snapshot_report.problems)
    snapshot = snapshot_report.snapshot
    if snapshot is None:
        return report

    report.problems.extend(kms_region_problems(settings, snapshot, raw.positions))
    bindings, binding_problems = derive_bindings(snapshot)
    report.problems.extend(binding_problems)
    # Keyless S3: keys vs workload identity, snapshot against settings.
    report.problems.extend(check_identity(settings, snapshot, raw.positions))
    report.problems.extend(
        check_extra_env_against_bindings(settings.chart.values, bindings, settings.source)
    )
    inventory = SecretInventory(
        settings.stack, settings.source, settings.registration_token_set, settings.secret_env_names
    )
    report.problems.extend(conflicting_secret_env(bindings, inventory))
    report.problems.extend(unused_secrets(snapshot, bindings, inventory))
    missing = unresolved_sources(snapshot, bindings, inventory)
    providers, provider_problems = check_provider_settings(
        raw, settings, (store.region for store in snapshot.aws_stores)
    )
    report.problems.extend(provider_problems)
    if require_secrets:
        report.problems.extend(missing)
    else:
        report.pending.extend(missing)
    if report.errors:
        return report
    report.deployment = Deployment(
        settings=settings,
        snapshot=snapshot,
        bindings=tuple(bindings),
        warnings=tuple(report.warnings),
        pending=tuple(report.pending),
        providers=providers,
        positions=raw.positions,
    )
    return report


def prepare_deployment(raw: RawStackConfig, project_dir: Path) -> Deployment:
    """The checked deployment of one stack, or a `ContractError` with every problem found."""
    report = check_deployment(raw, project_dir, require_secrets=True)
    if report.deployment is None:
        raise ContractError(report.problems)
    return report.deployment

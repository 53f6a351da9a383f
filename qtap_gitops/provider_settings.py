"""The provider settings of a stack: which cluster, which AWS regions, which Vault.

The program builds one explicit provider per concern from these (default providers are
disabled in every stack file), so a stack that names no Kubernetes context is refused here,
before anything is registered, instead of deploying to whatever context the machine has.
Where Pulumi writes Vault secrets and where ESO reads them is one setting, `qtap:vault.address`;
a `vault:address` that says otherwise is an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .problems import Problem, Severity
from .settings import RawStackConfig, StackSettings, position_of

KUBERNETES_CONTEXT = "kubernetes:context"
AWS_REGION = "aws:region"
VAULT_ADDRESS = "vault:address"
PROVIDER_KEYS = (KUBERNETES_CONTEXT, AWS_REGION, VAULT_ADDRESS)
DISABLE_DEFAULT_PROVIDERS = "pulumi:disable-default-providers"


@dataclass(frozen=True)
class ProviderSettings:
    kubernetes_context: str
    aws_region: str | None
    """The stack's default AWS region (IAM and buckets in it); None when it has no AWS store."""
    aws_regions: tuple[str, ...] = ()
    """Every region a bucket of the snapshot lives in, sorted; one AWS provider each."""


def _problem(
    raw: RawStackConfig, key: str, code: str, message: str, fix: str, severity: Severity
) -> Problem:
    line, column = position_of(raw.positions, key)
    return Problem(
        severity=severity,
        code=code,
        file=raw.source,
        line=line,
        column=column,
        yaml_path=key,
        message=message,
        fix=fix,
    )


def check_provider_settings(
    raw: RawStackConfig, settings: StackSettings, bucket_regions: Iterable[str]
) -> tuple[ProviderSettings | None, list[Problem]]:
    """The explicit providers' settings, or the problems that stop the stack."""
    values: Mapping[str, str] = raw.values
    problems: list[Problem] = []
    context = (values.get(KUBERNETES_CONTEXT) or "").strip()
    if not context:
        problems.append(
            _problem(
                raw,
                KUBERNETES_CONTEXT,
                "provider-config-missing",
                "is required and not set: the stack would deploy to whatever cluster the "
                "machine's current kubeconfig context points at",
                f"pulumi config set kubernetes:context <context> --stack {raw.stack}",
                Severity.ERROR,
            )
        )
    regions = tuple(sorted(set(bucket_regions)))
    region = (values.get(AWS_REGION) or "").strip() or None
    if regions and region is None:
        problems.append(
            _problem(
                raw,
                AWS_REGION,
                "provider-config-missing",
                "is required and not set: the snapshot has AWS s3 stores, and the writer's IAM "
                "user is created through the stack's default AWS region",
                f"pulumi config set aws:region {regions[0]} --stack {raw.stack}",
                Severity.ERROR,
            )
        )
    vault_address = (values.get(VAULT_ADDRESS) or "").strip()
    vault = settings.vault
    if vault_address and vault is not None and vault_address.rstrip("/") != vault.address:
        problems.append(
            _problem(
                raw,
                VAULT_ADDRESS,
                "provider-config-mismatch",
                f"{vault_address!r} differs from qtap:vault.address {vault.address!r}: "
                "Pulumi would write the secret to one Vault and ESO read it from another",
                f"remove vault:address from {raw.source}; the program's Vault provider "
                "uses qtap:vault.address",
                Severity.ERROR,
            )
        )
    if any(p.is_error for p in problems):
        return None, problems
    return ProviderSettings(context, region, regions), problems

"""The explicit providers of one stack, built from its checked settings.

Every stack file sets `pulumi:disable-default-providers: ["*"]`, so a resource that forgets its
provider fails instead of silently using a default one configured from the machine (another
kubeconfig context, another region, another Vault). `__main__.py` builds these once and hands
them to `QtapEnvironment` (Kubernetes, Vault and the default AWS region through `providers=`,
inherited by every child; the AWS provider of each bucket's region through its args).
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random
import pulumi_vault as vault

from qtap_gitops.provider_settings import ProviderSettings
from qtap_gitops.settings import VaultSettings


@dataclass(frozen=True)
class StackProviders:
    kubernetes: k8s.Provider
    vault_provider: vault.Provider | None
    default_aws: aws.Provider | None
    """The stack's default AWS region (aws:region); None when the snapshot has no AWS store."""
    aws_by_region: dict[str, aws.Provider] = field(default_factory=dict)
    random_provider: random.Provider | None = None
    """Only with the sealed-secrets backend (its sealing key); no other stack has one."""

    def all(self) -> list[pulumi.ProviderResource]:
        found: list[pulumi.ProviderResource] = [self.kubernetes]
        if self.vault_provider is not None:
            found.append(self.vault_provider)
        if self.random_provider is not None:
            found.append(self.random_provider)
        if self.default_aws is not None:
            found.append(self.default_aws)
        return found


def vault_ca_file(ca_bundle: str) -> str:
    """A file holding `ca_bundle`, for the Vault provider.

    pulumi_vault.Provider takes a CA only as a path (`ca_cert_file`/`ca_cert_dir`), not as PEM
    text. The path is derived from the content, so it is the same on every run and machine
    that has the same temporary directory, and the provider's configuration does not change
    between runs. A CA certificate is public; writing it out reveals nothing.
    """
    digest = hashlib.sha256(ca_bundle.encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"qtap-vault-ca-{digest}.pem"
    if not path.is_file() or path.read_text(encoding="utf-8") != ca_bundle:
        path.write_text(ca_bundle, encoding="utf-8")
    return str(path)


def build_providers(
    name: str,
    settings: ProviderSettings,
    vault_settings: VaultSettings | None,
    *,
    vault_token: pulumi.Input[str] | None = None,
    vault_skip_child_token: bool | None = None,
    sealing_key: bool = False,
) -> StackProviders:
    """`vault_token`/`vault_skip_child_token` are the stack's `vault:token` and
    `vault:skipChildToken`, which configured the default provider before; without a token the
    provider reads VAULT_TOKEN (or ~/.vault-token), as the default one did. Credentials for AWS
    and the kubeconfig come from the environment as before."""
    kubernetes = k8s.Provider(f"{name}-kubernetes", context=settings.kubernetes_context)
    vault_provider = None
    if vault_settings is not None:
        # The same address and CA as ESO's SecretStore: Pulumi writes where the agent reads.
        vault_provider = vault.Provider(
            f"{name}-vault",
            address=vault_settings.address,
            ca_cert_file=vault_ca_file(vault_settings.ca_bundle)
            if vault_settings.ca_bundle
            else None,
            token=pulumi.Output.secret(vault_token) if vault_token is not None else None,
            skip_child_token=vault_skip_child_token,
        )
    default_aws = None
    by_region: dict[str, aws.Provider] = {}
    if settings.aws_region is not None:
        default_aws = aws.Provider(f"{name}-aws", region=settings.aws_region)
        by_region[settings.aws_region] = default_aws
    for region in settings.aws_regions:
        if region not in by_region:
            by_region[region] = aws.Provider(f"{name}-aws-{region}", region=region)
    # -- sealed-secrets: the random provider of the stack's sealing key (components/sealed_secret.py)
    random_provider = random.Provider(f"{name}-random") if sealing_key else None
    return StackProviders(kubernetes, vault_provider, default_aws, by_region, random_provider)

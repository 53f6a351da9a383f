"""The agent's secret in Vault (KV v2), a policy that can only read it, and the kubernetes-auth
role External Secrets Operator logs in with."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_vault as vault

from qtap_gitops.policies import vault_read_policy
from qtap_gitops.settings import VaultSettings

# The audience ESO requests for the ServiceAccount token (SecretStore serviceAccountRef.audiences)
# and the role checks. Vault 1.20+ warns about roles without one.
TOKEN_AUDIENCE = "vault"
TOKEN_TTL_SECONDS = 3600


@dataclass(frozen=True)
class VaultSecretsArgs:
    vault: VaultSettings
    properties: Mapping[str, pulumi.Input[str]]
    """Secret properties (kebab-case env names) to their values; every value is secret."""
    service_account: str
    """ServiceAccount ESO presents when it logs in."""
    namespace: str


class VaultSecrets(pulumi.ComponentResource):
    secret_path: pulumi.Output[str]
    policy_name: pulumi.Output[str]
    role_name: pulumi.Output[str]
    kv_version: pulumi.Output[str]
    """The KV v2 version of the secret this update wrote: not secret, and it changes exactly
    when any value behind the secret changes. Readers pin it; the pods carry it."""

    def __init__(
        self, name: str, args: VaultSecretsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("qtap:vault:VaultSecrets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = args.vault

        data_json: pulumi.Output[str] = pulumi.Output.all(**dict(args.properties)).apply(
            lambda values: json.dumps(dict(sorted(values.items())))
        )
        # Secret already (its inputs are), and said so here as well: the data is credentials.
        secret_data: pulumi.Output[str] = pulumi.Output.secret(data_json)
        self.secret = vault.kv.SecretV2(
            f"{name}-secret",
            mount=settings.kv_mount,
            name=settings.path,
            data_json=secret_data,
            # Removing the stack removes every version, not just the latest.
            delete_all_versions=True,
            opts=child,
        )
        self.policy = vault.Policy(
            f"{name}-read-policy",
            name=settings.policy_name,
            policy=vault_read_policy(settings),
            opts=child,
        )
        self.role = vault.kubernetes.AuthBackendRole(
            f"{name}-role",
            backend=settings.auth_mount,
            role_name=settings.role,
            bound_service_account_names=[args.service_account],
            bound_service_account_namespaces=[args.namespace],
            audience=TOKEN_AUDIENCE,
            token_policies=[self.policy.name],
            token_ttl=TOKEN_TTL_SECONDS,
            # Keep Vault's `default` policy: ESO validates its token with auth/token/lookup-self.
            token_no_default_policy=False,
            opts=child,
        )

        # The provider reads the secret back after writing it (terraform-provider-vault
        # vault/resource_kv_secret_v2.go kvSecretV2Read): `metadata.version` is the version
        # Vault assigned to this write; Vault bumps it on every write of the secret.
        # A version number reveals nothing; unsecret it so the chart values that carry it stay
        # plain and previews keep showing their diff.
        self.kv_version = pulumi.Output.unsecret(self.secret.metadata.apply(_kv_version))
        self.secret_path = pulumi.Output.from_input(f"{settings.kv_mount}/{settings.path}")
        self.policy_name = self.policy.name
        self.role_name = self.role.role_name
        self.register_outputs(
            {
                "secret_path": self.secret_path,
                "policy_name": self.policy_name,
                "role_name": self.role_name,
                "kv_version": self.kv_version,
            }
        )


def _kv_version(metadata: Mapping[str, str] | None) -> str:
    version = (metadata or {}).get("version")
    if not version:
        raise ValueError("Vault returned no version for the KV v2 secret it wrote")
    return str(version)

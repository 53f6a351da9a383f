"""The agent's secret in Vault (KV v2), a policy that can only read it, and the kubernetes-auth
role External Secrets Operator logs in with."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_vault as vault

from qtap_gitops.policies import kv2_data_path, vault_read_policy, vault_read_policy_at
from qtap_gitops.settings import VaultSettings

# The audience ESO requests for the ServiceAccount token (SecretStore serviceAccountRef.audiences)
# and the role checks. Vault 1.20+ warns about roles without one.
TOKEN_AUDIENCE = "vault"
TOKEN_TTL_SECONDS = 3600


@dataclass(frozen=True)
class KvSecret:
    """Where a KV v2 secret is: its mount and its path inside the mount."""

    mount: pulumi.Input[str]
    path: pulumi.Input[str]


@dataclass(frozen=True)
class OwnerSecret:
    """A fleet member's secret: its owner's, which the member reads and never writes."""

    location: KvSecret
    kv_version: pulumi.Input[str]
    """The KV v2 version the owner last wrote: what the member's sync reads and its pods carry."""


@dataclass(frozen=True)
class VaultSecretsArgs:
    vault: VaultSettings
    properties: Mapping[str, pulumi.Input[str]]
    """Secret properties (kebab-case env names) to their values; every value is secret."""
    service_account: str
    """ServiceAccount ESO presents when it logs in."""
    namespace: str
    owner_secret: OwnerSecret | None = None
    """A fleet member: no secret is written (`properties` is unused); the policy reads the
    owner's secret and the role is this stack's, on its own `vault.authMount`."""


class VaultSecrets(pulumi.ComponentResource):
    secret: vault.kv.SecretV2 | None
    """None in a fleet member, which reads its owner's secret."""
    location: KvSecret
    ready: list[pulumi.Resource]
    """What a sync of the secret waits for: the secret (when this stack writes it) and the role."""
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

        if args.owner_secret is None:
            self.secret = self._write_secret(name, args)
            self.location = KvSecret(settings.kv_mount, settings.path)
            policy: pulumi.Input[str] = vault_read_policy(settings)
            # The provider reads the secret back after writing it (terraform-provider-vault
            # vault/resource_kv_secret_v2.go kvSecretV2Read): `metadata.version` is the version
            # Vault assigned to this write; Vault bumps it on every write of the secret.
            # A version number reveals nothing; unsecret it so the chart values that carry it
            # stay plain and previews keep showing their diff.
            self.kv_version = pulumi.Output.unsecret(self.secret.metadata.apply(_kv_version))
        else:
            self.secret = None
            self.location = args.owner_secret.location
            policy = pulumi.Output.all(self.location.mount, self.location.path).apply(
                lambda parts: vault_read_policy_at(kv2_data_path(parts[0], parts[1]))
            )
            self.kv_version = pulumi.Output.from_input(args.owner_secret.kv_version)
        self.policy = vault.Policy(
            f"{name}-read-policy",
            name=settings.policy_name,
            policy=policy,
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
        self.ready = [r for r in (self.secret, self.role) if r is not None]
        self.secret_path = pulumi.Output.concat(self.location.mount, "/", self.location.path)
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

    def _write_secret(self, name: str, args: VaultSecretsArgs) -> vault.kv.SecretV2:
        data_json: pulumi.Output[str] = pulumi.Output.all(**dict(args.properties)).apply(
            lambda values: json.dumps(dict(sorted(values.items())))
        )
        # Secret already (its inputs are), and said so here as well: the data is credentials.
        secret_data: pulumi.Output[str] = pulumi.Output.secret(data_json)
        return vault.kv.SecretV2(
            f"{name}-secret",
            mount=args.vault.kv_mount,
            name=args.vault.path,
            data_json=secret_data,
            # Removing the stack removes every version, not just the latest.
            delete_all_versions=True,
            opts=pulumi.ResourceOptions(parent=self),
        )


def _kv_version(metadata: Mapping[str, str] | None) -> str:
    version = (metadata or {}).get("version")
    if not version:
        raise ValueError("Vault returned no version for the KV v2 secret it wrote")
    return str(version)

"""Vault Secrets Operator objects that copy the agent's secret from Vault into the Kubernetes
Secret the release reads (secrets.hashicorp.com/v1beta1, VSO v1.4.1).

HashiCorp's own way to get a Vault secret into a Kubernetes Secret. The Vault side (KV v2
secret, read policy, kubernetes-auth role) is the same `VaultSecrets` as with ESO; VSO logs in
as the ServiceAccount that role binds, with the audience it checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from qtap_gitops.bindings import EnvBinding
from qtap_gitops.release_values import SECRET_NAME
from qtap_gitops.settings import VaultSettings

from .secret_sync import MANAGED_BY, SERVICE_ACCOUNT_NAME
from .vault_secrets import TOKEN_AUDIENCE, KvSecret

VSO_API_VERSION = "secrets.hashicorp.com/v1beta1"
CONNECTION_NAME = "qtap-vault"
AUTH_NAME = "qtap-vault"
CA_SECRET_NAME = "qtap-vault-ca"
# VSO re-reads Vault this often; the pinned `version` makes a rotation done by this program
# arrive at once, the refresh repairs drift (a deleted or edited Secret).
REFRESH_AFTER = "1h"
# pulumi-kubernetes waits for this condition before dependents proceed (v4.18.0+).
WAIT_FOR_SYNCED = {"pulumi.com/waitFor": "condition=SecretSynced"}


def secret_template(binding: EnvBinding) -> dict[str, str]:
    """A destination key named as the env variable, from the kebab-case Vault property."""
    return {"text": f'{{{{ get .Secrets "{binding.vault_property}" }}}}'}


@dataclass(frozen=True)
class VaultSecretsOperatorArgs:
    namespace: pulumi.Input[str]
    vault: VaultSettings
    bindings: Sequence[EnvBinding]
    vault_ready: Sequence[pulumi.Resource]
    """The Vault secret and role; the VaultStaticSecret cannot sync before both exist."""
    kv_version: pulumi.Input[int]
    """The KV v2 version this stack wrote: the VaultStaticSecret fetches exactly it."""
    daemonset_name: str
    """The agent's DaemonSet (the chart's fullnameOverride), restarted on a new secret."""
    service_account: str = SERVICE_ACCOUNT_NAME
    """The ServiceAccount the Vault role binds; VSO requests its token to log in."""
    secret: KvSecret | None = None
    """Where the secret is (a fleet member: its owner's); None: `vault.kv_mount`/`vault.path`."""


class VaultSecretsOperator(pulumi.ComponentResource):
    secret_name: pulumi.Output[str]
    secret_revision: pulumi.Output[str]
    secret_ready: list[pulumi.Resource]

    def __init__(
        self, name: str, args: VaultSecretsOperatorArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("qtap:kubernetes:VaultSecretsOperator", name, None, opts)
        self._service_account(name, args)
        self._connection(name, args)
        self._auth(name, args)
        self._static_secret(name, args)
        self.secret_name = pulumi.Output.from_input(SECRET_NAME)
        self.secret_revision = pulumi.Output.from_input(args.kv_version).apply(str)
        self.secret_ready = [self.static_secret]
        self.register_outputs(
            {"secret_name": self.secret_name, "secret_revision": self.secret_revision}
        )

    def _service_account(self, name: str, args: VaultSecretsOperatorArgs) -> None:
        # Only VSO uses this ServiceAccount (through the TokenRequest API); no pod runs as it.
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata={
                "name": args.service_account,
                "namespace": args.namespace,
                "labels": MANAGED_BY,
            },
            automount_service_account_token=False,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _connection(self, name: str, args: VaultSecretsOperatorArgs) -> None:
        vault = args.vault
        # TLS is always verified (said explicitly: the CRD lists the field as required).
        connection: dict[str, object] = {"address": vault.address, "skipTLSVerify": False}
        connection_deps: list[pulumi.Resource] = []
        if vault.ca_bundle:
            # VSO reads the CA from key `ca.crt` of a Secret in the connection's namespace
            # (VaultConnection.spec.caCertSecretRef). A CA certificate is public.
            self.ca_secret = k8s.core.v1.Secret(
                f"{name}-vault-ca",
                metadata={
                    "name": CA_SECRET_NAME,
                    "namespace": args.namespace,
                    "labels": MANAGED_BY,
                },
                type="Opaque",
                string_data={"ca.crt": vault.ca_bundle},
                opts=pulumi.ResourceOptions(parent=self),
            )
            connection["caCertSecretRef"] = CA_SECRET_NAME
            connection_deps.append(self.ca_secret)
        self.connection = k8s.apiextensions.CustomResource(
            f"{name}-connection",
            api_version=VSO_API_VERSION,
            kind="VaultConnection",
            metadata={"name": CONNECTION_NAME, "namespace": args.namespace, "labels": MANAGED_BY},
            spec=connection,
            opts=pulumi.ResourceOptions(parent=self, depends_on=connection_deps),
        )

    def _auth(self, name: str, args: VaultSecretsOperatorArgs) -> None:
        vault = args.vault
        self.auth = k8s.apiextensions.CustomResource(
            f"{name}-auth",
            api_version=VSO_API_VERSION,
            kind="VaultAuth",
            metadata={"name": AUTH_NAME, "namespace": args.namespace, "labels": MANAGED_BY},
            spec={
                "vaultConnectionRef": CONNECTION_NAME,
                "method": "kubernetes",
                "mount": vault.auth_mount,
                "kubernetes": {
                    "role": vault.role,
                    "serviceAccount": self.service_account.metadata.apply(lambda m: m["name"]),
                    "audiences": [TOKEN_AUDIENCE],
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.connection]),
        )

    def _static_secret(self, name: str, args: VaultSecretsOperatorArgs) -> None:
        secret = args.secret or KvSecret(args.vault.kv_mount, args.vault.path)
        self.static_secret = k8s.apiextensions.CustomResource(
            f"{name}-static-secret",
            api_version=VSO_API_VERSION,
            kind="VaultStaticSecret",
            metadata={
                "name": SECRET_NAME,
                "namespace": args.namespace,
                "labels": MANAGED_BY,
                "annotations": WAIT_FOR_SYNCED,
            },
            spec={
                "vaultAuthRef": AUTH_NAME,
                "type": "kv-v2",
                # The KV mount and the secret's path in it; VSO adds data/ itself.
                "mount": secret.mount,
                "path": secret.path,
                "version": args.kv_version,
                "refreshAfter": REFRESH_AFTER,
                # The default, said here: rolloutRestartTargets act on an HMAC change.
                "hmacSecretData": True,
                "destination": _destination(args.bindings),
                "rolloutRestartTargets": [{"kind": "DaemonSet", "name": args.daemonset_name}],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.auth, *args.vault_ready]),
        )


def _destination(bindings: Sequence[EnvBinding]) -> dict[str, object]:
    """The Kubernetes Secret VSO writes: exactly the env names, from the Vault properties."""
    return {
        "name": SECRET_NAME,
        "create": True,
        # A stack that switches from ESO still has ESO's qtap-secrets until the
        # ExternalSecret is deleted at the end of the update; VSO takes it over.
        "overwrite": True,
        "labels": MANAGED_BY,
        "transformation": {
            # The Secret holds exactly the env names: no kebab-case copy of the
            # Vault properties, no `_raw` JSON of the whole secret.
            "excludes": [".*"],
            "excludeRaw": True,
            "templates": {b.name: secret_template(b) for b in bindings},
        },
    }

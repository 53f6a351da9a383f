"""The namespace, and the External Secrets Operator objects that copy the agent's secret from
Vault into the Kubernetes Secret the release reads (external-secrets.io/v1)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from qtap_gitops.bindings import EnvBinding
from qtap_gitops.pod_security import PRIVILEGED
from qtap_gitops.release_values import SECRET_NAME
from qtap_gitops.settings import VaultSettings

from .urns import NAMESPACE_TYPE, ResourcePath
from .vault_secrets import TOKEN_AUDIENCE, KvSecret

ESO_API_VERSION = "external-secrets.io/v1"
SECRET_STORE_NAME = "qtap-vault"
SERVICE_ACCOUNT_NAME = "qtap-secret-sync"
REFRESH_INTERVAL = "1h"
# pulumi-kubernetes waits for this condition before dependents proceed (PR #3134).
WAIT_FOR_READY = {"pulumi.com/waitFor": "condition=Ready"}
MANAGED_BY = {"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "qtap"}


@dataclass(frozen=True)
class SecretSyncArgs:
    namespace: str
    vault: VaultSettings
    bindings: Sequence[EnvBinding]
    vault_ready: Sequence[pulumi.Resource]
    """The Vault secret and role; the ExternalSecret cannot sync before both exist."""
    service_account: str = SERVICE_ACCOUNT_NAME
    kv_version: pulumi.Input[str] | None = None
    """The KV v2 version Pulumi just wrote (VaultSecrets.kv_version). Pinned in every
    remoteRef, so a rotation changes the ExternalSecret's spec: ESO re-reads Vault at once
    (not at the next refreshInterval) and reads exactly that version."""
    secret: KvSecret | None = None
    """Where the secret is (a fleet member: its owner's); None: `vault.kv_mount`/`vault.path`."""


class SecretSync(pulumi.ComponentResource):
    TYPE = "qtap:kubernetes:SecretSync"

    namespace_name: pulumi.Output[str]
    secret_name: pulumi.Output[str]
    kv_version: pulumi.Output[str | None]

    @classmethod
    def namespace_location(cls, name: str) -> ResourcePath:
        """Where the Namespace of the component `name` is, below the component's parent."""
        return ((cls.TYPE, name), (NAMESPACE_TYPE, f"{name}-namespace"))

    def __init__(
        self, name: str, args: SecretSyncArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(self.TYPE, name, None, opts)
        secret = args.secret or KvSecret(args.vault.kv_mount, args.vault.path)
        namespace = self._namespace(name, args)
        self._service_account(name, args, namespace)
        self._secret_store(name, args, namespace, secret)
        self._external_secret(name, args, namespace, secret)
        self.namespace_name = namespace
        self.kv_version = pulumi.Output.from_input(args.kv_version)
        self.secret_name = pulumi.Output.from_input(SECRET_NAME)
        self.register_outputs(
            {"namespace_name": self.namespace_name, "secret_name": self.secret_name}
        )

    def _namespace(self, name: str, args: SecretSyncArgs) -> pulumi.Output[str]:
        (_, (_, namespace_name)) = self.namespace_location(name)
        self.namespace = k8s.core.v1.Namespace(
            namespace_name,
            metadata={
                "name": args.namespace,
                "labels": {
                    **MANAGED_BY,
                    # The privileged eBPF DaemonSet's Pod Security Admission level.
                    **PRIVILEGED,
                },
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        return self.namespace.metadata.apply(lambda m: m["name"])

    def _service_account(
        self, name: str, args: SecretSyncArgs, namespace: pulumi.Output[str]
    ) -> None:
        # Only ESO uses this ServiceAccount (through the TokenRequest API); no pod runs as it.
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata={"name": args.service_account, "namespace": namespace, "labels": MANAGED_BY},
            automount_service_account_token=False,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _secret_store(
        self, name: str, args: SecretSyncArgs, namespace: pulumi.Output[str], secret: KvSecret
    ) -> None:
        vault = args.vault
        provider: dict[str, object] = {
            "server": vault.address,
            # The KV mount; ESO appends data/ itself for version v2.
            "path": secret.mount,
            "version": "v2",
            "auth": {
                "kubernetes": {
                    "mountPath": vault.auth_mount,
                    "role": vault.role,
                    "serviceAccountRef": {
                        "name": self.service_account.metadata.apply(lambda m: m["name"]),
                        "audiences": [TOKEN_AUDIENCE],
                    },
                }
            },
        }
        if vault.ca_bundle:
            # A []byte field of the ESO API: the PEM text, base64-encoded.
            provider["caBundle"] = base64.b64encode(vault.ca_bundle.encode()).decode()
        self.secret_store = k8s.apiextensions.CustomResource(
            f"{name}-secret-store",
            api_version=ESO_API_VERSION,
            kind="SecretStore",
            metadata={"name": SECRET_STORE_NAME, "namespace": namespace, "labels": MANAGED_BY},
            spec={"provider": {"vault": provider}},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _external_secret(
        self, name: str, args: SecretSyncArgs, namespace: pulumi.Output[str], secret: KvSecret
    ) -> None:
        self.external_secret = k8s.apiextensions.CustomResource(
            f"{name}-external-secret",
            api_version=ESO_API_VERSION,
            kind="ExternalSecret",
            metadata={
                "name": SECRET_NAME,
                "namespace": namespace,
                "labels": MANAGED_BY,
                "annotations": WAIT_FOR_READY,
            },
            spec={
                "refreshInterval": REFRESH_INTERVAL,
                "secretStoreRef": {"name": SECRET_STORE_NAME, "kind": "SecretStore"},
                "target": {"name": SECRET_NAME, "creationPolicy": "Owner"},
                "data": [
                    {
                        "secretKey": binding.name,
                        "remoteRef": _remote_ref(
                            secret.path, binding.vault_property, args.kv_version
                        ),
                    }
                    for binding in args.bindings
                ],
            },
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.secret_store, *args.vault_ready]
            ),
        )


def _remote_ref(
    key: pulumi.Input[str], vault_property: str, kv_version: pulumi.Input[str] | None
) -> dict[str, pulumi.Input[str]]:
    ref: dict[str, pulumi.Input[str]] = {"key": key, "property": vault_property}
    if kv_version is not None:
        # ESO's Vault provider reads a KV v2 secret at `?version=<n>` when remoteRef.version is
        # set (external-secrets providers/v1/vault/client_get.go readSecret).
        ref["version"] = kv_version
    return ref

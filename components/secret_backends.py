"""The secrets backends other than External Secrets Operator, composed for `QtapEnvironment`.

Every backend produces the Kubernetes Secret `qtap-secrets` with one key per env name the
snapshot references, and hands the delivery what it must wait for (`secret_ready`) and a
non-secret revision of the secrets that becomes a pod annotation, so a rotated value rolls the
agent in the same `pulumi up`:
- vault-secrets-operator: the same Vault secret, policy and role as with ESO, then VSO's
  VaultConnection, VaultAuth and VaultStaticSecret; the revision is the KV v2 version.
- sealed-secrets: no Vault; the values sealed into a SealedSecret; the revision is a digest of
  the ciphertexts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from qtap_gitops.bindings import EnvBinding
from qtap_gitops.delivery import RELEASE_NAME
from qtap_gitops.deployment import Deployment
from qtap_gitops.settings import SealedSecretsBackendSettings, SecretsBackend

from .namespace import AgentNamespace, AgentNamespaceArgs
from .sealed_secret import SealedSecretSync, SealedSecretSyncArgs
from .secret_sync import SERVICE_ACCOUNT_NAME
from .vault_secrets import VaultSecrets, VaultSecretsArgs
from .vault_secrets_operator import VaultSecretsOperator, VaultSecretsOperatorArgs

# The agent's DaemonSet gets a fixed name (the chart's fullnameOverride) so VSO can restart it:
# the name the chart gives it anyway for the release "qtap" (qpoint.fullname in _helpers.tpl).
DEFAULT_FULLNAME = RELEASE_NAME


@dataclass(frozen=True)
class BackendObjects:
    namespace: pulumi.Output[str]
    secret_ready: Sequence[pulumi.Resource]
    """What the delivery waits for: the object that writes `qtap-secrets`."""
    secret_revision: pulumi.Output[str]
    """Non-secret; the pod annotation of qtap_gitops/rotation.py."""
    chart_values: Mapping[str, str]
    """Chart values this backend needs (VSO: the DaemonSet's fixed name)."""
    vault: VaultSecrets | None


def eso_namespace_urn(name: str, parent: pulumi.Resource) -> pulumi.Output[str]:
    """The URN of the Namespace the ESO backend creates (components/secret_sync.py names it)."""
    secret_sync = pulumi.create_urn(f"{name}-secret-sync", "qtap:kubernetes:SecretSync", parent)
    return pulumi.create_urn(
        f"{name}-secret-sync-namespace", "kubernetes:core/v1:Namespace", secret_sync
    )


def other_backend(
    name: str,
    deployment: Deployment,
    value_of: Callable[[EnvBinding], pulumi.Input[str]],
    user_values: Mapping[str, Any],
    parent: pulumi.Resource,
) -> BackendObjects:
    """The objects of the stack's backend (anything but external-secrets)."""
    settings = deployment.settings
    child = pulumi.ResourceOptions(parent=parent)
    namespace = AgentNamespace(
        f"{name}-namespace",
        AgentNamespaceArgs(settings.namespace, moved_from=eso_namespace_urn(name, parent)),
        opts=child,
    ).namespace_name
    backend = settings.secrets.backend

    if backend is SecretsBackend.VAULT_SECRETS_OPERATOR:
        vault_settings = settings.require_vault()
        vault = VaultSecrets(
            f"{name}-vault",
            VaultSecretsArgs(
                vault=vault_settings,
                properties={
                    b.vault_property: pulumi.Output.secret(value_of(b)) for b in deployment.bindings
                },
                service_account=SERVICE_ACCOUNT_NAME,
                namespace=settings.namespace,
            ),
            opts=child,
        )
        fullname = str(user_values.get("fullnameOverride") or DEFAULT_FULLNAME)
        operator = VaultSecretsOperator(
            f"{name}-vault-secrets-operator",
            VaultSecretsOperatorArgs(
                namespace=namespace,
                vault=vault_settings,
                bindings=deployment.bindings,
                vault_ready=[vault.secret, vault.role],
                kv_version=vault.kv_version.apply(int),
                daemonset_name=fullname,
            ),
            opts=child,
        )
        return BackendObjects(
            namespace,
            operator.secret_ready,
            operator.secret_revision,
            {"fullnameOverride": fullname},
            vault,
        )

    if isinstance(settings.secrets, SealedSecretsBackendSettings):
        sealed = settings.secrets.sealed_secrets
        sealed_secret = SealedSecretSync(
            f"{name}-sealed-secret",
            SealedSecretSyncArgs(
                namespace=namespace,
                namespace_name=settings.namespace,
                certificate=sealed.certificate,
                scope=sealed.scope,
                values={b.name: pulumi.Output.secret(value_of(b)) for b in deployment.bindings},
            ),
            opts=child,
        )
        return BackendObjects(
            namespace, sealed_secret.secret_ready, sealed_secret.secret_revision, {}, None
        )

    raise ValueError(f"{backend} is composed by QtapEnvironment itself")

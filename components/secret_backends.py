"""The secrets backends (`qtap:secrets.backend`): one class each, chosen in `secrets_backend`.

Every backend produces the Kubernetes Secret `qtap-secrets` with one key per env name the
snapshot references, and hands the delivery what it must wait for (`secret_ready`) and a
non-secret revision of the secrets that becomes a pod annotation, so a rotated value rolls the
agent in the same `pulumi up`:
- external-secrets: the Vault secret, a policy and role, and ESO's SecretStore and
  ExternalSecret (with the Namespace, inside `SecretSync`); the revision is the KV v2 version.
- vault-secrets-operator: the same Vault secret, policy and role, then VSO's VaultConnection,
  VaultAuth and VaultStaticSecret; the revision is the KV v2 version.
- sealed-secrets: no Vault; the values sealed into a SealedSecret; the revision is a digest of
  the ciphertexts.
- a snapshot that reads no env variable syncs nothing, whatever the backend: only the namespace.

A backend is not a component of its own: its objects are children of the environment, exactly
where they have always been, so the URNs of existing stacks do not move.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi

from qtap_gitops.bindings import EnvBinding
from qtap_gitops.delivery import RELEASE_NAME
from qtap_gitops.deployment import Deployment
from qtap_gitops.settings import SealedSecretsBackendSettings, SecretsBackend

from .fleet import OwnerOutputs
from .namespace import AgentNamespace, AgentNamespaceArgs
from .secret_sync import SERVICE_ACCOUNT_NAME, SecretSync, SecretSyncArgs
from .urns import ResourcePath, aliases_of
from .vault_secrets import KvSecret, OwnerSecret, VaultSecrets, VaultSecretsArgs
from .vault_secrets_operator import VaultSecretsOperator, VaultSecretsOperatorArgs

# The agent's DaemonSet gets a fixed name (the chart's fullnameOverride) so VSO can restart it:
# the name the chart gives it anyway for the release "qtap" (qpoint.fullname in _helpers.tpl).
DEFAULT_FULLNAME = RELEASE_NAME


@dataclass(frozen=True)
class SecretsInputs:
    """What every backend is built from."""

    deployment: Deployment
    value_of: Callable[[EnvBinding], pulumi.Input[str]]
    """The secret value behind one env binding (token, secretEnv entry, S3 key)."""
    owner: OwnerOutputs | None = None
    """A fleet member's owner: the Vault secret is the owner's, read and never written."""


class SecretsBackendObjects:
    """The objects of one backend, children of `parent` (the environment), and what the
    environment needs from them."""

    uses_random_provider: ClassVar[bool] = False
    """The stack's providers include the random provider (the sealing key)."""

    namespace: pulumi.Output[str]
    secret_ready: list[pulumi.Resource]
    """What the delivery waits for: the object that writes `qtap-secrets`."""
    secret_revision: pulumi.Output[str] | None
    """Non-secret; the pod annotation of qtap_gitops/rotation.py. None: nothing to roll for."""
    chart_values: dict[str, str]
    """Chart values this backend needs (VSO: the DaemonSet's fixed name)."""
    vault: VaultSecrets | None = None

    @classmethod
    def namespace_location(cls, name: str) -> ResourcePath:
        """Where this backend puts the agent's Namespace below the environment `name`."""
        return AgentNamespace.namespace_location(f"{name}-namespace")

    def __init__(self, name: str, inputs: SecretsInputs, parent: pulumi.Resource) -> None:
        self.chart_values = {}
        self.secret_ready = []
        self.secret_revision = None
        self.namespace = self._agent_namespace(name, inputs, parent)

    @classmethod
    def _agent_namespace(
        cls, name: str, inputs: SecretsInputs, parent: pulumi.Resource
    ) -> pulumi.Output[str]:
        """The Namespace as its own component, aliased to where every other backend has it:
        switching backends updates it in place. A new URN alone would make Pulumi create it
        (it exists) and then delete it, with everything in it."""
        own = cls.namespace_location(name)
        others = [backend.namespace_location(name) for backend in ALL_BACKENDS]
        return AgentNamespace(
            f"{name}-namespace",
            AgentNamespaceArgs(
                inputs.deployment.settings.namespace,
                moved_from=aliases_of(own, others, parent),
            ),
            opts=pulumi.ResourceOptions(parent=parent),
        ).namespace_name


class NamespaceOnly(SecretsBackendObjects):
    """The snapshot reads no env variable (e.g. keyless S3 and no pulse store): there is
    nothing to sync, and ESO would refuse an ExternalSecret without data ("either data or
    dataFrom should be specified", external-secrets
    apis/externalsecrets/v1/externalsecret_validator.go). Only the namespace is made."""


def _vault_secrets(name: str, inputs: SecretsInputs, parent: pulumi.Resource) -> VaultSecrets:
    """The agent's secret in Vault, its read policy and the kubernetes-auth role (ESO, VSO).
    A fleet member writes no secret: its policy and role read the owner's."""
    settings = inputs.deployment.settings
    owner = inputs.owner
    return VaultSecrets(
        f"{name}-vault",
        VaultSecretsArgs(
            vault=settings.require_vault(),
            properties={}
            if owner
            else {
                b.vault_property: pulumi.Output.secret(inputs.value_of(b))
                for b in inputs.deployment.bindings
            },
            service_account=SERVICE_ACCOUNT_NAME,
            namespace=settings.namespace,
            owner_secret=OwnerSecret(KvSecret(owner.kv_mount, owner.kv_path), owner.kv_version)
            if owner
            else None,
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )


class ExternalSecrets(SecretsBackendObjects):
    """External Secrets Operator; the Namespace stays inside `SecretSync`, where it has
    always been, so the URNs and plans of existing ESO stacks stay exactly as they are."""

    @classmethod
    def namespace_location(cls, name: str) -> ResourcePath:
        return SecretSync.namespace_location(f"{name}-secret-sync")

    def __init__(self, name: str, inputs: SecretsInputs, parent: pulumi.Resource) -> None:
        settings = inputs.deployment.settings
        vault_settings = settings.require_vault()
        self.vault = _vault_secrets(name, inputs, parent)
        self.secret_sync = SecretSync(
            f"{name}-secret-sync",
            SecretSyncArgs(
                namespace=settings.namespace,
                vault=vault_settings,
                bindings=inputs.deployment.bindings,
                vault_ready=self.vault.ready,
                kv_version=self.vault.kv_version,
                secret=self.vault.location,
            ),
            opts=pulumi.ResourceOptions(parent=parent),
        )
        self.namespace = self.secret_sync.namespace_name
        # Rotation (qtap_gitops/rotation.py): the pod template changes with the KV version,
        # and the release is updated only after the ExternalSecret pinned to it is Ready.
        self.secret_revision = self.vault.kv_version
        self.secret_ready = [self.secret_sync.external_secret]
        self.chart_values = {}


class VaultSecretsOperatorBackend(SecretsBackendObjects):
    """HashiCorp's Vault Secrets Operator, from the same Vault secret, policy and role."""

    def __init__(self, name: str, inputs: SecretsInputs, parent: pulumi.Resource) -> None:
        settings = inputs.deployment.settings
        self.namespace = self._agent_namespace(name, inputs, parent)
        self.vault = _vault_secrets(name, inputs, parent)
        user_values: Mapping[str, Any] = settings.chart.values
        fullname = str(user_values.get("fullnameOverride") or DEFAULT_FULLNAME)
        operator = VaultSecretsOperator(
            f"{name}-vault-secrets-operator",
            VaultSecretsOperatorArgs(
                namespace=self.namespace,
                vault=settings.require_vault(),
                bindings=inputs.deployment.bindings,
                vault_ready=self.vault.ready,
                kv_version=self.vault.kv_version.apply(int),
                daemonset_name=fullname,
                secret=self.vault.location,
            ),
            opts=pulumi.ResourceOptions(parent=parent),
        )
        self.secret_ready = list(operator.secret_ready)
        self.secret_revision = operator.secret_revision
        self.chart_values = {"fullnameOverride": fullname}


class SealedSecrets(SecretsBackendObjects):
    """Bitnami Sealed Secrets: no Vault; the values sealed with the controller's certificate."""

    uses_random_provider = True

    def __init__(self, name: str, inputs: SecretsInputs, parent: pulumi.Resource) -> None:
        # Sealing (cryptography) and the random provider load only for the stacks that seal.
        from .sealed_secret import SealedSecretSync, SealedSecretSyncArgs

        settings = inputs.deployment.settings
        self.namespace = self._agent_namespace(name, inputs, parent)
        assert isinstance(settings.secrets, SealedSecretsBackendSettings)  # the registry's key
        sealed = settings.secrets.sealed_secrets
        sealed_secret = SealedSecretSync(
            f"{name}-sealed-secret",
            SealedSecretSyncArgs(
                namespace=self.namespace,
                namespace_name=settings.namespace,
                certificate=sealed.certificate,
                scope=sealed.scope,
                values={
                    b.name: pulumi.Output.secret(inputs.value_of(b))
                    for b in inputs.deployment.bindings
                },
            ),
            opts=pulumi.ResourceOptions(parent=parent),
        )
        self.secret_ready = list(sealed_secret.secret_ready)
        self.secret_revision = sealed_secret.secret_revision
        self.chart_values = {}


BACKENDS: Mapping[SecretsBackend, type[SecretsBackendObjects]] = {
    SecretsBackend.EXTERNAL_SECRETS: ExternalSecrets,
    SecretsBackend.VAULT_SECRETS_OPERATOR: VaultSecretsOperatorBackend,
    SecretsBackend.SEALED_SECRETS: SealedSecrets,
}
ALL_BACKENDS: Sequence[type[SecretsBackendObjects]] = (*BACKENDS.values(), NamespaceOnly)


def backend_class(deployment: Deployment) -> type[SecretsBackendObjects]:
    """The one place that reads `qtap:secrets.backend`."""
    if not deployment.bindings:
        return NamespaceOnly
    return BACKENDS[deployment.settings.secrets.backend]


def uses_random_provider(deployment: Deployment) -> bool:
    """Whether the stack's backend needs the random provider (whatever the snapshot reads:
    the provider is the stack's, and a stack whose snapshot stops reading secrets keeps it)."""
    return BACKENDS[deployment.settings.secrets.backend].uses_random_provider

"""One environment: everything a stack deploys for its snapshot, wired from the env bindings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from qtap_gitops.bindings import EnvBinding, SourceKind
from qtap_gitops.deployment import Deployment
from qtap_gitops.identity import AGENT_SERVICE_ACCOUNT
from qtap_gitops.release_values import (
    SECRET_NAME,
    release_values,
    service_account_values,
    with_service_account,
)
from qtap_gitops.rotation import with_secrets_revision

from .delivery import Delivery, DeliveryInputs
from .delivery_modes import deliver
from .fleet import OwnerOutputs
from .object_store import ObjectStore
from .secret_backends import SecretsBackendObjects, SecretsInputs, backend_class
from .storage import MemberStorage, OwnedStorage, Storage
from .vault_secrets import VaultSecrets
from .workload_identity import WorkloadIdentity


@dataclass(frozen=True)
class QtapEnvironmentArgs:
    deployment: Deployment
    """The checked settings, snapshot and env bindings of the stack."""
    registration_token: pulumi.Input[str] | None = None
    """Secret; required when a binding's source is the registration token."""
    secret_env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Secret values of `qtap:secretEnv`, by env name."""
    tags: Mapping[str, str] = field(default_factory=dict)
    aws_providers: Mapping[str, pulumi.ProviderResource] = field(default_factory=dict)
    """The explicit AWS provider of each region a bucket lives in (components/providers.py);
    a bucket whose region has none uses the AWS provider this component inherits."""
    owner: OwnerOutputs | None = None
    """A fleet member's owner (`qtap:fleet.owner`), read through a StackReference: the member
    creates no bucket, IAM user or key and no Vault secret of its own."""


class QtapEnvironment(pulumi.ComponentResource):
    bucket_names: pulumi.Output[list[str]]
    bucket_arns: pulumi.Output[dict[str, str]]
    """Bucket name to ARN, for other stacks (StackReference)."""
    writer_arns: pulumi.Output[dict[str, str]]
    """Bucket name to the ARN of the identity that writes into it (the IAM user today)."""
    secrets_revision: pulumi.Output[str] | None
    """The non-secret revision of the agent's secrets (a pod annotation); None when the
    snapshot needs no secret."""
    secrets_revision_output: pulumi.Output[str]
    """Non-secret revision of the values behind `qtap-secrets` (the Vault KV version); the
    release's pods carry it as an annotation, so they roll exactly when a value changes."""
    vault_role_name: pulumi.Output[str]
    vault_policy_name: pulumi.Output[str]
    vault_kv_mount: pulumi.Output[str]
    """The KV mount of the agent's secret (a member: its owner's); "" without Vault."""
    vault_kv_path: pulumi.Output[str]
    """The secret's path inside the mount (a member: its owner's); "" without Vault."""
    kms_key_id: pulumi.Output[str]
    """The buckets' SSE-KMS key ARN; "" with SSE-S3."""
    writer_key_version: pulumi.Output[int]
    """`qtap:objectStore.keyVersion` of the writer's key (a member: its owner's)."""
    iam_user_names: pulumi.Output[list[str]]
    vault_secret_path: pulumi.Output[str]
    kubernetes_secret: pulumi.Output[str]
    namespace: pulumi.Output[str]
    release_name: pulumi.Output[str]
    chart_version: pulumi.Output[str]
    snapshot_sha256: pulumi.Output[str]
    agent_role_arn: pulumi.Output[str] | None
    """The agent's IAM role (keyless S3); None with static keys."""
    storage: Storage
    stores: dict[str, ObjectStore]
    """The object store this stack created for each AWS store of the snapshot, by label."""
    identity: WorkloadIdentity | None
    vault: VaultSecrets | None
    release: Delivery

    def __init__(
        self, name: str, args: QtapEnvironmentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("qtap:index:QtapEnvironment", name, None, opts)
        deployment = args.deployment
        self.storage = (
            OwnedStorage(name, deployment, args.tags, args.aws_providers, self)
            if args.owner is None
            else MemberStorage(name, deployment, args.tags, args.owner, self)
        )
        self.stores, self.identity = self.storage.stores, self.storage.identity
        backend = backend_class(deployment)(
            name, SecretsInputs(deployment, self._value_of(args), args.owner), self
        )
        self.vault = backend.vault
        self.secrets_revision = backend.secret_revision
        secret_ready = list(backend.secret_ready)
        if self.identity is not None:
            secret_ready += self.identity.ready
        self.release = deliver(
            name,
            DeliveryInputs(
                deployment, backend.namespace, self._chart_values(deployment, backend), secret_ready
            ),
            self,
        )
        self.register_outputs(self._outputs(deployment, backend.namespace))

    def _value_of(self, args: QtapEnvironmentArgs) -> Callable[[EnvBinding], pulumi.Input[str]]:
        """The secret value behind an env binding: the token, a secretEnv value or a store's
        generated key."""

        def value_of(binding: EnvBinding) -> pulumi.Input[str]:
            source = binding.source
            if source.kind is SourceKind.REGISTRATION_TOKEN:
                if args.registration_token is None:
                    raise ValueError(f"{binding.name} needs the registration token")
                return args.registration_token
            if source.kind is SourceKind.SECRET_ENV:
                return args.secret_env[binding.name]
            object_store = self.stores.get(source.store_label or "")
            if object_store is None:
                raise ValueError(
                    f"{binding.name} is the key of a bucket this stack does not own: a fleet "
                    "member reads it from its owner's Vault secret (a Vault secrets backend)"
                )
            key = (
                object_store.access_key_id
                if source.kind is SourceKind.AWS_ACCESS_KEY_ID
                else object_store.secret_access_key
            )
            if key is None:
                raise ValueError(f"{binding.name} references the key of a keyless store")
            return key

        return value_of

    def _chart_values(
        self, deployment: Deployment, backend: SecretsBackendObjects
    ) -> dict[str, Any]:
        """The chart values, built once whatever object carries them."""
        settings, snapshot = deployment.settings, deployment.snapshot
        values = release_values(
            snapshot.text, snapshot.sha256, deployment.bindings, settings.chart.values
        )
        if self.secrets_revision is not None:
            values = with_secrets_revision(values, self.secrets_revision)
        values.update(backend.chart_values)
        identity_mode = settings.object_store.identity
        if self.identity is not None and identity_mode is not None:
            # Keyless S3: the chart's ServiceAccount is the one the role is bound to.
            values = with_service_account(
                values,
                service_account_values(
                    identity_mode, AGENT_SERVICE_ACCOUNT, self.identity.role_arn
                ),
            )
        return values

    def _outputs(
        self, deployment: Deployment, namespace: pulumi.Output[str]
    ) -> dict[str, pulumi.Output[Any] | None]:
        storage = self.storage
        self.bucket_names, self.bucket_arns = storage.bucket_names, storage.bucket_arns
        self.iam_user_names, self.writer_arns = storage.iam_user_names, storage.writer_arns
        self.kms_key_id, self.writer_key_version = storage.kms_key_id, storage.writer_key_version
        # No Vault with sealed-secrets: its names are empty.
        no_vault = pulumi.Output.from_input("")
        self.vault_role_name = self.vault.role_name if self.vault else no_vault
        self.vault_policy_name = self.vault.policy_name if self.vault else no_vault
        self.vault_secret_path = self.vault.secret_path if self.vault else no_vault
        self.vault_kv_mount = pulumi.Output.from_input(
            self.vault.location.mount if self.vault else ""
        )
        self.vault_kv_path = pulumi.Output.from_input(
            self.vault.location.path if self.vault else ""
        )
        self.namespace = namespace
        self.kubernetes_secret = pulumi.Output.from_input(
            f"{deployment.settings.namespace}/{SECRET_NAME}"
        )
        self.release_name = self.release.release_name
        self.chart_version = self.release.chart_version
        self.snapshot_sha256 = pulumi.Output.from_input(deployment.snapshot.sha256)
        self.agent_role_arn = self.identity.role_arn if self.identity else None
        # "" when the snapshot needs no secret (no revision to carry).
        self.secrets_revision_output = (
            self.secrets_revision
            if self.secrets_revision is not None
            else pulumi.Output.from_input("")
        )
        return {
            "bucket_names": self.bucket_names,
            "iam_user_names": self.iam_user_names,
            "vault_secret_path": self.vault_secret_path,
            "kubernetes_secret": self.kubernetes_secret,
            "namespace": self.namespace,
            "release_name": self.release_name,
            "chart_version": self.chart_version,
            "snapshot_sha256": self.snapshot_sha256,
            **({"agent_role_arn": self.agent_role_arn} if self.agent_role_arn else {}),
            "bucket_arns": self.bucket_arns,
            "writer_arns": self.writer_arns,
            "secrets_revision": self.secrets_revision_output,
            "vault_role_name": self.vault_role_name,
            "vault_policy_name": self.vault_policy_name,
            "vault_kv_mount": self.vault_kv_mount,
            "vault_kv_path": self.vault_kv_path,
            "kms_key_id": self.kms_key_id,
            "writer_key_version": self.writer_key_version,
        }

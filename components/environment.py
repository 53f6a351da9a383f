"""One environment: everything a stack deploys for its snapshot, wired from the env bindings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from qtap_gitops.bindings import EnvBinding, SourceKind
from qtap_gitops.deployment import Deployment
from qtap_gitops.identity import AGENT_SERVICE_ACCOUNT, agent_role_name, is_keyless
from qtap_gitops.release_values import (
    SECRET_NAME,
    release_values,
    service_account_values,
    with_service_account,
)
from qtap_gitops.rotation import with_secrets_revision

from .delivery import Delivery, DeliveryInputs
from .delivery_modes import deliver
from .object_store import ObjectStore, ObjectStoreArgs
from .secret_backends import SecretsBackendObjects, SecretsInputs, backend_class
from .vault_secrets import VaultSecrets
from .workload_identity import WorkloadIdentity, WorkloadIdentityArgs


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
    iam_user_names: pulumi.Output[list[str]]
    vault_secret_path: pulumi.Output[str]
    kubernetes_secret: pulumi.Output[str]
    namespace: pulumi.Output[str]
    release_name: pulumi.Output[str]
    chart_version: pulumi.Output[str]
    snapshot_sha256: pulumi.Output[str]
    agent_role_arn: pulumi.Output[str] | None
    """The agent's IAM role (keyless S3); None with static keys."""
    stores: dict[str, ObjectStore]
    """The object store of every AWS store of the snapshot, by store label."""
    identity: WorkloadIdentity | None
    vault: VaultSecrets | None
    release: Delivery

    def __init__(
        self, name: str, args: QtapEnvironmentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("qtap:index:QtapEnvironment", name, None, opts)
        deployment = args.deployment
        self.stores = _object_stores(name, args, self)
        self.identity = _workload_identity(name, args, self)
        backend = backend_class(deployment)(
            name, SecretsInputs(deployment, self._value_of(args)), self
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
            object_store = self.stores[source.store_label or ""]
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
        stores = list(self.stores.values())
        by_bucket = {s.bucket: self.stores[s.label] for s in deployment.snapshot.aws_stores}
        self.bucket_names = pulumi.Output.all(*(s.bucket_name for s in stores))
        self.iam_user_names = pulumi.Output.all(
            *(s.user_name for s in stores if s.user_name is not None)
        )
        self.bucket_arns = _by_bucket(by_bucket, lambda s: s.bucket_arn)
        # Who writes into each bucket: its IAM user, or the agent's role for a keyless store.
        writers: dict[str, pulumi.Output[str]] = {}
        for bucket, object_store in by_bucket.items():
            writer = object_store.user_arn
            if writer is None and self.identity is not None:
                writer = self.identity.role_arn
            if writer is not None:
                writers[bucket] = writer
        self.writer_arns = pulumi.Output.all(**writers) if writers else pulumi.Output.from_input({})
        # No Vault with sealed-secrets: its names are empty.
        no_vault = pulumi.Output.from_input("")
        self.vault_role_name = self.vault.role_name if self.vault else no_vault
        self.vault_policy_name = self.vault.policy_name if self.vault else no_vault
        self.vault_secret_path = self.vault.secret_path if self.vault else no_vault
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
        }


def _object_stores(
    name: str, args: QtapEnvironmentArgs, parent: pulumi.Resource
) -> dict[str, ObjectStore]:
    """The bucket (and, with static keys, its writer) of every AWS store, by store label."""
    settings = args.deployment.settings
    stores: dict[str, ObjectStore] = {}
    for store in args.deployment.snapshot.aws_stores:
        region_provider = args.aws_providers.get(store.region)
        stores[store.label] = ObjectStore(
            f"{name}-{store.bucket}",
            ObjectStoreArgs(
                bucket=store.bucket,
                region=store.region,
                retention_days=settings.object_store.retention_days,
                versioning=settings.object_store.versioning,
                protect=settings.object_store.protect,
                kms_key_id=settings.object_store.kms_key_id,
                tags=dict(args.tags),
                writer_key=not is_keyless(store),
                key_version=settings.object_store.key_version,
            ),
            opts=pulumi.ResourceOptions(
                parent=parent, providers={"aws": region_provider} if region_provider else None
            ),
        )
    return stores


def _workload_identity(
    name: str, args: QtapEnvironmentArgs, parent: pulumi.Resource
) -> WorkloadIdentity | None:
    """Keyless S3: the agent's workload identity (qtap:objectStore.identity)."""
    settings, snapshot = args.deployment.settings, args.deployment.snapshot
    identity_mode = settings.object_store.identity
    if identity_mode is None:
        return None
    return WorkloadIdentity(
        f"{name}-identity",
        WorkloadIdentityArgs(
            mode=identity_mode,
            role_name=agent_role_name(settings.stack),
            namespace=settings.namespace,
            service_account=AGENT_SERVICE_ACCOUNT,
            buckets=[(s.bucket, s.region) for s in snapshot.aws_stores if is_keyless(s)],
            kms_key_id=settings.object_store.kms_key_id,
            oidc_provider_arn=settings.eks.oidc_provider_arn,
            oidc_issuer=settings.eks.oidc_issuer,
            cluster_name=settings.eks.cluster_name,
            tags=dict(args.tags),
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def _by_bucket(
    stores: Mapping[str, ObjectStore], output: Callable[[ObjectStore], pulumi.Output[str]]
) -> pulumi.Output[dict[str, str]]:
    """One output of every store, keyed by its bucket name (known before anything exists)."""
    if not stores:
        return pulumi.Output.from_input({})
    return pulumi.Output.all(**{bucket: output(store) for bucket, store in stores.items()})

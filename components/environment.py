"""One environment: everything a stack deploys for its snapshot, wired from the env bindings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pulumi

from qtap_gitops.bindings import EnvBinding, SourceKind
from qtap_gitops.deployment import Deployment
from qtap_gitops.release_values import SECRET_NAME, release_values
from qtap_gitops.rotation import with_secrets_revision

from .object_store import ObjectStore, ObjectStoreArgs
from .qtap_release import QtapRelease, QtapReleaseArgs
from .secret_sync import SERVICE_ACCOUNT_NAME, SecretSync, SecretSyncArgs
from .vault_secrets import VaultSecrets, VaultSecretsArgs


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
    secrets_revision: pulumi.Output[str]
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

    def __init__(
        self, name: str, args: QtapEnvironmentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("qtap:index:QtapEnvironment", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        deployment = args.deployment
        settings = deployment.settings
        snapshot = deployment.snapshot
        vault_settings = settings.require_vault()

        stores: dict[str, ObjectStore] = {}
        by_bucket: dict[str, ObjectStore] = {}
        for store in snapshot.aws_stores:
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
                    key_version=settings.object_store.key_version,
                ),
                opts=pulumi.ResourceOptions(
                    parent=self, providers={"aws": region_provider} if region_provider else None
                ),
            )
            by_bucket[store.bucket] = stores[store.label]

        def value_of(binding: EnvBinding) -> pulumi.Input[str]:
            source = binding.source
            if source.kind is SourceKind.REGISTRATION_TOKEN:
                if args.registration_token is None:
                    raise ValueError(f"{binding.name} needs the registration token")
                return args.registration_token
            if source.kind is SourceKind.SECRET_ENV:
                return args.secret_env[binding.name]
            object_store = stores[source.store_label or ""]
            if source.kind is SourceKind.AWS_ACCESS_KEY_ID:
                return object_store.access_key_id
            return object_store.secret_access_key

        self.vault = VaultSecrets(
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
        self.secret_sync = SecretSync(
            f"{name}-secret-sync",
            SecretSyncArgs(
                namespace=settings.namespace,
                vault=vault_settings,
                bindings=deployment.bindings,
                vault_ready=[self.vault.secret, self.vault.role],
                kv_version=self.vault.kv_version,
            ),
            opts=child,
        )
        # Rotation (qtap_gitops/rotation.py): the pod template changes with the KV version, and
        # the release is updated only after the ExternalSecret pinned to that version is Ready.
        self.secrets_revision = self.vault.kv_version
        self.release = QtapRelease(
            f"{name}-release",
            QtapReleaseArgs(
                namespace=self.secret_sync.namespace_name,
                chart=settings.chart,
                values=with_secrets_revision(
                    release_values(
                        snapshot.text, snapshot.sha256, deployment.bindings, settings.chart.values
                    ),
                    self.secrets_revision,
                ),
                secret_ready=[self.secret_sync.external_secret],
            ),
            opts=child,
        )

        self.bucket_names = pulumi.Output.all(*(s.bucket_name for s in stores.values()))
        self.iam_user_names = pulumi.Output.all(*(s.user_name for s in stores.values()))
        self.bucket_arns = _by_bucket(by_bucket, lambda s: s.bucket_arn)
        self.writer_arns = _by_bucket(by_bucket, lambda s: s.user_arn)
        self.vault_role_name = self.vault.role_name
        self.vault_policy_name = self.vault.policy_name
        self.vault_secret_path = self.vault.secret_path
        self.namespace = self.secret_sync.namespace_name
        self.kubernetes_secret = pulumi.Output.from_input(f"{settings.namespace}/{SECRET_NAME}")
        self.release_name = self.release.release_name
        self.chart_version = self.release.chart_version
        self.snapshot_sha256 = pulumi.Output.from_input(snapshot.sha256)
        self.register_outputs(
            {
                "bucket_names": self.bucket_names,
                "iam_user_names": self.iam_user_names,
                "vault_secret_path": self.vault_secret_path,
                "kubernetes_secret": self.kubernetes_secret,
                "namespace": self.namespace,
                "release_name": self.release_name,
                "chart_version": self.chart_version,
                "snapshot_sha256": self.snapshot_sha256,
                "bucket_arns": self.bucket_arns,
                "writer_arns": self.writer_arns,
                "secrets_revision": self.secrets_revision,
                "vault_role_name": self.vault_role_name,
                "vault_policy_name": self.vault_policy_name,
            }
        )


def _by_bucket(
    stores: Mapping[str, ObjectStore], output: Callable[[ObjectStore], pulumi.Output[str]]
) -> pulumi.Output[dict[str, str]]:
    """One output of every store, keyed by its bucket name (known before anything exists)."""
    if not stores:
        return pulumi.Output.from_input({})
    return pulumi.Output.all(**{bucket: output(store) for bucket, store in stores.items()})

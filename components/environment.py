"""One environment: everything a stack deploys for its snapshot, wired from the env bindings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from qtap_gitops.bindings import EnvBinding, SourceKind
from qtap_gitops.delivery import argocd_application_name
from qtap_gitops.deployment import Deployment
from qtap_gitops.identity import AGENT_SERVICE_ACCOUNT, agent_role_name, is_keyless
from qtap_gitops.release_values import (
    SECRET_NAME,
    release_values,
    service_account_values,
    with_service_account,
)
from qtap_gitops.settings import DeliveryMode

from .argocd_delivery import ArgoCdDelivery, ArgoCdDeliveryArgs
from .flux_delivery import FluxDelivery, FluxDeliveryArgs
from .object_store import ObjectStore, ObjectStoreArgs
from .qtap_release import QtapRelease, QtapReleaseArgs
from .secret_sync import SERVICE_ACCOUNT_NAME, SecretSync, SecretSyncArgs
from .vault_secrets import VaultSecrets, VaultSecretsArgs
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


class QtapEnvironment(pulumi.ComponentResource):
    bucket_names: pulumi.Output[list[str]]
    iam_user_names: pulumi.Output[list[str]]
    vault_secret_path: pulumi.Output[str]
    kubernetes_secret: pulumi.Output[str]
    namespace: pulumi.Output[str]
    release_name: pulumi.Output[str]
    chart_version: pulumi.Output[str]
    snapshot_sha256: pulumi.Output[str]
    agent_role_arn: pulumi.Output[str] | None
    """The agent's IAM role (keyless S3); None with static keys."""

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
        for store in snapshot.aws_stores:
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
                ),
                opts=child,
            )

        # -- keyless S3: the agent's workload identity (qtap:objectStore.identity) --
        identity_mode = settings.object_store.identity
        self.identity: WorkloadIdentity | None = None
        if identity_mode is not None:
            self.identity = WorkloadIdentity(
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
                opts=child,
            )
        # -- end keyless S3 --

        def value_of(binding: EnvBinding) -> pulumi.Input[str]:
            source = binding.source
            if source.kind is SourceKind.REGISTRATION_TOKEN:
                if args.registration_token is None:
                    raise ValueError(f"{binding.name} needs the registration token")
                return args.registration_token
            if source.kind is SourceKind.SECRET_ENV:
                return args.secret_env[binding.name]
            object_store = stores[source.store_label or ""]
            key = (
                object_store.access_key_id
                if source.kind is SourceKind.AWS_ACCESS_KEY_ID
                else object_store.secret_access_key
            )
            if key is None:
                raise ValueError(f"{binding.name} references the key of a keyless store")
            return key

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
            ),
            opts=child,
        )
        # -- delivery (qtap:delivery.mode): one object carries the chart values, built once --
        values = release_values(
            snapshot.text, snapshot.sha256, deployment.bindings, settings.chart.values
        )
        secret_ready: list[pulumi.Resource] = [self.secret_sync.external_secret]
        if self.identity is not None and identity_mode is not None:
            # Keyless S3: the chart's ServiceAccount is the one the role is bound to.
            values = with_service_account(
                values,
                service_account_values(
                    identity_mode, AGENT_SERVICE_ACCOUNT, self.identity.role_arn
                ),
            )
            secret_ready += self.identity.ready
        self.release: QtapRelease | ArgoCdDelivery | FluxDelivery
        if settings.delivery.mode is DeliveryMode.ARGOCD:
            self.release = ArgoCdDelivery(
                f"{name}-argocd",
                ArgoCdDeliveryArgs(
                    application_name=argocd_application_name(settings.stack),
                    argocd=settings.delivery.argocd,
                    namespace=self.secret_sync.namespace_name,
                    chart=settings.chart,
                    values=values,
                    snapshot_sha256=snapshot.sha256,
                    secret_ready=secret_ready,
                ),
                opts=child,
            )
        elif settings.delivery.mode is DeliveryMode.FLUX:
            self.release = FluxDelivery(
                f"{name}-flux",
                FluxDeliveryArgs(
                    flux=settings.delivery.flux,
                    namespace=self.secret_sync.namespace_name,
                    chart=settings.chart,
                    values=values,
                    secret_ready=secret_ready,
                ),
                opts=child,
            )
        else:
            self.release = QtapRelease(
                f"{name}-release",
                QtapReleaseArgs(
                    namespace=self.secret_sync.namespace_name,
                    chart=settings.chart,
                    values=values,
                    secret_ready=secret_ready,
                ),
                opts=child,
            )
        # -- end delivery --

        self.bucket_names = pulumi.Output.all(*(s.bucket_name for s in stores.values()))
        self.iam_user_names = pulumi.Output.all(
            *(s.user_name for s in stores.values() if s.user_name is not None)
        )
        self.vault_secret_path = self.vault.secret_path
        self.namespace = self.secret_sync.namespace_name
        self.kubernetes_secret = pulumi.Output.from_input(f"{settings.namespace}/{SECRET_NAME}")
        self.release_name = self.release.release_name
        self.chart_version = self.release.chart_version
        self.snapshot_sha256 = pulumi.Output.from_input(snapshot.sha256)
        self.agent_role_arn = self.identity.role_arn if self.identity else None
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
                **({"agent_role_arn": self.agent_role_arn} if self.agent_role_arn else {}),
            }
        )

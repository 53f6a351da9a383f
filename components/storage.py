"""Where the agent writes its payloads: the buckets and the identity that writes into them.

An owner stack (every stack that is not a fleet member) creates the bucket of every AWS store
of the snapshot, the writer's IAM user and key for a store with key references, and for
keyless S3 the agent's role. A fleet member creates no bucket and no IAM user or key: it
writes into its owner's buckets, with the owner's key (read from the owner's Vault secret) or,
keyless, with its own role trusting its own cluster, allowed PutObject on the owner's buckets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pulumi

from qtap_gitops.deployment import Deployment
from qtap_gitops.identity import AGENT_SERVICE_ACCOUNT, agent_role_name, is_keyless
from qtap_gitops.policies import bucket_arn, role_writer_policy, to_json

from .fleet import OwnerOutputs, owner_bucket_arn
from .object_store import ObjectStore, ObjectStoreArgs
from .workload_identity import WorkloadIdentity, WorkloadIdentityArgs


class Storage:
    """The buckets and writers of one stack, children of `parent` (the environment)."""

    stores: dict[str, ObjectStore]
    """The object store this stack created for each AWS store, by store label."""
    identity: WorkloadIdentity | None
    """The agent's role (keyless S3)."""
    bucket_names: pulumi.Output[list[str]]
    bucket_arns: pulumi.Output[dict[str, str]]
    """Bucket name to ARN."""
    writer_arns: pulumi.Output[dict[str, str]]
    """Bucket name to the ARN of the identity that writes into it."""
    iam_user_names: pulumi.Output[list[str]]
    kms_key_id: pulumi.Output[str]
    """The buckets' SSE-KMS key; "" with SSE-S3."""
    writer_key_version: pulumi.Output[int]

    def _identity(
        self,
        name: str,
        deployment: Deployment,
        tags: Mapping[str, str],
        parent: pulumi.Resource,
        policy: pulumi.Input[str] | None = None,
    ) -> WorkloadIdentity | None:
        """Keyless S3: the agent's workload identity (qtap:objectStore.identity)."""
        settings, snapshot = deployment.settings, deployment.snapshot
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
                tags=dict(tags),
                policy=policy,
            ),
            opts=pulumi.ResourceOptions(parent=parent),
        )


class OwnedStorage(Storage):
    """The stack's own buckets, writer keys and (keyless) role."""

    def __init__(
        self,
        name: str,
        deployment: Deployment,
        tags: Mapping[str, str],
        aws_providers: Mapping[str, pulumi.ProviderResource],
        parent: pulumi.Resource,
    ) -> None:
        settings = deployment.settings
        self.stores = {}
        for store in deployment.snapshot.aws_stores:
            region_provider = aws_providers.get(store.region)
            self.stores[store.label] = ObjectStore(
                f"{name}-{store.bucket}",
                ObjectStoreArgs(
                    bucket=store.bucket,
                    region=store.region,
                    retention_days=settings.object_store.retention_days,
                    versioning=settings.object_store.versioning,
                    protect=settings.object_store.protect,
                    kms_key_id=settings.object_store.kms_key_id,
                    tags=dict(tags),
                    writer_key=not is_keyless(store),
                    key_version=settings.object_store.key_version,
                ),
                opts=pulumi.ResourceOptions(
                    parent=parent, providers={"aws": region_provider} if region_provider else None
                ),
            )
        self.identity = self._identity(name, deployment, tags, parent)
        by_bucket = {s.bucket: self.stores[s.label] for s in deployment.snapshot.aws_stores}
        stores = list(self.stores.values())
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
        self.kms_key_id = pulumi.Output.from_input(settings.object_store.kms_key_id or "")
        self.writer_key_version = pulumi.Output.from_input(settings.object_store.key_version)


class MemberStorage(Storage):
    """A fleet member's: nothing but, for keyless S3, its own role on the owner's buckets."""

    def __init__(
        self,
        name: str,
        deployment: Deployment,
        tags: Mapping[str, str],
        owner: OwnerOutputs,
        parent: pulumi.Resource,
    ) -> None:
        self.stores = {}
        keyless = [(s.bucket, s.region) for s in deployment.snapshot.aws_stores if is_keyless(s)]
        policy = None
        if keyless and deployment.settings.object_store.identity is not None:
            policy = _member_role_policy(keyless, owner)
        self.identity = self._identity(name, deployment, tags, parent, policy=policy)
        self.bucket_names = owner.bucket_names
        self.bucket_arns = owner.bucket_arns
        self.iam_user_names = pulumi.Output.from_input([])
        self.kms_key_id = owner.kms_key_id
        self.writer_key_version = owner.writer_key_version
        # The owner's writers, except that this cluster's own role writes into keyless buckets.
        own: dict[str, pulumi.Output[str]] = {}
        if self.identity is not None:
            own = {bucket: self.identity.role_arn for bucket, _ in keyless}
        self.writer_arns = pulumi.Output.all(
            owner.writer_arns, pulumi.Output.from_input(own)
        ).apply(lambda pair: {**pair[0], **pair[1]})


def _member_role_policy(buckets: list[tuple[str, str]], owner: OwnerOutputs) -> pulumi.Output[str]:
    """The agent role's PutObject-only policy on the owner's buckets and with the owner's KMS
    key: the owner's exported ARNs must be the buckets of the snapshot both deploy."""

    def policy(values: list[Any]) -> str:
        owner_arns, kms_key_id = values
        for bucket, region in buckets:
            owner_bucket_arn(owner_arns, bucket, bucket_arn(bucket, region), owner.stack)
        return to_json(role_writer_policy(buckets, kms_key_id or None))

    return pulumi.Output.all(owner.bucket_arns, owner.kms_key_id).apply(policy)


def _by_bucket(
    stores: Mapping[str, ObjectStore], output: Callable[[ObjectStore], pulumi.Output[str]]
) -> pulumi.Output[dict[str, str]]:
    """One output of every store, keyed by its bucket name (known before anything exists)."""
    if not stores:
        return pulumi.Output.from_input({})
    return pulumi.Output.all(**{bucket: output(store) for bucket, store in stores.items()})

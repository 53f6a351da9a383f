"""Fleets (`qtap:fleet`): what an owner stack exports for its members, and how a member reads it.

An environment's owner stack creates the bucket(s), the writer's IAM user and key and the
Vault secret; a member stack (another cluster of the same environment) creates none of them
and reads them through one `pulumi.StackReference` to `<org>/<project>/<owner>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from functools import cached_property
from typing import Any

import pulumi

from qtap_gitops.settings import FleetSettings


class Export(StrEnum):
    """The stack outputs a member reads from its owner (declared once: the owner exports
    them under these names, the member reads them by the same names)."""

    BUCKETS = "buckets"
    BUCKET_ARNS = "bucketArns"
    WRITER_ARNS = "writerArns"
    KMS_KEY_ID = "kmsKeyId"
    """The buckets' SSE-KMS key ARN; "" with SSE-S3."""
    VAULT_KV_MOUNT = "vaultKvMount"
    VAULT_KV_PATH = "vaultKvPath"
    """The secret's path inside the KV mount; "" without Vault (sealed-secrets)."""
    SECRETS_REVISION = "secretsRevision"
    """With a Vault backend: the KV v2 version of the secret the owner last wrote."""
    WRITER_KEY_VERSION = "writerKeyVersion"
    SNAPSHOT_SHA256 = "snapshotSha256"


def owner_stack_name(fleet: FleetSettings, organization: str, project: str) -> str:
    """The fully qualified name of the owner's stack (`<org>/<project>/<stack>`)."""
    return f"{fleet.organization or organization}/{project}/{fleet.owner}"


class OwnerOutputs:
    """What a member stack uses of its owner, through one StackReference: read, never created.

    Each output is read when first used: an output the member does not need (the Vault
    location for a member without secrets) is never required of the owner."""

    def __init__(self, stack: str, opts: pulumi.ResourceOptions | None = None) -> None:
        self.stack = stack
        """The owner's fully qualified stack name."""
        self.reference = pulumi.StackReference("qtap-owner", stack_name=stack, opts=opts)

    def _required(self, name: Export) -> pulumi.Output[Any]:
        stack = self.stack

        def present(value: Any) -> Any:
            if value is None:
                raise ValueError(
                    f"stack {stack} exports no `{name.value}`: deploy the owner with this "
                    "version of the program first (its members read what it exports)"
                )
            return value

        return self.reference.get_output(name.value).apply(present)

    def _vault(self, name: Export) -> pulumi.Output[str]:
        stack = self.stack

        def vault_part(value: Any) -> str:
            if not isinstance(value, str) or not value:
                raise ValueError(
                    f"stack {stack} keeps no Vault secret (its `{name.value}` is empty: its "
                    "secrets backend is sealed-secrets); a member with a Vault backend reads "
                    "the owner's Vault secret, so the owner needs one too"
                )
            return value

        return self._required(name).apply(vault_part)

    @cached_property
    def bucket_names(self) -> pulumi.Output[list[str]]:
        return self._required(Export.BUCKETS)

    @cached_property
    def bucket_arns(self) -> pulumi.Output[dict[str, str]]:
        return self._required(Export.BUCKET_ARNS)

    @cached_property
    def writer_arns(self) -> pulumi.Output[dict[str, str]]:
        return self._required(Export.WRITER_ARNS)

    @cached_property
    def kms_key_id(self) -> pulumi.Output[str]:
        return self._required(Export.KMS_KEY_ID)

    @cached_property
    def kv_mount(self) -> pulumi.Output[str]:
        return self._vault(Export.VAULT_KV_MOUNT)

    @cached_property
    def kv_path(self) -> pulumi.Output[str]:
        return self._vault(Export.VAULT_KV_PATH)

    @cached_property
    def kv_version(self) -> pulumi.Output[str]:
        return self._required(Export.SECRETS_REVISION).apply(str)

    @cached_property
    def writer_key_version(self) -> pulumi.Output[int]:
        return self._required(Export.WRITER_KEY_VERSION)

    @cached_property
    def snapshot_sha256(self) -> pulumi.Output[str]:
        return self._required(Export.SNAPSHOT_SHA256)


def owner_bucket_arn(
    owner_arns: Mapping[str, str], bucket: str, expected: str, owner_stack: str
) -> str:
    """The ARN of `bucket` as the owner exports it; it must be the ARN the snapshot implies."""
    arn = owner_arns.get(bucket)
    if arn is None:
        raise ValueError(
            f"stack {owner_stack} owns no bucket {bucket} (it exports {sorted(owner_arns)}): "
            "a member writes into its owner's buckets, and both deploy the same snapshot"
        )
    if arn != expected:
        raise ValueError(f"stack {owner_stack} exports {arn} for bucket {bucket}, not {expected}")
    return arn

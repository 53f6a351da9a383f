"""Per stack, each generated object store (bucket settings, IAM user and inline policy) applied
to moto: with IAM enforcement on, the writer's key can only PutObject into its bucket, and the
bucket's settings read back as generated. What moto cannot evaluate (the TLS-only bucket
policy's condition, the KMS statement) is checked structurally; see aws_checks."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import STACKS
from tests.real.aws_checks import (
    Aws,
    apply_object_store,
    check_bucket_reads_back,
    check_kms_statement,
    check_tls_only_policy,
    check_writer_key,
    create_admin,
)
from tests.real.generated import OBJECT_STORE, generated, kms_key_id, retention_days
from tests.real.servers import Moto

pytestmark = pytest.mark.real


def object_stores(stack: str) -> list[dict[str, dict[str, Any]]]:
    stores = generated(stack).components(OBJECT_STORE)
    assert stores, f"stack {stack} generates no object store; nothing to prove"
    return stores


@pytest.mark.parametrize("stack", STACKS)
def test_the_writer_key_can_only_put_objects_into_its_bucket(
    aws: Aws, moto: Moto, stack: str
) -> None:
    admin = create_admin(aws)
    stores = object_stores(stack)
    writers = [apply_object_store(aws, admin, store) for store in stores]
    moto.set_auth_enforced(enforced=True)

    for store, writer in zip(stores, writers, strict=True):
        check_writer_key(aws, admin, writer, store)


@pytest.mark.parametrize("stack", STACKS)
def test_the_bucket_settings_read_back_as_generated(aws: Aws, stack: str) -> None:
    admin = create_admin(aws)
    for store in object_stores(stack):
        apply_object_store(aws, admin, store)
        check_bucket_reads_back(
            aws, admin, store, retention_days=retention_days(stack), kms_key_id=kms_key_id(stack)
        )


@pytest.mark.parametrize("stack", STACKS)
def test_the_bucket_policy_denies_everything_without_tls(stack: str) -> None:
    for store in object_stores(stack):
        check_tls_only_policy(store)


@pytest.mark.parametrize("stack", STACKS)
def test_the_writer_may_use_only_the_stacks_kms_key_and_only_through_s3(stack: str) -> None:
    for store in object_stores(stack):
        check_kms_statement(store, kms_key_id=kms_key_id(stack))

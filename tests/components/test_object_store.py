"""ObjectStore: a private, encrypted, TLS-only bucket with retention, and a PutObject-only key."""

from __future__ import annotations

import json

import pytest

from components import ObjectStore, ObjectStoreArgs
from qtapctl.mock_engine import Secret
from tests.pulumi_harness import SENTINEL_KEY_ID, SENTINEL_SECRET_KEY, build, children_of

KMS_KEY = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def store(**overrides):
    args = {
        "bucket": "acme-qtap-test",
        "region": "eu-west-1",
        "retention_days": 14,
        "versioning": False,
        "protect": False,
        **overrides,
    }
    return build(
        lambda: {
            "key_id": (s := ObjectStore("objects", ObjectStoreArgs(**args))).access_key_id,
            "secret": s.secret_access_key,
            "bucket": s.bucket_name,
            "user": s.user_name,
        }
    )


def inputs(run, type_token):
    return run.one(type_token).inputs


def test_bucket_is_named_exactly_in_the_snapshot_region_and_never_force_destroyed():
    run = store()
    bucket = inputs(run, "aws:s3/bucket:Bucket")
    assert bucket["bucket"] == "acme-qtap-test"
    assert bucket["region"] == "eu-west-1"
    assert bucket["forceDestroy"] is False
    assert run.outputs["bucket"] == "acme-qtap-test"


def test_public_access_is_fully_blocked_and_ownership_enforced():
    run = store()
    block = inputs(run, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    for flag in (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ):
        assert block[flag] is True, flag
    ownership = inputs(run, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


def test_default_encryption_is_aes256_without_a_kms_key():
    run = store()
    (rule,) = inputs(
        run,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    )["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    assert rule["bucketKeyEnabled"] is False


def test_kms_key_encrypts_and_the_writer_may_generate_data_keys_only_through_s3():
    run = store(kms_key_id=KMS_KEY)
    (rule,) = inputs(
        run,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    )["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": KMS_KEY,
    }
    assert rule["bucketKeyEnabled"] is True
    policy = json.loads(inputs(run, "aws:iam/userPolicy:UserPolicy")["policy"])
    kms = policy["Statement"][1]
    assert kms["Action"] == ["kms:GenerateDataKey", "kms:Decrypt"]
    assert kms["Resource"] == KMS_KEY
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}


@pytest.mark.parametrize(("versioning", "status"), [(True, "Enabled"), (False, "Suspended")])
def test_versioning_follows_the_setting(versioning, status):
    run = store(versioning=versioning)
    config = inputs(run, "aws:s3/bucketVersioning:BucketVersioning")["versioningConfiguration"]
    assert config == {"status": status}


def test_lifecycle_expires_objects_after_retention_and_cleans_up():
    run = store(retention_days=90)
    (rule,) = inputs(run, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")[
        "rules"
    ]
    assert rule["status"] == "Enabled"
    assert rule["filter"] == {"prefix": ""}
    assert rule["expiration"] == {"days": 90}
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 90}
    assert rule["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 1}


def test_bucket_policy_denies_every_request_without_tls():
    run = store()
    registration = run.one("aws:s3/bucketPolicy:BucketPolicy")
    (statement,) = json.loads(registration.inputs["policy"])["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Action"] == "s3:*"
    assert statement["Resource"] == ["arn:aws:s3:::acme-qtap-test", "arn:aws:s3:::acme-qtap-test/*"]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    block = run.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert block.urn in registration.dependencies


def test_writer_may_only_put_objects_into_its_bucket():
    run = store()
    user = inputs(run, "aws:iam/user:User")
    assert user["name"] == "qtap-writer-acme-qtap-test"
    assert user["path"] == "/qtap/"
    policy = inputs(run, "aws:iam/userPolicy:UserPolicy")
    assert policy["user"] == "qtap-writer-acme-qtap-test"
    document = json.loads(policy["policy"])
    assert document["Statement"] == [
        {
            "Sid": "QtapPutObjectOnly",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::acme-qtap-test/*",
        }
    ]


def test_china_region_uses_its_partition():
    run = store(region="cn-north-1", bucket="acme-qtap-cn")
    document = json.loads(inputs(run, "aws:iam/userPolicy:UserPolicy")["policy"])
    assert document["Statement"][0]["Resource"] == "arn:aws-cn:s3:::acme-qtap-cn/*"


def test_both_halves_of_the_key_are_secret_outputs():
    run = store()
    key = run.one("aws:iam/accessKey:AccessKey")
    assert "secret" in key.additional_secret_outputs
    assert run.outputs["key_id"] == Secret(SENTINEL_KEY_ID)
    assert run.outputs["secret"] == Secret(SENTINEL_SECRET_KEY)


def test_protected_store_protects_and_retains_the_bucket_only():
    run = store(protect=True)
    bucket = run.one("aws:s3/bucket:Bucket")
    assert bucket.protect
    assert bucket.retain_on_delete
    others = [r for r in run.custom_resources() if r.type != "aws:s3/bucket:Bucket"]
    assert others
    assert not any(r.protect for r in others)


def test_unprotected_store_is_not_protected_but_still_retained():
    bucket = store(protect=False).one("aws:s3/bucket:Bucket")
    assert not bucket.protect
    assert bucket.retain_on_delete, "no config change deletes a bucket, protected or not"


BUCKET_CHILDREN = {
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy",
}


@pytest.mark.parametrize("protect", [False, True])
def test_every_bucket_and_all_its_protections_are_retained(protect):
    run = store(protect=protect)
    kept = {r.type for r in run.custom_resources() if r.retain_on_delete}
    assert kept == {"aws:s3/bucket:Bucket", *BUCKET_CHILDREN}
    # The IAM writer and its key are not data: they go with the store.
    assert not any(
        r.retain_on_delete for r in run.custom_resources() if r.type.startswith("aws:iam/")
    )


def test_key_version_replaces_the_writer_key_and_nothing_else():
    first, second = store(), store(key_version=2)
    key = "aws:iam/accessKey:AccessKey"
    assert first.one(key).replacement_trigger == 1
    assert second.one(key).replacement_trigger == 2
    # Create the new key before the old is deleted (the old one goes last, see object_store).
    assert second.one(key).delete_before_replace is False
    assert first.one(key).urn == second.one(key).urn, "same name: a replacement, not a new key"
    for registration in first.custom_resources():
        if registration.type != key:
            other = second.by_urn(registration.urn)
            assert other.inputs == registration.inputs
            assert other.replacement_trigger is None


def test_children_are_parented_and_named_after_the_component():
    run = store()
    (component,) = run.of_type("qtap:aws:ObjectStore")
    children = children_of(run, "qtap:aws:ObjectStore")
    assert len(children) == 10
    assert {c.parent for c in run.custom_resources()} == {component.urn}
    assert all(c.name.startswith("objects-") for c in children)

"""WorkloadIdentity: the agent's IAM role per mode (trust, PutObject-only policy, Pod Identity
association), and an ObjectStore without its writer user and key."""

from __future__ import annotations

import json

import pytest

from components import ObjectStore, ObjectStoreArgs, WorkloadIdentity, WorkloadIdentityArgs
from qtap_gitops.settings import IdentityMode
from tests.components.test_object_store import KMS_KEY
from tests.keyless import CLUSTER_NAME, ISSUER, OIDC_PROVIDER_ARN
from tests.pulumi_harness import build, children_of

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
KEY_TYPES = {"aws:iam/user:User", "aws:iam/userPolicy:UserPolicy", "aws:iam/accessKey:AccessKey"}


def identity(mode: IdentityMode, **overrides):
    args = {
        "mode": mode,
        "role_name": "qtap-agent-test",
        "namespace": "qpoint",
        "service_account": "qtap",
        "buckets": [("acme-qtap-test", "us-west-2")],
        "oidc_provider_arn": OIDC_PROVIDER_ARN if mode is IdentityMode.IRSA else None,
        "oidc_issuer": ISSUER if mode is IdentityMode.IRSA else None,
        "cluster_name": CLUSTER_NAME if mode is IdentityMode.POD_IDENTITY else None,
        **overrides,
    }
    return build(
        lambda: {
            "arn": (w := WorkloadIdentity("agent", WorkloadIdentityArgs(**args))).role_arn,
            "name": w.role_name,
        }
    )


def test_irsa_role_is_trusted_by_the_one_service_account_through_the_oidc_provider():
    run = identity(IdentityMode.IRSA)
    role = run.one(ROLE).inputs
    assert role["name"] == "qtap-agent-test"
    assert role["path"] == "/qtap/"
    trust = json.loads(role["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Federated": OIDC_PROVIDER_ARN}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            f"{ISSUER}:sub": "system:serviceaccount:qpoint:qtap",
            f"{ISSUER}:aud": "sts.amazonaws.com",
        }
    }
    assert run.of_type(ASSOCIATION) == []
    assert run.outputs["arn"] == "arn:aws:iam::123456789012:role/qtap/qtap-agent-test"


def test_pod_identity_role_trusts_eks_pods_and_is_associated_with_the_service_account():
    run = identity(IdentityMode.POD_IDENTITY)
    (statement,) = json.loads(run.one(ROLE).inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert statement["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert "Condition" not in statement
    association = run.one(ASSOCIATION)
    assert association.inputs == {
        "clusterName": CLUSTER_NAME,
        "namespace": "qpoint",
        "serviceAccount": "qtap",
        "roleArn": "arn:aws:iam::123456789012:role/qtap/qtap-agent-test",
        "tags": {},
    }
    assert run.one(ROLE).urn in association.dependencies


@pytest.mark.parametrize("mode", list(IdentityMode))
def test_role_may_only_put_objects_into_the_keyless_buckets(mode):
    run = identity(mode)
    policy = run.one(ROLE_POLICY)
    assert policy.inputs["role"] == "qtap-agent-test"
    assert policy.inputs["name"] == "qtap-put-object"
    assert json.loads(policy.inputs["policy"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "QtapPutObjectOnly",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::acme-qtap-test/*",
            }
        ],
    }


def test_role_policy_has_the_kms_statement_with_a_kms_key():
    run = identity(IdentityMode.IRSA, kms_key_id=KMS_KEY)
    put, kms = json.loads(run.one(ROLE_POLICY).inputs["policy"])["Statement"]
    assert put["Action"] == "s3:PutObject"
    assert kms["Action"] == ["kms:GenerateDataKey", "kms:Decrypt"]
    assert kms["Resource"] == KMS_KEY
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": "s3.us-west-2.amazonaws.com"}}


@pytest.mark.parametrize("mode", list(IdentityMode))
def test_no_user_key_or_secret_anywhere(mode):
    run = identity(mode)
    assert not KEY_TYPES & {r.type for r in run.registrations}
    assert all(not r.additional_secret_outputs for r in run.registrations)
    (component,) = run.of_type("qtap:aws:WorkloadIdentity")
    children = children_of(run, "qtap:aws:WorkloadIdentity")
    assert {c.parent for c in run.custom_resources()} == {component.urn}
    assert all(c.name.startswith("agent-") for c in children)
    assert len(children) == (3 if mode is IdentityMode.POD_IDENTITY else 2)


def test_missing_mode_inputs_are_programming_errors():
    with pytest.raises(ValueError, match="OIDC provider"):
        identity(IdentityMode.IRSA, oidc_issuer=None)
    with pytest.raises(ValueError, match="cluster name"):
        identity(IdentityMode.POD_IDENTITY, cluster_name=None)


def test_keyless_object_store_has_its_bucket_and_no_writer():
    args = ObjectStoreArgs(
        bucket="acme-qtap-test",
        region="us-west-2",
        retention_days=14,
        versioning=False,
        protect=False,
        writer_key=False,
    )
    stores: list[ObjectStore] = []

    def body():
        stores.append(ObjectStore("objects", args))
        return {"bucket": stores[0].bucket_name}

    run = build(body)
    types = {r.type for r in run.custom_resources()}
    assert "aws:s3/bucket:Bucket" in types
    assert "aws:s3/bucketPolicy:BucketPolicy" in types
    assert not KEY_TYPES & types
    assert len(children_of(run, "qtap:aws:ObjectStore")) == 7
    assert run.outputs["bucket"] == "acme-qtap-test"
    (store,) = stores
    assert (store.user_name, store.access_key_id, store.secret_access_key) == (None, None, None)

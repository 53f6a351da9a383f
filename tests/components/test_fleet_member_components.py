"""The components of a fleet member alone: VaultSecrets reading the owner's secret (no secret
written, a policy on the owner's path, the member's own role) and the agent's role with a policy
built from the owner's outputs."""

from __future__ import annotations

import json

import pulumi

from components import VaultSecrets, VaultSecretsArgs, WorkloadIdentity, WorkloadIdentityArgs
from components.vault_secrets import KvSecret, OwnerSecret
from qtap_gitops.settings import IdentityMode, VaultSettings
from tests.pulumi_harness import build, children_of

# The member's own Vault settings: its path is not the one it reads.
MEMBER_VAULT = VaultSettings(
    address="https://vault.example.com:8200",
    kv_mount="kv",
    path="qpoint/qtap",
    auth_mount="k8s-eu",
    role="qtap-prod-eu",
)


def member_vault():
    def body():
        owner_mount = pulumi.Output.from_input("secret")
        owner_path = pulumi.Output.from_input("teams/obs/qtap-prod")
        component = VaultSecrets(
            "vault",
            VaultSecretsArgs(
                vault=MEMBER_VAULT,
                properties={},
                service_account="qtap-secret-sync",
                namespace="qpoint",
                owner_secret=OwnerSecret(KvSecret(owner_mount, owner_path), "12"),
            ),
        )
        assert component.secret is None
        assert component.ready == [component.role]
        return {
            "path": component.secret_path,
            "kv_version": component.kv_version,
            "policy": component.policy_name,
        }

    return build(body)


def test_a_member_writes_no_secret_and_reads_the_owners_at_its_version():
    run = member_vault()
    children = {r.type for r in children_of(run, "qtap:vault:VaultSecrets")}
    assert children == {
        "vault:index/policy:Policy",
        "vault:kubernetes/authBackendRole:AuthBackendRole",
    }
    assert run.outputs["path"] == "secret/teams/obs/qtap-prod"
    assert run.outputs["kv_version"] == "12"
    policy = run.one("vault:index/policy:Policy").inputs
    assert policy["name"] == "qtap-prod-eu-read"
    assert 'path "secret/data/teams/obs/qtap-prod" {' in policy["policy"]
    assert MEMBER_VAULT.data_path not in policy["policy"], "not the member's own path"


def test_the_members_role_is_its_own_on_its_own_auth_mount():
    role = member_vault().one("vault:kubernetes/authBackendRole:AuthBackendRole").inputs
    assert (role["backend"], role["roleName"]) == ("k8s-eu", "qtap-prod-eu")
    assert role["tokenPolicies"] == ["qtap-prod-eu-read"]


def test_a_given_policy_replaces_the_one_derived_from_the_buckets():
    document = json.dumps({"Version": "2012-10-17", "Statement": []})

    def body():
        identity = WorkloadIdentity(
            "identity",
            WorkloadIdentityArgs(
                mode=IdentityMode.POD_IDENTITY,
                role_name="qtap-agent-prod-eu",
                namespace="qpoint",
                service_account="qtap",
                buckets=[("bucket", "us-west-2")],
                cluster_name="acme-prod-eu",
                policy=pulumi.Output.from_input(document),
            ),
        )
        return {"arn": identity.role_arn}

    run = build(body)
    assert run.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"] == document

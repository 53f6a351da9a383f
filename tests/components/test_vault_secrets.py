"""VaultSecrets: the KV v2 secret, a read-only policy on exactly that secret, the ESO login role."""

from __future__ import annotations

import json

import pulumi

from components import VaultSecrets, VaultSecretsArgs
from qtap_gitops.settings import VaultSettings
from qtapctl.mock_engine import Secret
from tests.pulumi_harness import build, children_of

VAULT = VaultSettings(
    address="https://vault.example.com:8200",
    kv_mount="kv",
    path="teams/obs/qtap",
    auth_mount="k8s-prod",
    role="qtap-prod",
)


def vault_secrets():
    return build(
        lambda: {
            "path": (
                v := VaultSecrets(
                    "vault",
                    VaultSecretsArgs(
                        vault=VAULT,
                        properties={
                            "registration-token": pulumi.Output.secret("tok-123"),
                            "s3-access-key": pulumi.Output.secret("AKIA123"),
                        },
                        service_account="qtap-secret-sync",
                        namespace="qpoint",
                    ),
                )
            ).secret_path,
            "policy": v.policy_name,
            "role": v.role_name,
            "kv_version": v.kv_version,
        }
    )


def test_the_kv_version_vault_assigned_is_a_plain_output():
    # The fake Vault numbers writes as Vault does (tests/real/test_vault_rotation.py).
    assert vault_secrets().outputs["kv_version"] == "1"


def test_secret_holds_one_property_per_binding_as_a_secret():
    run = vault_secrets()
    secret = run.one("vault:kv/secretV2:SecretV2").inputs
    assert secret["mount"] == "kv"
    assert secret["name"] == "teams/obs/qtap"
    assert isinstance(secret["dataJson"], Secret)
    assert json.loads(secret["dataJson"].value) == {
        "registration-token": "tok-123",
        "s3-access-key": "AKIA123",
    }
    assert secret["deleteAllVersions"] is True
    assert run.outputs["path"] == "kv/teams/obs/qtap"


def test_policy_grants_read_on_the_kv2_data_path_only():
    policy = vault_secrets().one("vault:index/policy:Policy").inputs
    assert policy["name"] == "qtap-prod-read"
    lines = [
        line.strip()
        for line in policy["policy"].splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines == ['path "kv/data/teams/obs/qtap" {', 'capabilities = ["read"]', "}"]


def test_role_binds_the_sync_service_account_with_audience_and_the_policy():
    run = vault_secrets()
    role = run.one("vault:kubernetes/authBackendRole:AuthBackendRole")
    assert role.inputs["backend"] == "k8s-prod"
    assert role.inputs["roleName"] == "qtap-prod"
    assert role.inputs["boundServiceAccountNames"] == ["qtap-secret-sync"]
    assert role.inputs["boundServiceAccountNamespaces"] == ["qpoint"]
    assert role.inputs["audience"] == "vault"
    assert role.inputs["tokenPolicies"] == ["qtap-prod-read"]
    # ESO checks its token with auth/token/lookup-self, which Vault's default policy grants.
    assert role.inputs["tokenNoDefaultPolicy"] is False
    assert run.one("vault:index/policy:Policy").urn in role.dependencies
    assert (run.outputs["policy"], run.outputs["role"]) == ("qtap-prod-read", "qtap-prod")


def test_children_are_parented_and_named_after_the_component():
    run = vault_secrets()
    children = children_of(run, "qtap:vault:VaultSecrets")
    assert sorted(c.name for c in children) == ["vault-read-policy", "vault-role", "vault-secret"]

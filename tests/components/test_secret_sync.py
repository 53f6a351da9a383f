"""SecretSync: namespace, ServiceAccount, SecretStore and ExternalSecret (external-secrets.io/v1)."""

from __future__ import annotations

import base64

import pulumi_vault as vault

from components import SecretSync, SecretSyncArgs
from qtap_gitops.settings import VaultSettings
from tests.components.fixtures import deployment
from tests.pulumi_harness import build, children_of

VAULT = VaultSettings(
    address="https://vault.example.com:8200",
    kv_mount="secret",
    path="qpoint/qtap",
    auth_mount="kubernetes",
    role="qtap-dev",
)


def secret_sync(settings: VaultSettings = VAULT, kv_version: str | None = None):
    bindings = deployment("dev").bindings

    def body():
        ready = vault.Policy("stand-in-for-vault", policy='path "x" {}')
        sync = SecretSync(
            "sync",
            SecretSyncArgs(
                namespace="qpoint",
                vault=settings,
                bindings=bindings,
                vault_ready=[ready],
                kv_version=kv_version,
            ),
        )
        return {"namespace": sync.namespace_name, "secret": sync.secret_name}

    return build(body)


def test_namespace_allows_the_privileged_agent():
    metadata = secret_sync().one("kubernetes:core/v1:Namespace").inputs["metadata"]
    assert metadata["name"] == "qpoint"
    assert metadata["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


def test_service_account_is_only_for_eso_logins():
    account = secret_sync().one("kubernetes:core/v1:ServiceAccount").inputs
    assert account["metadata"]["name"] == "qtap-secret-sync"
    assert account["metadata"]["namespace"] == "qpoint"
    assert account["automountServiceAccountToken"] is False


def test_secret_store_logs_in_to_vault_with_kubernetes_auth():
    store = secret_sync().one("kubernetes:external-secrets.io/v1:SecretStore").inputs
    assert store["apiVersion"] == "external-secrets.io/v1"
    assert store["kind"] == "SecretStore"
    assert store["metadata"]["namespace"] == "qpoint"
    assert store["spec"]["provider"]["vault"] == {
        "server": "https://vault.example.com:8200",
        "path": "secret",
        "version": "v2",
        "auth": {
            "kubernetes": {
                "mountPath": "kubernetes",
                "role": "qtap-dev",
                "serviceAccountRef": {"name": "qtap-secret-sync", "audiences": ["vault"]},
            }
        },
    }


def test_external_secret_maps_every_binding_and_waits_to_be_ready():
    run = secret_sync()
    external = run.one("kubernetes:external-secrets.io/v1:ExternalSecret")
    spec = external.inputs["spec"]
    assert external.inputs["metadata"]["annotations"] == {"pulumi.com/waitFor": "condition=Ready"}
    assert spec["refreshInterval"] == "1h"
    assert spec["secretStoreRef"] == {"name": "qtap-vault", "kind": "SecretStore"}
    assert spec["target"] == {"name": "qtap-secrets", "creationPolicy": "Owner"}
    assert spec["data"] == [
        {"secretKey": name, "remoteRef": {"key": "qpoint/qtap", "property": prop}}
        for name, prop in (
            ("REGISTRATION_TOKEN", "registration-token"),
            ("S3_ACCESS_KEY", "s3-access-key"),
            ("S3_SECRET_KEY", "s3-secret-key"),
        )
    ]
    assert run.one("vault:index/policy:Policy").urn in external.dependencies
    assert run.one("kubernetes:external-secrets.io/v1:SecretStore").urn in external.dependencies
    assert run.outputs == {"namespace": "qpoint", "secret": "qtap-secrets"}


def test_children_are_parented_and_named_after_the_component():
    children = children_of(secret_sync(), "qtap:kubernetes:SecretSync")
    assert sorted(c.name for c in children) == [
        "sync-external-secret",
        "sync-namespace",
        "sync-secret-store",
        "sync-service-account",
    ]


def test_secret_store_trusts_the_configured_vault_ca():
    pem = "-----BEGIN CERTIFICATE-----\nMIIBfDCC\n-----END CERTIFICATE-----\n"
    store = secret_sync(VAULT.model_copy(update={"ca_bundle": pem})).one(
        "kubernetes:external-secrets.io/v1:SecretStore"
    )
    provider = store.inputs["spec"]["provider"]["vault"]
    assert base64.b64decode(provider["caBundle"]).decode() == pem


def test_secret_store_without_ca_bundle_uses_the_system_roots():
    spec = secret_sync().one("kubernetes:external-secrets.io/v1:SecretStore").inputs["spec"]
    assert "caBundle" not in spec["provider"]["vault"]


def test_every_remote_ref_pins_the_kv_version_it_is_given():
    external = "kubernetes:external-secrets.io/v1:ExternalSecret"
    pinned = secret_sync(kv_version="7").one(external).inputs["spec"]["data"]
    assert {item["remoteRef"]["version"] for item in pinned} == {"7"}
    unpinned = secret_sync().one(external).inputs["spec"]["data"]
    assert not any("version" in item["remoteRef"] for item in unpinned)

"""The other secrets backends' components alone: AgentNamespace, VaultSecretsOperator and
SealedSecretSync under the mock engine: children, names, outputs and what stays secret."""

from __future__ import annotations

import pulumi
import pulumi_vault as vault

from components.namespace import AgentNamespace, AgentNamespaceArgs
from components.sealed_secret import SealedSecretSync, SealedSecretSyncArgs
from components.secret_sync import SecretSync, SecretSyncArgs
from components.vault_secrets_operator import VaultSecretsOperator, VaultSecretsOperatorArgs
from qtap_gitops.sealing import scope_label, sealed_revision
from qtap_gitops.settings import SealedSecretsScope, VaultSettings
from qtapctl.mock_engine import Secret, reveal
from tests.components.fixtures import deployment
from tests.pulumi_harness import build, children_of
from tests.sealing_keys import controller_key, unseal

# Components take checked settings as they are: no validation here, so a stand-in CA will do.
VAULT = VaultSettings.model_construct(
    address="https://vault.example.com:8200",
    kv_mount="kv",
    path="teams/qtap",
    auth_mount="k8s-eu",
    role="qtap-eu",
    ca_bundle="PEM-OF-THE-CA",
)


def operator(daemonset: str = "agent"):
    bindings = deployment("dev").bindings

    def body():
        ready = vault.Policy("stand-in-for-vault", policy='path "x" {}')
        component = VaultSecretsOperator(
            "vso",
            VaultSecretsOperatorArgs(
                namespace="agents",
                vault=VAULT,
                bindings=bindings,
                vault_ready=[ready],
                kv_version=pulumi.Output.from_input(7),
                daemonset_name=daemonset,
            ),
        )
        return {"revision": component.secret_revision, "secret": component.secret_name}

    return build(body)


def test_vso_children_belong_to_the_component():
    run = operator()
    kinds = sorted(
        r.type.rsplit(":", 1)[1] for r in children_of(run, "qtap:kubernetes:VaultSecretsOperator")
    )
    assert kinds == [
        "Secret",
        "ServiceAccount",
        "VaultAuth",
        "VaultConnection",
        "VaultStaticSecret",
    ]


def test_vso_follows_the_vault_settings_and_the_daemonset_name():
    run = operator("agent")
    connection = run.one("kubernetes:secrets.hashicorp.com/v1beta1:VaultConnection").inputs
    assert connection["spec"] == {
        "address": "https://vault.example.com:8200",
        "skipTLSVerify": False,
        "caCertSecretRef": "qtap-vault-ca",
    }
    ca = run.one("kubernetes:core/v1:Secret").inputs
    assert reveal(ca["stringData"]) == {"ca.crt": "PEM-OF-THE-CA"}  # the SDK marks it secret
    auth = run.one("kubernetes:secrets.hashicorp.com/v1beta1:VaultAuth").inputs["spec"]
    assert auth["mount"] == "k8s-eu"
    assert auth["kubernetes"]["role"] == "qtap-eu"
    spec = run.one("kubernetes:secrets.hashicorp.com/v1beta1:VaultStaticSecret").inputs["spec"]
    assert (spec["mount"], spec["path"], spec["version"]) == ("kv", "teams/qtap", 7)
    assert spec["rolloutRestartTargets"] == [{"kind": "DaemonSet", "name": "agent"}]
    assert run.outputs == {"revision": "7", "secret": "qtap-secrets"}


def test_vso_static_secret_waits_for_the_vault_secret_and_its_auth():
    run = operator()
    static = run.one("kubernetes:secrets.hashicorp.com/v1beta1:VaultStaticSecret")
    waits_for = {run.by_urn(u).type for u in static.dependencies}
    assert waits_for == {
        "vault:index/policy:Policy",
        "kubernetes:secrets.hashicorp.com/v1beta1:VaultAuth",
    }


TOKEN = "component-token-1"


def sealed(scope: SealedSecretsScope):
    def body():
        component = SealedSecretSync(
            "sealed",
            SealedSecretSyncArgs(
                namespace="agents",
                namespace_name="agents",
                certificate=controller_key().certificate_pem,
                scope=scope,
                values={"REGISTRATION_TOKEN": pulumi.Output.secret(TOKEN)},
            ),
        )
        return {"revision": component.secret_revision}

    return build(body)


def test_sealed_secret_sync_seals_for_the_namespace_and_scope():
    for scope in SealedSecretsScope:
        run = sealed(scope)
        obj = run.one("kubernetes:bitnami.com/v1alpha1:SealedSecret").inputs
        token = obj["spec"]["encryptedData"]["REGISTRATION_TOKEN"]
        assert isinstance(token, Secret)
        label = scope_label("agents", "qtap-secrets", scope)
        assert unseal(controller_key().private_key, reveal(token), label) == TOKEN
        # The revision is plain: a digest of the ciphertexts.
        assert run.outputs["revision"] == sealed_revision({"REGISTRATION_TOKEN": reveal(token)})
        key = run.one("random:index/randomBytes:RandomBytes")
        assert key.inputs["length"] == 32
        assert key.parent == run.one("qtap:kubernetes:SealedSecretSync").urn


def test_agent_namespace_is_the_namespace_eso_creates():
    bindings = deployment("dev").bindings

    def body():
        ready = vault.Policy("stand-in-for-vault", policy='path "x" {}')
        SecretSync(
            "sync",
            SecretSyncArgs(namespace="qpoint", vault=VAULT, bindings=bindings, vault_ready=[ready]),
        )
        AgentNamespace("agent", AgentNamespaceArgs("qpoint"))
        return {}

    run = build(body)
    first, second = run.of_type("kubernetes:core/v1:Namespace")
    assert first.inputs == second.inputs

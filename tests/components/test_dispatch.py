"""One class per secrets backend and per delivery mode, chosen in one place; where each
backend puts the agent's Namespace is what its components really register, and the alias a
backend gives its Namespace is computed from the other backends, never written by hand."""

from __future__ import annotations

import dataclasses

import pulumi
import pulumi_vault as vault
import pytest

from components.argocd_delivery import ArgoCdDelivery
from components.delivery_modes import DELIVERIES
from components.flux_delivery import FluxDelivery
from components.namespace import AgentNamespace, AgentNamespaceArgs
from components.qtap_release import QtapRelease
from components.secret_backends import (
    ALL_BACKENDS,
    BACKENDS,
    ExternalSecrets,
    NamespaceOnly,
    SealedSecrets,
    VaultSecretsOperatorBackend,
    backend_class,
    uses_random_provider,
)
from components.secret_sync import SecretSync, SecretSyncArgs
from components.urns import NAMESPACE_TYPE, aliases_of, urn_at
from qtap_gitops.settings import DeliveryMode, SecretsBackend, VaultSettings
from tests.components.fixtures import deployment
from tests.pulumi_harness import build

VAULT = VaultSettings(
    address="https://vault.example.com:8200",
    kv_mount="kv",
    path="teams/qtap",
    auth_mount="k8s",
    role="qtap",
)


def test_every_backend_and_mode_has_exactly_one_class():
    assert set(BACKENDS) == set(SecretsBackend)
    assert {
        SecretsBackend.EXTERNAL_SECRETS: ExternalSecrets,
        SecretsBackend.VAULT_SECRETS_OPERATOR: VaultSecretsOperatorBackend,
        SecretsBackend.SEALED_SECRETS: SealedSecrets,
    } == BACKENDS
    assert set(DELIVERIES) == set(DeliveryMode)
    assert {
        DeliveryMode.HELM: QtapRelease.for_environment,
        DeliveryMode.ARGOCD: ArgoCdDelivery.for_environment,
        DeliveryMode.FLUX: FluxDelivery.for_environment,
    } == DELIVERIES
    assert len(set(ALL_BACKENDS)) == len(ALL_BACKENDS) == len(SecretsBackend) + 1


def test_the_backend_follows_the_setting_and_a_snapshot_without_env_needs_only_a_namespace():
    dev = deployment("dev")
    assert dev.bindings
    assert backend_class(dev) is ExternalSecrets
    assert backend_class(_without_bindings(dev)) is NamespaceOnly
    assert not uses_random_provider(dev)


def _without_bindings(value):
    return dataclasses.replace(value, bindings=())


@pytest.mark.parametrize("backend", ALL_BACKENDS, ids=lambda b: b.__name__)
def test_a_backend_aliases_its_namespace_to_every_other_backends_location(backend):
    own = backend.namespace_location("qtap")
    others = {b.namespace_location("qtap") for b in ALL_BACKENDS} - {own}
    # ESO keeps the Namespace in SecretSync; every other backend in AgentNamespace.
    assert len(others) == 1
    assert {path[-1][0] for path in others} == {NAMESPACE_TYPE}

    def body():
        parent = pulumi.ComponentResource("test:index:Parent", "parent")
        return {"aliases": pulumi.Output.all(*aliases_of(own, list(others), parent))}

    run = build(body)
    # The same location named by several backends is one alias, never a duplicate.
    assert len(run.outputs["aliases"]) == len(set(run.outputs["aliases"])) == len(others)


def test_the_locations_are_where_the_components_register_their_namespace():
    def body():
        parent = pulumi.ComponentResource("test:index:Parent", "parent")
        child = pulumi.ResourceOptions(parent=parent)
        ready = vault.Policy("stand-in-for-vault", policy='path "x" {}', opts=child)
        SecretSync(
            "qtap-secret-sync",
            SecretSyncArgs(
                namespace="qpoint",
                vault=VAULT,
                bindings=deployment("dev").bindings,
                vault_ready=[ready],
            ),
            opts=child,
        )
        AgentNamespace("qtap-namespace", AgentNamespaceArgs("qpoint"), opts=child)
        return {
            "eso": urn_at(ExternalSecrets.namespace_location("qtap"), parent),
            "agent": urn_at(NamespaceOnly.namespace_location("qtap"), parent),
        }

    run = build(body)
    registered = {r.urn for r in run.of_type(NAMESPACE_TYPE)}
    # The mock monitor's URN names only the parent's type; create_urn names all ancestors.
    assert {_parent_type_only(run.outputs[k]) for k in ("eso", "agent")} == registered


def _parent_type_only(urn: str) -> str:
    head, name = urn.rsplit("::", 1)
    prefix, types = head.rsplit("::", 1)
    return f"{prefix}::{'$'.join(types.split('$')[-2:])}::{name}"

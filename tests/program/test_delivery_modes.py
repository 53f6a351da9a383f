"""qtap:delivery.mode per stack: which object carries the chart, how it is wired, what it waits
for, and that it carries exactly the values Pulumi's own Helm release would get."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qtap_gitops.rotation import SECRETS_REVISION_ANNOTATION
from qtapctl.mock_engine import ProgramRun, Unknown, redact, reveal
from tests.conftest import REPO, STACKS, copy_project, edit_snapshot
from tests.pulumi_harness import SENTINELS, run_stack

MODES = ("helm", "argocd", "flux")
RELEASE = "kubernetes:helm.sh/v3:Release"
APPLICATION = "kubernetes:argoproj.io/v1alpha1:Application"
HELM_REPOSITORY = "kubernetes:source.toolkit.fluxcd.io/v1:HelmRepository"
HELM_RELEASE = "kubernetes:helm.toolkit.fluxcd.io/v2:HelmRelease"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
NAMESPACE = "kubernetes:core/v1:Namespace"
EXTERNAL = "kubernetes:external-secrets.io/v1:ExternalSecret"
# The secrets revision (its KV version) is a pod annotation: the chart waits for that write.
VAULT_SECRET = "vault:kv/secretV2:SecretV2"
ENVIRONMENT = "qtap:index:QtapEnvironment"
COMPONENT = {
    "helm": "qtap:kubernetes:QtapRelease",
    "argocd": "qtap:kubernetes:ArgoCdDelivery",
    "flux": "qtap:kubernetes:FluxDelivery",
}
# What each mode registers to deliver the chart (each exactly once), and nothing else differs.
DELIVERY_OBJECTS = {
    "helm": {RELEASE},
    "argocd": {APPLICATION},
    "flux": {HELM_REPOSITORY, CONFIG_MAP, HELM_RELEASE},
}
CHART_VERSION = {"dev": "0.0.38", "staging": "0.0.38", "prod": "0.0.35"}


def delivery(mode: str, **settings: Any) -> dict[str, str]:
    return {"qtap:delivery": json.dumps({"mode": mode, **settings})}


def run_mode(stack: str, mode: str, project: Path = REPO, **settings: Any) -> ProgramRun:
    run = run_stack(stack, project, config_overrides=delivery(mode, **settings))
    assert run.error is None, run.error
    return run


@pytest.fixture(scope="module")
def runs() -> dict[tuple[str, str], ProgramRun]:
    return {(mode, stack): run_mode(stack, mode) for mode in MODES for stack in STACKS}


def inputs(run: ProgramRun, type_token: str) -> dict[str, Any]:
    return reveal(dict(run.one(type_token).inputs))


def helm_values(runs: dict[tuple[str, str], ProgramRun], stack: str) -> dict[str, Any]:
    return inputs(runs[("helm", stack)], RELEASE)["values"]


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def delivery_types() -> set[str]:
    return set().union(*DELIVERY_OBJECTS.values())


def comparable(run: ProgramRun) -> dict[str, Any]:
    return {r.urn: json.loads(json.dumps(redact(r.inputs), default=str)) for r in run.registrations}


# -- the objects of each mode --------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("mode", MODES)
def test_each_mode_registers_its_delivery_objects_and_no_other(runs, mode, stack):
    run = runs[(mode, stack)]
    registered = [r.type for r in run.registrations]
    for type_token in DELIVERY_OBJECTS[mode]:
        assert registered.count(type_token) == 1, type_token
    for type_token in delivery_types() - DELIVERY_OBJECTS[mode]:
        assert type_token not in registered, f"{type_token} registered in {mode} mode"
    if mode != "helm":
        assert RELEASE not in registered, "no helm.v3.Release outside helm mode"

    # One component per mode, under the environment, owning exactly the delivery objects.
    (component,) = run.of_type(COMPONENT[mode])
    assert run.by_urn(component.parent or "").type == ENVIRONMENT
    for other in set(COMPONENT.values()) - {COMPONENT[mode]}:
        assert run.of_type(other) == []
    children = [r for r in run.registrations if r.parent == component.urn]
    assert {r.type for r in children} == DELIVERY_OBJECTS[mode]
    assert all(r.name.startswith(f"{component.name}-") for r in children)


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("mode", ["argocd", "flux"])
def test_everything_upstream_of_delivery_is_what_helm_mode_registers(runs, mode, stack):
    """Secrets, namespace, bucket and Vault objects do not depend on the delivery mode."""

    def upstream(run: ProgramRun) -> dict[str, Any]:
        delivery_urns = {
            r.urn
            for r in run.registrations
            if r.type in delivery_types() or r.type in COMPONENT.values()
        }
        return {urn: value for urn, value in comparable(run).items() if urn not in delivery_urns}

    assert upstream(runs[(mode, stack)]) == upstream(runs[("helm", stack)])
    assert runs[(mode, stack)].outputs == runs[("helm", stack)].outputs


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("mode", ["argocd", "flux"])
def test_no_secret_reaches_a_gitops_object(runs, mode, stack):
    run = runs[(mode, stack)]
    for registration in run.registrations:
        if registration.type in DELIVERY_OBJECTS[mode]:
            visible = json.dumps(reveal(dict(registration.inputs)), default=str)
            assert not any(s in visible for s in SENTINELS), registration.type


# -- Argo CD ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_argocd_application_is_wired_to_the_chart_cluster_and_namespace(runs, stack):
    run = runs[("argocd", stack)]
    application = inputs(run, APPLICATION)
    assert application["apiVersion"] == "argoproj.io/v1alpha1"
    assert application["kind"] == "Application"
    metadata = application["metadata"]
    assert metadata["name"] == f"qtap-{stack}"
    assert metadata["namespace"] == "argocd"
    assert metadata["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]
    sha = run.outputs["snapshotSha256"]
    assert json.loads(metadata["annotations"]["pulumi.com/waitFor"]) == [
        "jsonpath={.status.sync.status}=Synced",
        "jsonpath={.status.health.status}=Healthy",
        "jsonpath={.status.sync.comparedTo.source.helm.valuesObject.podAnnotations"
        f"['checksum/qtap-config']}}={sha}",
    ]
    spec = application["spec"]
    assert spec["project"] == "default"
    source = spec["source"]
    assert {k: v for k, v in source.items() if k != "helm"} == {
        "repoURL": "https://helm.qpoint.io/",
        "chart": "qtap",
        "targetRevision": CHART_VERSION[stack],
    }
    assert set(source["helm"]) == {"releaseName", "valuesObject"}
    assert source["helm"]["releaseName"] == "qtap"
    assert spec["destination"] == {
        "server": "https://kubernetes.default.svc",
        "namespace": inputs(run, NAMESPACE)["metadata"]["name"],
    }
    # Pulumi made the namespace (with its Pod Security label): Argo CD must not create it.
    assert spec["syncPolicy"] == {"automated": {"prune": True, "selfHeal": True}}
    assert inputs(run, NAMESPACE)["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == (
        "privileged"
    )


def test_argocd_settings_reach_the_application():
    run = run_mode(
        "staging",
        "argocd",
        argocd={
            "namespace": "gitops",
            "project": "observability",
            "destinationServer": "https://staging.k8s.acme.internal:6443",
        },
    )
    application = inputs(run, APPLICATION)
    assert application["metadata"]["namespace"] == "gitops"
    assert application["spec"]["project"] == "observability"
    assert application["spec"]["destination"]["server"] == "https://staging.k8s.acme.internal:6443"


@pytest.mark.parametrize("stack", STACKS)
def test_argocd_application_waits_for_the_synced_secret_and_the_namespace(runs, stack):
    run = runs[("argocd", stack)]
    application = run.one(APPLICATION)
    assert set(application.dependencies) == {
        run.one(NAMESPACE).urn,
        run.one(EXTERNAL).urn,
        run.one(VAULT_SECRET).urn,
    }


@pytest.mark.parametrize("stack", STACKS)
def test_argocd_carries_the_helm_values_byte_for_byte(runs, stack):
    values = inputs(runs[("argocd", stack)], APPLICATION)["spec"]["source"]["helm"]["valuesObject"]
    assert canonical(values) == canonical(helm_values(runs, stack))
    raw = (REPO / f"snapshots/{stack}/qtap-config.yaml").read_bytes()
    assert values["config"].encode() == raw


# -- Flux ------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_flux_objects_are_wired_to_each_other_and_the_chart(runs, stack):
    run = runs[("flux", stack)]
    namespace = inputs(run, NAMESPACE)["metadata"]["name"]

    repository = inputs(run, HELM_REPOSITORY)
    assert repository["apiVersion"] == "source.toolkit.fluxcd.io/v1"
    assert repository["metadata"]["name"] == "qpoint"
    assert repository["metadata"]["namespace"] == namespace
    assert repository["spec"] == {"url": "https://helm.qpoint.io/", "interval": "5m"}
    assert repository["metadata"]["annotations"] == {"pulumi.com/waitFor": "condition=Ready"}

    configmap = inputs(run, CONFIG_MAP)
    assert configmap["metadata"]["name"] == "qtap-snapshot"
    assert configmap["metadata"]["namespace"] == namespace
    assert configmap["metadata"]["labels"]["reconcile.fluxcd.io/watch"] == "Enabled"
    assert set(configmap["data"]) == {"qtap-config.yaml"}

    release = inputs(run, HELM_RELEASE)
    assert release["apiVersion"] == "helm.toolkit.fluxcd.io/v2"
    assert release["metadata"]["name"] == "qtap"
    assert release["metadata"]["namespace"] == namespace
    assert release["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=Ready"
    spec = release["spec"]
    assert spec["releaseName"] == "qtap"
    assert spec["interval"] == "5m"
    assert spec["chart"] == {
        "spec": {
            "chart": "qtap",
            "version": CHART_VERSION[stack],
            "sourceRef": {"kind": "HelmRepository", "name": repository["metadata"]["name"]},
        }
    }
    assert spec["valuesFrom"] == [
        {
            "kind": "ConfigMap",
            "name": configmap["metadata"]["name"],
            "valuesKey": "qtap-config.yaml",
            "targetPath": "config",
            "literal": True,
        }
    ]
    assert spec["install"] == {"remediation": {"retries": 3}}
    assert spec["upgrade"]["remediation"] == {"retries": 3, "strategy": "rollback"}
    assert spec["driftDetection"] == {"mode": "enabled"}
    assert "config" not in spec["values"], "the snapshot comes from the ConfigMap only"
    assert spec["values"]["podAnnotations"]["checksum/qtap-config"] == run.outputs["snapshotSha256"]


def test_flux_interval_reaches_the_repository_and_the_release():
    run = run_mode("dev", "flux", flux={"interval": "1h"})
    assert inputs(run, HELM_REPOSITORY)["spec"]["interval"] == "1h"
    assert inputs(run, HELM_RELEASE)["spec"]["interval"] == "1h"


@pytest.mark.parametrize("stack", STACKS)
def test_flux_release_waits_for_its_source_snapshot_and_secret(runs, stack):
    run = runs[("flux", stack)]
    namespace, external = run.one(NAMESPACE).urn, run.one(EXTERNAL).urn
    repository, configmap = run.one(HELM_REPOSITORY), run.one(CONFIG_MAP)
    assert set(repository.dependencies) == {namespace}
    assert set(configmap.dependencies) == {namespace}
    assert set(run.one(HELM_RELEASE).dependencies) == {
        namespace,
        external,
        run.one(VAULT_SECRET).urn,
        repository.urn,
        configmap.urn,
    }


@pytest.mark.parametrize("stack", STACKS)
def test_flux_inline_values_and_the_configmap_reassemble_the_helm_values(runs, stack):
    run = runs[("flux", stack)]
    spec = inputs(run, HELM_RELEASE)["spec"]
    (source,) = spec["valuesFrom"]
    snapshot = inputs(run, CONFIG_MAP)["data"][source["valuesKey"]]
    reassembled = {**spec["values"], source["targetPath"]: snapshot}
    assert canonical(reassembled) == canonical(helm_values(runs, stack))
    assert snapshot.encode() == (REPO / f"snapshots/{stack}/qtap-config.yaml").read_bytes()


# -- bad settings, diff locality ---------------------------------------------------------------


def test_settings_of_another_mode_register_nothing():
    run = run_stack("dev", config_overrides=delivery("flux", argocd={"project": "x"}))
    assert run.registrations == []
    assert "qtap:delivery.argocd" in str(run.error)
    assert "does not apply" in str(run.error)


# What a snapshot edit changes, per mode: (type, path of the changed input) pairs.
CARRIERS = {
    "helm": {(RELEASE, "values.config"), (RELEASE, "values.podAnnotations.checksum/qtap-config")},
    "argocd": {
        (APPLICATION, "spec.source.helm.valuesObject.config"),
        (APPLICATION, "spec.source.helm.valuesObject.podAnnotations.checksum/qtap-config"),
        (APPLICATION, "metadata.annotations.pulumi.com/waitFor"),
    },
    "flux": {
        (CONFIG_MAP, "data.qtap-config.yaml"),
        (HELM_RELEASE, "spec.values.podAnnotations.checksum/qtap-config"),
    },
}


def changed_paths(old: Any, new: Any, prefix: str = "") -> Iterator[str]:
    """Dotted paths of the leaves where `old` and `new` differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                yield from changed_paths(old.get(key), new.get(key), f"{prefix}{key}.")
    elif old != new:
        yield prefix.rstrip(".")


@pytest.mark.parametrize("mode", MODES)
def test_a_snapshot_edit_changes_exactly_the_objects_that_carry_it(tmp_path: Path, mode):
    project = copy_project(tmp_path / "p")
    before = {stack: run_mode(stack, mode, project) for stack in STACKS}
    edit_snapshot(project, "staging", "level: headers", "level: full")
    after = {stack: run_mode(stack, mode, project) for stack in STACKS}

    for stack in ("dev", "prod"):
        assert comparable(before[stack]) == comparable(after[stack]), stack
    old, new = comparable(before["staging"]), comparable(after["staging"])
    assert old.keys() == new.keys(), "no resource added or removed"
    types = {r.urn: r.type for r in after["staging"].registrations}
    changes = {
        (types[urn], path)
        for urn in old
        if old[urn] != new[urn]
        for path in changed_paths(old[urn], new[urn])
    }
    assert changes == CARRIERS[mode]
    changed_outputs = {
        k for k, v in before["staging"].outputs.items() if after["staging"].outputs[k] != v
    }
    assert changed_outputs == {"snapshotSha256"}


@pytest.mark.parametrize("mode", ["argocd", "flux"])
def test_preview_registers_the_same_delivery_objects(runs, mode):
    preview = run_stack("dev", config_overrides=delivery(mode), preview=True)
    assert preview.error is None
    assert sorted(r.urn for r in preview.registrations) == sorted(
        r.urn for r in runs[(mode, "dev")].registrations
    )
    for type_token in DELIVERY_OBJECTS[mode]:
        planned, applied = (
            preview.one(type_token).inputs,
            runs[(mode, "dev")].one(type_token).inputs,
        )
        # Only the secrets revision differs: the KV version is known once Vault wrote it.
        assert all(isinstance(v, Unknown) for v in revisions(planned))
        assert without_revision(planned) == without_revision(applied)


def revisions(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        if SECRETS_REVISION_ANNOTATION in value:
            yield value[SECRETS_REVISION_ANNOTATION]
        for item in value.values():
            yield from revisions(item)
    elif isinstance(value, list):
        for item in value:
            yield from revisions(item)


def without_revision(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: without_revision(v) for k, v in value.items() if k != SECRETS_REVISION_ANNOTATION
        }
    if isinstance(value, list):
        return [without_revision(v) for v in value]
    return value

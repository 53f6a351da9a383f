"""Per stack, the Argo CD and Flux objects the program generates against the controllers' real
CRDs (Argo CD v3.5.1, Flux 2.9: strict, an unknown field fails), the Flux ConfigMap with
kubernetes-validate, and the values each mode carries against the qtap chart's values.yaml.
Every check is also run on a deliberately broken copy, which it must reject."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from qtap_gitops.delivery import argocd_application, flux_helm_repository
from tests.conftest import STACKS
from tests.real.generated import generated
from tests.real.k8s_schemas import (
    api_object,
    check_core_object,
    check_delivery_object,
    check_release_values,
    core_problems,
    delivery_problems,
)

pytestmark = pytest.mark.real

APPLICATION = "kubernetes:argoproj.io/v1alpha1:Application"
HELM_REPOSITORY = "kubernetes:source.toolkit.fluxcd.io/v1:HelmRepository"
HELM_RELEASE = "kubernetes:helm.toolkit.fluxcd.io/v2:HelmRelease"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"


def delivered(stack: str, mode: str, type_token: str) -> dict[str, Any]:
    """The generated object of that type, as the API server would receive it."""
    program = generated(stack, **{"qtap:delivery": json.dumps({"mode": mode})})
    return api_object(type_token, program.one(type_token))


def broken(obj: dict[str, Any], edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    copied = copy.deepcopy(obj)
    edit(copied)
    return copied


# -- Argo CD Application ---------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_argocd_application_validates_against_the_argo_cd_crd(stack):
    application = delivered(stack, "argocd", APPLICATION)
    check_delivery_object(application)
    check_release_values(application["spec"]["source"]["helm"]["valuesObject"])


ARGOCD_BREAKAGES: dict[str, Callable[[dict[str, Any]], None]] = {
    # An unknown field (a typo of valuesObject) is rejected, not silently pruned.
    "unknown field": lambda a: a["spec"]["source"]["helm"].update(valueObject={}),
    # The namespace-creating sync option lives in syncOptions; this key does not exist.
    "unknown syncPolicy key": lambda a: a["spec"]["syncPolicy"].update(createNamespace=True),
    "missing project": lambda a: a["spec"].pop("project"),
    "missing destination": lambda a: a["spec"].pop("destination"),
    "source without repoURL": lambda a: a["spec"]["source"].pop("repoURL"),
    "prune as a string": lambda a: a["spec"]["syncPolicy"]["automated"].update(prune="true"),
    "a version Argo CD does not serve": lambda a: a.update(apiVersion="argoproj.io/v1beta1"),
    "a bad finalizer list": lambda a: a["metadata"].update(finalizers="x"),
}


@pytest.mark.parametrize("breakage", sorted(ARGOCD_BREAKAGES))
def test_the_argo_cd_check_rejects_a_broken_application(breakage):
    application = delivered("dev", "argocd", APPLICATION)
    assert delivery_problems(application) == []
    assert delivery_problems(broken(application, ARGOCD_BREAKAGES[breakage])), breakage


# -- Flux HelmRepository, HelmRelease and the snapshot ConfigMap ------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_flux_objects_validate_against_the_flux_crds(stack):
    check_delivery_object(delivered(stack, "flux", HELM_REPOSITORY))
    release = delivered(stack, "flux", HELM_RELEASE)
    check_delivery_object(release)
    configmap = delivered(stack, "flux", CONFIG_MAP)
    check_core_object(configmap)
    # What helm-controller installs: the inline values with the ConfigMap's snapshot as config.
    (source,) = release["spec"]["valuesFrom"]
    values = {
        **release["spec"]["values"],
        source["targetPath"]: configmap["data"]["qtap-config.yaml"],
    }
    check_release_values(values)


HELM_RELEASE_BREAKAGES: dict[str, Callable[[dict[str, Any]], None]] = {
    "unknown field": lambda r: r["spec"].update(valuesFile="x"),
    "unknown valuesFrom field": lambda r: r["spec"]["valuesFrom"][0].update(path="config"),
    "drift mode not in the enum": lambda r: r["spec"]["driftDetection"].update(mode="on"),
    "remediation strategy not in the enum": lambda r: r["spec"]["upgrade"]["remediation"].update(
        strategy="reinstall"
    ),
    "interval not a duration": lambda r: r["spec"].update(interval="5 minutes"),
    "missing interval": lambda r: r["spec"].pop("interval"),
    "valuesFrom of a Pod": lambda r: r["spec"]["valuesFrom"][0].update(kind="Pod"),
    "chart without sourceRef": lambda r: r["spec"]["chart"]["spec"].pop("sourceRef"),
    # Qpoint's document uses v2beta1, which Flux 2.7 stopped serving.
    "the removed v2beta1": lambda r: r.update(apiVersion="helm.toolkit.fluxcd.io/v2beta1"),
}

HELM_REPOSITORY_BREAKAGES: dict[str, Callable[[dict[str, Any]], None]] = {
    "unknown field": lambda r: r["spec"].update(chart="qtap"),
    "missing url": lambda r: r["spec"].pop("url"),
    "url without a scheme": lambda r: r["spec"].update(url="helm.qpoint.io"),
    "type not in the enum": lambda r: r["spec"].update(type="http"),
    "a version Flux does not serve": lambda r: r.update(
        apiVersion="source.toolkit.fluxcd.io/v1beta2"
    ),
}


@pytest.mark.parametrize("breakage", sorted(HELM_RELEASE_BREAKAGES))
def test_the_flux_check_rejects_a_broken_helm_release(breakage):
    release = delivered("dev", "flux", HELM_RELEASE)
    assert delivery_problems(release) == []
    assert delivery_problems(broken(release, HELM_RELEASE_BREAKAGES[breakage])), breakage


@pytest.mark.parametrize("breakage", sorted(HELM_REPOSITORY_BREAKAGES))
def test_the_flux_check_rejects_a_broken_helm_repository(breakage):
    repository = delivered("dev", "flux", HELM_REPOSITORY)
    assert delivery_problems(repository) == []
    assert delivery_problems(broken(repository, HELM_REPOSITORY_BREAKAGES[breakage])), breakage


def test_the_configmap_check_rejects_a_broken_configmap():
    configmap = delivered("dev", "flux", CONFIG_MAP)
    assert core_problems(configmap) == []
    assert core_problems(broken(configmap, lambda c: c.update(binaryData={"x": 1})))
    assert core_problems(broken(configmap, lambda c: c.update(spec={})))


def test_chart_values_check_rejects_a_value_the_chart_does_not_define():
    values = delivered("dev", "argocd", APPLICATION)["spec"]["source"]["helm"]["valuesObject"]
    with pytest.raises(AssertionError, match="not a key of the chart"):
        check_release_values({**values, "configs": "x"})


# -- what Pulumi waits for on the Application ------------------------------------------------

_SEGMENT = re.compile(r"\.([A-Za-z0-9_]+)|\['([^']*)'\]")


def wait_expressions(annotation: str) -> list[tuple[list[str], str]]:
    """`pulumi.com/waitFor` read as pulumi-kubernetes reads it (provider/pkg/metadata/overrides.go,
    provider/pkg/jsonpath/jsonpath.go): a JSON list of `jsonpath={path}=value` expressions; each
    path here is a chain of `.name` and `['name']` segments."""
    parsed = []
    for expression in json.loads(annotation):
        assert expression.startswith("jsonpath="), expression
        path, _, value = expression.removeprefix("jsonpath=").rpartition("=")
        assert path.startswith("{"), expression
        assert path.endswith("}"), expression
        assert value, expression
        assert not value.startswith("{"), expression
        inner = path[1:-1]
        segments = [m.group(1) or m.group(2) for m in _SEGMENT.finditer(inner)]
        assert "".join(m.group(0) for m in _SEGMENT.finditer(inner)) == inner, expression
        parsed.append((segments, value))
    return parsed


def satisfied(obj: Any, expressions: list[tuple[list[str], str]]) -> bool:
    for segments, value in expressions:
        node = obj
        for segment in segments:
            if not isinstance(node, dict) or segment not in node:
                return False
            node = node[segment]
        if str(node) != value:
            return False
    return True


def with_status(application: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The Application as Argo CD reports it once synced to `values` and healthy."""
    source = {**application["spec"]["source"], "helm": {"valuesObject": values}}
    status = {
        "sync": {
            "status": "Synced",
            "revision": source["targetRevision"],
            "comparedTo": {"source": source, "destination": application["spec"]["destination"]},
        },
        "health": {"status": "Healthy"},
    }
    return {**application, "status": status}


def test_the_wait_holds_only_once_argo_cd_compared_this_snapshot_and_is_healthy():
    application = delivered("dev", "argocd", APPLICATION)
    expressions = wait_expressions(application["metadata"]["annotations"]["pulumi.com/waitFor"])
    values = application["spec"]["source"]["helm"]["valuesObject"]
    live = with_status(application, values)
    # The status used here is one the Application CRD accepts.
    assert delivery_problems(live) == []
    assert satisfied(live, expressions)

    # Synced and Healthy, but still on the previous snapshot: no observedGeneration in Argo CD.
    previous = copy.deepcopy(values)
    previous["podAnnotations"]["checksum/qtap-config"] = "0" * 64
    assert not satisfied(with_status(application, previous), expressions)
    for field, value in (("sync", "OutOfSync"), ("health", "Progressing")):
        stale = copy.deepcopy(live)
        stale["status"][field]["status"] = value
        assert delivery_problems(stale) == []
        assert not satisfied(stale, expressions)


def test_an_oci_chart_repository_gives_objects_the_crds_accept():
    values = delivered("dev", "argocd", APPLICATION)["spec"]["source"]["helm"]["valuesObject"]
    body = argocd_application(
        name="qtap-dev",
        namespace="argocd",
        project="default",
        destination_server="https://kubernetes.default.svc",
        destination_namespace="qpoint",
        repo="oci://ghcr.io/qpoint-io/charts",
        chart_version="0.0.38",
        values=values,
        snapshot_sha256="ab" * 32,
    )
    check_delivery_object({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", **body})
    repository = flux_helm_repository(
        namespace="qpoint", url="oci://ghcr.io/qpoint-io/charts", interval="5m"
    )
    check_delivery_object(
        {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository", **repository}
    )

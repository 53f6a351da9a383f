"""The GitOps delivery objects as plain data: placement of the values, names, repository kinds."""

from __future__ import annotations

import pytest

from qtap_gitops.delivery import (
    argocd_application,
    argocd_application_name,
    argocd_source,
    flux_helm_release,
    flux_helm_repository,
    flux_snapshot_configmap,
    flux_values,
)

SNAPSHOT = "version: 2\n# a comment, {braces}, commas, a=b\nservices: {}\n"
VALUES = {
    "config": SNAPSHOT,
    "extraEnv": [
        {"name": "A", "valueFrom": {"secretKeyRef": {"name": "qtap-secrets", "key": "A"}}}
    ],
    "podAnnotations": {"checksum/qtap-config": "ab" * 32},
    "logLevel": "info",
}


def test_flux_values_split_and_reassemble_exactly():
    inline, config = flux_values(VALUES)
    assert "config" not in inline
    assert config is SNAPSHOT
    assert {**inline, "config": config} == VALUES
    configmap = flux_snapshot_configmap(namespace="qpoint", snapshot_text=config)
    release = flux_helm_release(
        namespace="qpoint", chart_version="0.0.38", interval="5m", inline_values=inline
    )
    (source,) = release["spec"]["valuesFrom"]
    assert configmap["metadata"]["name"] == source["name"]
    reassembled = {
        **release["spec"]["values"],
        source["targetPath"]: configmap["data"][source["valuesKey"]],
    }
    assert reassembled == VALUES


def test_flux_values_refuse_a_config_that_is_not_the_snapshot_text():
    with pytest.raises(TypeError, match="snapshot text"):
        flux_values({**VALUES, "config": {"version": 2}})


def test_argocd_carries_the_values_unchanged():
    application = argocd_application(
        name="qtap-dev",
        namespace="argocd",
        project="default",
        destination_server="https://kubernetes.default.svc",
        destination_namespace="qpoint",
        repo="https://helm.qpoint.io/",
        chart_version="0.0.38",
        values=VALUES,
        snapshot_sha256="ab" * 32,
    )
    assert application["spec"]["source"]["helm"]["valuesObject"] == VALUES
    assert application["spec"]["source"]["helm"]["valuesObject"] is not VALUES


@pytest.mark.parametrize(
    ("stack", "name"),
    [("dev", "qtap-dev"), ("Prod_EU", "qtap-prod-eu"), ("team.staging", "qtap-team.staging")],
)
def test_application_names_are_kubernetes_names(stack, name):
    assert argocd_application_name(stack) == name


def test_an_oci_repository_is_an_oci_source_in_both_controllers():
    source = argocd_source("oci://ghcr.io/qpoint-io/charts", "0.0.38", VALUES)
    assert source["repoURL"] == "oci://ghcr.io/qpoint-io/charts/qtap"
    assert source["path"] == "."
    assert "chart" not in source
    https = argocd_source("https://helm.qpoint.io/", "0.0.38", VALUES)
    assert (https["repoURL"], https["chart"]) == ("https://helm.qpoint.io/", "qtap")

    oci = flux_helm_repository(
        namespace="qpoint", url="oci://ghcr.io/qpoint-io/charts", interval="5m"
    )
    assert oci["spec"]["type"] == "oci"
    # source-controller never marks an OCI HelmRepository Ready: nothing to wait for.
    assert "annotations" not in oci["metadata"]
    assert (
        "type"
        not in flux_helm_repository(
            namespace="qpoint", url="https://helm.qpoint.io/", interval="5m"
        )["spec"]
    )

"""The objects that hand the qtap chart to a GitOps controller (Argo CD or Flux), as plain dicts.

Whichever object delivers the chart carries the values built once by `release_values`
(`config` = the snapshot bytes, `extraEnv` = secretKeyRefs, the snapshot digest as a pod
annotation, the stack's extra values). These builders only place those values; they never
rebuild or reorder them, so every mode installs the chart with the same values as Pulumi's own
Helm release. Facts about the controllers come from their own sources (argoproj/argo-cd v3.5.1
`docs/user-guide/helm.md`, `manifests/crds/application-crd.yaml`; fluxcd/helm-controller v1.6.3
`api/v2/helmrelease_types.go`, fluxcd/source-controller v1.9.1 `api/v1/helmrepository_types.go`).

Values may hold Pulumi outputs (a secrets revision annotation); nothing here looks inside them
beyond `config`, which is the snapshot text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .release_values import SNAPSHOT_CHECKSUM_ANNOTATION

CHART_NAME = "qtap"
# The Helm release name in every mode: the chart's object names (`<fullname>` = `qtap`) and the
# DaemonSet's identity stay the same whichever controller installs it. Argo CD would otherwise
# use the Application's name and Flux `<namespace>-<name>`.
RELEASE_NAME = "qtap"
CONFIG_VALUE = "config"
"""The chart value that holds the snapshot (qpoint/qtap values.yaml)."""

MANAGED_BY = {"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "qtap"}
WAIT_FOR = "pulumi.com/waitFor"
TIMEOUT_SECONDS = "pulumi.com/timeoutSeconds"
# As long as Pulumi waits for its own Helm release (components/qtap_release.py).
AWAIT_SECONDS = 600

# -- Argo CD ----------------------------------------------------------------------------------

ARGOCD_API_VERSION = "argoproj.io/v1alpha1"
# Without this finalizer, deleting the Application leaves the DaemonSet running; with it, Argo
# CD deletes the chart's objects first (argo-cd docs/user-guide/app_deletion.md).
ARGOCD_FINALIZER = "resources-finalizer.argocd.argoproj.io"


def argocd_application_name(stack: str) -> str:
    """`qtap-<stack>`: Application names are unique per Argo CD namespace, and naming it after the
    stack keeps stacks apart should several ever share one Argo CD. Pulumi stack names may hold
    `_` and upper case, which a Kubernetes object name may not."""
    name = re.sub(r"[^a-z0-9.-]", "-", f"qtap-{stack}".lower()).strip("-.")
    return name[:253]


def argocd_wait_for(snapshot_sha256: str) -> str:
    """`pulumi.com/waitFor` of the Application: every expression must hold at once
    (pulumi-kubernetes v4.18+, `provider/pkg/metadata/overrides.go`: a JSON list of
    `jsonpath={...}=value` expressions, kubectl's strict JSONPath syntax).

    An Application has no `status.observedGeneration` (reference: argo-cd
    `pkg/apis/application/v1alpha1/types.go`, ApplicationStatus), so right after an update
    `Synced`/`Healthy` may still describe the previous values and the wait would pass at once.
    The third expression closes that gap for snapshot changes: Argo CD records the source it
    last compared in `status.sync.comparedTo`, so the wait holds until Argo CD has compared the
    live objects with the values that carry this snapshot's digest. (A change that keeps the
    snapshot, e.g. a new secrets revision alone, still relies on Synced/Healthy only.)
    """
    return json.dumps(
        [
            "jsonpath={.status.sync.status}=Synced",
            "jsonpath={.status.health.status}=Healthy",
            "jsonpath={.status.sync.comparedTo.source.helm.valuesObject.podAnnotations"
            f"['{SNAPSHOT_CHECKSUM_ANNOTATION}']}}={snapshot_sha256}",
        ]
    )


def argocd_source(repo: str, chart_version: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The Application's source: the pinned chart from the qpoint Helm repository, values inline.

    The values travel inside the Application (`helm.valuesObject`, Argo CD 2.8+), not in a
    git-tracked values file: an Application that tracked a branch would render a new snapshot
    as soon as it is pushed, but the pod annotation with the snapshot's digest is computed by
    this program, so the DaemonSet's pod template would not change and the pods (which mount the
    config with `subPath` and never see a ConfigMap update) would keep the old configuration.
    Inline, the snapshot and its digest change together, in one reviewed `pulumi up`.
    """
    helm = {"releaseName": RELEASE_NAME, "valuesObject": dict(values)}
    if repo.startswith("oci://"):
        # Argo CD 3.1+ reads an OCI Helm chart as an OCI source: the chart is part of the
        # repository URL and `path` is `.` (argo-cd docs/user-guide/oci.md).
        return {
            "repoURL": f"{repo.rstrip('/')}/{CHART_NAME}",
            "path": ".",
            "targetRevision": chart_version,
            "helm": helm,
        }
    return {"repoURL": repo, "chart": CHART_NAME, "targetRevision": chart_version, "helm": helm}


def argocd_application(
    *,
    name: str,
    namespace: str,
    project: str,
    destination_server: str,
    destination_namespace: Any,
    repo: str,
    chart_version: str,
    values: Mapping[str, Any],
    snapshot_sha256: str,
) -> dict[str, Any]:
    """`metadata` and `spec` of the Argo CD Application that installs the chart."""
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(MANAGED_BY),
            "annotations": {
                WAIT_FOR: argocd_wait_for(snapshot_sha256),
                TIMEOUT_SECONDS: str(AWAIT_SECONDS),
            },
            "finalizers": [ARGOCD_FINALIZER],
        },
        "spec": {
            "project": project,
            "source": argocd_source(repo, chart_version, values),
            # The namespace exists already: Pulumi creates it with its Pod Security label (the
            # agent is privileged). No CreateNamespace: Argo CD would create it unlabelled, and
            # managedNamespaceMetadata only applies with CreateNamespace.
            "destination": {"server": destination_server, "namespace": destination_namespace},
            # prune: objects a new chart version drops are deleted; selfHeal: a hand edit in the
            # cluster is reverted to the values above.
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
        },
    }


# -- Flux -------------------------------------------------------------------------------------

FLUX_SOURCE_API_VERSION = "source.toolkit.fluxcd.io/v1"
FLUX_HELM_API_VERSION = "helm.toolkit.fluxcd.io/v2"
FLUX_REPOSITORY_NAME = "qpoint"
SNAPSHOT_CONFIGMAP_NAME = "qtap-snapshot"
SNAPSHOT_CONFIGMAP_KEY = "qtap-config.yaml"
"""The ConfigMap key that holds the snapshot bytes (tools summarize it, never print it)."""
# helm-controller watches ConfigMaps/Secrets with this label and reconciles the HelmReleases that
# reference them at once, instead of at the next interval (fluxcd/helm-controller v1.6.3
# `docs/spec/v2/helmreleases.md`, "Values references").
FLUX_WATCH_LABEL = {"reconcile.fluxcd.io/watch": "Enabled"}
REMEDIATION_RETRIES = 3
# As many release revisions as Pulumi's own Helm release keeps (components/qtap_release.py).
MAX_HISTORY = 10


def flux_values(values: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """(inline values, snapshot text): the HelmRelease carries everything but `config` inline and
    reads `config` from the ConfigMap; together they are exactly `values`."""
    inline = {k: v for k, v in values.items() if k != CONFIG_VALUE}
    config = values[CONFIG_VALUE]
    if not isinstance(config, str):
        raise TypeError("the chart value 'config' must be the snapshot text")
    return inline, config


def flux_helm_repository(*, namespace: Any, url: str, interval: str) -> dict[str, Any]:
    """`metadata` and `spec` of the HelmRepository that serves the qtap chart."""
    spec: dict[str, Any] = {"url": url, "interval": interval}
    metadata: dict[str, Any] = {
        "name": FLUX_REPOSITORY_NAME,
        "namespace": namespace,
        "labels": dict(MANAGED_BY),
    }
    if url.startswith("oci://"):
        # An OCI HelmRepository is only a data container: source-controller fetches no index
        # and produces no artifact for it (fluxcd/source-controller
        # docs/spec/v1/helmrepositories.md), so there is no Ready to wait for.
        spec["type"] = "oci"
    else:
        # Ready once source-controller has fetched the repository index: a wrong URL fails
        # here, named, instead of as a HelmRelease that never installs.
        metadata["annotations"] = {WAIT_FOR: "condition=Ready"}
    return {"metadata": metadata, "spec": spec}


def flux_snapshot_configmap(*, namespace: Any, snapshot_text: str) -> dict[str, Any]:
    """`metadata` and `data` of the ConfigMap that holds the snapshot bytes."""
    return {
        "metadata": {
            "name": SNAPSHOT_CONFIGMAP_NAME,
            "namespace": namespace,
            "labels": {**MANAGED_BY, **FLUX_WATCH_LABEL},
        },
        "data": {SNAPSHOT_CONFIGMAP_KEY: snapshot_text},
    }


def flux_helm_release(
    *,
    namespace: Any,
    chart_version: str,
    interval: str,
    inline_values: Mapping[str, Any],
) -> dict[str, Any]:
    """`metadata` and `spec` of the HelmRelease that installs the chart."""
    return {
        "metadata": {
            "name": RELEASE_NAME,
            "namespace": namespace,
            "labels": dict(MANAGED_BY),
            # helm-controller sets status.observedGeneration and a Ready condition for the
            # generation it reconciled, so Ready after an update describes the new spec.
            "annotations": {WAIT_FOR: "condition=Ready", TIMEOUT_SECONDS: str(AWAIT_SECONDS)},
        },
        "spec": {
            "interval": interval,
            "releaseName": RELEASE_NAME,
            "chart": {
                "spec": {
                    "chart": CHART_NAME,
                    "version": chart_version,
                    "sourceRef": {"kind": "HelmRepository", "name": FLUX_REPOSITORY_NAME},
                }
            },
            "maxHistory": MAX_HISTORY,
            "timeout": f"{AWAIT_SECONDS // 60}m",
            "install": {"remediation": {"retries": REMEDIATION_RETRIES}},
            "upgrade": {
                "cleanupOnFail": True,
                "remediation": {"retries": REMEDIATION_RETRIES, "strategy": "rollback"},
            },
            # helm-controller compares the cluster with the release manifest on every
            # reconcile and corrects what was changed by hand.
            "driftDetection": {"mode": "enabled"},
            # The snapshot goes in verbatim: with targetPath alone Flux would pass it through
            # Helm's --set parser (commas, braces and dots mangled); `literal: true`
            # (helm-controller v1.6.0, Flux 2.9+) is --set-literal. Without targetPath the
            # snapshot's own keys would be merged into the chart's root values.
            "valuesFrom": [
                {
                    "kind": "ConfigMap",
                    "name": SNAPSHOT_CONFIGMAP_NAME,
                    "valuesKey": SNAPSHOT_CONFIGMAP_KEY,
                    "targetPath": CONFIG_VALUE,
                    "literal": True,
                }
            ],
            # Everything else inline, the snapshot digest annotation included: a new snapshot
            # changes the pod template and rolls the DaemonSet (the chart mounts its config with
            # subPath, so pods never see a ConfigMap update by themselves).
            "values": dict(inline_values),
        },
    }

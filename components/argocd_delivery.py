"""Delivery through Argo CD: one Application that installs the qpoint/qtap chart.

Pulumi owns the Application; Argo CD renders the chart, applies it and heals drift. The values
are the ones Pulumi's own Helm release would get (qtap_gitops.release_values), carried inline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from qtap_gitops.delivery import (
    ARGOCD_API_VERSION,
    RELEASE_NAME,
    argocd_application,
    argocd_application_name,
)
from qtap_gitops.settings import ArgoCdDeliverySettings, ArgoCdSettings, ChartSettings

from .delivery import DeliveryInputs


@dataclass(frozen=True)
class ArgoCdDeliveryArgs:
    application_name: str
    """Unique within the Argo CD namespace (qtap_gitops.delivery.argocd_application_name)."""
    argocd: ArgoCdSettings
    namespace: pulumi.Input[str]
    """The agent's namespace, created by Pulumi (with its Pod Security label)."""
    chart: ChartSettings
    values: Mapping[str, Any]
    """Complete chart values (see qtap_gitops.release_values); never holds a secret."""
    snapshot_sha256: str
    secret_ready: Sequence[pulumi.Resource]
    """What makes the Secret the pods read exist; the agent cannot start before it."""


class ArgoCdDelivery(pulumi.ComponentResource):
    """`qtap:delivery.mode: argocd`."""

    release_name: pulumi.Output[str]
    chart_version: pulumi.Output[str]
    application_name: pulumi.Output[str]

    @classmethod
    def for_environment(
        cls, name: str, inputs: DeliveryInputs, parent: pulumi.Resource
    ) -> ArgoCdDelivery:
        settings = inputs.deployment.settings
        assert isinstance(settings.delivery, ArgoCdDeliverySettings)  # the registry's key
        return cls(
            f"{name}-argocd",
            ArgoCdDeliveryArgs(
                application_name=argocd_application_name(settings.stack),
                argocd=settings.delivery.argocd,
                namespace=inputs.namespace,
                chart=settings.chart,
                values=inputs.values,
                snapshot_sha256=inputs.deployment.snapshot.sha256,
                secret_ready=inputs.secret_ready,
            ),
            opts=pulumi.ResourceOptions(parent=parent),
        )

    def __init__(
        self, name: str, args: ArgoCdDeliveryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("qtap:kubernetes:ArgoCdDelivery", name, None, opts)
        body = argocd_application(
            name=args.application_name,
            namespace=args.argocd.namespace,
            project=args.argocd.project,
            destination_server=args.argocd.destination_server,
            destination_namespace=args.namespace,
            repo=args.chart.repo,
            chart_version=args.chart.version,
            values=args.values,
            snapshot_sha256=args.snapshot_sha256,
        )
        self.application = k8s.apiextensions.CustomResource(
            f"{name}-application",
            api_version=ARGOCD_API_VERSION,
            kind="Application",
            metadata=body["metadata"],
            spec=body["spec"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.secret_ready)),
        )
        self.release_name = pulumi.Output.from_input(RELEASE_NAME)
        self.chart_version = pulumi.Output.from_input(args.chart.version)
        self.application_name = pulumi.Output.from_input(args.application_name)
        self.register_outputs(
            {
                "release_name": self.release_name,
                "chart_version": self.chart_version,
                "application_name": self.application_name,
            }
        )

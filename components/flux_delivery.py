"""Delivery through Flux: a HelmRepository, the snapshot in a ConfigMap, and a HelmRelease.

Pulumi owns the three objects; Flux's helm-controller installs the chart, remediates a failed
upgrade by rolling back and corrects drift. The HelmRelease's inline values plus the ConfigMap's
snapshot (as `config`) are exactly the values Pulumi's own Helm release would get.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from qtap_gitops.delivery import (
    FLUX_HELM_API_VERSION,
    FLUX_SOURCE_API_VERSION,
    RELEASE_NAME,
    flux_helm_release,
    flux_helm_repository,
    flux_snapshot_configmap,
    flux_values,
)
from qtap_gitops.settings import ChartSettings, FluxDeliverySettings, FluxSettings

from .delivery import DeliveryInputs


@dataclass(frozen=True)
class FluxDeliveryArgs:
    flux: FluxSettings
    namespace: pulumi.Input[str]
    """The agent's namespace, created by Pulumi; all three objects live in it."""
    chart: ChartSettings
    values: Mapping[str, Any]
    """Complete chart values (see qtap_gitops.release_values); never holds a secret."""
    secret_ready: Sequence[pulumi.Resource]
    """What makes the Secret the pods read exist; the agent cannot start before it."""


class FluxDelivery(pulumi.ComponentResource):
    """`qtap:delivery.mode: flux`."""

    release_name: pulumi.Output[str]
    chart_version: pulumi.Output[str]

    @classmethod
    def for_environment(
        cls, name: str, inputs: DeliveryInputs, parent: pulumi.Resource
    ) -> FluxDelivery:
        settings = inputs.deployment.settings
        assert isinstance(settings.delivery, FluxDeliverySettings)  # the registry's key
        return cls(
            f"{name}-flux",
            FluxDeliveryArgs(
                flux=settings.delivery.flux,
                namespace=inputs.namespace,
                chart=settings.chart,
                values=inputs.values,
                secret_ready=inputs.secret_ready,
            ),
            opts=pulumi.ResourceOptions(parent=parent),
        )

    def __init__(
        self, name: str, args: FluxDeliveryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("qtap:kubernetes:FluxDelivery", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        inline_values, snapshot_text = flux_values(args.values)

        repository = flux_helm_repository(
            namespace=args.namespace, url=args.chart.repo, interval=args.flux.interval
        )
        self.repository = k8s.apiextensions.CustomResource(
            f"{name}-repository",
            api_version=FLUX_SOURCE_API_VERSION,
            kind="HelmRepository",
            metadata=repository["metadata"],
            spec=repository["spec"],
            opts=child,
        )
        snapshot = flux_snapshot_configmap(namespace=args.namespace, snapshot_text=snapshot_text)
        self.snapshot = k8s.core.v1.ConfigMap(
            f"{name}-snapshot",
            metadata=snapshot["metadata"],
            data=snapshot["data"],
            opts=child,
        )
        release = flux_helm_release(
            namespace=args.namespace,
            chart_version=args.chart.version,
            interval=args.flux.interval,
            inline_values=inline_values,
        )
        self.helm_release = k8s.apiextensions.CustomResource(
            f"{name}-helm-release",
            api_version=FLUX_HELM_API_VERSION,
            kind="HelmRelease",
            metadata=release["metadata"],
            spec=release["spec"],
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[self.repository, self.snapshot, *args.secret_ready],
            ),
        )
        self.release_name = pulumi.Output.from_input(RELEASE_NAME)
        self.chart_version = pulumi.Output.from_input(args.chart.version)
        self.register_outputs(
            {"release_name": self.release_name, "chart_version": self.chart_version}
        )

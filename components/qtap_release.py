"""The Helm release of the qpoint/qtap chart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from qtap_gitops.delivery import CHART_NAME, RELEASE_NAME
from qtap_gitops.settings import ChartSettings

from .delivery import DeliveryInputs

MAX_HISTORY = 10  # enough revisions to roll back, without an unbounded pile of release Secrets
TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class QtapReleaseArgs:
    namespace: pulumi.Input[str]
    chart: ChartSettings
    values: Mapping[str, Any]
    """Complete chart values (see qtap_gitops.release_values); never holds a secret."""
    secret_ready: Sequence[pulumi.Resource]
    """The ExternalSecret: the pods read their env from its Secret, so it must be synced first."""


class QtapRelease(pulumi.ComponentResource):
    """`qtap:delivery.mode: helm`: Pulumi installs the chart itself."""

    release_name: pulumi.Output[str]
    chart_version: pulumi.Output[str]

    @classmethod
    def for_environment(
        cls, name: str, inputs: DeliveryInputs, parent: pulumi.Resource
    ) -> QtapRelease:
        return cls(
            f"{name}-release",
            QtapReleaseArgs(
                namespace=inputs.namespace,
                chart=inputs.deployment.settings.chart,
                values=inputs.values,
                secret_ready=inputs.secret_ready,
            ),
            opts=pulumi.ResourceOptions(parent=parent),
        )

    def __init__(
        self, name: str, args: QtapReleaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("qtap:kubernetes:QtapRelease", name, None, opts)
        self.release = k8s.helm.v3.Release(
            f"{name}-helm",
            name=RELEASE_NAME,
            chart=CHART_NAME,
            version=args.chart.version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=args.chart.repo),
            namespace=args.namespace,
            values=dict(args.values),
            cleanup_on_fail=True,
            max_history=MAX_HISTORY,
            skip_await=False,
            timeout=TIMEOUT_SECONDS,
            # A new name or namespace forces a replacement. Created before the old release is
            # deleted (Pulumi's default), the new DaemonSet's pods could never start: the chart
            # runs the agent with hostNetwork and binds its status port on every node, which
            # the old pods still hold; Helm would time out with two eBPF agents on every node.
            # Deleting first costs a short gap in capture instead.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=list(args.secret_ready), delete_before_replace=True
            ),
        )
        self.release_name = pulumi.Output.from_input(RELEASE_NAME)
        self.chart_version = pulumi.Output.from_input(args.chart.version)
        self.register_outputs(
            {"release_name": self.release_name, "chart_version": self.chart_version}
        )

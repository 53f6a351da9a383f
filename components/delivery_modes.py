"""`qtap:delivery.mode` to the component class that delivers the chart: the one place that
reads the mode."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pulumi

from qtap_gitops.settings import DeliveryMode

from .argocd_delivery import ArgoCdDelivery
from .delivery import Delivery, DeliveryInputs
from .flux_delivery import FluxDelivery
from .qtap_release import QtapRelease

DeliveryFactory = Callable[[str, DeliveryInputs, pulumi.Resource], Delivery]

DELIVERIES: Mapping[DeliveryMode, DeliveryFactory] = {
    DeliveryMode.HELM: QtapRelease.for_environment,
    DeliveryMode.ARGOCD: ArgoCdDelivery.for_environment,
    DeliveryMode.FLUX: FluxDelivery.for_environment,
}


def deliver(name: str, inputs: DeliveryInputs, parent: pulumi.Resource) -> Delivery:
    """The delivery of the environment `name`, a child of `parent`."""
    return DELIVERIES[inputs.deployment.settings.delivery.mode](name, inputs, parent)

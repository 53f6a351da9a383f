"""What every delivery mode (`qtap:delivery.mode`) is built from, and what it gives back.

Each mode is one component class (`QtapRelease`, `ArgoCdDelivery`, `FluxDelivery`) with a
`for_environment` constructor taking `DeliveryInputs`; `components/delivery_modes.py` chooses
the class, the only place that reads the mode.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pulumi

from qtap_gitops.deployment import Deployment


@dataclass(frozen=True)
class DeliveryInputs:
    deployment: Deployment
    """The stack's checked settings and snapshot; each mode reads its own settings."""
    namespace: pulumi.Input[str]
    """The agent's namespace, created by the secrets backend."""
    values: Mapping[str, Any]
    """Complete chart values (see qtap_gitops.release_values); never holds a secret."""
    secret_ready: Sequence[pulumi.Resource]
    """What makes the Secret the pods read exist (and the agent's role): the agent cannot
    start before it."""


class Delivery(Protocol):
    """The component that delivers the chart, as the environment sees it."""

    @property
    def release_name(self) -> pulumi.Output[str]: ...

    @property
    def chart_version(self) -> pulumi.Output[str]: ...

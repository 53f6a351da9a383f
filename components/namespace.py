"""The agent's namespace, for the secrets backends other than External Secrets Operator.

The ESO backend keeps creating the namespace inside `SecretSync` (where it has always been), so
the URNs and the plans of existing ESO stacks stay exactly as they are; the other backends get
the same Namespace, with the same labels, from this component, aliased to its URN under
`SecretSync` so that switching a stack from ESO to another backend updates the Namespace in
place: a new URN alone would make Pulumi create it again (it exists) and then delete it, with
everything in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from qtap_gitops.pod_security import PRIVILEGED

from .secret_sync import MANAGED_BY
from .urns import NAMESPACE_TYPE, ResourcePath


@dataclass(frozen=True)
class AgentNamespaceArgs:
    namespace: str
    moved_from: Sequence[pulumi.Input[str]] = ()
    """The URNs this Namespace had under another backend's component (`SecretSync` of the ESO
    backend): a stack that switches backends keeps its namespace instead of deleting it and
    creating it again."""


class AgentNamespace(pulumi.ComponentResource):
    TYPE = "qtap:kubernetes:AgentNamespace"

    namespace_name: pulumi.Output[str]

    @classmethod
    def namespace_location(cls, name: str) -> ResourcePath:
        """Where the Namespace of the component `name` is, below the component's parent."""
        return ((cls.TYPE, name), (NAMESPACE_TYPE, f"{name}-namespace"))

    def __init__(
        self, name: str, args: AgentNamespaceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(self.TYPE, name, None, opts)
        (_, (_, namespace_name)) = self.namespace_location(name)
        self.namespace = k8s.core.v1.Namespace(
            namespace_name,
            metadata={"name": args.namespace, "labels": {**MANAGED_BY, **PRIVILEGED}},
            opts=pulumi.ResourceOptions(
                parent=self, aliases=list(args.moved_from) if args.moved_from else None
            ),
        )
        self.namespace_name = self.namespace.metadata.apply(lambda m: m["name"])
        self.register_outputs({"namespace_name": self.namespace_name})

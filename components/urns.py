"""Where a resource sits in the program's tree, and its URN from there.

A backend that takes over another backend's resource (the agent's Namespace) aliases the URN
that resource had; the URN is computed from where the other component says it puts the
resource, never written out by hand.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

# pulumi_kubernetes registers core/v1 Namespace under this type token (its Namespace class).
NAMESPACE_TYPE = "kubernetes:core/v1:Namespace"

ResourcePath = tuple[tuple[str, str], ...]
"""(type token, resource name) of each resource from a component's child down to the resource."""


def urn_at(path: ResourcePath, parent: pulumi.Resource) -> pulumi.Output[str]:
    """The URN of the resource at `path` below `parent` (pulumi.create_urn, level by level)."""
    if not path:
        raise ValueError("an empty resource path names no resource")
    urn: pulumi.Output[str] | None = None
    for type_token, name in path:
        urn = pulumi.create_urn(name, type_token, parent if urn is None else urn)
    assert urn is not None
    return urn


def aliases_of(
    own: ResourcePath, paths: Sequence[ResourcePath], parent: pulumi.Resource
) -> list[pulumi.Output[str]]:
    """The URNs of the same resource at every other path (in a stable order)."""
    return [urn_at(path, parent) for path in sorted(set(paths) - {own})]

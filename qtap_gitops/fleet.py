"""The fleet relation over all stacks of a project: who owns an environment, who is a member,
in which order the stacks deploy, and what must hold between an owner and its members.

One stack is one cluster. An environment (one Qplane snapshot) has one owner stack, which
creates the bucket, the writer identity and the Vault secret; a member runs the same snapshot on
another cluster and reads the owner's outputs through a StackReference (`qtap:fleet`, see
README "Fleets"). What no single stack's check can see is checked here, each problem at the
position of `qtap:fleet.owner` in the member's stack file, where the relation is declared.

Pure: no Pulumi import. `check`, `plan`, `diff`, `stacks` and `fleet` all read the relation
from here, so they agree on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .problems import Problem, problem
from .settings import (
    NAMESPACE,
    FleetSettings,
    RawStackConfig,
    SecretsBackend,
    StackSettings,
    position_of,
)

OWNER_KEY = f"{NAMESPACE}:fleet.owner"


@dataclass(frozen=True)
class FleetNode:
    """One stack as the relation sees it."""

    stack: str
    source: str
    """The stack file, as messages show it."""
    fleet: FleetSettings
    owner_at: tuple[int | None, int | None] = (None, None)
    """Position of `qtap:fleet.owner` (or of `qtap:fleet`) in the stack file."""
    snapshot_sha256: str | None = None
    """Digest of the snapshot's bytes; None when it could not be read."""
    sealed: bool = False
    """The stack uses the sealed-secrets backend (no Vault secret)."""
    vault_address: str | None = None
    passes: bool = True
    """The stack passes its own (single-stack) checks."""

    @property
    def owner(self) -> str:
        return self.fleet.owner

    @property
    def is_member(self) -> bool:
        return self.fleet.owner != self.stack


def node_of(
    settings: StackSettings,
    raw: RawStackConfig | None = None,
    *,
    snapshot_sha256: str | None = None,
    passes: bool = True,
) -> FleetNode:
    positions = raw.positions if raw is not None else {}
    return FleetNode(
        stack=settings.stack,
        source=settings.source,
        fleet=settings.fleet,
        owner_at=position_of(positions, OWNER_KEY),
        snapshot_sha256=snapshot_sha256,
        sealed=settings.secrets.backend is SecretsBackend.SEALED_SECRETS,
        vault_address=settings.vault.address if settings.vault else None,
        passes=passes,
    )


def deploy_key(node: FleetNode) -> tuple[int, int, str]:
    """Ring first (0 is the canary), then owners before members, then the stack name."""
    return node.fleet.ring, int(node.is_member), node.stack


def deploy_order(nodes: Iterable[FleetNode]) -> list[FleetNode]:
    """Every stack once, in the order CI deploys them (a member never before its owner, once
    `relation_problems` has nothing to say: a member's ring is never before its owner's)."""
    return sorted(nodes, key=deploy_key)


def _problem(node: FleetNode, code: str, message: str, fix: str, key: str = OWNER_KEY) -> Problem:
    line, column = node.owner_at
    return problem(
        code,
        node.source,
        (line, column),
        key,
        message,
        fix,
    )


def _owner_chain(node: FleetNode, by_stack: Mapping[str, FleetNode]) -> list[str]:
    """`node`'s owners, followed until a stack owns itself, is unknown or repeats."""
    chain = [node.stack]
    current = node
    while current.is_member and current.owner in by_stack and current.owner not in chain:
        current = by_stack[current.owner]
        chain.append(current.stack)
    if current.is_member:
        chain.append(current.owner)
    return chain


def _ownership_problem(
    node: FleetNode, by_stack: Mapping[str, FleetNode], known: Sequence[str]
) -> Problem | None:
    """The member's owner must be a stack of this project that owns itself."""
    owner = by_stack.get(node.owner)
    if owner is None and node.owner in known:
        return _problem(
            node,
            "fleet-owner-failing",
            f"the settings of the owner stack {node.owner} do not pass; a member deploys only "
            "with the outputs of its owner",
            f"fix the stack {node.owner} first (./scripts/qtap check {node.owner})",
        )
    if owner is None:
        return _problem(
            node,
            "fleet-owner-missing",
            f"the owner stack {node.owner} has no stack file Pulumi.{node.owner}.yaml in this "
            "project",
            f"add Pulumi.{node.owner}.yaml for the owner, or set {OWNER_KEY} to a stack of this "
            f"project ({', '.join(known) or 'none'})",
        )
    if not owner.is_member:
        return None
    chain = _owner_chain(node, by_stack)
    if chain[-1] == node.stack:
        return _problem(
            node,
            "fleet-cycle",
            f"the owners form a cycle: {' -> '.join(chain)}; an environment needs one stack "
            "that owns itself",
            f"make one stack of the cycle the owner: remove {OWNER_KEY} from its stack file",
        )
    root = by_stack.get(chain[-1])
    fix = (
        f"set {OWNER_KEY} to {root.stack}, the stack that owns the environment"
        if root is not None and not root.is_member
        else f"set {OWNER_KEY} to the stack that owns the environment (its own owner)"
    )
    return _problem(
        node,
        "fleet-owner-is-member",
        f"the owner stack {node.owner} is itself a member (of {owner.owner}); a member reads "
        "its owner's outputs, which only an owner exports",
        fix,
    )


def _owner_problems(node: FleetNode, owner: FleetNode) -> Iterable[Problem]:
    """What a member must share with its owner (which owns itself)."""
    if owner.fleet.environment != node.fleet.environment:
        yield _problem(
            node,
            "fleet-environment",
            f"this stack's environment is {node.fleet.environment}, its owner {owner.stack} "
            f"runs environment {owner.fleet.environment}; a member runs its owner's environment",
            f"set {NAMESPACE}:fleet.environment to {owner.fleet.environment}",
        )
    if node.fleet.ring < owner.fleet.ring:
        yield _problem(
            node,
            "fleet-ring",
            f"ring {node.fleet.ring} deploys before the owner {owner.stack} (ring "
            f"{owner.fleet.ring}), whose outputs this stack reads",
            f"set {NAMESPACE}:fleet.ring to {owner.fleet.ring} or later",
        )
    if owner.sealed:
        yield _problem(
            node,
            "fleet-owner-sealed",
            f"the owner {owner.stack} uses the sealed-secrets backend, which keeps no secret in "
            "Vault; a member's agent reads the owner's Vault secret",
            f"give {owner.stack} a Vault backend (qtap:secrets.backend), or make this stack its "
            f"own owner (remove {OWNER_KEY})",
        )
    elif node.vault_address and owner.vault_address and node.vault_address != owner.vault_address:
        yield _problem(
            node,
            "fleet-vault",
            f"this stack's Vault is {node.vault_address}, its owner {owner.stack} keeps the "
            f"environment's secret in {owner.vault_address}; a member reads that secret",
            f"set {NAMESPACE}:vault.address to {owner.vault_address} (its own authMount and "
            "role stay per cluster)",
        )
    if not owner.passes:
        yield _problem(
            node,
            "fleet-owner-failing",
            f"the owner {owner.stack} does not pass its checks; a member deploys only with "
            "the outputs of its owner",
            f"fix the stack {owner.stack} first (./scripts/qtap check {owner.stack})",
        )
    elif (
        node.snapshot_sha256 is not None
        and owner.snapshot_sha256 is not None
        and node.snapshot_sha256 != owner.snapshot_sha256
    ):
        yield _problem(
            node,
            "fleet-snapshot",
            f"this stack's snapshot (sha256 {node.snapshot_sha256[:12]}) differs from its "
            f"owner {owner.stack}'s (sha256 {owner.snapshot_sha256[:12]}); a member runs the "
            "owner's snapshot, which configures the owner's bucket and secret",
            f"remove {NAMESPACE}:snapshot from this file (a member uses its owner's snapshot), "
            f"or make this stack its own owner (remove {OWNER_KEY})",
        )


def relation_problems(
    nodes: Sequence[FleetNode], known: Sequence[str] = ()
) -> list[tuple[str, Problem]]:
    """The cross-stack contract of the fleet relation, as (stack the problem stops, problem).

    `known` names every stack file of the project, including stacks whose settings did not
    parse: such an owner is not missing, it fails its checks."""
    by_stack = {n.stack: n for n in nodes}
    known = sorted({*known, *by_stack})
    problems: list[tuple[str, Problem]] = []
    owners_of_environment: dict[str, list[FleetNode]] = {}
    for node in sorted(nodes, key=lambda n: n.stack):
        if not node.is_member:
            owners_of_environment.setdefault(node.fleet.environment, []).append(node)
            continue
        ownership = _ownership_problem(node, by_stack, known)
        if ownership is not None:
            problems.append((node.stack, ownership))
        else:
            problems.extend((node.stack, p) for p in _owner_problems(node, by_stack[node.owner]))
    for environment, owners in sorted(owners_of_environment.items()):
        for extra in owners[1:]:
            problem = _problem(
                extra,
                "fleet-two-owners",
                f"environment {environment} is already owned by stack {owners[0].stack}; "
                "an environment has one owner (one bucket, one writer, one Vault secret)",
                f"make this stack a member ({OWNER_KEY}: {owners[0].stack}), or give it "
                f"its own environment ({NAMESPACE}:fleet.environment)",
                key=f"{NAMESPACE}:fleet.environment",
            )
            problems.append((extra.stack, problem))
    return problems

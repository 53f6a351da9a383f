"""Conflicts between stacks of one project: what no single stack's check can see.

`check`, `plan`, `diff` and `import` all run these, so a change that makes two stacks own one
bucket (or one Vault secret, role or policy) is refused by every tool, not only by `check`.

A fleet's member (`qtap:fleet.owner`, see fleet.py) shares its owner's bucket and Vault secret by
design: it creates neither, so it claims neither. Its own Vault role and policy are still its
own, and two owners still conflict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from .delivery import argocd_application_name
from .deployment import DeploymentReport
from .fleet import FleetNode, relation_problems
from .problems import Problem, problem
from .settings import ArgoCdDeliverySettings, position_of


@dataclass(frozen=True)
class CrossStackProblem:
    problem: Problem
    stacks: tuple[str, str]
    """The stack that already owns the name, and the stack the problem is reported on."""


_DEFAULT_PORTS = {"http": 80, "https": 443}


def vault_server(address: str) -> str:
    """One Vault server however its address is written: scheme and host case-folded, the
    scheme's default port made explicit, the trailing slash dropped."""
    try:
        parts = urlsplit(address.strip())
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return address
    host = (parts.hostname or "").rstrip(".")
    return f"{parts.scheme.lower()}://{host}:{port}{parts.path.rstrip('/')}"


def vault_name(what: str, name: str) -> str:
    """A name as Vault stores it: policy names are lower-cased by Vault's policy store
    (hashicorp/vault vault/policy_store.go, `strings.ToLower(name)` in SetPolicy/GetPolicy)."""
    return name.lower() if what == "policy" else name


def cross_stack_conflicts(reports: Sequence[DeploymentReport]) -> list[CrossStackProblem]:
    """Two stacks must never own the same bucket, or the same secret, role or policy in one Vault."""
    found: list[CrossStackProblem] = []
    buckets: dict[str, str] = {}
    vault_names: dict[tuple[str, str, str], str] = {}
    for report in reports:
        deployment = report.deployment
        if deployment is None:
            continue
        # A member creates no bucket and no secret: it uses its owner's (the fleet relation
        # refuses a member whose snapshot, and so whose buckets, differ from its owner's).
        owner = deployment.settings.fleet.owner == deployment.stack
        for store in deployment.snapshot.aws_stores if owner else ():
            other = buckets.setdefault(store.bucket, deployment.stack)
            if other != deployment.stack:
                refusal = problem(
                    "shared-bucket",
                    deployment.snapshot.file,
                    (store.line, store.column),
                    store.yaml_path,
                    f"bucket {store.bucket} is also created by stack {other}; two stacks "
                    "cannot own one bucket",
                    "give each environment its own bucket in Qplane",
                )
                found.append(CrossStackProblem(refusal, (other, deployment.stack)))
        vault = deployment.settings.vault
        if vault is None:
            continue
        # Within one Vault server, each of these names belongs to exactly one stack.
        names = [
            ("kubernetes-auth role", f"{vault.auth_mount}/{vault.role}", "qtap:vault.role"),
            ("policy", vault.policy_name, "qtap:vault.role"),
        ]
        if owner:
            names.insert(0, ("secret", f"{vault.kv_mount}/{vault.path}", "qtap:vault.path"))
        for what, name, setting in names:
            key = (vault_server(vault.address), what, vault_name(what, name))
            holder = vault_names.setdefault(key, deployment.stack)
            if holder != deployment.stack:
                line, column = position_of(deployment.positions, setting)
                refusal = problem(
                    "shared-vault-name",
                    deployment.settings.source,
                    (line, column),
                    setting,
                    f"stack {holder} already uses the Vault {what} {name} at "
                    f"{vault.address}; each stack would overwrite the other's",
                    f"give this stack its own {setting}",
                )
                found.append(CrossStackProblem(refusal, (holder, deployment.stack)))
    return found + _application_conflicts(reports)


def _application_conflicts(reports: Sequence[DeploymentReport]) -> list[CrossStackProblem]:
    """Two Argo CD Applications the program would name alike in one Argo CD: the name is derived
    from the stack (`qtap-<stack>`, lower-cased and made a Kubernetes name, qtap_gitops/delivery.py),
    so stacks `dev` and `Dev` (or `qa_1` and `qa-1`) would write one Application in one cluster."""
    found: list[CrossStackProblem] = []
    holders: dict[tuple[str, str, str], str] = {}
    for report in reports:
        deployment = report.deployment
        delivery = deployment.settings.delivery if deployment else None
        if deployment is None or not isinstance(delivery, ArgoCdDeliverySettings):
            continue
        context = deployment.providers.kubernetes_context if deployment.providers else ""
        name = argocd_application_name(deployment.stack)
        key = (context, delivery.argocd.namespace, name)
        holder = holders.setdefault(key, deployment.stack)
        if holder == deployment.stack:
            continue
        line, column = position_of(deployment.positions, "qtap:delivery")
        refusal = problem(
            "shared-application",
            deployment.settings.source,
            (line, column),
            "qtap:delivery",
            f"stack {holder} already writes the Argo CD Application {name} in namespace "
            f"{delivery.argocd.namespace} of kubernetes context {context}; the two stacks' "
            "names differ only in case or punctuation, which a Kubernetes name cannot hold",
            "rename one stack so the names differ after lower-casing, or give it its own "
            "qtap:delivery.argocd.namespace",
        )
        found.append(CrossStackProblem(refusal, (holder, deployment.stack)))
    return found


def fleet_conflicts(
    nodes: Sequence[FleetNode], known: Sequence[str] = ()
) -> list[CrossStackProblem]:
    """The fleet relation's problems; each stops only the member it is reported on (an owner
    deploys on its own, whatever its members say)."""
    return [
        CrossStackProblem(refusal, (stack, stack))
        for stack, refusal in relation_problems(nodes, known)
    ]


def cross_stack_problems(reports: Sequence[DeploymentReport]) -> list[Problem]:
    return [conflict.problem for conflict in cross_stack_conflicts(reports)]


def problems_of(stack: str, conflicts: Sequence[CrossStackProblem]) -> list[Problem]:
    """The conflicts `stack` takes part in (on either side)."""
    return [c.problem for c in conflicts if stack in c.stacks]

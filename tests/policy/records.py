"""The program's recorded resources, as the policy pack's rules see them.

Each `Registration` of the mock engine becomes the `PolicyResource` CrossGuard would hand a policy
(policy/__main__.py says how): inputs with secrets unwrapped to plaintext (`reveal`), unknown
values as None, the explicit provider's URN (the engine's reference is `urn::id`), the parent URN
and the options. Unlike CrossGuard, the mock engine also knows retainOnDelete.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from policy.qtap_policies import PolicyResource, stack_protects_buckets
from qtapctl.mock_engine import ProgramRun, Registration, Unknown, reveal
from tests.backends import SEALED, VSO, backend_project
from tests.conftest import REPO, STACKS
from tests.keyless import keyless_project
from tests.pulumi_harness import run_stack

DELIVERY_MODES = ("helm", "argocd", "flux")
SECRETS_BACKENDS = (VSO, SEALED)
IDENTITY_MODES = ("irsa", "pod-identity")
KEYLESS_STACK = "prod"


def plain(value: Any) -> Any:
    if isinstance(value, Unknown):
        return None
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def record(registration: Registration) -> PolicyResource:
    provider = registration.provider
    return PolicyResource(
        type=registration.type,
        urn=registration.urn,
        name=registration.name,
        props=plain(reveal(dict(registration.inputs))),
        protect=registration.protect,
        retain_on_delete=registration.retain_on_delete,
        provider=provider.rsplit("::", 1)[0] if provider else None,
        parent=registration.parent,
    )


@dataclass(frozen=True)
class Scenario:
    """One stack in one delivery / secrets / identity mode, as the program registers it."""

    label: str
    stack: str
    project: Path
    run: ProgramRun

    @property
    def resources(self) -> list[PolicyResource]:
        return [record(r) for r in self.run.registrations]

    @property
    def protect(self) -> bool:
        protect = stack_protects_buckets(self.project, self.stack)
        assert protect is not None, f"{self.label}: the stack file does not parse"
        return protect


def _scenario(label: str, stack: str, project: Path, **overrides: Any) -> Scenario:
    run = run_stack(stack, project, **overrides)
    assert run.error is None, f"{label}: {run.error}"
    return Scenario(label, stack, project, run)


def scenarios(tmp: Path) -> Iterator[Scenario]:
    """Every stack in every delivery mode and secrets backend, and the keyless identities."""
    for stack in STACKS:
        for mode in DELIVERY_MODES:
            config = {"qtap:delivery": json.dumps({"mode": mode})}
            yield _scenario(f"{stack}-{mode}", stack, REPO, config_overrides=config)
        for backend in SECRETS_BACKENDS:
            project = backend_project(tmp / f"{stack}-{backend}", stack, backend)
            yield _scenario(f"{stack}-{backend}", stack, project)
    for mode in IDENTITY_MODES:
        project = keyless_project(tmp / f"keyless-{mode}", KEYLESS_STACK, mode)
        yield _scenario(f"{KEYLESS_STACK}-{mode}", KEYLESS_STACK, project)


def edited(resource: PolicyResource, **props: Any) -> PolicyResource:
    """`resource` with top-level `props` replaced."""
    return replace(resource, props={**resource.props, **props})

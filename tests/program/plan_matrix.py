"""Every stack under every delivery mode and secrets backend (plus the keyless and no-secret
shapes), reduced to digests: what `tests/program/golden/plans.json` records, so a refactor of
the components is provably plan-identical.

A variant's digest covers every registration (type, name, URN, parent, inputs with their secret
parts marked, dependencies, providers, options, aliases) and every stack output. Digests are
kept per URN, so a mismatch names the resources that changed.

Regenerate after an intended change of the plans, and review the diff of the golden file:
    .venv/bin/python -m tests.program.plan_matrix --update
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

from qtapctl.mock_engine import ProgramRun, Secret, Unknown
from tests.backends import SEALED, VSO, backend_project
from tests.conftest import REPO, STACKS, copy_project
from tests.keyless import remove_keys, set_identity
from tests.pulumi_harness import SENTINEL_TOKEN, run_stack

GOLDEN = Path(__file__).resolve().parent / "golden" / "plans.json"
# A fixed controller certificate (public; its private key was never kept): the sealed values,
# and so the plans, depend on it, and the tests' own key pair is new in every session.
CERTIFICATE = GOLDEN.with_name("sealed-secrets-certificate.pem")
ESO = "external-secrets"
MODES = ("helm", "argocd", "flux")
BACKENDS = (ESO, VSO, SEALED)
# The event store that makes the committed snapshots read REGISTRATION_TOKEN; without it (and
# with keyless S3) a snapshot reads no env variable at all.
PULSE_STORE = (
    "    - id: qpoint\n      type: pulse\n      url: https://api-pulse.qpoint.io\n"
    "      token:\n        type: env\n        value: REGISTRATION_TOKEN\n"
)
STDOUT_STORE = "    - id: local\n      type: stdout\n"


@dataclasses.dataclass(frozen=True)
class Variant:
    stack: str
    mode: str = "helm"
    backend: str = ESO
    identity: str | None = None
    """Keyless S3 through this workload identity (irsa, pod-identity)."""
    no_env: bool = False
    """A snapshot that reads no env variable (keyless, no pulse store)."""

    @property
    def id(self) -> str:
        parts = [self.stack, self.mode, self.backend]
        if self.identity:
            parts.append(f"keyless-{self.identity}")
        if self.no_env:
            parts.append("no-env")
        return "/".join(parts)


VARIANTS = (
    *(Variant(s, m, b) for s in STACKS for m in MODES for b in BACKENDS),
    Variant("prod", identity="irsa"),
    Variant("prod", identity="pod-identity"),
    Variant("prod", mode="flux", backend=VSO, identity="pod-identity"),
    *(Variant("prod", backend=b, identity="irsa", no_env=True) for b in BACKENDS),
)


def _project(variant: Variant, workdir: Path) -> Path:
    stack = variant.stack
    if variant.backend == ESO:
        project = copy_project(workdir) if variant.identity else REPO
    else:
        certificate = CERTIFICATE.read_text(encoding="utf-8")
        project = backend_project(workdir, stack, variant.backend, certificate=certificate)
    if variant.identity:
        set_identity(remove_keys(project, stack), stack, variant.identity)
    if variant.no_env:
        snapshot = project / "snapshots" / stack / "qtap-config.yaml"
        text = snapshot.read_text(encoding="utf-8")
        assert PULSE_STORE in text, f"{snapshot} has no pulse store"
        snapshot.write_text(text.replace(PULSE_STORE, STDOUT_STORE), encoding="utf-8")
    return project


def run_variant(variant: Variant, workdir: Path) -> ProgramRun:
    overrides = {"qtap:delivery": json.dumps({"mode": variant.mode})}
    run = run_stack(
        variant.stack,
        _project(variant, workdir),
        config_overrides=overrides,
        registration_token=None if variant.no_env else SENTINEL_TOKEN,
    )
    assert run.error is None, f"{variant.id}: {run.error}"
    return run


def _marked(value: Any) -> Any:
    """`value` as JSON data, with what the program marked secret kept apart (and visible: the
    test secrets are sentinels), so a value that stops being secret changes the digest."""
    if isinstance(value, Secret):
        return {"<secret>": _marked(value.value)}
    if isinstance(value, Unknown):
        return "<unknown>"
    if isinstance(value, dict):
        return {str(k): _marked(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_marked(v) for v in value]
    return value


def _digest(value: Any) -> str:
    text = json.dumps(_marked(value), sort_keys=True, ensure_ascii=False, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def fingerprint(run: ProgramRun) -> dict[str, Any]:
    resources: dict[str, str] = {}
    for registration in run.registrations:
        assert registration.urn not in resources, f"two registrations of {registration.urn}"
        record = dataclasses.asdict(registration)
        # The engine receives dependencies as sets: their order means nothing, and varies.
        record["dependencies"] = sorted(registration.dependencies)
        record["property_dependencies"] = {
            key: sorted(urns) for key, urns in registration.property_dependencies.items()
        }
        resources[registration.urn] = _digest(record)
    return {"outputs": _digest(run.outputs), "resources": dict(sorted(resources.items()))}


def fingerprints(variants: tuple[Variant, ...], workdir: Path) -> dict[str, Any]:
    return {
        v.id: fingerprint(run_variant(v, workdir / str(index))) for index, v in enumerate(variants)
    }


def load_golden() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help=f"rewrite {GOLDEN.name}")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        found = fingerprints(VARIANTS, Path(workdir))
    text = json.dumps(found, indent=1, sort_keys=True) + "\n"
    if args.update:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
        return 0
    return 0 if found == load_golden() else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Copies of the real stacks with another `qtap:secrets.backend`, for the backend tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from qtap_gitops.settings import SealedSecretsScope
from tests.conftest import copy_project
from tests.sealing_keys import controller_key

VSO = "vault-secrets-operator"
SEALED = "sealed-secrets"


def backend_project(
    destination: Path,
    stack: str,
    backend: str,
    *,
    scope: SealedSecretsScope | None = None,
    certificate: str | None = None,
    vault: dict[str, Any] | None = None,
) -> Path:
    """The project copied to `destination`, with `stack`'s file switched to `backend`: for
    sealed-secrets `qtap:vault` goes (it does not apply) and the controller's certificate comes
    from the test's key pair."""
    project = copy_project(destination)
    path = project / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    config = document["config"]
    secrets: dict[str, Any] = {"backend": backend}
    if backend == SEALED:
        config.pop("qtap:vault", None)
        sealed: dict[str, Any] = {"certificate": certificate or controller_key().certificate_pem}
        if scope is not None:
            sealed["scope"] = scope.value
        secrets["sealedSecrets"] = sealed
    if vault is not None:
        config["qtap:vault"] = {**config["qtap:vault"], **vault}
    config["qtap:secrets"] = secrets
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return project

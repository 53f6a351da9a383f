"""`qtapctl plan` and `diff` show each secrets backend's objects, every value as `[secret]`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.backends import SEALED, VSO, backend_project
from tests.tools.cli import qtapctl


def plan(project: Path, stack: str) -> dict:
    result = qtapctl("plan", stack, "--format", "json", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)["stacks"][0]


def test_plan_of_a_sealed_secrets_stack_shows_the_sealed_secret_with_secret_values(tmp_path):
    project = backend_project(tmp_path, "dev", SEALED)
    resources = {r["type"]: r for r in plan(project, "dev")["resources"]}
    sealed = resources["kubernetes:bitnami.com/v1alpha1:SealedSecret"]["inputs"]
    assert set(sealed["spec"]["encryptedData"]) == {
        "REGISTRATION_TOKEN",
        "S3_ACCESS_KEY",
        "S3_SECRET_KEY",
    }
    assert set(sealed["spec"]["encryptedData"].values()) == {"[secret]"}
    assert "random:index/randomBytes:RandomBytes" in resources
    assert not any(t.startswith("vault:") for t in resources)
    text = qtapctl("plan", "dev", cwd=project).stdout
    # No ciphertext (long base64) anywhere in what a reviewer sees.
    assert not re.search(r"[A-Za-z0-9+/]{200,}={0,2}", text)


def test_plan_of_a_vso_stack_shows_the_vso_objects(tmp_path):
    project = backend_project(tmp_path, "prod", VSO)
    resources = {r["type"]: r for r in plan(project, "prod")["resources"]}
    static = resources["kubernetes:secrets.hashicorp.com/v1beta1:VaultStaticSecret"]["inputs"]
    assert static["spec"]["destination"]["name"] == "qtap-secrets"
    assert "kubernetes:secrets.hashicorp.com/v1beta1:VaultAuth" in resources
    assert "kubernetes:external-secrets.io/v1:ExternalSecret" not in resources
    data = resources["vault:kv/secretV2:SecretV2"]["inputs"]["dataJson"]
    assert set(data.values()) == {"[secret]"}


@pytest.mark.parametrize("backend", [VSO, SEALED])
def test_check_accepts_each_backend(tmp_path, backend):
    project = backend_project(tmp_path, "staging", backend)
    result = qtapctl("check", "staging", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr

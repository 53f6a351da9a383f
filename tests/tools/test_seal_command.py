"""`qtapctl seal`: a stack's SealedSecret as a manifest to commit, never echoing a value."""

from __future__ import annotations

import base64
import datetime
from pathlib import Path

import pytest
import yaml

from qtap_gitops.release_values import SECRET_NAME
from qtap_gitops.settings import SealedSecretsScope
from tests.backends import SEALED, backend_project
from tests.sealing_keys import certificate_pem, controller_key, unseal
from tests.tools.cli import qtapctl

VALUES = {
    "REGISTRATION_TOKEN": "seal-sentinel-token-41c9",
    "S3_ACCESS_KEY": "AKIASEALSENTINEL41C9",
    "S3_SECRET_KEY": "seal/sentinel/secret+41c9",
}
VALUES_YAML = "".join(f"{k}: '{v}'\n" for k, v in VALUES.items())
SEALING_KEY = base64.b64encode(bytes(range(32))).decode()


@pytest.fixture
def cert(tmp_path: Path) -> Path:
    path = tmp_path / "controller.pem"
    path.write_text(controller_key().certificate_pem)
    return path


def no_value_in(*texts: str) -> None:
    for text in texts:
        for value in VALUES.values():
            assert value not in text


def test_seal_writes_a_manifest_the_controller_unseals(cert, monkeypatch):
    monkeypatch.setenv("QTAP_SEALING_KEY", SEALING_KEY)
    result = qtapctl("seal", "dev", "--cert", str(cert), stdin=VALUES_YAML)
    assert result.returncode == 0, result.stderr
    no_value_in(result.stdout, result.stderr)
    manifest = yaml.safe_load(result.stdout)
    assert (manifest["apiVersion"], manifest["kind"]) == ("bitnami.com/v1alpha1", "SealedSecret")
    assert manifest["metadata"]["name"] == SECRET_NAME
    assert manifest["metadata"]["namespace"] == "qpoint"
    encrypted = manifest["spec"]["encryptedData"]
    assert set(encrypted) == set(VALUES)
    for name, value in VALUES.items():
        assert (
            unseal(controller_key().private_key, encrypted[name], b"qpoint/qtap-secrets") == value
        )

    again = qtapctl("seal", "dev", "--cert", str(cert), stdin=VALUES_YAML)
    assert again.stdout == result.stdout  # deterministic with the sealing key: a clean git diff


def test_without_a_sealing_key_it_seals_like_kubeseal_and_says_so(cert, monkeypatch, tmp_path):
    monkeypatch.delenv("QTAP_SEALING_KEY", raising=False)
    values = tmp_path / "values.yaml"
    values.write_text(VALUES_YAML)
    out = tmp_path / "sealed.yaml"
    first = qtapctl(
        "seal", "dev", "--cert", str(cert), "--values", str(values), "--output", str(out)
    )
    assert first.returncode == 0, first.stderr
    assert "QTAP_SEALING_KEY is not set" in first.stderr
    second = qtapctl("seal", "dev", "--cert", str(cert), "--values", str(values))
    manifest = yaml.safe_load(out.read_text())
    assert manifest != yaml.safe_load(second.stdout)
    token = manifest["spec"]["encryptedData"]["REGISTRATION_TOKEN"]
    assert (
        unseal(controller_key().private_key, token, b"qpoint/qtap-secrets")
        == VALUES["REGISTRATION_TOKEN"]
    )
    no_value_in(first.stdout, first.stderr, second.stderr, out.read_text())


def test_a_sealed_secrets_stack_uses_its_certificate_and_scope(tmp_path, monkeypatch):
    monkeypatch.setenv("QTAP_SEALING_KEY", SEALING_KEY)
    project = backend_project(tmp_path, "staging", SEALED, scope=SealedSecretsScope.CLUSTER_WIDE)
    result = qtapctl("seal", "staging", stdin=VALUES_YAML, cwd=project)
    assert result.returncode == 0, result.stderr
    manifest = yaml.safe_load(result.stdout)
    assert manifest["metadata"]["annotations"] == {"sealedsecrets.bitnami.com/cluster-wide": "true"}
    token = manifest["spec"]["encryptedData"]["REGISTRATION_TOKEN"]
    assert unseal(controller_key().private_key, token, b"") == VALUES["REGISTRATION_TOKEN"]


def test_missing_and_extra_names_are_named_without_values(cert):
    partial = (
        "REGISTRATION_TOKEN: 'seal-sentinel-token-41c9'\nAXIOM_TOKEN: 'seal/sentinel/secret+41c9'\n"
    )
    result = qtapctl("seal", "dev", "--cert", str(cert), stdin=partial)
    assert result.returncode == 1
    assert "missing: S3_ACCESS_KEY, S3_SECRET_KEY" in result.stderr
    assert "not referenced by the snapshot: AXIOM_TOKEN" in result.stderr
    assert result.stdout == ""
    no_value_in(result.stderr)


def test_broken_values_yaml_is_refused_without_quoting_it(cert):
    result = qtapctl(
        "seal", "dev", "--cert", str(cert), stdin="REGISTRATION_TOKEN: 'seal-sentinel-token-41c9\n"
    )
    assert result.returncode == 1
    assert "not a YAML mapping of env names to values" in result.stderr
    no_value_in(result.stderr)


def test_an_expired_certificate_is_refused(tmp_path):
    now = datetime.datetime.now(datetime.UTC)
    path = tmp_path / "old.pem"
    path.write_text(
        certificate_pem(
            controller_key().private_key,
            not_before=now - datetime.timedelta(days=90),
            not_after=now - datetime.timedelta(days=1),
        )
    )
    result = qtapctl("seal", "dev", "--cert", str(path), stdin=VALUES_YAML)
    assert result.returncode == 1
    assert f"{path}: error [sealing-certificate]: expired on" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_eso_stack_without_cert_is_told_how_to_pass_one():
    result = qtapctl("seal", "dev", stdin=VALUES_YAML)
    assert result.returncode == 1
    assert "--cert FILE" in result.stderr
    no_value_in(result.stderr)

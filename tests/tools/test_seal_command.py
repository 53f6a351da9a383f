"""`qtapctl seal`: a stack's SealedSecret as a manifest to commit, never echoing a value."""

from __future__ import annotations

import base64
import datetime
import errno
import os
import stat
from pathlib import Path

import pytest
import yaml

from qtap_gitops.release_values import SECRET_NAME
from qtap_gitops.settings import SealedSecretsScope
from qtapctl import project_files
from tests.backends import SEALED, backend_project
from tests.sealing_keys import certificate_pem, controller_key, unseal, with_rsa_public_numbers
from tests.tools.cli import Run, qtapctl, qtapctl_inprocess

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


def test_without_a_sealing_key_it_seals_like_kubeseal_and_says_so(
    cert, monkeypatch, tmp_path, project_copy
):
    monkeypatch.delenv("QTAP_SEALING_KEY", raising=False)
    values = tmp_path / "values.yaml"
    values.write_text(VALUES_YAML)
    # --output writes only inside the project (qtapctl/project_files.py).
    out = project_copy / "sealed" / "dev.yaml"
    first = qtapctl(
        "--project-dir",
        str(project_copy),
        "seal",
        "dev",
        "--cert",
        str(cert),
        "--values",
        str(values),
        "--output",
        str(out),
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


# --output writes like `import` (issue 17 item 10): inside the project, never through a
# symlink, atomically; a refusal writes nothing and leaves no temporary file.


def seal_to(project: Path, output: str, cert: Path) -> Run:
    values = cert.parent / "values.yaml"
    values.write_text(VALUES_YAML)
    return qtapctl_inprocess(
        "--project-dir",
        str(project),
        "seal",
        "dev",
        "--cert",
        str(cert),
        "--values",
        str(values),
        "--output",
        output,
    )


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_output_inside_the_project_is_written_in_a_new_directory(project_copy, cert):
    run = seal_to(project_copy, str(project_copy / "k8s" / "sealed.yaml"), cert)
    assert run.status == 0, run.output
    manifest = yaml.safe_load((project_copy / "k8s" / "sealed.yaml").read_text())
    assert manifest["kind"] == "SealedSecret"
    assert not [p for p in files_under(project_copy) if ".qtap-seal-" in p]


def test_output_outside_the_project_is_refused(project_copy, cert, tmp_path):
    outside = tmp_path / "elsewhere.yaml"
    before = files_under(project_copy)
    run = seal_to(project_copy, str(outside), cert)
    assert run.status == 1
    assert "is outside the project directory" in run.stderr
    assert "fix: " in run.stderr
    assert not outside.exists()
    assert files_under(project_copy) == before


def test_output_through_a_symlinked_file_is_refused(project_copy, cert, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (project_copy / "sealed.yaml").symlink_to(victim)
    run = seal_to(project_copy, str(project_copy / "sealed.yaml"), cert)
    assert run.status == 1
    assert "sealed.yaml is a symlink; never written through" in run.stderr
    assert victim.read_text() == "precious\n"
    assert (project_copy / "sealed.yaml").is_symlink()


def test_output_into_a_symlinked_directory_is_refused(project_copy, cert, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (project_copy / "k8s").symlink_to(elsewhere, target_is_directory=True)
    run = seal_to(project_copy, str(project_copy / "k8s" / "sealed.yaml"), cert)
    assert run.status == 1
    assert "k8s is a symlink; never written through" in run.stderr
    assert list(elsewhere.iterdir()) == []


def test_output_into_git_or_over_a_stack_file_is_refused(project_copy, cert):
    stack_file = (project_copy / "Pulumi.dev.yaml").read_bytes()
    for target, why in (
        (".git/hooks/pre-commit", "under .git/"),
        ("Pulumi.dev.yaml", "Pulumi project or stack settings file"),
    ):
        run = seal_to(project_copy, str(project_copy / target), cert)
        assert run.status == 1
        assert why in run.stderr
    assert (project_copy / "Pulumi.dev.yaml").read_bytes() == stack_file


def test_a_failed_write_leaves_the_old_file_and_no_partial_one(project_copy, cert, monkeypatch):
    target = project_copy / "sealed.yaml"
    target.write_text("old manifest\n")
    target.chmod(0o640)

    def failing_fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(project_files.os, "fsync", failing_fsync)
    run = seal_to(project_copy, str(target), cert)
    assert run.status == 1
    assert "No space left on device" in run.stderr
    assert target.read_text() == "old manifest\n"
    assert not [p for p in files_under(project_copy) if ".qtap-seal-" in p]
    monkeypatch.undo()
    assert seal_to(project_copy, str(target), cert).status == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # the replaced file's mode is kept


def test_an_rsa_exponent_of_one_in_the_stack_is_a_message_for_every_command(tmp_path):
    # Before, `certificate.public_key()` raised outside the check: a traceback in every command.
    pem = with_rsa_public_numbers(controller_key().certificate_pem, e=1)
    project = backend_project(tmp_path / "p", "dev", SEALED, certificate=pem)
    for command in (["check", "dev"], ["plan", "dev"], ["seal", "dev", "--values", "-"]):
        run = qtapctl_inprocess("--project-dir", str(project), *command, stdin=b"")
        assert run.status == 1, (command, run.output)
        assert "[sealing-certificate]" in run.output, (command, run.output)
        assert "is not a readable X.509 certificate" in run.output
        assert "Traceback" not in run.output

"""`qtapctl check`: passes for the committed stacks, fails with file:line messages on a broken copy."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import STACKS
from tests.contract.snapshots import line_of
from tests.tools.cli import qtapctl, qtapctl_process


def test_check_passes_for_every_committed_stack_and_prints_bindings():
    result = qtapctl("check")
    assert result.returncode == 0, result.stdout + result.stderr
    for stack in STACKS:
        assert f"== stack {stack}: ok" in result.stdout
    assert "REGISTRATION_TOKEN  <- qtap:registrationToken" in result.stdout
    assert (
        "S3_SECRET_KEY       <- secret access key of the IAM key this stack creates for bucket acme-qtap-prod-payloads"
        in result.stdout
    )
    assert "check passed: dev, staging, prod" in result.stdout


def test_unset_secrets_are_listed_with_commands_and_fail_only_when_required():
    lenient = qtapctl("check", "dev")
    assert lenient.returncode == 0
    assert (
        "pulumi config set --secret 'qtap:registrationToken' '<token>' --stack dev"
        in lenient.stdout
    )
    strict = qtapctl("check", "dev", "--require-secrets")
    assert strict.returncode == 1
    assert "error [secret-missing]" in strict.stdout


def test_broken_snapshot_fails_with_file_line_messages_and_no_traceback(project_copy: Path):
    snapshot = project_copy / "snapshots" / "staging" / "qtap-config.yaml"
    text = snapshot.read_text()
    text = text.replace("version: 2", "version: 1").replace("stack: default", "stack: defualt", 1)
    text = text.replace("bucket: acme-qtap-staging-payloads", "bucket: Acme_Payloads")
    snapshot.write_text(text)

    result = qtapctl("--project-dir", str(project_copy), "check")
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "== stack dev: ok" in result.stdout
    assert "== stack prod: ok" in result.stdout
    assert "== stack staging: 3 error(s)" in result.stdout
    for needle, code in (
        ("version: 1", "version"),
        ("Acme_Payloads", "s3-bucket-name"),
        ("defualt", "unknown-stack"),
    ):
        line = line_of(text, needle)
        assert f"snapshots/staging/qtap-config.yaml:{line}:" in result.stdout
        assert f"[{code}]" in result.stdout
    assert "check failed: staging" in result.stdout


def test_broken_stack_file_fails_naming_the_key(project_copy: Path):
    stack_file = project_copy / "Pulumi.dev.yaml"
    stack_file.write_text(stack_file.read_text().replace("version: 0.0.38", "version: latest"))
    result = qtapctl("--project-dir", str(project_copy), "check", "dev")
    assert result.returncode == 1
    assert "Pulumi.dev.yaml:" in result.stdout
    assert "qtap:chart.version" in result.stdout
    assert "Traceback" not in result.stderr


def test_two_stacks_owning_one_bucket_fail(project_copy: Path):
    staging = project_copy / "snapshots" / "staging" / "qtap-config.yaml"
    staging.write_text(
        staging.read_text().replace("acme-qtap-staging-payloads", "acme-qtap-dev-payloads")
    )
    result = qtapctl("--project-dir", str(project_copy), "check")
    assert result.returncode == 1
    assert "[shared-bucket]" in result.stdout


def test_unknown_stack_is_a_message_not_a_traceback():
    # A separate process: what a user sees is the exit status and stderr of `python -m qtapctl`.
    result = qtapctl_process("check", "qa")
    assert result.returncode != 0
    assert "unknown stack(s) qa" in result.stderr
    assert "Traceback" not in result.stderr


def test_two_stacks_sharing_vault_names_fail(project_copy: Path):
    staging = project_copy / "Pulumi.staging.yaml"
    text = staging.read_text()
    text = text.replace(
        "address: https://vault.staging.acme.internal:8200",
        "address: https://vault.dev.acme.internal:8200",
    )
    staging.write_text(text.replace("role: qtap-staging", "role: qtap-dev"))
    result = qtapctl("--project-dir", str(project_copy), "check")
    assert result.returncode == 1
    shared = [line for line in result.stdout.splitlines() if "[shared-vault-name]" in line]
    assert len(shared) == 3, result.stdout
    # Each at the setting's line and column in the stack file (issue 17, item 16).
    assert all(re.match(r"   Pulumi\.staging\.yaml:\d+:\d+: error", line) for line in shared)
    assert "Vault secret secret/qpoint/qtap" in result.stdout
    assert "kubernetes-auth role kubernetes/qtap-dev" in result.stdout
    assert "policy qtap-dev-read" in result.stdout

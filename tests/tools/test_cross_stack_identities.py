"""Cross-stack conflicts compare identities as their owners store them (issue 17, item 12):
Vault addresses however written, policy names as Vault lower-cases them, and Kubernetes names
after the program's own derivation, each reported at its line and column with a fix."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.tools.cli import qtapctl_inprocess


def add_stack(project: Path, name: str, like: str, edit: dict[str, object]) -> Path:
    document = yaml.safe_load((project / f"Pulumi.{like}.yaml").read_text())
    document["config"].update(edit)
    path = project / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def own_snapshot(project: Path, stack: str, like: str, bucket_from: str, bucket_to: str) -> str:
    text = (project / "snapshots" / like / "qtap-config.yaml").read_text()
    assert bucket_from in text
    target = project / "snapshots" / stack / "qtap-config.yaml"
    target.parent.mkdir(parents=True)
    target.write_text(text.replace(bucket_from, bucket_to))
    return f"snapshots/{stack}/qtap-config.yaml"


def test_stacks_dev_and_dev_in_capitals_would_write_one_argo_cd_application(project_copy: Path):
    dev = project_copy / "Pulumi.dev.yaml"
    document = yaml.safe_load(dev.read_text())
    document["config"]["qtap:delivery"] = {"mode": "argocd"}
    dev.write_text(yaml.safe_dump(document, sort_keys=False))
    snapshot = own_snapshot(project_copy, "Dev", "dev", "acme-qtap-dev-payloads", "acme-qtap-dev2")
    add_stack(
        project_copy,
        "Dev",
        "dev",
        {
            "qtap:snapshot": snapshot,
            "qtap:vault": {
                "address": "https://vault.dev.acme.internal:8200",
                "path": "qpoint/qtap-dev2",
                "role": "qtap-dev2",
            },
        },
    )
    result = qtapctl_inprocess("--project-dir", str(project_copy), "check")
    assert result.status == 1
    assert "[shared-application]" in result.output
    assert "Argo CD Application qtap-dev" in result.output
    # At the stack file's qtap:delivery, with a fix.
    assert re.search(
        r"Pulumi\.(dev|Dev)\.yaml:\d+:\d+: error \[shared-application\]", result.output
    )
    assert "fix: rename one stack" in result.output


def test_one_vault_written_two_ways_is_one_server_and_the_conflict_has_a_position(
    project_copy: Path,
):
    snapshot = own_snapshot(project_copy, "qa", "dev", "acme-qtap-dev-payloads", "acme-qtap-qa")
    add_stack(
        project_copy,
        "qa",
        "dev",
        {
            "qtap:snapshot": snapshot,
            "qtap:vault": {
                # dev's Vault, with the host in capitals and the port written out
                "address": "https://VAULT.dev.acme.internal:8200/",
                "path": "qpoint/qtap-qa",
                "role": "QTAP-DEV",  # Vault stores policy names lower-cased: qtap-dev-read
            },
        },
    )
    result = qtapctl_inprocess("--project-dir", str(project_copy), "check")
    assert result.status == 1
    assert "[shared-vault-name]" in result.output
    assert re.search(r"Pulumi\.qa\.yaml:\d+:\d+: error \[shared-vault-name\]", result.output)

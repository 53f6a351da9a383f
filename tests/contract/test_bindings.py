"""Env bindings: each env name gets exactly one value source, or a precise error."""

from __future__ import annotations

import pytest

from qtap_gitops.bindings import (
    SecretInventory,
    SourceKind,
    conflicting_secret_env,
    derive_bindings,
    unresolved_sources,
    unused_secrets,
    vault_property,
)
from qtap_gitops.snapshot import Snapshot, check_snapshot_bytes
from tests.contract.snapshots import BASE, MINIO_STORE, replace, with_object_store

FILE = "snapshots/test/qtap-config.yaml"


def snapshot_of(text: str) -> Snapshot:
    report = check_snapshot_bytes(text.encode(), FILE)
    assert report.snapshot is not None, [p.format() for p in report.problems]
    return report.snapshot


def inventory(token: bool = True, secret_env: frozenset[str] = frozenset()) -> SecretInventory:
    return SecretInventory("dev", "Pulumi.dev.yaml", token, secret_env)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("REGISTRATION_TOKEN", "registration-token"),
        ("S3_ACCESS_KEY", "s3-access-key"),
        ("AxiomToken", "axiomtoken"),
        ("OTEL__API_KEY", "otel-api-key"),
    ],
)
def test_vault_property_is_lower_kebab_case(name, expected):
    assert vault_property(name) == expected


def test_baseline_binds_token_and_the_stack_generated_key():
    bindings, problems = derive_bindings(snapshot_of(BASE))
    assert problems == []
    sources = {b.name: (b.source.kind, b.source.bucket) for b in bindings}
    assert sources == {
        "REGISTRATION_TOKEN": (SourceKind.REGISTRATION_TOKEN, None),
        "S3_ACCESS_KEY": (SourceKind.AWS_ACCESS_KEY_ID, "qtap-contract-test"),
        "S3_SECRET_KEY": (SourceKind.AWS_SECRET_ACCESS_KEY, "qtap-contract-test"),
    }
    assert [b.vault_property for b in bindings] == [
        "registration-token",
        "s3-access-key",
        "s3-secret-key",
    ]


def test_external_store_keys_come_from_secret_env():
    bindings, problems = derive_bindings(snapshot_of(with_object_store(MINIO_STORE)))
    assert problems == []
    kinds = {b.name: b.source.kind for b in bindings}
    assert kinds["MINIO_ACCESS_KEY"] is SourceKind.SECRET_ENV
    assert kinds["MINIO_SECRET_KEY"] is SourceKind.SECRET_ENV


def test_a_name_read_by_pulse_and_by_a_warehouse_is_one_registration_token_binding():
    warehouse = "    - id: warehouse\n      type: qpoint\n      token:\n        type: env\n        value: REGISTRATION_TOKEN\n"
    text = replace("\nstacks:", warehouse + "\nstacks:")
    bindings, problems = derive_bindings(snapshot_of(text))
    assert problems == []
    (token,) = [b for b in bindings if b.name == "REGISTRATION_TOKEN"]
    assert token.source.kind is SourceKind.REGISTRATION_TOKEN
    assert len(token.references) == 2


def test_one_name_for_two_buckets_keys_is_a_conflict():
    second = """\
    - id: archive
      type: s3
      bucket: qtap-contract-archive
      region: us-east-1
      access_url: https://{{ENDPOINT}}/{{BUCKET}}/{{DIGEST}}
      access_key:
        type: env
        value: S3_ACCESS_KEY
      secret_key:
        type: env
        value: ARCHIVE_SECRET_KEY
"""
    text = replace("\nstacks:", second + "\nstacks:")
    bindings, problems = derive_bindings(snapshot_of(text))
    assert [p.code for p in problems] == ["env-source-conflict"]
    assert "S3_ACCESS_KEY" in problems[0].message
    assert "qtap-contract-test" in problems[0].message
    assert "qtap-contract-archive" in problems[0].message
    assert "S3_ACCESS_KEY" not in {b.name for b in bindings}


def test_registration_token_name_reused_as_bucket_key_is_a_conflict():
    text = replace("value: S3_ACCESS_KEY", "value: REGISTRATION_TOKEN")
    _, problems = derive_bindings(snapshot_of(text))
    assert [p.code for p in problems] == ["env-source-conflict"]


def test_names_that_collide_in_vault_are_refused():
    text = replace("value: S3_SECRET_KEY", "value: S3__ACCESS_KEY")
    _, problems = derive_bindings(snapshot_of(text))
    assert [p.code for p in problems] == ["vault-property-collision"]


def test_missing_registration_token_prints_the_exact_command():
    snapshot = snapshot_of(BASE)
    bindings, _ = derive_bindings(snapshot)
    (problem,) = unresolved_sources(snapshot, bindings, inventory(token=False))
    assert problem.code == "secret-missing"
    assert problem.file == FILE
    assert problem.line is not None
    assert (
        "pulumi config set --secret 'qtap:registrationToken' '<token>' --stack dev" in problem.fix
    )


def test_missing_secret_env_prints_the_exact_path_command():
    snapshot = snapshot_of(with_object_store(MINIO_STORE))
    bindings, _ = derive_bindings(snapshot)
    problems = unresolved_sources(
        snapshot, bindings, inventory(secret_env=frozenset({"MINIO_ACCESS_KEY"}))
    )
    assert [p.code for p in problems] == ["secret-missing"]
    assert (
        "pulumi config set --secret --path 'qtap:secretEnv.MINIO_SECRET_KEY' '<value>' --stack dev"
        in problems[0].fix
    )


def test_every_source_configured_leaves_nothing_unresolved():
    snapshot = snapshot_of(with_object_store(MINIO_STORE))
    bindings, _ = derive_bindings(snapshot)
    names = frozenset({"MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"})
    assert unresolved_sources(snapshot, bindings, inventory(secret_env=names)) == []


def test_secret_env_value_for_a_stack_filled_variable_is_a_conflict():
    bindings, _ = derive_bindings(snapshot_of(BASE))
    problems = conflicting_secret_env(bindings, inventory(secret_env=frozenset({"S3_SECRET_KEY"})))
    assert [p.code for p in problems] == ["env-source-conflict"]
    assert problems[0].yaml_path == "qtap:secretEnv.S3_SECRET_KEY"


def test_unused_secret_env_values_warn():
    snapshot = snapshot_of(BASE)
    bindings, _ = derive_bindings(snapshot)
    warnings = unused_secrets(
        snapshot, bindings, inventory(secret_env=frozenset({"OLD_AXIOM_TOKEN"}))
    )
    assert [(w.code, w.is_error) for w in warnings] == [("secret-unused", False)]
    assert "pulumi config rm --path 'qtap:secretEnv.OLD_AXIOM_TOKEN'" in warnings[0].fix


# -- issue 17, item 13: a credential is read only by its owner, names cannot steer the process --

OTEL_STORE = """\
    - id: collector
      type: otel
      endpoint: collector.example.com:4317
      protocol: grpc
      headers:
        x-api-key:
          type: env
          value: {name}
"""


def with_otel_header_reading(name: str) -> str:
    return replace("\n  object_stores:", "\n" + OTEL_STORE.format(name=name) + "  object_stores:")


@pytest.mark.parametrize("name", ["S3_SECRET_KEY", "S3_ACCESS_KEY", "REGISTRATION_TOKEN"])
def test_an_otel_header_reading_a_stack_credential_is_an_error(name):
    bindings, problems = derive_bindings(snapshot_of(with_otel_header_reading(name)))
    (problem,) = problems
    assert problem.code == "credential-env-read"
    assert problem.line is not None
    assert problem.column is not None
    assert f"reads {name}" in problem.message
    assert "only the store that owns a credential may read it" in problem.message
    assert problem.fix.startswith("give this value its own env variable")
    assert name not in {b.name for b in bindings}


def test_an_otel_header_with_its_own_variable_is_fine():
    bindings, problems = derive_bindings(snapshot_of(with_otel_header_reading("COLLECTOR_KEY")))
    assert problems == []
    kinds = {b.name: b.source.kind for b in bindings}
    assert kinds["COLLECTOR_KEY"] is SourceKind.SECRET_ENV


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("LD_PRELOAD", "changes how the agent's process runs"),
        ("PATH", "changes how the agent's process runs"),
        ("HOME", "changes how the agent's process runs"),
        ("HTTPS_PROXY", "changes how the agent's process runs"),
        ("collector_key", "is not an upper-case variable name"),
        ("K" * 254, "is 254 characters long; at most 253"),
    ],
)
def test_env_names_that_steer_the_process_are_refused(name, expected):
    report = check_snapshot_bytes(with_otel_header_reading(name).encode(), FILE)
    (problem,) = [p for p in report.problems if p.code == "env-name-process"]
    assert expected in problem.message
    assert problem.line is not None
    assert problem.fix
    if name.islower():
        assert name not in problem.message  # may be a credential in the wrong field


# -- issue 17, item 12: one Vault server and one policy however they are written ---------------


def test_vault_addresses_and_policy_names_are_compared_as_vault_sees_them():
    from qtap_gitops.cross_stack import vault_name, vault_server

    assert vault_server("https://Vault.Example.com/") == vault_server(
        "https://vault.example.com:443"
    )
    assert vault_server("http://vault:8200") != vault_server("http://vault:8201")
    assert vault_name("policy", "Qtap-Dev-Read") == vault_name("policy", "qtap-dev-read")
    assert vault_name("kubernetes-auth role", "Dev") != vault_name("kubernetes-auth role", "dev")

"""The whole program, per stack, run through `__main__.py` with that stack's settings."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from qtap_gitops.rotation import SECRETS_REVISION_ANNOTATION
from qtapctl.mock_engine import ProgramRun, Secret, Unknown, redact, reveal
from tests.conftest import STACKS, copy_project, edit_snapshot
from tests.pulumi_harness import (
    SENTINEL_KEY_ID,
    SENTINEL_SECRET_KEY,
    SENTINEL_TOKEN,
    SENTINELS,
    run_stack,
)

BUCKET = "aws:s3/bucket:Bucket"
SECRET = "vault:kv/secretV2:SecretV2"
ROLE = "vault:kubernetes/authBackendRole:AuthBackendRole"
POLICY = "vault:index/policy:Policy"
NAMESPACE = "kubernetes:core/v1:Namespace"
ACCOUNT = "kubernetes:core/v1:ServiceAccount"
STORE = "kubernetes:external-secrets.io/v1:SecretStore"
EXTERNAL = "kubernetes:external-secrets.io/v1:ExternalSecret"
RELEASE = "kubernetes:helm.sh/v3:Release"
ACCESS_KEY = "aws:iam/accessKey:AccessKey"
USER = "aws:iam/user:User"
PROVIDERS = ("pulumi:providers:aws", "pulumi:providers:kubernetes", "pulumi:providers:vault")
BUCKET_SIDE = (
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
)

# What each resource may wait for: exactly what it consumes, nothing more.
EXPECTED_DEPENDENCIES: dict[str, set[str]] = {
    BUCKET: set(),
    **{side: {BUCKET} for side in BUCKET_SIDE},
    "aws:s3/bucketPolicy:BucketPolicy": {BUCKET, BUCKET_SIDE[0]},
    USER: set(),
    "aws:iam/userPolicy:UserPolicy": {USER},
    ACCESS_KEY: {USER},
    SECRET: {ACCESS_KEY},
    POLICY: set(),
    ROLE: {POLICY},
    NAMESPACE: set(),
    ACCOUNT: {NAMESPACE},
    STORE: {NAMESPACE, ACCOUNT},
    EXTERNAL: {NAMESPACE, STORE, SECRET, ROLE},
    # The pod annotation carries the Vault secret's KV version (rotation rolls the pods).
    RELEASE: {NAMESPACE, EXTERNAL, SECRET},
    # Explicit providers, built from the stack file before anything else.
    **{provider: set() for provider in PROVIDERS},
}


@pytest.fixture(scope="module")
def runs() -> dict[str, ProgramRun]:
    return {stack: run_stack(stack) for stack in STACKS}


def snapshot_env_names(stack: str) -> set[str]:
    from qtap_gitops.snapshot import load_snapshot
    from tests.conftest import REPO

    return {
        ref.name
        for ref in load_snapshot(REPO / f"snapshots/{stack}/qtap-config.yaml").env_references
    }


@pytest.mark.parametrize("stack", STACKS)
def test_program_registers_one_environment_per_stack(runs, stack):
    run = runs[stack]
    assert run.error is None
    counts = Counter(r.type for r in run.registrations)
    assert counts["qtap:index:QtapEnvironment"] == 1
    for component in (
        "qtap:aws:ObjectStore",
        "qtap:vault:VaultSecrets",
        "qtap:kubernetes:SecretSync",
        "qtap:kubernetes:QtapRelease",
    ):
        assert counts[component] == 1, component
    assert set(counts) - {
        "qtap:index:QtapEnvironment",
        "qtap:aws:ObjectStore",
        "qtap:vault:VaultSecrets",
        "qtap:kubernetes:SecretSync",
        "qtap:kubernetes:QtapRelease",
    } == set(EXPECTED_DEPENDENCIES)
    assert all(counts[t] == 1 for t in EXPECTED_DEPENDENCIES)


@pytest.mark.parametrize("stack", STACKS)
def test_env_names_are_identical_across_snapshot_vault_eso_and_release(runs, stack):
    run = runs[stack]
    expected = snapshot_env_names(stack)
    vault_properties = set(json.loads(reveal(run.one(SECRET).inputs["dataJson"])))
    external_data = run.one(EXTERNAL).inputs["spec"]["data"]
    release_env = run.one(RELEASE).inputs["values"]["extraEnv"]

    assert vault_properties == {name.lower().replace("_", "-") for name in expected}
    assert {item["secretKey"] for item in external_data} == expected
    assert {item["remoteRef"]["property"] for item in external_data} == vault_properties
    assert {item["name"] for item in release_env} == expected
    assert all(item["valueFrom"]["secretKeyRef"]["key"] == item["name"] for item in release_env)


@pytest.mark.parametrize("stack", STACKS)
def test_sentinel_secrets_reach_vault_and_nothing_else(runs, stack):
    run = runs[stack]
    vault_data = json.loads(reveal(run.one(SECRET).inputs["dataJson"]))
    assert set(vault_data.values()) == set(SENTINELS), "the sentinels must really flow into Vault"

    for registration in run.registrations:
        visible = json.dumps(redact(registration.inputs), default=str)
        for sentinel in SENTINELS:
            assert sentinel not in visible, f"{sentinel} in plain inputs of {registration.type}"
    visible_outputs = json.dumps(redact(run.outputs), default=str)
    assert not any(s in visible_outputs for s in SENTINELS)
    assert not any(s in message for _, message in run.logs for s in SENTINELS)
    assert isinstance(run.one(SECRET).inputs["dataJson"], Secret)


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_waits_for_exactly_what_it_consumes(runs, stack):
    run = runs[stack]
    for registration in run.custom_resources():
        waits_for = {run.by_urn(urn).type for urn in registration.dependencies}
        assert waits_for == EXPECTED_DEPENDENCIES[registration.type], registration.type


def test_external_secret_waits_for_the_vault_secret_and_role_and_the_release_for_it(runs):
    run = runs["dev"]
    external = run.one(EXTERNAL)
    assert {run.one(SECRET).urn, run.one(ROLE).urn} <= set(external.dependencies)
    assert run.one(EXTERNAL).urn in run.one(RELEASE).dependencies


@pytest.mark.parametrize(
    ("stack", "protected"), [("dev", False), ("staging", False), ("prod", True)]
)
def test_protected_stack_protects_and_every_stack_retains_its_bucket(runs, stack, protected):
    bucket = runs[stack].one(BUCKET)
    assert bucket.protect is protected
    assert bucket.retain_on_delete is True, "no config change deletes a bucket, in any stack"
    assert bucket.inputs["forceDestroy"] is False


@pytest.mark.parametrize("stack", STACKS)
def test_release_gets_the_snapshot_bytes_and_stack_chart(runs, stack):
    from tests.conftest import REPO

    release = runs[stack].one(RELEASE).inputs
    raw = (REPO / f"snapshots/{stack}/qtap-config.yaml").read_bytes()
    assert release["values"]["config"].encode() == raw
    expected_version = {"dev": "0.0.38", "staging": "0.0.38", "prod": "0.0.35"}[stack]
    assert release["version"] == expected_version


@pytest.mark.parametrize("stack", STACKS)
def test_exports_name_everything_and_hold_no_secret(runs, stack):
    outputs = runs[stack].outputs
    assert set(outputs) == {
        "buckets",
        "iamUsers",
        "vaultSecretPath",
        "kubernetesSecret",
        "namespace",
        "releaseName",
        "chartVersion",
        "snapshotSha256",
        "envBindings",
        "bucketArns",
        "writerArns",
        "vaultRole",
        "vaultPolicy",
        "secretsRevision",
        # What a fleet member reads of its owner (README "Fleets").
        "kmsKeyId",
        "vaultKvMount",
        "vaultKvPath",
        "writerKeyVersion",
    }
    assert outputs["buckets"] == [f"acme-qtap-{stack}-payloads"]
    kms = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert outputs["kmsKeyId"] == (kms if stack == "prod" else "")
    path = "qpoint/qtap-prod" if stack == "prod" else "qpoint/qtap"
    assert (outputs["vaultKvMount"], outputs["vaultKvPath"]) == ("secret", path)
    assert outputs["vaultSecretPath"] == f"secret/{path}"
    assert outputs["writerKeyVersion"] == 1
    bucket = f"acme-qtap-{stack}-payloads"
    assert outputs["bucketArns"] == {bucket: f"arn:aws:s3:::{bucket}"}
    assert outputs["writerArns"][bucket].startswith("arn:aws:iam::123456789012:user/qtap/")
    role = {"dev": "qtap-dev", "staging": "qtap-staging", "prod": "qtap-prod"}[stack]
    assert (outputs["vaultRole"], outputs["vaultPolicy"]) == (role, f"{role}-read")
    assert outputs["secretsRevision"] == "1"
    assert outputs["kubernetesSecret"] == "qpoint/qtap-secrets"
    assert outputs["envBindings"]["REGISTRATION_TOKEN"] == "qtap:registrationToken"
    assert not any(isinstance(v, Secret) for v in outputs.values())


def test_bad_snapshot_registers_nothing_and_reports_the_contract(tmp_path: Path):
    project = edit_snapshot(copy_project(tmp_path / "p"), "dev", "version: 2", "version: 3")
    run = run_stack("dev", project)
    assert run.registrations == []
    message = str(run.error)
    assert "snapshots/dev/qtap-config.yaml:1:10: error [version]" in message
    assert "nothing was deployed" in message
    assert "Traceback" not in message


def test_missing_registration_token_registers_nothing_and_says_how_to_set_it():
    run = run_stack("staging", registration_token=None)
    assert run.registrations == []
    assert "pulumi config set --secret 'qtap:registrationToken' '<token>' --stack staging" in str(
        run.error
    )


def test_snapshot_warnings_are_logged_by_the_program(tmp_path: Path):
    project = edit_snapshot(copy_project(tmp_path / "p"), "dev", "level: full", "level: details")
    run = run_stack("dev", project)
    assert run.error is None
    assert any(level == "warning" and "[legacy-capture-level]" in msg for level, msg in run.logs)


def test_strict_stack_refuses_a_snapshot_with_warnings(tmp_path: Path):
    project = edit_snapshot(
        copy_project(tmp_path / "p"), "prod", "      - eks\n", "      - eks\n      - container\n"
    )
    run = run_stack("prod", project)
    assert run.registrations == []
    assert "[filter-group]" in str(run.error)


def comparable(run: ProgramRun) -> dict[str, dict]:
    return {r.urn: json.loads(json.dumps(redact(r.inputs), default=str)) for r in run.registrations}


def test_changing_one_snapshot_changes_only_that_stacks_release_config_and_checksum(tmp_path: Path):
    project = copy_project(tmp_path / "p")
    before = {stack: run_stack(stack, project) for stack in STACKS}
    edit_snapshot(project, "staging", "level: headers", "level: full")
    after = {stack: run_stack(stack, project) for stack in STACKS}

    for stack in ("dev", "prod"):
        assert comparable(before[stack]) == comparable(after[stack]), stack
        assert before[stack].outputs == after[stack].outputs

    old, new = comparable(before["staging"]), comparable(after["staging"])
    assert old.keys() == new.keys(), "no resource added or removed"
    changed = {urn for urn in old if old[urn] != new[urn]}
    (release_urn,) = changed
    assert release_urn.endswith("::qtap-release-helm")
    old_values, new_values = old[release_urn]["values"], new[release_urn]["values"]
    assert {k for k in old_values if old_values[k] != new_values[k]} == {"config", "podAnnotations"}
    assert {k for k in old[release_urn] if old[release_urn][k] != new[release_urn][k]} == {"values"}
    assert {
        k for k, v in before["staging"].outputs.items() if after["staging"].outputs[k] != v
    } == {"snapshotSha256"}


def test_sentinel_values_are_distinct():
    assert len({SENTINEL_TOKEN, SENTINEL_KEY_ID, SENTINEL_SECRET_KEY}) == 3


AXIOM_STORE = (
    "    - id: axiom\n      type: axiom\n      dataset:\n        type: text\n        value: qtap\n"
    "      token:\n        type: env\n        value: AXIOM_TOKEN\n"
)


def test_other_references_are_filled_from_secret_env(tmp_path: Path):
    project = edit_snapshot(
        copy_project(tmp_path / "p"),
        "dev",
        "  object_stores:\n",
        AXIOM_STORE + "  object_stores:\n",
    )
    sentinel = "sentinel-axiom-token-5b1e0c"

    run = run_stack("dev", project, secret_env={"AXIOM_TOKEN": sentinel})
    assert run.error is None
    vault_data = json.loads(reveal(run.one(SECRET).inputs["dataJson"]))
    assert vault_data["axiom-token"] == sentinel
    assert {
        "secretKey": "AXIOM_TOKEN",
        "remoteRef": {"key": "qpoint/qtap", "property": "axiom-token", "version": "1"},
    } in (run.one(EXTERNAL).inputs["spec"]["data"])
    assert "AXIOM_TOKEN" in {e["name"] for e in run.one(RELEASE).inputs["values"]["extraEnv"]}
    assert run.outputs["envBindings"]["AXIOM_TOKEN"] == "qtap:secretEnv"
    for registration in run.registrations:
        assert sentinel not in json.dumps(redact(registration.inputs), default=str)

    missing = run_stack("dev", project)
    assert missing.registrations == []
    assert (
        "pulumi config set --secret --path 'qtap:secretEnv.AXIOM_TOKEN' '<value>' --stack dev"
        in str(missing.error)
    )


@pytest.mark.parametrize("stack", STACKS)
def test_preview_registers_the_same_graph_with_unknown_generated_keys(runs, stack):
    # In a preview the IAM key does not exist yet: its outputs are unknown, and the program
    # must still register everything (pulumi preview on a pull request).
    preview = run_stack(stack, preview=True)
    assert preview.error is None
    assert sorted(r.urn for r in preview.registrations) == sorted(
        r.urn for r in runs[stack].registrations
    )
    data = preview.one(SECRET).inputs["dataJson"]
    assert isinstance(data, Secret)
    assert isinstance(data.value, Unknown), "the new key is unknown until it is created"
    # The values stay plain and known (the config diff shows in the preview); only the
    # secrets' revision is unknown, since Vault assigns the KV version when it is written.
    values = dict(preview.one(RELEASE).inputs["values"])
    annotations = dict(values.pop("podAnnotations"))
    assert isinstance(annotations.pop(SECRETS_REVISION_ANNOTATION), Unknown)
    expected = dict(runs[stack].one(RELEASE).inputs["values"])
    expected_annotations = dict(expected.pop("podAnnotations"))
    expected_annotations.pop(SECRETS_REVISION_ANNOTATION)
    assert (values, annotations) == (expected, expected_annotations)
    assert not isinstance(preview.one(RELEASE).inputs["values"], Secret)


ARCHIVE_STORE = """\
    - id: archive
      type: s3
      endpoint: s3.eu-central-1.amazonaws.com
      bucket: acme-qtap-dev-archive
      region: eu-central-1
      access_url: https://{{ENDPOINT}}/{{BUCKET}}/{{DIGEST}}
      access_key:
        type: env
        value: ARCHIVE_ACCESS_KEY
      secret_key:
        type: env
        value: ARCHIVE_SECRET_KEY
"""


def test_every_aws_store_gets_its_own_bucket_and_key(tmp_path: Path):
    project = edit_snapshot(
        copy_project(tmp_path / "p"), "dev", "\nstacks:", ARCHIVE_STORE + "\nstacks:"
    )
    run = run_stack("dev", project)
    assert run.error is None
    buckets = {r.inputs["bucket"]: r.inputs["region"] for r in run.of_type(BUCKET)}
    assert buckets == {
        "acme-qtap-dev-payloads": "us-east-1",
        "acme-qtap-dev-archive": "eu-central-1",
    }
    assert len(run.of_type(ACCESS_KEY)) == 2
    policies = [
        json.loads(r.inputs["policy"]) for r in run.of_type("aws:iam/userPolicy:UserPolicy")
    ]
    resources = sorted(p["Statement"][0]["Resource"] for p in policies)
    assert resources == [
        "arn:aws:s3:::acme-qtap-dev-archive/*",
        "arn:aws:s3:::acme-qtap-dev-payloads/*",
    ]
    vault_data = json.loads(reveal(run.one(SECRET).inputs["dataJson"]))
    assert set(vault_data) == {
        "registration-token",
        "s3-access-key",
        "s3-secret-key",
        "archive-access-key",
        "archive-secret-key",
    }
    assert run.outputs["buckets"] == ["acme-qtap-dev-payloads", "acme-qtap-dev-archive"]


def test_snapshot_without_aws_store_creates_no_bucket(tmp_path: Path):
    from tests.contract.snapshots import MINIO_STORE

    project = copy_project(tmp_path / "p")
    path = project / "snapshots/staging/qtap-config.yaml"
    text = path.read_text()
    start, end = text.index("    - id: acme_staging_s3"), text.index("\nstacks:")
    text = text[:start] + MINIO_STORE.replace("id: objects", "id: acme_staging_s3") + text[end:]
    path.write_text(text)
    secrets = {"MINIO_ACCESS_KEY": "minio-key", "MINIO_SECRET_KEY": "minio-secret"}
    run = run_stack("staging", project, secret_env=secrets)
    assert run.error is None
    assert run.of_type(BUCKET) == []
    assert run.of_type("qtap:aws:ObjectStore") == []
    assert run.outputs["buckets"] == []
    assert json.loads(reveal(run.one(SECRET).inputs["dataJson"])) == {
        "registration-token": SENTINEL_TOKEN,
        "minio-access-key": "minio-key",
        "minio-secret-key": "minio-secret",
    }


def test_snapshot_without_pulse_store_needs_no_registration_token(tmp_path: Path):
    project = copy_project(tmp_path / "p")
    path = project / "snapshots/dev/qtap-config.yaml"
    text = path.read_text()
    start, end = text.index("    - id: qpoint"), text.index("  object_stores:")
    path.write_text(text[:start] + "    - id: console\n      type: stdout\n" + text[end:])
    run = run_stack("dev", project, registration_token=None)
    assert run.error is None
    assert set(run.outputs["envBindings"]) == {"S3_ACCESS_KEY", "S3_SECRET_KEY"}
    assert "REGISTRATION_TOKEN" not in {
        e["name"] for e in run.one(RELEASE).inputs["values"]["extraEnv"]
    }

"""Day 2, through the whole program: rotation rolls the agent, keyVersion replaces the key,
buckets stay, the release cannot deadlock, and every resource names an explicit provider."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qtap_gitops.rotation import SECRETS_REVISION_ANNOTATION
from qtapctl.mock_engine import ProgramRun, Registration, redact, reveal
from tests.conftest import STACKS, copy_project, edit_snapshot
from tests.program.test_stacks import ARCHIVE_STORE
from tests.pulumi_harness import SENTINEL_TOKEN, SENTINELS, run_stack, sentinel_cloud

SECRET = "vault:kv/secretV2:SecretV2"
EXTERNAL = "kubernetes:external-secrets.io/v1:ExternalSecret"
RELEASE = "kubernetes:helm.sh/v3:Release"
ACCESS_KEY = "aws:iam/accessKey:AccessKey"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_CHILDREN = {
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy",
}
ROTATED_TOKEN = "sentinel-rotated-token-77c3a9"


def plain(run: ProgramRun) -> dict[str, dict]:
    """What a reviewer sees of every resource: inputs with secrets redacted."""
    return {r.urn: json.loads(json.dumps(redact(r.inputs), default=str)) for r in run.registrations}


def changed(before: ProgramRun, after: ProgramRun) -> list[str]:
    old, new = plain(before), plain(after)
    assert old.keys() == new.keys(), "no resource added or removed"
    return [urn for urn in new if old[urn] != new[urn]]


def position(run: ProgramRun, urn: str) -> int:
    return [r.urn for r in run.registrations].index(urn)


@pytest.mark.parametrize("stack", STACKS)
def test_a_rotated_token_changes_the_external_secret_then_the_pods_and_nothing_else(stack):
    cloud = sentinel_cloud()
    before = run_stack(stack, cloud=cloud)
    after = run_stack(stack, cloud=cloud, registration_token=ROTATED_TOKEN)
    assert before.error is None
    assert after.error is None

    # Vault really received the new value (a secret input, so invisible in the plain view).
    old_data = json.loads(reveal(before.one(SECRET).inputs["dataJson"]))
    new_data = json.loads(reveal(after.one(SECRET).inputs["dataJson"]))
    assert (old_data["registration-token"], new_data["registration-token"]) == (
        SENTINEL_TOKEN,
        ROTATED_TOKEN,
    )

    # In plain inputs exactly two things change: the ExternalSecret's pinned KV version and the
    # release's pod annotation, both from version 1 to version 2.
    external, release = after.one(EXTERNAL), after.one(RELEASE)
    assert changed(before, after) == [external.urn, release.urn]
    assert {ref["remoteRef"]["version"] for ref in before.one(EXTERNAL).inputs["spec"]["data"]} == {
        "1"
    }
    assert {ref["remoteRef"]["version"] for ref in external.inputs["spec"]["data"]} == {"2"}
    old_values = plain(before)[release.urn]["values"]
    new_values = plain(after)[release.urn]["values"]
    assert {k for k in new_values if new_values[k] != old_values[k]} == {"podAnnotations"}
    assert old_values["podAnnotations"][SECRETS_REVISION_ANNOTATION] == "1"
    assert new_values["podAnnotations"] == {
        **old_values["podAnnotations"],
        SECRETS_REVISION_ANNOTATION: "2",
    }
    assert after.outputs["secretsRevision"] == "2"

    # In order: Vault secret, then the ExternalSecret (waits for Ready), then the release.
    secret = after.one(SECRET)
    assert secret.urn in external.dependencies
    assert external.urn in release.dependencies
    assert (
        position(after, secret.urn) < position(after, external.urn) < position(after, release.urn)
    )

    # No value anywhere in plain sight.
    for run in (before, after):
        for registration in run.registrations:
            visible = json.dumps(redact(registration.inputs), default=str)
            assert not any(s in visible for s in (*SENTINELS, ROTATED_TOKEN)), registration.type
        assert ROTATED_TOKEN not in json.dumps(redact(run.outputs), default=str)


def test_an_unchanged_secret_changes_nothing_on_the_next_update():
    cloud = sentinel_cloud()
    first, second = run_stack("dev", cloud=cloud), run_stack("dev", cloud=cloud)
    assert changed(first, second) == []


def test_a_rotated_secret_env_value_rolls_the_pods_too(tmp_path: Path):
    axiom = (
        "    - id: axiom\n      type: axiom\n      dataset:\n        type: text\n"
        "        value: qtap\n      token:\n        type: env\n        value: AXIOM_TOKEN\n"
    )
    project = edit_snapshot(
        copy_project(tmp_path / "p"), "dev", "  object_stores:\n", axiom + "  object_stores:\n"
    )
    cloud = sentinel_cloud()
    before = run_stack("dev", project, cloud=cloud, secret_env={"AXIOM_TOKEN": "axiom-one-5b1e"})
    after = run_stack("dev", project, cloud=cloud, secret_env={"AXIOM_TOKEN": "axiom-two-5b1e"})
    assert changed(before, after) == [after.one(EXTERNAL).urn, after.one(RELEASE).urn]
    for registration in after.registrations:
        assert "axiom-two-5b1e" not in json.dumps(redact(registration.inputs), default=str)


def key_version(version: int, stack: str = "dev") -> dict[str, str]:
    from qtap_gitops.stackfile import find_project, load_stack_config
    from tests.conftest import REPO

    raw, _ = load_stack_config(find_project(REPO), stack)
    assert raw is not None
    store = json.loads(raw.values.get("qtap:objectStore") or "{}")
    return {"qtap:objectStore": json.dumps({**store, "keyVersion": version})}


@pytest.mark.parametrize("stack", STACKS)
def test_key_version_2_replaces_the_key_and_rolls_the_agent(stack):
    cloud = sentinel_cloud()
    before = run_stack(stack, cloud=cloud)
    after = run_stack(stack, cloud=cloud, config_overrides=key_version(2, stack))
    assert before.error is None
    assert after.error is None
    old_key, new_key = before.one(ACCESS_KEY), after.one(ACCESS_KEY)
    assert (old_key.replacement_trigger, new_key.replacement_trigger) == (1, 2)
    assert new_key.urn == old_key.urn
    assert new_key.delete_before_replace is False, "the new key exists before the old goes"
    # Nothing else is replaced or changed by the bump itself; the new key's id and secret
    # reach Vault (then ESO and the pods) when AWS creates it, as the rotation test shows.
    assert changed(before, after) == []
    assert not any(
        r.replacement_trigger is not None for r in after.registrations if r.type != ACCESS_KEY
    )


@pytest.mark.parametrize("stack", STACKS)
def test_every_bucket_and_its_protections_are_retained_in_every_stack(stack):
    run = run_stack(stack)
    buckets = run.of_type(BUCKET)
    assert buckets
    for bucket in buckets:
        children = {r.type: r for r in run.registrations if r.parent == bucket.parent}
        assert set(children) >= BUCKET_CHILDREN
        assert all(children[t].retain_on_delete for t in (BUCKET, *BUCKET_CHILDREN))
    assert run.one(BUCKET).protect is (stack == "prod")


@pytest.mark.parametrize("stack", STACKS)
def test_the_release_is_deleted_before_it_is_replaced(stack):
    assert run_stack(stack).one(RELEASE).delete_before_replace is True


def package_of(registration: Registration) -> str:
    return registration.type.split(":", 1)[0]


def provider_of(run: ProgramRun, registration: Registration) -> Registration:
    assert registration.provider, f"{registration.type} {registration.name} uses a default provider"
    # A provider reference is `<provider URN>::<provider id>`.
    urn = registration.provider.rsplit("::", 1)[0]
    return run.by_urn(urn)


@pytest.mark.parametrize("stack", STACKS)
def test_every_custom_resource_names_an_explicit_provider_of_its_package(stack):
    run = run_stack(stack)
    resources = [r for r in run.custom_resources() if not r.type.startswith("pulumi:providers:")]
    assert resources
    for registration in resources:
        provider = provider_of(run, registration)
        assert provider.type == f"pulumi:providers:{package_of(registration)}", registration.type


def test_providers_are_built_from_the_stack_settings():
    run = run_stack("prod")
    kubernetes = run.one("pulumi:providers:kubernetes").inputs
    assert kubernetes["context"] == "acme-prod"
    vault = run.one("pulumi:providers:vault").inputs
    assert vault["address"] == "https://vault.acme.internal:8200"
    # The CA that ESO trusts is the CA Pulumi's own Vault provider trusts.
    ca_file = Path(vault["caCertFile"])
    assert "BEGIN CERTIFICATE" in ca_file.read_text()
    external_store = run.one("kubernetes:external-secrets.io/v1:SecretStore").inputs
    assert external_store["spec"]["provider"]["vault"]["server"] == vault["address"]
    (aws,) = run.of_type("pulumi:providers:aws")
    assert aws.inputs["region"] == "us-west-2"
    assert "caCertFile" not in run_stack("dev").one("pulumi:providers:vault").inputs


def test_each_bucket_uses_the_aws_provider_of_its_region(tmp_path: Path):
    project = edit_snapshot(
        copy_project(tmp_path / "p"), "dev", "\nstacks:", ARCHIVE_STORE + "\nstacks:"
    )
    run = run_stack("dev", project)
    assert run.error is None
    regions = {r.inputs["region"] for r in run.of_type("pulumi:providers:aws")}
    assert regions == {"us-east-1", "eu-central-1"}
    for registration in run.custom_resources():
        if registration.type.startswith("aws:s3/"):
            provider = provider_of(run, registration)
            assert provider.inputs["region"] == registration.inputs["region"]


def test_a_stack_without_a_kubernetes_context_is_refused_before_anything_registers(
    tmp_path: Path,
):
    project = copy_project(tmp_path / "p")
    path = project / "Pulumi.dev.yaml"
    path.write_text(path.read_text().replace("  kubernetes:context: acme-dev\n", ""))
    run = run_stack("dev", project)
    assert run.registrations == []
    message = str(run.error)
    assert "error [provider-config-missing]: kubernetes:context:" in message
    assert "pulumi config set kubernetes:context <context> --stack dev" in message


def test_a_vault_address_that_differs_from_qtap_vault_address_is_an_error(tmp_path: Path):
    project = copy_project(tmp_path / "p")
    path = project / "Pulumi.staging.yaml"
    path.write_text(
        path.read_text().replace(
            "  aws:region: eu-west-1\n",
            "  aws:region: eu-west-1\n  vault:address: https://vault.other.internal:8200\n",
        )
    )
    run = run_stack("staging", project)
    assert run.registrations == []
    assert "Pulumi.staging.yaml:" in str(run.error)
    assert "[provider-config-mismatch]: vault:address:" in str(run.error)


@pytest.mark.parametrize("stack", STACKS)
def test_stack_files_disable_default_providers_and_keep_one_vault_address(stack):
    from qtap_gitops.stackfile import find_project, load_stack_config
    from tests.conftest import REPO

    raw, _ = load_stack_config(find_project(REPO), stack)
    assert raw is not None
    assert json.loads(raw.values["pulumi:disable-default-providers"]) == ["*"]
    assert "vault:address" not in raw.values


def test_the_vault_token_of_the_stack_reaches_the_explicit_provider_as_a_secret():
    from qtapctl.mock_engine import Secret

    token = "sentinel-vault-token-5b1e0c"
    run = run_stack("dev", config_overrides={"vault:token": token, "vault:skipChildToken": "true"})
    provider = run.one("pulumi:providers:vault").inputs
    assert provider["token"] == Secret(token)
    assert provider["skipChildToken"] in (True, "true")
    for registration in run.registrations:
        assert token not in json.dumps(redact(registration.inputs), default=str)

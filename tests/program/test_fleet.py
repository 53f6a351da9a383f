"""Fleets under the mock engine: the owner `prod` and its members on other clusters.

Two fleets of one environment each: prod's committed snapshot (static S3 keys) with the members
`prod-eu` (External Secrets, Helm) and `prod-ap` (Vault Secrets Operator, Argo CD); and a keyless
prod (IRSA) with the member `prod-us` (IRSA on its own cluster). The owner is planned first and
its outputs answer the members' StackReference, as they would in the Pulumi Cloud.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from qtap_gitops.policies import bucket_arn
from qtapctl.mock_engine import FakeCloud, ProgramRun, Secret, reveal
from tests.conftest import copy_project
from tests.keyless import ISSUER, OIDC_PROVIDER_ARN, remove_keys, set_identity
from tests.pulumi_harness import (
    SENTINEL_KEY_ID,
    SENTINEL_SECRET_KEY,
    SENTINEL_TOKEN,
    SENTINELS,
    run_stack,
)

OWNER = "prod"
REFERENCE = "organization/qtap/prod"  # the mock engine's organization, project qtap
BUCKET_NAME = "acme-qtap-prod-payloads"
KMS_KEY = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OWNER_PATH = "qpoint/qtap-prod"

BUCKET = "aws:s3/bucket:Bucket"
USER = "aws:iam/user:User"
ACCESS_KEY = "aws:iam/accessKey:AccessKey"
VAULT_SECRET = "vault:kv/secretV2:SecretV2"
POLICY = "vault:index/policy:Policy"
ROLE = "vault:kubernetes/authBackendRole:AuthBackendRole"
NAMESPACE = "kubernetes:core/v1:Namespace"
ACCOUNT = "kubernetes:core/v1:ServiceAccount"
CA_SECRET = "kubernetes:core/v1:Secret"
STORE = "kubernetes:external-secrets.io/v1:SecretStore"
EXTERNAL = "kubernetes:external-secrets.io/v1:ExternalSecret"
RELEASE = "kubernetes:helm.sh/v3:Release"
APPLICATION = "kubernetes:argoproj.io/v1alpha1:Application"
CONNECTION = "kubernetes:secrets.hashicorp.com/v1beta1:VaultConnection"
AUTH = "kubernetes:secrets.hashicorp.com/v1beta1:VaultAuth"
STATIC = "kubernetes:secrets.hashicorp.com/v1beta1:VaultStaticSecret"
IAM_ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
OWNED_ONLY = {BUCKET, USER, ACCESS_KEY, "aws:iam/userPolicy:UserPolicy", VAULT_SECRET}
PROVIDERS = {"pulumi:providers:aws", "pulumi:providers:kubernetes", "pulumi:providers:vault"}

# What each member registers (custom resources): nothing of the owner's, only its cluster's.
MEMBER_RESOURCES = {
    "prod-eu": {POLICY, ROLE, NAMESPACE, ACCOUNT, STORE, EXTERNAL, RELEASE},
    "prod-ap": {POLICY, ROLE, NAMESPACE, ACCOUNT, CA_SECRET, CONNECTION, AUTH, STATIC, APPLICATION},
    "prod-us": {POLICY, ROLE, NAMESPACE, ACCOUNT, STORE, EXTERNAL, RELEASE, IAM_ROLE, ROLE_POLICY},
}
AUTH_MOUNT = {"prod-eu": "kubernetes-prod-eu", "prod-ap": "k8s-ap", "prod-us": "kubernetes-us"}
MEMBER_ISSUER = ISSUER.replace("EXAMPLED539D4633E53DE1B71EXAMPLE", "MEMBER0000000000000000000000US")
MEMBER_OIDC_ARN = OIDC_PROVIDER_ARN.replace(ISSUER, MEMBER_ISSUER)


def member_file(
    project: Path, member: str, *, extra: dict[str, Any] | None = None, ring: int = 1
) -> Path:
    """`Pulumi.<member>.yaml`: prod's snapshot on another cluster, with its own context and
    Vault kubernetes-auth mount; the owner's settings (bucket, KMS, Vault path) are not set."""
    prod = yaml.safe_load((project / "Pulumi.prod.yaml").read_text(encoding="utf-8"))["config"]
    config: dict[str, Any] = {
        "pulumi:disable-default-providers": ["*"],
        "aws:region": "us-west-2",
        "kubernetes:context": f"acme-{member}",
        "qtap:snapshot": "snapshots/prod/qtap-config.yaml",
        "qtap:fleet": {"environment": "prod", "owner": OWNER, "ring": ring},
        "qtap:chart": prod["qtap:chart"],
        "qtap:vault": {
            "address": prod["qtap:vault"]["address"],
            "caBundle": prod["qtap:vault"]["caBundle"],
            "authMount": AUTH_MOUNT[member],
        },
        "qtap:strictSnapshot": True,
        **(extra or {}),
    }
    path = project / f"Pulumi.{member}.yaml"
    path.write_text(yaml.safe_dump({"config": config}, sort_keys=False), encoding="utf-8")
    return project


def static_fleet(destination: Path) -> Path:
    project = copy_project(destination)
    member_file(project, "prod-eu")
    return member_file(
        project,
        "prod-ap",
        extra={
            "qtap:secrets": {"backend": "vault-secrets-operator"},
            "qtap:delivery": {"mode": "argocd"},
        },
        ring=2,
    )


def keyless_fleet(destination: Path) -> Path:
    project = set_identity(remove_keys(copy_project(destination), OWNER), OWNER, "irsa")
    return member_file(
        project,
        "prod-us",
        extra={
            "qtap:objectStore": {"identity": "irsa"},
            "qtap:eks": {"oidcProviderArn": MEMBER_OIDC_ARN},
        },
    )


def owner_cloud(owner: ProgramRun, **changes: Any) -> FakeCloud:
    """A cloud whose StackReference to prod answers with prod's outputs (and `changes`)."""
    assert owner.error is None, owner.error
    return FakeCloud(
        access_key_id=lambda name: SENTINEL_KEY_ID,
        secret_access_key=lambda name: SENTINEL_SECRET_KEY,
        stack_outputs={REFERENCE: {**owner.outputs, **changes}},
    )


def run_member(project: Path, member: str, cloud: FakeCloud) -> ProgramRun:
    return run_stack(member, project, cloud=cloud)


@pytest.fixture(scope="module")
def fleets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    static = static_fleet(tmp_path_factory.mktemp("static"))
    keyless = keyless_fleet(tmp_path_factory.mktemp("keyless"))
    owners = {"static": run_stack(OWNER, static), "keyless": run_stack(OWNER, keyless)}
    members = {
        "prod-eu": run_member(static, "prod-eu", owner_cloud(owners["static"])),
        "prod-ap": run_member(static, "prod-ap", owner_cloud(owners["static"])),
        "prod-us": run_member(keyless, "prod-us", owner_cloud(owners["keyless"])),
    }
    for name, run in {**owners, **members}.items():
        assert run.error is None, f"{name}: {run.error}"
    return {"projects": {"static": static, "keyless": keyless}, "owners": owners, **members}


def inputs(run: ProgramRun, type_token: str) -> dict[str, Any]:
    return reveal(dict(run.one(type_token).inputs))


# -- what a member creates -----------------------------------------------------------------------


@pytest.mark.parametrize("member", sorted(MEMBER_RESOURCES))
def test_a_member_creates_only_what_is_per_cluster(fleets, member):
    run = fleets[member]
    types = {r.type for r in run.custom_resources()} - PROVIDERS
    assert types == MEMBER_RESOURCES[member]
    assert not types & OWNED_ONLY
    assert all(len(run.of_type(t)) == 1 for t in types), "each exactly once"
    # The owner's plan is what it would be without members: it creates what they share.
    owner = fleets["owners"]["keyless" if member == "prod-us" else "static"]
    assert {BUCKET, VAULT_SECRET} <= {r.type for r in owner.registrations}


@pytest.mark.parametrize("member", sorted(MEMBER_RESOURCES))
def test_the_members_vault_policy_reads_only_the_owners_secret(fleets, member):
    run = fleets[member]
    policy = inputs(run, POLICY)
    assert policy["name"] == f"qtap-{member}-read"
    assert policy["policy"] == (
        "# Read-only access for External Secrets Operator to the Qtap agent's secret.\n"
        f'path "secret/data/{OWNER_PATH}" {{\n'
        '  capabilities = ["read"]\n'
        "}\n"
    )
    role = inputs(run, ROLE)
    assert role["backend"] == AUTH_MOUNT[member], "its own kubernetes-auth mount"
    assert role["roleName"] == f"qtap-{member}"
    assert role["tokenPolicies"] == [f"qtap-{member}-read"]
    assert role["boundServiceAccountNamespaces"] == ["qpoint"]


@pytest.mark.parametrize("member", ["prod-eu", "prod-us"])
def test_the_external_secret_reads_the_owners_secret_at_its_kv_version(fleets, member):
    run = fleets[member]
    owner = fleets["owners"]["keyless" if member == "prod-us" else "static"]
    data = inputs(run, EXTERNAL)["spec"]["data"]
    assert data, "the snapshot reads env variables"
    for item in data:
        assert item["remoteRef"]["key"] == OWNER_PATH
        assert item["remoteRef"]["version"] == owner.outputs["secretsRevision"] == "1"
    vault = inputs(run, STORE)["spec"]["provider"]["vault"]
    assert vault["path"] == "secret"
    assert vault["auth"]["kubernetes"]["mountPath"] == AUTH_MOUNT[member]
    assert vault["auth"]["kubernetes"]["role"] == f"qtap-{member}"


def test_vso_reads_the_owners_secret_at_its_kv_version(fleets):
    spec = inputs(fleets["prod-ap"], STATIC)["spec"]
    assert (spec["mount"], spec["path"], spec["version"]) == ("secret", OWNER_PATH, 1)
    assert inputs(fleets["prod-ap"], AUTH)["spec"]["mount"] == "k8s-ap"


def test_a_rotation_by_the_owner_rolls_the_members_pods(fleets):
    """The owner wrote version 7 (a rotated key): the member's sync pins it and its pods carry
    it, so they roll; nothing of the member's own changes."""
    project = fleets["projects"]["static"]
    owner = fleets["owners"]["static"]
    run = run_member(project, "prod-eu", owner_cloud(owner, secretsRevision="7"))
    assert run.error is None, run.error
    assert {i["remoteRef"]["version"] for i in inputs(run, EXTERNAL)["spec"]["data"]} == {"7"}
    annotations = inputs(run, RELEASE)["values"]["podAnnotations"]
    assert "7" in annotations.values()
    assert run.outputs["secretsRevision"] == "7"
    before = fleets["prod-eu"]
    assert inputs(before, POLICY) == inputs(run, POLICY)


def test_the_keyless_member_has_its_own_role_on_the_owners_bucket_and_key(fleets):
    run = fleets["prod-us"]
    owner = fleets["owners"]["keyless"]
    role = inputs(run, IAM_ROLE)
    assert role["name"] == "qtap-agent-prod-us"
    (statement,) = json.loads(role["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Federated": MEMBER_OIDC_ARN}, "its own cluster's OIDC"
    assert f"{MEMBER_ISSUER}:sub" in statement["Condition"]["StringEquals"]
    policy = json.loads(inputs(run, ROLE_POLICY)["policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["QtapPutObjectOnly"]["Action"] == "s3:PutObject"
    assert by_sid["QtapPutObjectOnly"]["Resource"] == (
        f"{owner.outputs['bucketArns'][BUCKET_NAME]}/*"
    )
    kms = [s for s in policy["Statement"] if s["Sid"] != "QtapPutObjectOnly"]
    assert {s["Resource"] for s in kms} == {owner.outputs["kmsKeyId"]} == {KMS_KEY}
    # The chart's ServiceAccount carries the member's role, not the owner's.
    account = inputs(run, RELEASE)["values"]["serviceAccount"]
    assert account["annotations"]["eks.amazonaws.com/role-arn"] == run.outputs["agentRoleArn"]
    assert run.outputs["agentRoleArn"] != owner.outputs["agentRoleArn"]
    assert run.outputs["writerArns"] == {BUCKET_NAME: run.outputs["agentRoleArn"]}


def test_a_keyless_member_refuses_a_bucket_its_owner_does_not_export(fleets):
    project = fleets["projects"]["keyless"]
    owner = fleets["owners"]["keyless"]
    run = run_member(project, "prod-us", owner_cloud(owner, bucketArns={}))
    assert run.error is not None
    assert f"stack {REFERENCE} owns no bucket {BUCKET_NAME}" in str(run.error)
    wrong = {BUCKET_NAME: bucket_arn("another-bucket", "us-west-2")}
    run = run_member(project, "prod-us", owner_cloud(owner, bucketArns=wrong))
    assert f"not {bucket_arn(BUCKET_NAME, 'us-west-2')}" in str(run.error)


# -- the StackReference --------------------------------------------------------------------------


def test_one_stack_reference_names_the_owner_in_the_current_organization(fleets):
    project = fleets["projects"]["static"]
    owner = fleets["owners"]["static"]
    # The only reference the cloud answers is REFERENCE: the members above resolved it.
    elsewhere = FakeCloud(stack_outputs={"acme/qtap/prod": owner.outputs})
    run = run_member(project, "prod-eu", elsewhere)
    assert f"unknown stack '{REFERENCE}'" in str(run.error)


def test_the_organization_setting_names_the_owners_organization(tmp_path: Path, fleets):
    project = static_fleet(tmp_path / "p")
    path = project / "Pulumi.prod-eu.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["config"]["qtap:fleet"]["organization"] = "acme"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    owner = fleets["owners"]["static"]
    run = run_member(project, "prod-eu", FakeCloud(stack_outputs={"acme/qtap/prod": owner.outputs}))
    assert run.error is None, run.error
    assert inputs(run, EXTERNAL)["spec"]["data"][0]["remoteRef"]["key"] == OWNER_PATH


def test_an_owner_without_the_fleet_outputs_is_named_with_a_fix(fleets):
    project = fleets["projects"]["static"]
    outputs = dict(fleets["owners"]["static"].outputs)
    del outputs["vaultKvPath"]
    run = run_member(project, "prod-eu", FakeCloud(stack_outputs={REFERENCE: outputs}))
    assert f"stack {REFERENCE} exports no `vaultKvPath`: deploy the owner" in str(run.error)


def test_an_owner_without_vault_cannot_serve_a_vault_member(fleets):
    project = fleets["projects"]["static"]
    owner = fleets["owners"]["static"]
    run = run_member(project, "prod-eu", owner_cloud(owner, vaultKvMount="", vaultKvPath=""))
    assert f"stack {REFERENCE} keeps no Vault secret" in str(run.error)


def test_a_sealed_secrets_member_cannot_seal_the_owners_key(tmp_path: Path, fleets):
    from tests.sealing_keys import controller_key

    project = member_file(
        copy_project(tmp_path / "p"),
        "prod-eu",
        extra={
            "qtap:secrets": {
                "backend": "sealed-secrets",
                "sealedSecrets": {"certificate": controller_key().certificate_pem},
            }
        },
    )
    document = yaml.safe_load((project / "Pulumi.prod-eu.yaml").read_text(encoding="utf-8"))
    document["config"].pop("qtap:vault")
    (project / "Pulumi.prod-eu.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    run = run_member(project, "prod-eu", owner_cloud(fleets["owners"]["static"]))
    # The settings contract refuses it before anything is registered (members share the owner's
    # Vault secret; a sealed member would need the owner's S3 key in plaintext to seal it).
    assert "qtap:secrets.backend: a member stack shares its owner's Vault secret" in str(run.error)
    assert run.registrations == []


# -- outputs and secrets -------------------------------------------------------------------------


@pytest.mark.parametrize("member", sorted(MEMBER_RESOURCES))
def test_a_member_exports_the_owners_shared_names_and_its_own(fleets, member):
    run = fleets[member]
    owner = fleets["owners"]["keyless" if member == "prod-us" else "static"]
    assert set(run.outputs) == set(owner.outputs)
    for shared in ("buckets", "bucketArns", "kmsKeyId", "vaultKvMount", "vaultKvPath"):
        assert run.outputs[shared] == owner.outputs[shared], shared
    assert run.outputs["vaultSecretPath"] == f"secret/{OWNER_PATH}"
    assert run.outputs["iamUsers"] == []
    assert run.outputs["snapshotSha256"] == owner.outputs["snapshotSha256"]
    assert (run.outputs["vaultRole"], run.outputs["vaultPolicy"]) == (
        f"qtap-{member}",
        f"qtap-{member}-read",
    )
    if member != "prod-us":
        assert run.outputs["writerArns"] == owner.outputs["writerArns"]


@pytest.mark.parametrize("member", sorted(MEMBER_RESOURCES))
def test_a_member_holds_no_secret_value_at_all(fleets, member):
    run = fleets[member]
    everything = json.dumps(
        [reveal(dict(r.inputs)) for r in run.registrations] + [reveal(run.outputs)], default=str
    )
    for sentinel in SENTINELS:
        assert sentinel not in everything, sentinel
    assert not any(isinstance(v, Secret) for v in run.outputs.values())
    # The owner wrote them, and only into its Vault secret.
    owner = fleets["owners"]["static"]
    assert SENTINEL_TOKEN in json.dumps(reveal(dict(owner.one(VAULT_SECRET).inputs)))

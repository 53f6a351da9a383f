"""The whole program per stack with the other secrets backends (copies of the real stacks with
`qtap:secrets` switched): Vault Secrets Operator and Sealed Secrets produce the same Secret
`qtap-secrets` with exactly the snapshot's env names, the delivery waits for it, and no value
is ever plain."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from qtap_gitops.release_values import SECRET_NAME
from qtap_gitops.rotation import SECRETS_REVISION_ANNOTATION
from qtap_gitops.sealing import scope_label, sealed_revision
from qtap_gitops.settings import SealedSecretsScope
from qtapctl.mock_engine import ProgramRun, Secret, Unknown, redact, reveal
from tests.backends import SEALED, VSO, backend_project
from tests.conftest import STACKS
from tests.program.test_stacks import snapshot_env_names
from tests.pulumi_harness import SENTINEL_TOKEN, SENTINELS, run_stack
from tests.real.generated import stack_config
from tests.sealing_keys import certificate_pem, controller_key, session_key, unseal

BUCKET = "aws:s3/bucket:Bucket"
SECRET = "vault:kv/secretV2:SecretV2"
ROLE = "vault:kubernetes/authBackendRole:AuthBackendRole"
POLICY = "vault:index/policy:Policy"
NAMESPACE = "kubernetes:core/v1:Namespace"
ACCOUNT = "kubernetes:core/v1:ServiceAccount"
CONNECTION = "kubernetes:secrets.hashicorp.com/v1beta1:VaultConnection"
AUTH = "kubernetes:secrets.hashicorp.com/v1beta1:VaultAuth"
STATIC = "kubernetes:secrets.hashicorp.com/v1beta1:VaultStaticSecret"
SEALED_SECRET = "kubernetes:bitnami.com/v1alpha1:SealedSecret"
SEALING_KEY = "random:index/randomBytes:RandomBytes"
RELEASE = "kubernetes:helm.sh/v3:Release"
ACCESS_KEY = "aws:iam/accessKey:AccessKey"
USER = "aws:iam/user:User"
PROVIDERS = {
    "pulumi:providers:aws",
    "pulumi:providers:kubernetes",
    "pulumi:providers:vault",
    "pulumi:providers:random",
}
AWS_TYPES = {
    BUCKET,
    USER,
    ACCESS_KEY,
    "aws:iam/userPolicy:UserPolicy",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
}
REVISION = SECRETS_REVISION_ANNOTATION

# What each backend object waits for: exactly what it consumes.
VSO_DEPENDENCIES: dict[str, set[str]] = {
    NAMESPACE: set(),
    SECRET: {ACCESS_KEY},
    POLICY: set(),
    ROLE: {POLICY},
    ACCOUNT: {NAMESPACE},
    CONNECTION: {NAMESPACE},
    AUTH: {NAMESPACE, ACCOUNT, CONNECTION},
    STATIC: {NAMESPACE, AUTH, SECRET, ROLE},
    # The KV version (pod annotation) comes from the Vault secret.
    RELEASE: {NAMESPACE, STATIC, SECRET},
}
SEALED_DEPENDENCIES: dict[str, set[str]] = {
    NAMESPACE: set(),
    SEALING_KEY: set(),
    SEALED_SECRET: {NAMESPACE, SEALING_KEY, ACCESS_KEY},
    # The revision annotation is a digest of the ciphertexts.
    RELEASE: {NAMESPACE, SEALED_SECRET, SEALING_KEY, ACCESS_KEY},
}


CA_SECRET = "kubernetes:core/v1:Secret"


def vso_dependencies(stack: str) -> dict[str, set[str]]:
    """With qtap:vault.caBundle, the VaultConnection also reads the CA from a Secret."""
    if not (stack_config(stack).get("qtap:vault") or {}).get("caBundle"):
        return VSO_DEPENDENCIES
    return {**VSO_DEPENDENCIES, CA_SECRET: {NAMESPACE}, CONNECTION: {NAMESPACE, CA_SECRET}}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], ProgramRun]:
    found = {}
    for backend in (VSO, SEALED):
        for stack in STACKS:
            project = backend_project(tmp_path_factory.mktemp(f"{stack}-{backend}"), stack, backend)
            run = run_stack(stack, project)
            assert run.error is None, f"{stack} with {backend}: {run.error}"
            found[(backend, stack)] = run
    return found


def inputs(run: ProgramRun, type_token: str) -> dict:
    return reveal(dict(run.one(type_token).inputs))


@pytest.mark.parametrize("stack", STACKS)
def test_vso_registers_its_objects_and_no_eso_object(runs, stack):
    counts = Counter(r.type for r in runs[(VSO, stack)].custom_resources())
    assert set(counts) & PROVIDERS == PROVIDERS - {"pulumi:providers:random"}
    assert set(counts) - AWS_TYPES - PROVIDERS == set(vso_dependencies(stack))
    assert all(counts[t] == 1 for t in vso_dependencies(stack))
    assert not any("external-secrets.io" in t for t in counts)


@pytest.mark.parametrize("stack", STACKS)
def test_sealed_secrets_registers_no_vault_and_no_eso_object(runs, stack):
    counts = Counter(r.type for r in runs[(SEALED, stack)].custom_resources())
    # No Vault provider: nothing here talks to Vault; the sealing key has its random provider.
    assert set(counts) & PROVIDERS == PROVIDERS - {"pulumi:providers:vault"}
    assert set(counts) - AWS_TYPES - PROVIDERS == set(SEALED_DEPENDENCIES)
    assert all(counts[t] == 1 for t in SEALED_DEPENDENCIES)
    assert not any(t.startswith("vault:") or "external-secrets.io" in t for t in counts)


@pytest.mark.parametrize("backend", [VSO, SEALED])
@pytest.mark.parametrize("stack", STACKS)
def test_every_object_waits_for_exactly_what_it_consumes(runs, backend, stack):
    run = runs[(backend, stack)]
    expected = vso_dependencies(stack) if backend == VSO else SEALED_DEPENDENCIES
    for registration in run.custom_resources():
        if registration.type in AWS_TYPES | PROVIDERS:
            continue
        waits_for = {run.by_urn(urn).type for urn in registration.dependencies}
        assert waits_for == expected[registration.type], registration.type


@pytest.mark.parametrize("backend", [VSO, SEALED])
@pytest.mark.parametrize("stack", STACKS)
def test_every_backend_object_names_an_explicit_provider_of_its_package(runs, backend, stack):
    # The stack files disable default providers: a resource without one could not deploy.
    run = runs[(backend, stack)]
    for registration in run.custom_resources():
        if registration.type.startswith("pulumi:providers:"):
            continue
        assert registration.provider, f"{registration.type} uses a default provider"
        provider = run.by_urn(registration.provider.rsplit("::", 1)[0])
        package = registration.type.split(":", 1)[0]
        assert provider.type == f"pulumi:providers:{package}", registration.type


@pytest.mark.parametrize("stack", STACKS)
def test_vault_auth_logs_in_as_the_service_account_the_role_binds(runs, stack):
    run = runs[(VSO, stack)]
    role, account = inputs(run, ROLE), inputs(run, ACCOUNT)
    auth, connection = inputs(run, AUTH), inputs(run, CONNECTION)
    kubernetes = auth["spec"]["kubernetes"]
    assert role["boundServiceAccountNames"] == [account["metadata"]["name"]]
    assert role["boundServiceAccountNamespaces"] == [account["metadata"]["namespace"]]
    assert kubernetes["serviceAccount"] == account["metadata"]["name"]
    assert auth["metadata"]["namespace"] == account["metadata"]["namespace"]
    assert kubernetes["audiences"] == [role["audience"]]
    assert kubernetes["role"] == role["roleName"]
    assert auth["spec"]["mount"] == role["backend"]
    assert auth["spec"]["method"] == "kubernetes"
    assert auth["spec"]["vaultConnectionRef"] == connection["metadata"]["name"]
    assert account["automountServiceAccountToken"] is False


@pytest.mark.parametrize("stack", STACKS)
def test_vault_static_secret_writes_qtap_secrets_with_the_env_names(runs, stack):
    run = runs[(VSO, stack)]
    spec = inputs(run, STATIC)["spec"]
    vault_secret = inputs(run, SECRET)
    properties = json.loads(vault_secret["dataJson"])
    expected = snapshot_env_names(stack)

    assert spec["vaultAuthRef"] == inputs(run, AUTH)["metadata"]["name"]
    assert (spec["type"], spec["mount"], spec["path"]) == (
        "kv-v2",
        vault_secret["mount"],
        vault_secret["name"],
    )
    assert not spec["path"].startswith("data/")
    destination = spec["destination"]
    assert (destination["name"], destination["create"]) == (SECRET_NAME, True)
    transformation = destination["transformation"]
    assert transformation["excludes"] == [".*"]
    assert transformation["excludeRaw"] is True
    assert set(transformation["templates"]) == expected
    for name, template in transformation["templates"].items():
        kebab = name.lower().replace("_", "-")
        assert template == {"text": f'{{{{ get .Secrets "{kebab}" }}}}'}
        assert kebab in properties
    assert inputs(run, STATIC)["metadata"]["annotations"] == {
        "pulumi.com/waitFor": "condition=SecretSynced"
    }


@pytest.mark.parametrize("stack", STACKS)
def test_vso_restarts_the_daemonset_the_release_names_and_the_release_waits(runs, stack):
    run = runs[(VSO, stack)]
    spec = inputs(run, STATIC)["spec"]
    values = inputs(run, RELEASE)["values"]
    assert spec["rolloutRestartTargets"] == [
        {"kind": "DaemonSet", "name": values["fullnameOverride"]}
    ]
    # The KV version this stack wrote: pinned in the VaultStaticSecret and a pod annotation.
    assert spec["version"] == 1
    assert values["podAnnotations"][REVISION] == "1"
    assert run.one(STATIC).urn in run.one(RELEASE).dependencies
    release_env = values["extraEnv"]
    assert {e["valueFrom"]["secretKeyRef"]["name"] for e in release_env} == {SECRET_NAME}
    assert {e["name"] for e in release_env} == snapshot_env_names(stack)


@pytest.mark.parametrize("stack", STACKS)
def test_the_sealed_secret_unseals_to_the_sentinels_under_the_env_names(runs, stack):
    run = runs[(SEALED, stack)]
    sealed = inputs(run, SEALED_SECRET)
    assert sealed["metadata"]["name"] == SECRET_NAME
    assert sealed["spec"]["template"]["metadata"]["name"] == SECRET_NAME
    encrypted = sealed["spec"]["encryptedData"]
    assert set(encrypted) == snapshot_env_names(stack)
    label = scope_label(sealed["metadata"]["namespace"], SECRET_NAME, SealedSecretsScope.STRICT)
    unsealed = {k: unseal(controller_key().private_key, v, label) for k, v in encrypted.items()}
    assert set(unsealed.values()) <= set(SENTINELS) | {"[set]"}
    assert unsealed["REGISTRATION_TOKEN"] == SENTINEL_TOKEN
    assert sealed["metadata"]["annotations"] == {"pulumi.com/waitFor": "condition=Synced"}


@pytest.mark.parametrize("stack", STACKS)
def test_the_release_waits_for_the_sealed_secret_and_rolls_on_its_ciphertext(runs, stack):
    run = runs[(SEALED, stack)]
    assert run.one(SEALED_SECRET).urn in run.one(RELEASE).dependencies
    encrypted = inputs(run, SEALED_SECRET)["spec"]["encryptedData"]
    annotation = run.one(RELEASE).inputs["values"]["podAnnotations"][REVISION]
    assert annotation == sealed_revision(encrypted)  # plain: a digest of ciphertext only
    assert "fullnameOverride" not in run.one(RELEASE).inputs["values"]


@pytest.mark.parametrize("backend", [VSO, SEALED])
@pytest.mark.parametrize("stack", STACKS)
def test_no_value_in_any_plain_input_output_or_log(runs, backend, stack):
    run = runs[(backend, stack)]
    for registration in run.registrations:
        visible = json.dumps(redact(registration.inputs), default=str)
        for sentinel in SENTINELS:
            assert sentinel not in visible, f"{sentinel} in plain inputs of {registration.type}"
    visible_outputs = json.dumps(redact(run.outputs), default=str)
    assert not any(s in visible_outputs for s in SENTINELS)
    assert not any(s in message for _, message in run.logs for s in SENTINELS)
    assert not any(isinstance(v, Secret) for v in run.outputs.values())


@pytest.mark.parametrize("stack", STACKS)
def test_every_sealed_value_is_secret_in_the_plan(runs, stack):
    encrypted = runs[(SEALED, stack)].one(SEALED_SECRET).inputs["spec"]["encryptedData"]
    assert encrypted
    assert all(isinstance(v, Secret) for v in encrypted.values())
    assert isinstance(runs[(SEALED, stack)].one(SEALING_KEY).inputs.get("length"), int)


def test_sealed_secrets_exports_no_vault_path(runs):
    outputs = runs[(SEALED, "dev")].outputs
    assert outputs["vaultSecretPath"] == ""
    assert outputs["kubernetesSecret"] == f"qpoint/{SECRET_NAME}"


# Scopes, determinism and rotation.


@pytest.mark.parametrize(
    ("scope", "annotations"),
    [
        (SealedSecretsScope.STRICT, {}),
        (
            SealedSecretsScope.NAMESPACE_WIDE,
            {"sealedsecrets.bitnami.com/namespace-wide": "true"},
        ),
        (SealedSecretsScope.CLUSTER_WIDE, {"sealedsecrets.bitnami.com/cluster-wide": "true"}),
    ],
)
def test_each_scope_seals_with_its_label_and_annotation(tmp_path: Path, scope, annotations):
    run = run_stack("dev", backend_project(tmp_path, "dev", SEALED, scope=scope))
    sealed = inputs(run, SEALED_SECRET)
    assert sealed["metadata"]["annotations"] == {
        "pulumi.com/waitFor": "condition=Synced",
        **annotations,
    }
    label = scope_label("qpoint", SECRET_NAME, scope)
    for wrong in {b"qpoint/qtap-secrets", b"qpoint", b""} - {label}:
        with pytest.raises(ValueError, match="Decryption failed"):
            unseal(
                controller_key().private_key,
                sealed["spec"]["encryptedData"]["S3_ACCESS_KEY"],
                wrong,
            )
    token = sealed["spec"]["encryptedData"]["REGISTRATION_TOKEN"]
    assert unseal(controller_key().private_key, token, label) == SENTINEL_TOKEN


def test_two_runs_with_the_same_secrets_give_byte_identical_sealed_secrets(tmp_path: Path):
    project = backend_project(tmp_path, "staging", SEALED)
    first, second = run_stack("staging", project), run_stack("staging", project)
    assert json.dumps(inputs(first, SEALED_SECRET), sort_keys=True) == json.dumps(
        inputs(second, SEALED_SECRET), sort_keys=True
    )
    assert inputs(first, RELEASE) == inputs(second, RELEASE)


def test_a_rotated_token_reaches_the_cluster_under_a_new_session_key(tmp_path: Path):
    project = backend_project(tmp_path, "dev", SEALED)
    before = run_stack("dev", project)
    after = run_stack("dev", project, registration_token="rotated-token-77aa")
    old, new = (inputs(r, SEALED_SECRET)["spec"]["encryptedData"] for r in (before, after))
    key, label = controller_key().private_key, b"qpoint/qtap-secrets"
    assert unseal(key, new["REGISTRATION_TOKEN"], label) == "rotated-token-77aa"
    assert session_key(key, new["REGISTRATION_TOKEN"], label) != session_key(
        key, old["REGISTRATION_TOKEN"], label
    )
    # Only the rotated value changes; the pods roll on the new revision.
    assert {k: v for k, v in new.items() if k != "REGISTRATION_TOKEN"} == {
        k: v for k, v in old.items() if k != "REGISTRATION_TOKEN"
    }
    revisions = [
        r.one(RELEASE).inputs["values"]["podAnnotations"][REVISION] for r in (before, after)
    ]
    assert revisions[0] != revisions[1]


# Refusals: nothing registered.


def test_an_expired_certificate_registers_nothing_and_says_why(tmp_path: Path):
    import datetime

    now = datetime.datetime.now(datetime.UTC)
    expired = certificate_pem(
        controller_key().private_key,
        not_before=now - datetime.timedelta(days=400),
        not_after=now - datetime.timedelta(days=35),
    )
    run = run_stack("dev", backend_project(tmp_path, "dev", SEALED, certificate=expired))
    assert run.registrations == []
    message = str(run.error)
    assert (
        "error [sealing-certificate]: qtap:secrets.sealedSecrets.certificate: expired on" in message
    )
    assert "kubeseal --fetch-cert" in message
    assert "Traceback" not in message


def test_vault_agent_registers_nothing_and_says_why_and_what_instead():
    run = run_stack(
        "dev", config_overrides={"qtap:secrets": json.dumps({"backend": "vault-agent"})}
    )
    assert run.registrations == []
    message = str(run.error)
    assert "only writes files under /vault/secrets" in message
    assert "use vault-secrets-operator" in message


def test_vso_trusts_vaults_internal_ca_through_a_secret(tmp_path: Path):
    ca = controller_key().certificate_pem  # any PEM certificate stands for the CA here
    project = backend_project(tmp_path, "dev", VSO, vault={"caBundle": ca})
    run = run_stack("dev", project)
    connection = inputs(run, CONNECTION)
    (ca_secret,) = [reveal(dict(r.inputs)) for r in run.of_type("kubernetes:core/v1:Secret")]
    assert connection["spec"]["caCertSecretRef"] == ca_secret["metadata"]["name"]
    assert ca_secret["metadata"]["namespace"] == connection["metadata"]["namespace"]
    assert ca_secret["stringData"] == {"ca.crt": ca}
    connection_deps = {run.by_urn(u).type for u in run.one(CONNECTION).dependencies}
    assert "kubernetes:core/v1:Secret" in connection_deps


def engine_urn(run: ProgramRun, registration) -> str:
    """The URN the Pulumi engine gives `registration`: the types of its ancestors below the
    stack, joined by `$`. (The mock monitor's URNs name only the parent's type.)"""
    types, current = [], registration
    while current is not None:
        types.append(current.type)
        parents = [r for r in run.registrations if r.urn == current.parent]
        current = parents[0] if parents else None
    return f"urn:pulumi:{run.stack}::qtap::{'$'.join(reversed(types))}::{registration.name}"


@pytest.mark.parametrize("backend", [VSO, SEALED])
def test_switching_from_eso_keeps_the_namespace(runs, backend):
    eso = run_stack("dev")
    (eso_namespace,) = eso.of_type(NAMESPACE)
    (namespace,) = runs[(backend, "dev")].of_type(NAMESPACE)
    assert engine_urn(runs[(backend, "dev")], namespace) != engine_urn(eso, eso_namespace)
    # pulumi.create_urn qualifies by the parent's URN; under mocks the environment's URN
    # carries the stack's type, which the engine leaves out for the stack's children.
    (alias,) = namespace.aliases
    assert alias.replace("::pulumi:pulumi:Stack$", "::") == engine_urn(eso, eso_namespace)
    assert namespace.inputs == eso_namespace.inputs


@pytest.mark.parametrize("backend", [VSO, SEALED])
def test_preview_registers_the_same_graph_with_unknown_revisions(tmp_path: Path, runs, backend):
    preview = run_stack("dev", backend_project(tmp_path, "dev", backend), preview=True)
    assert preview.error is None
    assert sorted((r.type, r.name) for r in preview.registrations) == sorted(
        (r.type, r.name) for r in runs[(backend, "dev")].registrations
    )
    annotations = preview.one(RELEASE).inputs["values"]["podAnnotations"]
    assert isinstance(annotations[REVISION], Unknown)


@pytest.mark.parametrize(
    ("backend", "mode", "delivery_type"),
    [
        (VSO, "argocd", "kubernetes:argoproj.io/v1alpha1:Application"),
        (SEALED, "flux", "kubernetes:helm.toolkit.fluxcd.io/v2:HelmRelease"),
    ],
)
def test_gitops_delivery_waits_for_each_backends_secret(
    tmp_path: Path, backend, mode, delivery_type
):
    project = backend_project(tmp_path, "staging", backend)
    run = run_stack(
        "staging", project, config_overrides={"qtap:delivery": json.dumps({"mode": mode})}
    )
    assert run.error is None, run.error
    writer = run.one(STATIC if backend == VSO else SEALED_SECRET)
    delivery = run.one(delivery_type)
    assert writer.urn in delivery.dependencies
    assert not run.of_type(RELEASE)
    text = json.dumps(redact(delivery.inputs), default=str)
    assert REVISION in text
    if backend == VSO:
        assert '"fullnameOverride": "qtap"' in text

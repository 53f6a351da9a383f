"""The real-service checks bite: each is fed what a deliberately broken generator would emit (the
real program's output for one stack, with one mistake in it) and must fail, saying what is
wrong. The same check functions pass on the unmodified output in the other test modules."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import hvac
import jsonschema
import pytest

from tests.real import aws_checks, k8s_schemas, vault_checks
from tests.real.aws_checks import Aws
from tests.real.fake_kube_api import FakeKubeApi
from tests.real.generated import (
    BUCKET_POLICY,
    ENCRYPTION,
    EXTERNAL_SECRET,
    HELM_RELEASE,
    IAM_USER_POLICY,
    LIFECYCLE,
    NAMESPACE,
    OBJECT_STORE,
    PUBLIC_ACCESS_BLOCK,
    SECRET_STORE,
    SERVICE_ACCOUNT,
    VAULT_POLICY,
    VAULT_ROLE,
    VAULT_SECRET,
    expected_vault_properties,
    generated,
    kms_key_id,
    retention_days,
    secret_data,
)
from tests.real.servers import Moto, OpenBao

pytestmark = pytest.mark.real

# prod has the most to get wrong: a non-default secret path, SSE-KMS and a KMS statement.
STACK = "prod"


# What a broken generator would emit: one change to one generated value.


def _assign(*path: Any, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set the value at `path` (keys and list indexes)."""

    def mutate(node: dict[str, Any]) -> None:
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def _rename(*path: Any, new: str) -> Callable[[dict[str, Any]], None]:
    """Rename the key at `path`, as a typo in a generator would."""

    def mutate(node: dict[str, Any]) -> None:
        for key in path[:-1]:
            node = node[key]
        node[new] = node.pop(path[-1])

    return mutate


def _edit_policy(type_token: str, index: int, **changes: Any) -> Callable[[dict[str, Any]], None]:
    """Change statement `index` of a JSON policy document: a value, a function of the old
    value, or None to remove the key."""

    def mutate(store: dict[str, Any]) -> None:
        document = json.loads(store[type_token]["policy"])
        statement = document["Statement"][index]
        for key, value in changes.items():
            if value is None:
                statement.pop(key)
            elif callable(value):
                statement[key] = value(statement[key])
            else:
                statement[key] = value
        store[type_token]["policy"] = json.dumps(document)

    return mutate


# Vault: the read policy.


def _glob_on_parent(hcl: str) -> str:
    return re.sub(r'path "(.*)/[^/"]+"', r'path "\1/*"', hcl)


def _add_metadata_access(hcl: str) -> str:
    mount = re.search(r'path "([^/"]+)/', hcl).group(1)
    return hcl + f'path "{mount}/metadata/*" {{\n  capabilities = ["read", "list"]\n}}\n'


@pytest.mark.parametrize(
    ("mutate", "complaint"),
    [
        pytest.param(
            lambda hcl: hcl.replace("/data/", "/", 1),
            r"cannot read \S+/data/\S+: Forbidden",
            id="KV v1 path without data/",
        ),
        pytest.param(
            _glob_on_parent,
            r"read \S+/data/\S+/other: allowed",
            id="glob on the parent path",
        ),
        pytest.param(
            lambda hcl: re.sub(r'path "([^"]+)"', r'path "\1*"', hcl),
            r"read \S+/data/\S+-other: allowed",
            id="trailing glob",
        ),
        pytest.param(
            lambda hcl: hcl.replace('["read"]', '["read", "create", "update", "delete"]'),
            r"write \S+/data/\S+: allowed(.|\n)*delete \S+/data/\S+: allowed",
            id="write and delete capabilities",
        ),
        pytest.param(
            _add_metadata_access,
            r"read \S+/metadata/\S+: allowed(.|\n)*list \S+/metadata/\S+: allowed",
            id="metadata access",
        ),
        pytest.param(
            lambda hcl: re.sub(r'path "[^/"]+/', 'path "+/', hcl),
            r"read the same path on another mount \(\S+-other/data/\S+\): allowed",
            id="any mount",
        ),
    ],
)
def test_a_broken_vault_policy_fails_the_policy_check(
    vault: hvac.Client, openbao: OpenBao, mutate: Callable[[str], str], complaint: str
) -> None:
    program = generated(STACK)
    policy, secret = program.one(VAULT_POLICY), program.one(VAULT_SECRET)
    policy["policy"] = mutate(policy["policy"])
    vault_checks.apply_policy(vault, policy)
    vault_checks.apply_secret(vault, secret)

    with pytest.raises(AssertionError, match=complaint):
        vault_checks.check_token_of_policy(
            vault,
            openbao.address,
            policy["name"],
            mount=secret["mount"],
            path=secret["name"],
            expected_properties=expected_vault_properties(STACK),
            expected_data=secret_data(secret),
        )


def test_a_secret_missing_a_property_fails_the_policy_check(
    vault: hvac.Client, openbao: OpenBao
) -> None:
    program = generated(STACK)
    policy, secret = program.one(VAULT_POLICY), program.one(VAULT_SECRET)
    data = secret_data(secret)
    data.pop(sorted(data)[-1])
    secret["dataJson"] = json.dumps(data)
    vault_checks.apply_policy(vault, policy)
    vault_checks.apply_secret(vault, secret)

    with pytest.raises(
        AssertionError, match=r"has properties \[.*\], expected exactly \[.*\] \(the snapshot's env"
    ):
        vault_checks.check_token_of_policy(
            vault,
            openbao.address,
            policy["name"],
            mount=secret["mount"],
            path=secret["name"],
            expected_properties=expected_vault_properties(STACK),
            expected_data=data,
        )


# Vault: the kubernetes-auth role, read back and used by ESO.


@pytest.mark.parametrize(
    ("mutate", "role_complaint", "eso_complaint"),
    [
        pytest.param(
            _assign("boundServiceAccountNames", value=["default"]),
            r"bound_service_account_names \['default'\], expected exactly",
            r"ESO cannot log in .*service account name not authorized",
            id="bound to another ServiceAccount",
        ),
        pytest.param(
            _assign("boundServiceAccountNamespaces", value=["external-secrets"]),
            r"bound_service_account_namespaces \['external-secrets'\]",
            r"ESO cannot log in .*namespace not authorized",
            id="bound to another namespace",
        ),
        pytest.param(
            _assign("audience", value="https://kubernetes.default.svc"),
            r"audience 'https://kubernetes.default.svc' is not among",
            r"ESO cannot log in .*invalid audience",
            id="audience ESO does not request",
        ),
        pytest.param(
            _assign("tokenPolicies", value=["default"]),
            r"token_policies \['default'\], expected exactly \['\S+-read'\]",
            r"cannot read \S+: Forbidden: permission denied",
            id="without the read policy",
        ),
        pytest.param(
            _assign("tokenNoDefaultPolicy", value=True),
            r"token_no_default_policy must be false",
            None,
            id="without the default policy",
        ),
        pytest.param(
            _rename("tokenTtl", new="tokenTtls"),
            r"token_ttls reads back as None",
            None,
            id="misspelled field OpenBao ignores",
        ),
    ],
)
def test_a_broken_role_fails_the_role_check_and_esos_login(
    vault: hvac.Client,
    openbao: OpenBao,
    kube_api: FakeKubeApi,
    mutate: Callable[[dict[str, Any]], None],
    role_complaint: str,
    eso_complaint: str | None,
) -> None:
    program = generated(STACK)
    role = program.one(VAULT_ROLE)
    mutate(role)
    secret = program.one(VAULT_SECRET)
    vault_checks.apply_policy(vault, program.one(VAULT_POLICY))
    vault_checks.apply_secret(vault, secret)
    vault_checks.apply_role(vault, role, kube_api)

    with pytest.raises(AssertionError, match=role_complaint):
        vault_checks.check_role(
            vault,
            role,
            policy_name=program.one(VAULT_POLICY)["name"],
            service_account=program.one(SERVICE_ACCOUNT),
            secret_store=program.one(SECRET_STORE),
        )
    if eso_complaint is not None:
        written = secret_data(secret)
        with pytest.raises(AssertionError, match=eso_complaint):
            vault_checks.check_eso_sync(
                openbao.address,
                secret_store=program.one(SECRET_STORE),
                external_secret=program.one(EXTERNAL_SECRET),
                expected={k.upper().replace("-", "_"): v for k, v in written.items()},
            )


def test_an_external_secret_naming_a_missing_property_fails_the_sync(
    vault: hvac.Client, openbao: OpenBao, kube_api: FakeKubeApi
) -> None:
    program = generated(STACK)
    external_secret = program.one(EXTERNAL_SECRET)
    external_secret["spec"]["data"][0]["remoteRef"]["property"] = "registration_token"
    secret = program.one(VAULT_SECRET)
    vault_checks.apply_policy(vault, program.one(VAULT_POLICY))
    vault_checks.apply_secret(vault, secret)
    vault_checks.apply_role(vault, program.one(VAULT_ROLE), kube_api)

    with pytest.raises(AssertionError, match=r"has no property 'registration_token'"):
        vault_checks.check_eso_sync(
            openbao.address,
            secret_store=program.one(SECRET_STORE),
            external_secret=external_secret,
            expected={k.upper().replace("-", "_"): v for k, v in secret_data(secret).items()},
        )


# AWS: the writer's IAM policy, proven with moto's IAM enforcement.


def _object_store() -> dict[str, dict[str, Any]]:
    (store,) = generated(STACK).components(OBJECT_STORE)
    return store


@pytest.mark.parametrize(
    ("mutate", "complaint"),
    [
        pytest.param(
            _edit_policy(IAM_USER_POLICY, 0, Resource=lambda arn: arn.removesuffix("/*")),
            r"PutObject [a-z0-9.-]+/[0-9a-f]{40}: denied, expected allowed",
            id="bucket ARN without /*",
        ),
        pytest.param(
            _edit_policy(IAM_USER_POLICY, 0, Action="s3:*"),
            r"GetObject: allowed(.|\n)*DeleteObject: allowed",
            id="s3:* on the objects",
        ),
        pytest.param(
            _edit_policy(IAM_USER_POLICY, 0, Resource="arn:aws:s3:::*/*"),
            r"PutObject into another bucket \([a-z0-9.-]+-other\): allowed",
            id="objects of every bucket",
        ),
        pytest.param(
            _edit_policy(
                IAM_USER_POLICY, 0, Action=["s3:PutObject", "s3:ListBucket"], Resource="*"
            ),
            r"ListBucket \(ListObjectsV2\): allowed",
            id="list as well",
        ),
    ],
)
def test_a_broken_writer_policy_fails_the_writer_check(
    aws: Aws, moto: Moto, mutate: Callable[[dict[str, Any]], None], complaint: str
) -> None:
    store = _object_store()
    mutate(store)
    admin = aws_checks.create_admin(aws)
    writer = aws_checks.apply_object_store(aws, admin, store)
    moto.set_auth_enforced(enforced=True)

    with pytest.raises(AssertionError, match=complaint):
        aws_checks.check_writer_key(aws, admin, writer, store)


def _expire_a_day_later(store: dict[str, Any]) -> None:
    store[LIFECYCLE]["rules"][0]["expiration"]["days"] += 1


@pytest.mark.parametrize(
    ("mutate", "complaint"),
    [
        pytest.param(
            _expire_a_day_later,
            r"objects expire after \[(\d+)\] days .* retention is (?!\1\b)\d+",
            id="expiry is not the retention",
        ),
        pytest.param(
            _assign(LIFECYCLE, "rules", 0, "status", value="Disabled"),
            r"objects expire after \[\] days",
            id="lifecycle rule disabled",
        ),
        pytest.param(
            _assign(PUBLIC_ACCESS_BLOCK, "blockPublicPolicy", value=False),
            r"public access is not fully blocked",
            id="public policies allowed",
        ),
        pytest.param(
            _assign(
                ENCRYPTION,
                "rules",
                0,
                "applyServerSideEncryptionByDefault",
                value={"sseAlgorithm": "AES256"},
            ),
            r"default encryption \{'SSEAlgorithm': 'AES256'\}, the stack asks for",
            id="AES256 although the stack has a KMS key",
        ),
    ],
)
def test_broken_bucket_settings_fail_the_read_back_check(
    aws: Aws, mutate: Callable[[dict[str, Any]], None], complaint: str
) -> None:
    store = _object_store()
    mutate(store)
    admin = aws_checks.create_admin(aws)
    aws_checks.apply_object_store(aws, admin, store)

    with pytest.raises(AssertionError, match=complaint):
        aws_checks.check_bucket_reads_back(
            aws, admin, store, retention_days=retention_days(STACK), kms_key_id=kms_key_id(STACK)
        )


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(_edit_policy(BUCKET_POLICY, 0, Condition=None), id="no condition"),
        pytest.param(
            _edit_policy(BUCKET_POLICY, 0, Resource=lambda arns: [a for a in arns if "/" not in a]),
            id="bucket only, not its objects",
        ),
        pytest.param(
            _edit_policy(BUCKET_POLICY, 0, Condition={"Bool": {"aws:SecureTransport": "true"}}),
            id="inverted condition",
        ),
        pytest.param(
            _edit_policy(BUCKET_POLICY, 0, Principal={"AWS": "arn:aws:iam::123456789012:root"}),
            id="one principal only",
        ),
        pytest.param(_edit_policy(BUCKET_POLICY, 0, Effect="Allow"), id="allow"),
    ],
)
def test_a_broken_tls_policy_fails_the_structural_check(
    mutate: Callable[[dict[str, Any]], None],
) -> None:
    store = _object_store()
    mutate(store)
    with pytest.raises(AssertionError, match=r"aws:SecureTransport is false|not a Deny"):
        aws_checks.check_tls_only_policy(store)


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(_edit_policy(IAM_USER_POLICY, 1, Resource="*"), id="any key"),
        pytest.param(_edit_policy(IAM_USER_POLICY, 1, Action="kms:*"), id="any KMS action"),
        pytest.param(_edit_policy(IAM_USER_POLICY, 1, Condition=None), id="not only via S3"),
        pytest.param(
            _edit_policy(
                IAM_USER_POLICY,
                1,
                Condition={"StringEquals": {"kms:ViaService": "s3.xx-nowhere-1.amazonaws.com"}},
            ),
            id="S3 in another region",
        ),
    ],
)
def test_a_broken_kms_statement_fails_the_structural_check(
    mutate: Callable[[dict[str, Any]], None],
) -> None:
    store = _object_store()
    mutate(store)
    with pytest.raises(AssertionError, match=r"expected one statement allowing only kms:Gen"):
        aws_checks.check_kms_statement(store, kms_key_id=kms_key_id(STACK))


# Kubernetes objects and chart values.


def _object(type_token: str, mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    obj = k8s_schemas.api_object(type_token, generated(STACK).one(type_token))
    mutate(obj)
    return obj


@pytest.mark.parametrize(
    ("type_token", "mutate", "complaint"),
    [
        pytest.param(
            EXTERNAL_SECRET,
            _rename("spec", "data", 0, "remoteRef", "property", new="proprety"),
            r"spec/data/0/remoteRef: Additional properties are not allowed \('proprety'",
            id="ExternalSecret remoteRef.proprety",
        ),
        pytest.param(
            EXTERNAL_SECRET,
            _assign("spec", "secretStoreRef", "kind", value="Store"),
            r"spec/secretStoreRef/kind: 'Store' is not one of",
            id="ExternalSecret secretStoreRef.kind",
        ),
        pytest.param(
            EXTERNAL_SECRET,
            _rename("spec", "target", "creationPolicy", new="creationPolice"),
            r"spec/target: Additional properties are not allowed \('creationPolice'",
            id="ExternalSecret target.creationPolice",
        ),
        pytest.param(
            SECRET_STORE,
            _rename(
                "spec",
                "provider",
                "vault",
                "auth",
                "kubernetes",
                "serviceAccountRef",
                new="serviceAcountRef",
            ),
            r"Additional properties are not allowed \('serviceAcountRef'",
            id="SecretStore serviceAcountRef",
        ),
        pytest.param(
            SECRET_STORE,
            _assign("spec", "provider", "vault", "version", value="2"),
            r"spec/provider/vault/version: '2' is not one of \['v1', 'v2'\]",
            id="SecretStore vault.version",
        ),
        pytest.param(
            SECRET_STORE,
            _rename("metadata", "labels", new="lables"),
            r"metadata: .*'lables' was unexpected",
            id="SecretStore metadata.lables",
        ),
    ],
)
def test_a_broken_eso_object_fails_the_crd_check(
    type_token: str, mutate: Callable[[dict[str, Any]], None], complaint: str
) -> None:
    with pytest.raises(AssertionError, match=complaint):
        k8s_schemas.check_eso_object(_object(type_token, mutate))


def test_without_translation_the_crd_schema_would_miss_a_misspelled_field() -> None:
    """Why the structural schema is translated: as plain JSON Schema it accepts unknown fields."""
    obj = _object(EXTERNAL_SECRET, _rename("spec", "data", 0, "remoteRef", "property", new="x"))
    crd = k8s_schemas.yaml.safe_load(
        (k8s_schemas.ESO_CRDS / "external-secrets.io_externalsecrets.yaml").read_text()
    )
    (v1,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    assert jsonschema.Draft4Validator(v1["schema"]["openAPIV3Schema"]).is_valid(obj)
    assert k8s_schemas.eso_problems(obj)


@pytest.mark.parametrize(
    ("type_token", "mutate", "complaint"),
    [
        pytest.param(
            NAMESPACE,
            _rename("metadata", "labels", new="lables"),
            r"Kubernetes 1\.30\.0: .*'lables' was unexpected",
            id="Namespace metadata.lables",
        ),
        pytest.param(
            SERVICE_ACCOUNT,
            _assign("automountServiceAccountToken", value="false"),
            r"automountServiceAccountToken: 'false' is not of type 'boolean'",
            id="ServiceAccount automount as a string",
        ),
        pytest.param(
            SERVICE_ACCOUNT,
            _rename("automountServiceAccountToken", new="automountToken"),
            r"'automountToken' was unexpected",
            id="ServiceAccount automountToken",
        ),
    ],
)
def test_a_broken_core_object_fails_strict_validation(
    type_token: str, mutate: Callable[[dict[str, Any]], None], complaint: str
) -> None:
    with pytest.raises(AssertionError, match=complaint):
        k8s_schemas.check_core_object(_object(type_token, mutate))


@pytest.mark.parametrize(
    ("mutate", "complaint"),
    [
        pytest.param(
            _rename("extraEnv", new="extraEnvs"),
            r"extraEnvs: not a key of the chart's values.yaml",
            id="unknown top-level key",
        ),
        pytest.param(
            _assign("tolerations", value={"operator": "Exists"}),
            r"tolerations: a dict, the chart's default is a list",
            id="tolerations as a mapping",
        ),
        pytest.param(
            _rename("extraEnv", 0, "valueFrom", "secretKeyRef", "name", new="secretName"),
            r"extraEnv\[0\] as EnvVar: .*'secretName' was unexpected",
            id="extraEnv secretKeyRef.secretName",
        ),
        pytest.param(
            _assign("extraEnv", -1, "value", value=42),
            r"extraEnv\[\d+\] as EnvVar: .*42 is not of type 'string'",
            id="extraEnv value not a string",
        ),
    ],
)
def test_broken_release_values_fail_the_chart_check(
    mutate: Callable[[dict[str, Any]], None], complaint: str
) -> None:
    values = generated(STACK).one(HELM_RELEASE)["values"]
    mutate(values)
    with pytest.raises(AssertionError, match=complaint):
        k8s_schemas.check_release_values(values)

"""The other secrets backends against real things: VSO's and Sealed Secrets' objects against
their real CRDs (strict), a SealedSecret unsealed by the controller's algorithm with the key the
test made, and VSO's kubernetes login through the generated role on a real OpenBao, reading
exactly the one secret. Each check also runs on a broken object, to show that it bites."""

from __future__ import annotations

import copy
import functools
import json
import tempfile
from pathlib import Path
from typing import Any

import hvac
import pytest

from qtap_gitops.release_values import SECRET_NAME
from qtap_gitops.sealing import scope_label
from qtap_gitops.settings import SealedSecretsScope
from tests.backends import SEALED, VSO, backend_project
from tests.conftest import STACKS
from tests.pulumi_harness import run_stack
from tests.real.fake_kube_api import FakeKubeApi
from tests.real.generated import (
    VAULT_POLICY,
    VAULT_ROLE,
    VAULT_SECRET,
    Generated,
    generated,
    kebab,
    secret_data,
    snapshot_env_names,
)
from tests.real.k8s_schemas import (
    api_object,
    backend_crd_problems,
    check_backend_object,
    check_core_object,
    check_release_values,
)
from tests.real.servers import OpenBao
from tests.real.vault_checks import apply_policy, apply_role, apply_secret
from tests.real.vso_checks import check_vso_sync
from tests.sealing_keys import controller_key, unseal

pytestmark = pytest.mark.real

CONNECTION = "kubernetes:secrets.hashicorp.com/v1beta1:VaultConnection"
AUTH = "kubernetes:secrets.hashicorp.com/v1beta1:VaultAuth"
STATIC = "kubernetes:secrets.hashicorp.com/v1beta1:VaultStaticSecret"
SEALED_SECRET = "kubernetes:bitnami.com/v1alpha1:SealedSecret"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"


def vso(stack: str) -> Generated:
    return generated(stack, **{"qtap:secrets": json.dumps({"backend": VSO})})


@functools.cache
def sealed(stack: str, scope: SealedSecretsScope = SealedSecretsScope.STRICT) -> Generated:
    project = backend_project(
        Path(tempfile.mkdtemp(prefix=f"qtap-{stack}-")), stack, SEALED, scope=scope
    )
    run = run_stack(stack, project)
    if run.error is not None:
        raise AssertionError(f"the program failed for stack {stack}: {run.error}")
    return Generated(stack, run)


def objects(program: Generated, prefix: str) -> list[dict[str, Any]]:
    return [
        api_object(r.type, program.inputs_of(r))
        for r in program.run.registrations
        if r.type.startswith(prefix)
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_vso_objects_validate_against_the_vso_crds(stack: str) -> None:
    found = objects(vso(stack), "kubernetes:secrets.hashicorp.com/")
    assert {o["kind"] for o in found} == {"VaultConnection", "VaultAuth", "VaultStaticSecret"}
    for obj in found:
        check_backend_object(obj)
    for obj in objects(vso(stack), "kubernetes:core/"):
        check_core_object(obj)


@pytest.mark.parametrize("scope", list(SealedSecretsScope))
@pytest.mark.parametrize("stack", STACKS)
def test_the_sealed_secret_validates_against_its_crd(stack: str, scope) -> None:
    (found,) = objects(sealed(stack, scope), "kubernetes:bitnami.com/")
    check_backend_object(found)
    for obj in objects(sealed(stack, scope), "kubernetes:core/"):
        check_core_object(obj)


@pytest.mark.parametrize("scope", list(SealedSecretsScope))
def test_the_controller_unseals_the_generated_sealed_secret(scope) -> None:
    program = sealed("staging", scope)
    obj = program.one(SEALED_SECRET)
    label = scope_label(obj["metadata"]["namespace"], obj["metadata"]["name"], scope)
    unsealed = {
        key: unseal(controller_key().private_key, value, label)
        for key, value in obj["spec"]["encryptedData"].items()
    }
    assert set(unsealed) == set(snapshot_env_names("staging"))
    assert all(unsealed.values())
    with pytest.raises(ValueError, match="Decryption failed"):
        unseal(controller_key(1).private_key, obj["spec"]["encryptedData"]["S3_ACCESS_KEY"], label)


def _broken(obj: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    broken = copy.deepcopy(obj)
    node = broken
    for key in path[:-1]:
        node = node[key]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return broken


@pytest.mark.parametrize(
    ("type_token", "path", "value", "complaint"),
    [
        (STATIC, ["spec", "destination", "creat"], True, "Additional properties"),
        (STATIC, ["spec", "type"], "kv-v3", "is not one of"),
        (STATIC, ["spec", "refreshAfter"], "1d", "does not match"),
        (STATIC, ["spec", "destination"], ..., "'destination' is a required property"),
        (STATIC, ["spec", "rolloutRestartTargets"], [{"kind": "Pod", "name": "q"}], "not one of"),
        (AUTH, ["spec", "method"], "token", "is not one of"),
        (AUTH, ["spec", "kubernetes", "serviceaccount"], "x", "Additional properties"),
        (CONNECTION, ["spec", "caCert"], "x", "Additional properties"),
        (CONNECTION, ["metadata", "labelz"], {}, "metadata"),
    ],
)
def test_the_vso_crd_check_bites(type_token, path, value, complaint) -> None:
    obj = api_object(type_token, vso("dev").one(type_token))
    assert backend_crd_problems(obj) == []
    problems = backend_crd_problems(_broken(obj, path, value))
    assert any(complaint in p for p in problems), problems


@pytest.mark.parametrize(
    ("path", "value", "complaint"),
    [
        (["spec", "encryptedData"], ..., "'encryptedData' is a required property"),
        (["spec", "encryptedData", "REGISTRATION_TOKEN"], 42, "is not of type 'string'"),
        (["spec", "scope"], "strict", "Additional properties"),
        (["spec", "template", "type"], ["Opaque"], "is not of type 'string'"),
    ],
)
def test_the_sealed_secret_crd_check_bites(path, value, complaint) -> None:
    obj = api_object(SEALED_SECRET, sealed("dev").one(SEALED_SECRET))
    assert backend_crd_problems(obj) == []
    problems = backend_crd_problems(_broken(obj, path, value))
    assert any(complaint in p for p in problems), problems


def _apply_vault(vault: hvac.Client, kube_api: FakeKubeApi, program: Generated) -> dict[str, str]:
    secret = program.one(VAULT_SECRET)
    apply_policy(vault, program.one(VAULT_POLICY))
    apply_secret(vault, secret)
    apply_role(vault, program.one(VAULT_ROLE), kube_api)
    return secret_data(secret)


def _sync(vault: hvac.Client, openbao: OpenBao, program: Generated, **objects: Any) -> None:
    written = secret_data(program.one(VAULT_SECRET))
    check_vso_sync(
        vault,
        openbao.address,
        connection=objects.get("connection") or program.one(CONNECTION),
        auth=objects.get("auth") or program.one(AUTH),
        static_secret=objects.get("static_secret") or program.one(STATIC),
        expected={n: written[kebab(n)] for n in snapshot_env_names(program.stack)},
    )


@pytest.mark.parametrize("stack", STACKS)
def test_vso_logs_in_with_the_role_and_reads_exactly_the_one_secret(
    vault: hvac.Client, openbao: OpenBao, kube_api: FakeKubeApi, stack: str
) -> None:
    program = vso(stack)
    _apply_vault(vault, kube_api, program)
    assert program.one(STATIC)["spec"]["destination"]["name"] == SECRET_NAME
    _sync(vault, openbao, program)


def test_the_vso_sync_check_bites(
    vault: hvac.Client, openbao: OpenBao, kube_api: FakeKubeApi
) -> None:
    program = vso("dev")
    _apply_vault(vault, kube_api, program)
    auth, static = program.one(AUTH), program.one(STATIC)

    other_account = copy.deepcopy(auth)
    other_account["spec"]["kubernetes"]["serviceAccount"] = "default"
    with pytest.raises(AssertionError, match="VSO cannot log in"):
        _sync(vault, openbao, program, auth=other_account)

    other_audience = copy.deepcopy(auth)
    other_audience["spec"]["kubernetes"]["audiences"] = ["https://kubernetes.default.svc"]
    with pytest.raises(AssertionError, match="VSO cannot log in"):
        _sync(vault, openbao, program, auth=other_audience)

    kebab_keys = copy.deepcopy(static)
    del kebab_keys["spec"]["destination"]["transformation"]["excludes"]
    with pytest.raises(AssertionError, match="would have keys"):
        _sync(vault, openbao, program, static_secret=kebab_keys)

    missing_property = copy.deepcopy(static)
    missing_property["spec"]["destination"]["transformation"]["templates"]["REGISTRATION_TOKEN"] = {
        "text": '{{ get .Secrets "REGISTRATION_TOKEN" }}'
    }
    with pytest.raises(AssertionError, match="REGISTRATION_TOKEN: not the value"):
        _sync(vault, openbao, program, static_secret=missing_property)

    other_path = copy.deepcopy(static)
    other_path["spec"]["path"] = static["spec"]["path"] + "-other"
    with pytest.raises(AssertionError, match="cannot read"):
        _sync(vault, openbao, program, static_secret=other_path)


@pytest.mark.parametrize("stack", STACKS)
def test_release_values_of_each_backend_are_chart_values(stack: str) -> None:
    vso_values = vso(stack).one(HELM_RELEASE)["values"]
    check_release_values(vso_values)
    assert (
        vso_values["fullnameOverride"]
        == vso(stack).one(STATIC)["spec"]["rolloutRestartTargets"][0]["name"]
    )
    check_release_values(sealed(stack).one(HELM_RELEASE)["values"])

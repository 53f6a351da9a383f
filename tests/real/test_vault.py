"""Per stack, the generated Vault policy, KV v2 secret and kubernetes-auth role, applied to a real
OpenBao: the policy reads exactly the one secret, the role carries ESO's identity, and ESO's
login through that role yields every env value the snapshot references."""

from __future__ import annotations

import json

import hvac
import pytest

from tests.conftest import STACKS
from tests.real.fake_kube_api import FakeKubeApi
from tests.real.generated import (
    EXTERNAL_SECRET,
    SECRET_STORE,
    SERVICE_ACCOUNT,
    VAULT_POLICY,
    VAULT_ROLE,
    VAULT_SECRET,
    expected_vault_properties,
    generated,
    kebab,
    secret_data,
    snapshot_env_names,
)
from tests.real.servers import OpenBao
from tests.real.vault_checks import (
    apply_policy,
    apply_role,
    apply_secret,
    check_eso_sync,
    check_role,
    check_token_of_policy,
)

pytestmark = pytest.mark.real


@pytest.mark.parametrize("stack", STACKS)
def test_a_token_with_only_the_policy_reads_exactly_the_secret(
    vault: hvac.Client, openbao: OpenBao, stack: str
) -> None:
    program = generated(stack)
    policy, secret = program.one(VAULT_POLICY), program.one(VAULT_SECRET)
    apply_policy(vault, policy)
    apply_secret(vault, secret)

    check_token_of_policy(
        vault,
        openbao.address,
        policy["name"],
        mount=secret["mount"],
        path=secret["name"],
        expected_properties=expected_vault_properties(stack),
        expected_data=secret_data(secret),
    )


@pytest.mark.parametrize("stack", STACKS)
def test_the_role_reads_back_with_esos_identity_audience_and_policy(
    vault: hvac.Client, kube_api: FakeKubeApi, stack: str
) -> None:
    program = generated(stack)
    role = program.one(VAULT_ROLE)
    apply_role(vault, role, kube_api)

    check_role(
        vault,
        role,
        policy_name=program.one(VAULT_POLICY)["name"],
        service_account=program.one(SERVICE_ACCOUNT),
        secret_store=program.one(SECRET_STORE),
    )


@pytest.mark.parametrize("stack", STACKS)
def test_eso_logs_in_with_the_role_and_syncs_every_env_reference(
    vault: hvac.Client, openbao: OpenBao, kube_api: FakeKubeApi, stack: str
) -> None:
    program = generated(stack)
    secret = program.one(VAULT_SECRET)
    apply_policy(vault, program.one(VAULT_POLICY))
    apply_secret(vault, secret)
    apply_role(vault, program.one(VAULT_ROLE), kube_api)
    written = secret_data(secret)
    env_names = snapshot_env_names(stack)
    assert env_names, f"the {stack} snapshot references no env variable; nothing to prove"

    check_eso_sync(
        openbao.address,
        secret_store=program.one(SECRET_STORE),
        external_secret=program.one(EXTERNAL_SECRET),
        # The Secret ESO writes: one key per env reference, with the value stored in Vault.
        expected={name: written.get(kebab(name), f"<no {kebab(name)}>") for name in env_names},
    )


# Every stack file keeps Vault's defaults (kvMount `secret`, authMount `kubernetes`); the same
# checks on a stack configured with other mounts and a deeper path.
CUSTOM_VAULT = {
    "address": "https://vault.example.internal:8200",
    "kvMount": "kv-qtap",
    "path": "teams/payments/qtap",
    "authMount": "k8s-eu-west-1",
    "role": "qtap-payments",
}


def test_a_non_default_kv_mount_path_and_auth_mount_work_end_to_end(
    vault: hvac.Client, openbao: OpenBao, kube_api: FakeKubeApi
) -> None:
    program = generated("staging", **{"qtap:vault": json.dumps(CUSTOM_VAULT)})
    policy, secret, role = (
        program.one(VAULT_POLICY),
        program.one(VAULT_SECRET),
        program.one(VAULT_ROLE),
    )
    assert (secret["mount"], secret["name"]) == (CUSTOM_VAULT["kvMount"], CUSTOM_VAULT["path"])
    assert (role["backend"], role["roleName"]) == (CUSTOM_VAULT["authMount"], CUSTOM_VAULT["role"])
    apply_policy(vault, policy)
    apply_secret(vault, secret)  # enables KV v2 at kv-qtap/
    apply_role(vault, role, kube_api)
    written = secret_data(secret)

    check_token_of_policy(
        vault,
        openbao.address,
        policy["name"],
        mount=secret["mount"],
        path=secret["name"],
        expected_properties=expected_vault_properties("staging"),
        expected_data=written,
    )
    check_role(
        vault,
        role,
        policy_name=policy["name"],
        service_account=program.one(SERVICE_ACCOUNT),
        secret_store=program.one(SECRET_STORE),
    )
    check_eso_sync(
        openbao.address,
        secret_store=program.one(SECRET_STORE),
        external_secret=program.one(EXTERNAL_SECRET),
        expected={name: written[kebab(name)] for name in snapshot_env_names("staging")},
    )

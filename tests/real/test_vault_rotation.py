"""Rotation against a real OpenBao: each `pulumi up` that changes a value writes a new KV v2
version, the ExternalSecret pins exactly that version, and ESO reading it gets the new value."""

from __future__ import annotations

import copy
from typing import Any

import hvac
import pytest

from qtapctl.mock_engine import ProgramRun, reveal
from tests.pulumi_harness import SENTINEL_TOKEN, run_stack, sentinel_cloud
from tests.real.fake_kube_api import FakeKubeApi
from tests.real.generated import (
    EXTERNAL_SECRET,
    HELM_RELEASE,
    SECRET_STORE,
    VAULT_POLICY,
    VAULT_ROLE,
    VAULT_SECRET,
    kebab,
    secret_data,
    snapshot_env_names,
)
from tests.real.servers import OpenBao
from tests.real.vault_checks import apply_policy, apply_role, apply_secret, check_eso_sync

pytestmark = pytest.mark.real

ROTATED_TOKEN = "sentinel-rotated-token-77c3a9"


def inputs(run: ProgramRun, type_token: str) -> dict[str, Any]:
    return copy.deepcopy(reveal(dict(run.one(type_token).inputs)))


def pinned_version(external_secret: dict[str, Any]) -> int:
    (version,) = {item["remoteRef"]["version"] for item in external_secret["spec"]["data"]}
    return int(version)


def current_version(vault: hvac.Client, secret: dict[str, Any]) -> int:
    metadata = vault.secrets.kv.v2.read_secret_metadata(
        path=secret["name"], mount_point=secret["mount"]
    )
    return int(metadata["data"]["current_version"])


def test_each_write_bumps_the_kv_version_the_external_secret_pins_and_eso_reads_it(
    vault: hvac.Client, openbao: OpenBao, kube_api: FakeKubeApi
) -> None:
    cloud = sentinel_cloud()  # one stack's successive updates
    first = run_stack("dev", cloud=cloud)
    second = run_stack("dev", cloud=cloud, registration_token=ROTATED_TOKEN)
    assert first.error is None
    assert second.error is None
    apply_policy(vault, inputs(first, VAULT_POLICY))
    apply_role(vault, inputs(first, VAULT_ROLE), kube_api)
    env_names = snapshot_env_names("dev")

    for run, token in ((first, SENTINEL_TOKEN), (second, ROTATED_TOKEN)):
        secret, external = inputs(run, VAULT_SECRET), inputs(run, EXTERNAL_SECRET)
        apply_secret(vault, secret)  # what the Vault provider does on create / update
        assert current_version(vault, secret) == pinned_version(external)
        release = inputs(run, HELM_RELEASE)
        assert release["values"]["podAnnotations"]["revision/qtap-secrets"] == str(
            pinned_version(external)
        )
        written = secret_data(secret)
        assert written["registration-token"] == token
        check_eso_sync(
            openbao.address,
            secret_store=inputs(run, SECRET_STORE),
            external_secret=external,
            expected={name: written[kebab(name)] for name in env_names},
        )

    # The first ExternalSecret, still pinned to version 1, keeps reading the old value: the
    # pin is what makes ESO read exactly what this update wrote.
    old_external = inputs(first, EXTERNAL_SECRET)
    old_written = secret_data(inputs(first, VAULT_SECRET))
    assert pinned_version(old_external) == 1
    check_eso_sync(
        openbao.address,
        secret_store=inputs(first, SECRET_STORE),
        external_secret=old_external,
        expected={name: old_written[kebab(name)] for name in env_names},
    )

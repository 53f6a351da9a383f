"""Do what Vault Secrets Operator does with the generated VaultConnection, VaultAuth and
VaultStaticSecret against a real OpenBao, and prove what the login may read.

VSO (hashicorp/vault-secrets-operator v1.4.1) requests a token for the VaultAuth's
ServiceAccount with its audiences, logs in at `auth/<mount>/login` with the role, reads the KV v2
secret at `<mount>/data/<path>` (the pinned `version`), and renders the destination Secret from
`destination.transformation`: every template becomes a key, `excludes: [".*"]` drops the raw
properties and `excludeRaw` the `_raw` JSON. Its templates are Go templates with sprig; the only
form the program generates is `{{ get .Secrets "<property>" }}`, and sprig's `get` gives an
empty string for a missing property, which is what this check refuses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import hvac
import hvac.exceptions

from tests.real.fake_kube_api import service_account_token
from tests.real.vault_checks import _describe, _outcome, decoy_paths

TEMPLATE = re.compile(r'\{\{ get \.Secrets "([^"]+)" \}\}')


def render_destination(destination: Mapping[str, Any], data: Mapping[str, str]) -> dict[str, str]:
    """The Secret's data VSO would write from `data` (the Vault secret's properties)."""
    transformation = destination.get("transformation") or {}
    rendered: dict[str, str] = {}
    excludes = [re.compile(p) for p in transformation.get("excludes") or []]
    for key, value in data.items():
        if not any(p.fullmatch(key) for p in excludes):
            rendered[key] = value
    if not transformation.get("excludeRaw"):
        rendered["_raw"] = "<the whole secret as JSON>"
    for key, template in (transformation.get("templates") or {}).items():
        match = TEMPLATE.fullmatch(template["text"])
        if match is None:
            raise AssertionError(f"template {key}: {template['text']!r} is not a plain get")
        rendered[key] = data.get(match.group(1), "")
    return rendered


def check_vso_sync(
    root: hvac.Client,
    address: str,
    *,
    connection: Mapping[str, Any],
    auth: Mapping[str, Any],
    static_secret: Mapping[str, Any],
    expected: Mapping[str, str],
) -> None:
    """VSO's login through the VaultAuth yields exactly `expected` (env name -> value) in the
    destination Secret, and the same login can read nothing else."""
    problems: list[str] = []
    namespace = static_secret["metadata"]["namespace"]
    spec, auth_spec = static_secret["spec"], auth["spec"]
    if spec["vaultAuthRef"] != auth["metadata"]["name"]:
        problems.append(f"vaultAuthRef {spec['vaultAuthRef']!r} names no VaultAuth here")
    if auth_spec["vaultConnectionRef"] != connection["metadata"]["name"]:
        problems.append("the VaultAuth names another VaultConnection")
    if {auth["metadata"]["namespace"], connection["metadata"]["namespace"]} != {namespace}:
        problems.append(
            "VaultConnection, VaultAuth and VaultStaticSecret are in different namespaces"
        )
    if spec["type"] != "kv-v2":
        problems.append(f"type {spec['type']!r}, the secret is KV v2")
    destination = spec["destination"]
    if not destination.get("create"):
        problems.append("destination.create is not true: VSO would not create qtap-secrets")

    kubernetes = auth_spec["kubernetes"]
    jwt = service_account_token(namespace, kubernetes["serviceAccount"], kubernetes["audiences"])
    client = hvac.Client(url=address)
    try:
        client.auth.kubernetes.login(
            role=kubernetes["role"], jwt=jwt, mount_point=auth_spec["mount"]
        )
    except hvac.exceptions.VaultError as error:
        problems.append(
            f"VSO cannot log in as {namespace}/{kubernetes['serviceAccount']} (audiences "
            f"{kubernetes['audiences']}) with role {kubernetes['role']!r} at "
            f"auth/{auth_spec['mount']}: {_describe(error)}"
        )
        raise AssertionError("VSO sync:\n  " + "\n  ".join(problems)) from error

    kv = client.secrets.kv.v2
    mount, path = spec["mount"], spec["path"]
    try:
        read = kv.read_secret_version(
            path=path, mount_point=mount, version=spec.get("version"), raise_on_deleted_version=True
        )
    except hvac.exceptions.VaultError as error:
        problems.append(f"cannot read {mount}/data/{path}: {_describe(error)}")
    else:
        synced = render_destination(destination, read["data"]["data"])
        if set(synced) != set(expected):
            problems.append(
                f"the Secret would have keys {sorted(synced)}, expected exactly {sorted(expected)}"
            )
        else:
            problems += [
                f"{key}: not the value written to Vault (empty: {synced[key] == ''})"
                for key in sorted(expected)
                if synced[key] != expected[key]
            ]

    # The login may read the one secret and nothing next to it (decoys written by root).
    for decoy in decoy_paths(path):
        root.secrets.kv.v2.create_or_update_secret(
            path=decoy, mount_point=mount, secret={"decoy": decoy}
        )
        outcome = _outcome(
            lambda decoy=decoy: kv.read_secret_version(
                path=decoy, mount_point=mount, raise_on_deleted_version=True
            )
        )
        if outcome != "denied":
            problems.append(f"the login reads {mount}/data/{decoy}: {outcome}")
    outcome = _outcome(
        lambda: kv.create_or_update_secret(path=path, mount_point=mount, secret={"x": "y"})
    )
    if outcome != "denied":
        problems.append(f"the login writes {mount}/data/{path}: {outcome}")
    assert not problems, "VSO sync:\n  " + "\n  ".join(problems)

"""Apply the generated Vault resources to a real OpenBao and prove what they grant.

Each `check_*` function raises AssertionError listing every problem it found. The same function
runs on what the program generates (it must pass) and on deliberately broken versions of it
(it must fail), so the checks are known to bite.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import hvac
import hvac.exceptions

from tests.real.fake_kube_api import FakeKubeApi, service_account_token
from tests.real.generated import secret_data

# Mounts every dev server has and that a reset keeps.
BUILTIN_SECRET_MOUNTS = frozenset({"sys/", "cubbyhole/", "identity/"})
BUILTIN_POLICIES = frozenset({"default", "root"})
DEV_KV_MOUNT = "secret"


def reset(root: hvac.Client) -> None:
    """Back to a fresh dev server: only `secret/` (KV v2, empty), no auth methods but tokens,
    no policies but `default` and `root`."""
    for path in root.sys.list_auth_methods()["data"]:
        if path != "token/":
            root.sys.disable_auth_method(path.rstrip("/"))
    for path in root.sys.list_mounted_secrets_engines()["data"]:
        if path not in BUILTIN_SECRET_MOUNTS:
            root.sys.disable_secrets_engine(path.rstrip("/"))
    enable_kv2(root, DEV_KV_MOUNT)
    for name in root.sys.list_acl_policies()["data"]["keys"]:
        if name not in BUILTIN_POLICIES:
            root.sys.delete_acl_policy(name)


def enable_kv2(root: hvac.Client, mount: str, timeout: float = 10.0) -> None:
    """Enable KV v2 at `mount` and wait until it serves requests.

    A new KV v2 mount first upgrades its storage and answers "Upgrading from non-versioned to
    versioned data ... will resume service shortly" until done (openbao
    builtin/logical/kv/upgrade.go); a write in that window fails.
    """
    root.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    deadline = time.monotonic() + timeout
    while True:
        try:
            root.secrets.kv.v2.list_secrets(path="", mount_point=mount)
            return
        except hvac.exceptions.InvalidPath:
            return  # an empty, ready mount lists nothing
        except hvac.exceptions.VaultError as error:
            if "Upgrading" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def ensure_kv2(root: hvac.Client, mount: str) -> None:
    """`secret/` is already KV v2 on a dev server; any other kvMount is enabled as KV v2."""
    current = root.sys.list_mounted_secrets_engines()["data"].get(f"{mount}/")
    if current is None:
        enable_kv2(root, mount)
        return
    assert current["type"] == "kv", f"mount {mount}/ is {current['type']}, not kv"
    assert (current.get("options") or {}).get("version") == "2", f"mount {mount}/ is not KV v2"


# Applying what the program generates.


def apply_policy(root: hvac.Client, policy: Mapping[str, Any]) -> None:
    """A `vault:index/policy:Policy`: name + HCL."""
    root.sys.create_or_update_acl_policy(name=policy["name"], policy=policy["policy"])


def apply_secret(root: hvac.Client, secret: Mapping[str, Any]) -> None:
    """A `vault:kv/secretV2:SecretV2`: mount, name (the path in the mount) and dataJson."""
    ensure_kv2(root, secret["mount"])
    root.secrets.kv.v2.create_or_update_secret(
        path=secret["name"], mount_point=secret["mount"], secret=secret_data(secret)
    )


# The role's inputs that name where it lives rather than what it holds.
ROLE_LOCATION_INPUTS = frozenset({"backend", "roleName"})


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def role_fields(role: Mapping[str, Any]) -> dict[str, Any]:
    """The role's API fields, exactly the generated inputs (`tokenTtl` -> `token_ttl`, ...)."""
    return {_snake(k): v for k, v in role.items() if k not in ROLE_LOCATION_INPUTS}


def apply_role(root: hvac.Client, role: Mapping[str, Any], kube: FakeKubeApi) -> None:
    """A `vault:kubernetes/authBackendRole:AuthBackendRole`, on an auth method enabled and
    configured at the role's `backend` (the cluster's part of the setup, not the program's)."""
    backend = role["backend"]
    if f"{backend}/" not in root.sys.list_auth_methods()["data"]:
        root.sys.enable_auth_method("kubernetes", path=backend)
    # Outside a pod the method needs an explicit CA (it would read the pod's ca.crt otherwise).
    root.write_data(
        f"auth/{backend}/config",
        data={"kubernetes_host": kube.host, "kubernetes_ca_cert": kube.ca_pem},
    )
    # A raw write sends exactly the generated fields (hvac's create_role adds legacy ones).
    root.write_data(f"auth/{backend}/role/{role['roleName']}", data=role_fields(role))


# Proving what they grant.


def _describe(error: hvac.exceptions.VaultError) -> str:
    """`Forbidden: permission denied`, on one line (hvac's messages span several)."""
    message = " ".join(str(error).split(", on ")[0].split())
    return f"{type(error).__name__}: {message.removeprefix('1 error occurred: * ')}"


def _outcome(action: Callable[[], Any]) -> str:
    """'allowed', 'denied', or the unexpected error."""
    try:
        action()
    except hvac.exceptions.Forbidden:
        return "denied"
    except hvac.exceptions.VaultError as error:
        return f"failed with {_describe(error)}"
    return "allowed"


def decoy_paths(path: str) -> list[str]:
    """Secrets next to the real one that a too-broad policy (a glob, a parent path, a missing
    segment) would expose."""
    parent, _, _ = path.rpartition("/")
    decoys = [f"{path}-other", f"{path}/nested", f"other-team/{path}"]
    if parent:
        decoys += [parent, f"{parent}/other"]
    return decoys


def check_token_of_policy(
    root: hvac.Client,
    address: str,
    policy_name: str,
    *,
    mount: str,
    path: str,
    expected_properties: set[str],
    expected_data: Mapping[str, str],
) -> None:
    """A token carrying only `policy_name` reads `mount`/`path` with exactly the expected
    properties and values, and can do nothing else: no other path, mount, write, delete or
    metadata access."""
    # Decoys are written by root first, so a read the policy wrongly allows returns data
    # instead of a 404 that could pass for a denial.
    other_mount = f"{mount}-other"
    ensure_kv2(root, other_mount)
    root.secrets.kv.v2.create_or_update_secret(
        path=path, mount_point=other_mount, secret={"decoy": "other mount"}
    )
    decoys = decoy_paths(path)
    for decoy in decoys:
        root.secrets.kv.v2.create_or_update_secret(
            path=decoy, mount_point=mount, secret={"decoy": decoy}
        )

    token = root.auth.token.create(policies=[policy_name], no_default_policy=True, ttl="10m")
    client = hvac.Client(url=address, token=token["auth"]["client_token"])
    kv = client.secrets.kv.v2
    problems: list[str] = []

    try:
        read = kv.read_secret_version(path=path, mount_point=mount, raise_on_deleted_version=True)
    except hvac.exceptions.VaultError as error:
        problems.append(f"cannot read {mount}/data/{path}: {_describe(error)}")
    else:
        data = read["data"]["data"]
        if set(data) != expected_properties:
            problems.append(
                f"{mount}/{path} has properties {sorted(data)}, expected exactly"
                f" {sorted(expected_properties)} (the snapshot's env references, kebab case)"
            )
        elif data != dict(expected_data):
            problems.append(f"{mount}/{path} does not hold the values that were written")

    # What Vault itself says the token may do on each path.
    capabilities = root.adapter.post(
        "/v1/sys/capabilities",
        json={"token": token["auth"]["client_token"], "paths": [f"{mount}/data/{path}"]},
    )["data"]
    if capabilities.get(f"{mount}/data/{path}") != ["read"]:
        problems.append(
            f"capabilities on {mount}/data/{path} are "
            f"{capabilities.get(f'{mount}/data/{path}')}, expected exactly ['read']"
        )

    parent = path.rpartition("/")[0]
    must_be_denied: dict[str, Callable[[], Any]] = {
        **{
            f"read {mount}/data/{decoy}": (
                lambda decoy=decoy: kv.read_secret_version(
                    path=decoy, mount_point=mount, raise_on_deleted_version=True
                )
            )
            for decoy in decoys
        },
        f"read the same path on another mount ({other_mount}/data/{path})": lambda: (
            kv.read_secret_version(
                path=path, mount_point=other_mount, raise_on_deleted_version=True
            )
        ),
        f"write {mount}/data/{path}": lambda: kv.create_or_update_secret(
            path=path, mount_point=mount, secret={"injected": "x"}
        ),
        # A real PATCH (hvac's kv.patch is a read plus a write).
        f"patch {mount}/data/{path}": lambda: client.adapter.request(
            "PATCH",
            f"/v1/{mount}/data/{path}",
            headers={"Content-Type": "application/merge-patch+json"},
            json={"data": {"injected": "x"}},
        ),
        f"delete {mount}/data/{path}": lambda: kv.delete_latest_version_of_secret(
            path=path, mount_point=mount
        ),
        f"destroy {mount}/destroy/{path}": lambda: kv.destroy_secret_versions(
            path=path, versions=[1], mount_point=mount
        ),
        f"read {mount}/metadata/{path}": lambda: kv.read_secret_metadata(
            path=path, mount_point=mount
        ),
        f"list {mount}/metadata/{parent}": lambda: kv.list_secrets(path=parent, mount_point=mount),
        f"delete {mount}/metadata/{path}": lambda: kv.delete_metadata_and_all_versions(
            path=path, mount_point=mount
        ),
        f"read its own policy sys/policies/acl/{policy_name}": lambda: client.sys.read_acl_policy(
            policy_name
        ),
        "create a child token": lambda: client.auth.token.create(ttl="1m"),
    }
    for action, call in must_be_denied.items():
        outcome = _outcome(call)
        if outcome != "denied":
            problems.append(f"{action}: {outcome}, expected permission denied")

    assert not problems, f"policy {policy_name!r}:\n  " + "\n  ".join(problems)


def check_role(
    root: hvac.Client,
    role: Mapping[str, Any],
    *,
    policy_name: str,
    service_account: Mapping[str, Any],
    secret_store: Mapping[str, Any],
) -> None:
    """The role read back from Vault holds every generated field, binds exactly the
    ServiceAccount ESO uses (name and namespace), accepts the audience ESO requests, and grants
    the read policy."""
    backend, name = role["backend"], role["roleName"]
    response = root.read(f"auth/{backend}/role/{name}")
    assert response is not None, f"role auth/{backend}/role/{name} does not exist"
    stored = response["data"]
    problems: list[str] = []

    # OpenBao silently ignores unknown role fields; reading each one back proves its name is real.
    for field, value in role_fields(role).items():
        if stored.get(field) != value:
            problems.append(f"{field} reads back as {stored.get(field)!r}, generated {value!r}")

    account = service_account["metadata"]
    vault = secret_store["spec"]["provider"]["vault"]
    eso_auth = vault["auth"]["kubernetes"]
    if stored.get("bound_service_account_names") != [account["name"]]:
        problems.append(
            f"bound_service_account_names {stored.get('bound_service_account_names')}, expected"
            f" exactly the generated ServiceAccount [{account['name']!r}]"
        )
    if stored.get("bound_service_account_namespaces") != [account["namespace"]]:
        problems.append(
            f"bound_service_account_namespaces {stored.get('bound_service_account_namespaces')},"
            f" expected exactly [{account['namespace']!r}]"
        )
    if stored.get("audience") not in eso_auth["serviceAccountRef"].get("audiences", []):
        problems.append(
            f"audience {stored.get('audience')!r} is not among the audiences the SecretStore"
            f" requests ({eso_auth['serviceAccountRef'].get('audiences')})"
        )
    if stored.get("token_policies") != [policy_name]:
        problems.append(
            f"token_policies {stored.get('token_policies')}, expected exactly [{policy_name!r}]"
        )
    # ESO looks its own token up (auth/token/lookup-self), which only the default policy allows.
    if stored.get("token_no_default_policy") is not False:
        problems.append("token_no_default_policy must be false: ESO needs the default policy")
    # The SecretStore must log in with this role, at this mount, as this ServiceAccount.
    wiring = {
        "SecretStore auth.kubernetes.role": (eso_auth["role"], name),
        "SecretStore auth.kubernetes.mountPath": (eso_auth["mountPath"], backend),
        "SecretStore serviceAccountRef.name": (
            eso_auth["serviceAccountRef"]["name"],
            account["name"],
        ),
        "SecretStore namespace": (secret_store["metadata"]["namespace"], account["namespace"]),
    }
    for what, (actual, expected) in wiring.items():
        if actual != expected:
            problems.append(f"{what} is {actual!r}, the role expects {expected!r}")

    assert not problems, f"role {backend}/{name}:\n  " + "\n  ".join(problems)


def check_eso_sync(
    address: str,
    *,
    secret_store: Mapping[str, Any],
    external_secret: Mapping[str, Any],
    expected: Mapping[str, str],
) -> None:
    """Do what ESO does with these two objects: log in with kubernetes auth as the SecretStore's
    ServiceAccount (a token for its audiences), then read every `spec.data` entry of the
    ExternalSecret. The Kubernetes Secret this yields must be `expected` (env name -> value)."""
    store_meta = secret_store["metadata"]
    vault = secret_store["spec"]["provider"]["vault"]
    auth = vault["auth"]["kubernetes"]
    account = auth["serviceAccountRef"]
    problems: list[str] = []

    reference = external_secret["spec"]["secretStoreRef"]
    if reference != {"name": store_meta["name"], "kind": "SecretStore"}:
        problems.append(
            f"secretStoreRef {reference} does not name SecretStore {store_meta['name']}"
        )
    if external_secret["metadata"]["namespace"] != store_meta["namespace"]:
        problems.append("the ExternalSecret is not in the SecretStore's namespace")
    if vault.get("version") != "v2":
        problems.append(f"the SecretStore reads KV {vault.get('version')}, the secret is KV v2")

    jwt = service_account_token(store_meta["namespace"], account["name"], account["audiences"])
    client = hvac.Client(url=address)
    try:
        client.auth.kubernetes.login(role=auth["role"], jwt=jwt, mount_point=auth["mountPath"])
    except hvac.exceptions.VaultError as error:
        problems.append(
            f"ESO cannot log in as {store_meta['namespace']}/{account['name']} with role"
            f" {auth['role']!r} at auth/{auth['mountPath']}: {_describe(error)}"
        )
        raise AssertionError("ESO sync:\n  " + "\n  ".join(problems)) from error

    synced: dict[str, str] = {}
    for item in external_secret["spec"]["data"]:
        ref = item["remoteRef"]
        try:
            # ESO reads `?version=<n>` when remoteRef.version is set
            # (external-secrets providers/v1/vault/client_get.go readSecret).
            read = client.secrets.kv.v2.read_secret_version(
                path=ref["key"],
                mount_point=vault["path"],
                version=int(ref["version"]) if "version" in ref else None,
                raise_on_deleted_version=True,
            )
        except hvac.exceptions.VaultError as error:
            problems.append(
                f"{item['secretKey']}: cannot read {vault['path']}/{ref['key']}: {_describe(error)}"
            )
            continue
        data = read["data"]["data"]
        if ref["property"] not in data:
            problems.append(
                f"{item['secretKey']}: {vault['path']}/{ref['key']} has no property"
                f" {ref['property']!r} (it has {sorted(data)})"
            )
            continue
        synced[item["secretKey"]] = data[ref["property"]]
    if not problems and synced != dict(expected):
        problems.append(
            f"the synced Secret has keys {sorted(synced)}, expected {sorted(expected)}"
            " with the values written to Vault"
        )
    assert not problems, "ESO sync:\n  " + "\n  ".join(problems)

"""The stack file as hostile input: bounds as the consumers define them, unknown and credential
keys, every problem at once with its line, column and fix, and the fleet's settings rules."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from qtap_gitops.deployment import check_deployment
from qtap_gitops.problems import MAX_PROBLEMS_PER_FILE, Problem, cap_problems, problem
from qtap_gitops.provider_settings import check_stack_file
from qtap_gitops.settings import (
    TOP_LEVEL_KEYS,
    RawStackConfig,
    StackSettings,
    check_settings,
    parse_settings,
)
from qtap_gitops.settings.fields import sections_in
from qtap_gitops.stackfile import find_project, load_stack_config
from tests.conftest import REPO

PEM = "-----BEGIN CERTIFICATE-----\nMIIBfDCCASOgAwIBAgIU\n-----END CERTIFICATE-----\n"
OIDC = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABCDEF"


def raw(stack: str = "dev", region: str | None = None, **values: object) -> RawStackConfig:
    config = {
        "qtap:chart": json.dumps({"version": "0.0.38"}),
        "qtap:vault": json.dumps({"address": "https://vault.example.com:8200"}),
    }
    if region is not None:
        config["aws:region"] = region
    for key, value in values.items():
        if value is None:
            config.pop(f"qtap:{key}", None)
        else:
            config[f"qtap:{key}"] = value if isinstance(value, str) else json.dumps(value)
    return RawStackConfig(stack, f"Pulumi.{stack}.yaml", config)


def errors(config: RawStackConfig) -> list[tuple[str, str]]:
    _, problems = check_settings(config)
    return [(p.yaml_path, p.code) for p in problems if p.is_error]


def stack_file(tmp_path: Path, config: dict[str, object], stack: str = "dev") -> RawStackConfig:
    (tmp_path / "Pulumi.yaml").write_text("name: qtap\nruntime: python\n")
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))
    loaded, problems = load_stack_config(find_project(tmp_path), stack)
    assert problems == []
    assert loaded is not None
    return loaded


# -- 14: bounds as the consumers define them -------------------------------------------------


@pytest.mark.parametrize(
    ("interval", "ok"),
    [("1m", True), ("5m", True), ("1h30m", True), ("90s", True), ("30s", False),
     ("59s", False), ("500ms", False), ("soon", False), ("5 m", False), ("-5m", False),
     ("1d", False)],
)  # fmt: skip
def test_flux_interval_is_a_go_duration_of_a_minute_or_more(interval, ok):
    found = errors(raw(delivery={"mode": "flux", "flux": {"interval": interval}}))
    assert found == ([] if ok else [("qtap:delivery.flux.interval", "stack-config")])


@pytest.mark.parametrize(
    "address",
    ["https://v:0", "https://v:65536", "https://v:99999", "https://-bad-:8200",
     "https://bad_host:8200", "https://v..x:8200", "https://v:8200/v1"],
)  # fmt: skip
def test_vault_address_ports_and_host_names_are_checked(address):
    assert errors(raw(vault={"address": address})) == [("qtap:vault.address", "stack-config")]


@pytest.mark.parametrize("address", ["https://v:1", "https://v:65535", "https://10.0.0.1:8200"])
def test_vault_address_edge_ports_and_ip_hosts_pass(address):
    assert errors(raw(vault={"address": address})) == []


@pytest.mark.parametrize(
    ("server", "ok"),
    [("https://kubernetes.default.svc", True), ("https://k8s.example.com:6443", True),
     ("https://k:0", False), ("https://k:65536", False), ("http://k:6443", False),
     ("https://-k-", False)],
)  # fmt: skip
def test_argocd_destination_server_is_an_https_url_with_a_valid_port(server, ok):
    found = errors(raw(delivery={"mode": "argocd", "argocd": {"destinationServer": server}}))
    assert found == ([] if ok else [("qtap:delivery.argocd.destinationServer", "stack-config")])


@pytest.mark.parametrize(
    ("project", "ok"),
    [("team.platform", True), ("default", True), ("a" * 253, True), ("a" * 254, False),
     ("Team", False), ("team_platform", False), (".team", False), ("team.", False)],
)  # fmt: skip
def test_argocd_project_names_are_what_argocd_allows_dots_included(project, ok):
    found = errors(raw(delivery={"mode": "argocd", "argocd": {"project": project}}))
    assert found == ([] if ok else [("qtap:delivery.argocd.project", "stack-config")])


@pytest.mark.parametrize(
    ("region", "arn", "ok"),
    [
        ("us-east-1", "arn:aws:kms:us-east-1:111122223333:key/abc", True),
        ("us-east-1", "arn:aws-cn:kms:cn-north-1:111122223333:key/abc", False),
        ("cn-north-1", "arn:aws-cn:kms:cn-north-1:111122223333:key/abc", True),
        ("cn-north-1", "arn:aws:kms:us-east-1:111122223333:key/abc", False),
        ("us-gov-west-1", "arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/abc", True),
        ("us-iso-east-1", "arn:aws-iso:kms:us-iso-east-1:111122223333:key/abc", True),
        ("us-isob-east-1", "arn:aws-iso-b:kms:us-isob-east-1:111122223333:key/abc", True),
        ("us-isob-east-1", "arn:aws-iso:kms:us-iso-east-1:111122223333:key/abc", False),
    ],
)
def test_an_arn_must_be_of_the_stack_regions_partition(region, arn, ok):
    found = errors(raw(region=region, objectStore={"kmsKeyId": arn}))
    assert found == ([] if ok else [("qtap:objectStore.kmsKeyId", "stack-config")])
    oidc = arn.replace(":kms:", ":iam:").split(":key/")[0].rsplit(":", 2)[0]
    issuer = f"{oidc}::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"
    found = errors(
        raw(region=region, objectStore={"identity": "irsa"}, eks={"oidcProviderArn": issuer})
    )
    assert found == ([] if ok else [("qtap:eks.oidcProviderArn", "stack-config")])


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com",
        "arn:aws:iam::111122223333:oidc-provider/accounts.google.com",
        "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com",
        "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/",
    ],
)
def test_an_oidc_provider_arn_must_name_an_eks_issuer(arn):
    found = errors(raw(objectStore={"identity": "irsa"}, eks={"oidcProviderArn": arn}))
    assert found == [("qtap:eks.oidcProviderArn", "stack-config")]
    settings = parse_settings(raw(objectStore={"identity": "irsa"}, eks={"oidcProviderArn": OIDC}))
    assert settings.eks.oidc_issuer == "oidc.eks.us-east-1.amazonaws.com/id/ABCDEF"


# -- 15: unknown keys, and the default providers ---------------------------------------------


@pytest.mark.parametrize(
    ("key", "nearest"),
    [("qtp:namespace", "qtap:namespace"), ("aws:regoin", "aws:region"),
     ("kubernetes:contxt", "kubernetes:context"), ("vault:adress", "vault:address")],
)  # fmt: skip
def test_unknown_namespaces_and_keys_are_warnings_naming_the_nearest_key(
    tmp_path: Path, key, nearest
):
    config = stack_file(
        tmp_path,
        {"pulumi:disable-default-providers": ["*"], key: "x", "kubernetes:context": "c"},
    )
    (found,) = check_stack_file(config)
    assert (found.yaml_path, found.code, found.is_error) == (key, "config-unknown", False)
    assert f"did you mean {nearest!r}?" in found.fix
    assert (found.line, found.column) != (None, None)


def test_an_unknown_qtap_key_stays_an_error_and_names_the_nearest_key():
    _, problems = check_settings(raw(namespce="qpoint"))
    (found,) = problems
    assert (found.yaml_path, found.is_error) == ("qtap:namespce", True)
    assert found.fix.startswith("did you mean 'namespace'?")
    _, problems = check_settings(raw(chart={"version": "0.0.38", "valeus": {}}))
    assert [p.fix.split("?")[0] for p in problems] == ["did you mean 'values'"]


def test_a_stack_file_without_disable_default_providers_is_an_error_with_the_fix(
    tmp_path: Path,
):
    config = stack_file(tmp_path, {"kubernetes:context": "c"})
    (found,) = check_stack_file(config)
    assert (found.code, found.yaml_path, found.is_error) == (
        "provider-config-missing",
        "pulumi:disable-default-providers",
        True,
    )
    # At the start of the config block, where the key belongs.
    assert (found.line, found.column) == (2, 3)
    assert 'pulumi:disable-default-providers: ["*"]' in found.fix


@pytest.mark.parametrize(
    "key", ["vault:token", "aws:secretKey", "aws:accessKey", "aws:token", "kubernetes:kubeconfig"]
)
def test_plaintext_credentials_in_a_stack_file_are_errors_that_never_echo_the_value(
    tmp_path: Path, key
):
    secret = "sk-live-5f4e3d2c1b0a"
    config = stack_file(tmp_path, {"pulumi:disable-default-providers": ["*"], key: secret})
    (found,) = check_stack_file(config)
    assert (found.code, found.yaml_path, found.is_error) == ("secret-plaintext", key, True)
    assert found.line is not None
    assert f"pulumi config set --secret {key}" in found.fix
    assert secret not in found.format()
    encrypted = stack_file(
        tmp_path, {"pulumi:disable-default-providers": ["*"], key: {"secure": "v1:abc"}}
    )
    assert check_stack_file(encrypted) == []


def test_the_committed_stack_files_pass_the_stack_file_checks():
    project = find_project(REPO)
    for stack in project.stacks():
        config, _ = load_stack_config(project, stack)
        assert config is not None
        assert check_stack_file(config) == []


# -- 16: every problem at once, each with file:line:column and a fix -------------------------


def test_every_settings_problem_of_a_file_is_reported_at_once_with_line_column_and_fix(
    tmp_path: Path,
):
    config = stack_file(
        tmp_path,
        {
            "aws:regoin": "us-east-1",
            "vault:token": "plain",
            "qtap:namespace": "Bad_Name",
            "qtap:chart": {"version": "latest", "repo": "http://x"},
            "qtap:vault": {"address": "https://v:99999", "kvMount": "/x/"},
            "qtap:objectStore": {"retentionDays": 0, "protect": "maybe", "kmsKeyId": "alias/x"},
            "qtap:delivery": {"mode": "argocd", "flux": {"interval": "1m"}},
            "qtap:fleet": {"ring": 9},
            "qtap:snapshot": "/abs/path.yaml",
            "qtap:strictSnapshot": "yes",
            "qtap:secrets": {"backend": "vault-agent"},
            "qtap:namespce": "x",
        },
    )
    report = check_deployment(config, tmp_path, require_secrets=False)
    found = {p.yaml_path: p for p in report.problems}
    assert set(found) >= {
        "aws:regoin",
        "vault:token",
        "pulumi:disable-default-providers",
        "qtap:namespace",
        "qtap:chart.version",
        "qtap:chart.repo",
        "qtap:vault.address",
        "qtap:vault.kvMount",
        "qtap:objectStore.retentionDays",
        "qtap:objectStore.protect",
        "qtap:objectStore.kmsKeyId",
        "qtap:delivery.flux",
        "qtap:fleet.ring",
        "qtap:snapshot",
        "qtap:strictSnapshot",
        "qtap:secrets.backend",
        "qtap:namespce",
    }
    for item in report.problems:
        assert (item.file, item.line is not None, item.column is not None) == (
            "Pulumi.dev.yaml",
            True,
            True,
        ), item.format()
        assert "\n    fix: " in item.format(), item.format()
        assert "Qplane" not in item.fix


def test_a_missing_required_setting_points_at_the_config_block(tmp_path: Path):
    config = stack_file(tmp_path, {"pulumi:disable-default-providers": ["*"]})
    _, problems = check_settings(config)
    assert sorted((p.yaml_path, p.line, p.column, p.code) for p in problems) == [
        ("qtap:chart", 2, 3, "stack-config-missing"),
        ("qtap:vault", 2, 3, "stack-config-missing"),
    ]
    assert all(p.fix.startswith("pulumi config set --path") for p in problems)


def test_too_many_problems_in_a_stack_file_never_say_export_again():
    many = [
        problem("x", "Pulumi.dev.yaml", (i, 1), "qtap:x", "bad", "fix it")
        for i in range(MAX_PROBLEMS_PER_FILE + 5)
    ]
    *_, more = cap_problems(many, "Pulumi.dev.yaml")
    assert more.code == "too-many-problems"
    assert "export" not in more.fix
    *_, more = cap_problems(many, "snapshots/dev/qtap-config.yaml")
    assert "export the file again" in more.fix


# -- issue 20: safe defaults and what a fleet member may set ---------------------------------


def test_vault_path_defaults_to_the_environments_and_members_follow_their_owner():
    owner = parse_settings(raw("prod", fleet={"environment": "prod"}))
    assert owner.vault is not None
    assert owner.vault.path == "qpoint/qtap/prod"
    assert owner.snapshot_path == "snapshots/prod/qtap-config.yaml"
    assert not owner.is_member
    member = parse_settings(raw("prod-eu", fleet={"environment": "prod", "owner": "prod"}))
    assert member.is_member
    assert member.snapshot_path == "snapshots/prod/qtap-config.yaml"  # the owner's snapshot
    assert member.vault is not None
    assert member.vault.path == "qpoint/qtap/prod"
    assert member.vault.role == "qtap-prod-eu"  # its own role on its own cluster
    assert (member.fleet.environment, member.fleet.owner, member.fleet.ring) == (
        "prod",
        "prod",
        0,
    )
    alone = parse_settings(raw("qa"))
    assert (alone.fleet.environment, alone.fleet.owner, alone.is_member) == ("qa", "qa", False)


@pytest.mark.parametrize(
    ("values", "path"),
    [
        ({"objectStore": {"retentionDays": 7}}, "qtap:objectStore.retentionDays"),
        ({"objectStore": {"protect": False}}, "qtap:objectStore.protect"),
        ({"objectStore": {"versioning": False}}, "qtap:objectStore.versioning"),
        ({"objectStore": {"kmsKeyId": "arn:aws:kms:us-east-1:111122223333:key/a"}},
         "qtap:objectStore.kmsKeyId"),
        ({"objectStore": {"keyVersion": 2}}, "qtap:objectStore.keyVersion"),
        ({"vault": {"address": "https://v:8200", "path": "x/y"}}, "qtap:vault.path"),
        ({"vault": {"address": "https://v:8200", "kvMount": "kv"}}, "qtap:vault.kvMount"),
    ],
)  # fmt: skip
def test_settings_only_the_owner_may_set_are_refused_on_a_member(values, path):
    member = raw("prod-eu", fleet={"owner": "prod"}, **values)
    _, problems = check_settings(member)
    (found,) = problems
    assert (found.yaml_path, found.is_error) == (path, True)
    assert "member of prod" in found.message
    assert found.fix == f"remove {path} here; set it in Pulumi.prod.yaml"
    # The same settings on the owner are fine.
    assert errors(raw("prod", **values)) == []


def test_a_member_may_set_what_is_per_cluster():
    member = raw(
        "prod-eu",
        fleet={"owner": "prod", "ring": 2},
        vault={"address": "https://v:8200", "authMount": "k8s-eu", "role": "qtap-eu"},
        objectStore={"identity": "irsa"},
        eks={"oidcProviderArn": OIDC},
        delivery={"mode": "flux"},
    )
    assert errors(member) == []


def test_a_member_must_use_a_vault_backend():
    member = raw(
        "prod-eu",
        fleet={"owner": "prod"},
        vault=None,
        secrets={"backend": "sealed-secrets", "sealedSecrets": {"certificate": PEM}},
    )
    assert errors(member) == [("qtap:secrets.backend", "stack-config")]
    assert (
        errors(
            raw("prod-eu", fleet={"owner": "prod"}, secrets={"backend": "vault-secrets-operator"})
        )
        == []
    )


# -- properties: any generated qtap:* config gives Problems, never an exception --------------


def _keys_of(annotation: object, prefix: str = "") -> list[str]:
    keys = []
    for model in sections_in(annotation).values():
        for name, field in model.model_fields.items():
            key = f"{prefix}{field.alias or name}"
            keys.append(key)
            keys += _keys_of(field.annotation, f"{key}.")
    return keys


NESTED_KEYS = sorted(
    {k for key in TOP_LEVEL_KEYS for k in _keys_of(StackSettings.model_fields[
        next(n for n, f in StackSettings.model_fields.items() if (f.alias or n) == key)
    ].annotation, f"{key}.")}
)  # fmt: skip
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(["helm", "argocd", "flux", "sealed-secrets", "irsa", "vault-agent", "prod",
                     "1m", "30s", "https://v:8200", "https://v:0", PEM, OIDC, "", "true"]),
)  # fmt: skip
values = st.recursive(
    leaves, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6
)  # fmt: skip


def _nest(paths: dict[str, object]) -> dict[str, object]:
    config: dict[str, object] = {}
    for path, value in paths.items():
        top, *rest = path.split(".")
        if not rest:
            config[f"qtap:{top}"] = value
            continue
        node = config.setdefault(f"qtap:{top}", {})
        if not isinstance(node, dict):
            continue
        for part in rest[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[rest[-1]] = value
    return config


@given(
    st.dictionaries(st.sampled_from([*TOP_LEVEL_KEYS, *NESTED_KEYS]), values, max_size=8),
    st.sampled_from(["dev", "prod", "prod-eu"]),
    st.sampled_from([None, "us-east-1", "cn-north-1", "us-gov-west-1"]),
)
def test_any_generated_qtap_config_gives_problems_never_an_exception(paths, stack, region):
    config = {k: v if isinstance(v, str) else json.dumps(v) for k, v in _nest(paths).items()}
    if region is not None:
        config["aws:region"] = region
    started = time.perf_counter()
    settings, problems = check_settings(RawStackConfig(stack, f"Pulumi.{stack}.yaml", config))
    assert time.perf_counter() - started < 2.0
    assert (settings is None) == any(p.is_error for p in problems)
    for found in problems:
        assert isinstance(found, Problem)
        assert found.fix, found.format()
        assert found.yaml_path.startswith("qtap:"), found.format()


def test_the_known_provider_keys_are_the_installed_sdks_config_keys():
    # Read from the SDKs' sources (importing pulumi_aws takes seconds).
    import ast
    import importlib.util
    import re

    from qtap_gitops.provider_settings import KNOWN_KEYS

    def source(package: str, module: str) -> str:
        spec = importlib.util.find_spec(package)
        assert spec is not None
        assert spec.submodule_search_locations
        return (Path(spec.submodule_search_locations[0]) / module).read_text()

    def read(package: str) -> set[str]:
        return set(re.findall(r"__config__\.get\w*\('(\w+)'\)", source(package, "config/vars.py")))

    assert set(KNOWN_KEYS["aws"]) == read("pulumi_aws")
    assert set(KNOWN_KEYS["vault"]) == read("pulumi_vault")
    tree = ast.parse(source("pulumi_kubernetes", "provider.py"))
    (args,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ProviderArgs"]
    init = next(n for n in args.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    names = {a.arg for a in init.args.kwonlyargs}
    camel = {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), n) for n in names}
    assert set(KNOWN_KEYS["kubernetes"]) == camel


@pytest.mark.parametrize(
    ("values", "path", "nearest"),
    [
        ({"objectStore": {"retention_days": 5}}, "qtap:objectStore.retention_days", "retentionDays"),
        ({"vault": {"address": "https://v:8200", "kv_mount": "kv"}}, "qtap:vault.kv_mount", "kvMount"),
        ({"delivery": {"mode": "argocd", "argocd": {"destination_server": "https://k"}}},
         "qtap:delivery.argocd.destination_server", "destinationServer"),
        ({"fleet": {"Owner": "prod"}}, "qtap:fleet.Owner", "owner"),
    ],
)  # fmt: skip
def test_settings_are_named_as_documented_and_a_python_name_is_unknown(values, path, nearest):
    _, problems = check_settings(raw(**values))
    (found,) = problems
    assert (found.yaml_path, found.code, found.is_error) == (path, "stack-config", True)
    assert found.fix.startswith(f"did you mean {nearest!r}?")


def test_an_unknown_key_is_named_even_when_its_value_is_empty():
    for empty in (None, ""):
        _, problems = check_settings(raw(objectStore={"retentionDayz": empty}))
        assert [p.yaml_path for p in problems] == ["qtap:objectStore.retentionDayz"]
    # A known one set to null or "" is simply not set.
    settings = parse_settings(raw(objectStore={"retentionDays": None, "protect": ""}))
    assert (settings.object_store.retention_days, settings.object_store.protect) == (30, True)


def test_the_eks_rule_applies_even_when_another_store_setting_is_wrong():
    found = errors(raw(objectStore={"retentionDays": 0}, eks={"clusterName": "c"}))
    assert found == [
        ("qtap:objectStore.retentionDays", "stack-config"),
        ("qtap:eks.clusterName", "setting-not-applicable"),
    ]
    # An identity that is itself wrong decides nothing about qtap:eks.
    assert errors(raw(objectStore={"identity": "oidc"}, eks={"clusterName": "c"})) == [
        ("qtap:objectStore.identity", "stack-config")
    ]

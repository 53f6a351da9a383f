"""Stack settings: defaults, types and the messages for wrong or missing keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from qtap_gitops import settings as s
from qtap_gitops.problems import ContractError
from qtap_gitops.release_values import CHART_VALUE_KEYS, check_chart_values
from qtap_gitops.settings import RawStackConfig, check_settings, parse_settings
from qtap_gitops.stackfile import SECRET_PLACEHOLDER, find_project, load_stack_config
from tests.conftest import REPO, STACKS, shared_file

PEM = "-----BEGIN CERTIFICATE-----\nMIIBfDCCASOgAwIBAgIU\n-----END CERTIFICATE-----\n"
MINIMAL = {
    "qtap:chart": json.dumps({"version": "0.0.38"}),
    "qtap:vault": json.dumps({"address": "https://vault.example.com:8200"}),
}


def raw(
    stack: str = "dev", secret_keys: frozenset[str] = frozenset(), **values: object
) -> RawStackConfig:
    config = dict(MINIMAL)
    for key, value in values.items():
        config[f"qtap:{key}"] = value if isinstance(value, str) else json.dumps(value)
    return RawStackConfig(stack, f"Pulumi.{stack}.yaml", config, secret_keys)


def errors_of(config: RawStackConfig) -> list:
    _, problems = check_settings(config)
    return [p for p in problems if p.is_error]


def test_defaults():
    settings = parse_settings(raw())
    assert settings.snapshot_path == "snapshots/dev/qtap-config.yaml"
    assert settings.namespace == "qpoint"
    assert settings.chart.repo == "https://helm.qpoint.io/"
    assert settings.chart.values == {}
    vault = settings.vault
    assert (vault.kv_mount, vault.path, vault.auth_mount, vault.role) == (
        "secret",
        "qpoint/qtap/dev",
        "kubernetes",
        "qtap-dev",
    )
    assert vault.data_path == "secret/data/qpoint/qtap/dev"
    store = settings.object_store
    # Safe by default for every stack: protected and versioned unless the stack says otherwise.
    assert (store.retention_days, store.protect, store.versioning, store.kms_key_id) == (
        30,
        True,
        True,
        None,
    )
    assert settings.strict_snapshot is False
    assert settings.registration_token_set is False


@pytest.mark.parametrize("stack", ["prod", "dev", "prod-eu", "new"])
def test_every_stack_is_protected_and_versioned_by_default(stack):
    store = parse_settings(raw(stack)).object_store
    assert store.protect
    assert store.versioning


def test_unprotected_stacks_say_so_and_versioning_follows_protect():
    store = parse_settings(raw("dev", objectStore={"protect": False})).object_store
    assert (store.protect, store.versioning) == (False, False)


def test_explicit_settings_win():
    settings = parse_settings(
        raw(
            "staging",
            namespace="qtap-agents",
            objectStore={"retentionDays": 14, "protect": True, "versioning": False},
            strictSnapshot="true",
            vault={"address": "https://v:8200", "path": "teams/obs/qtap", "role": "obs-qtap"},
        )
    )
    assert settings.namespace == "qtap-agents"
    assert settings.object_store.retention_days == 14
    assert settings.object_store.protect
    assert not settings.object_store.versioning
    assert settings.strict_snapshot is True
    assert settings.vault.role == "obs-qtap"
    assert settings.vault.policy_name == "obs-qtap-read"


@pytest.mark.parametrize("missing", ["qtap:chart", "qtap:vault"])
def test_missing_required_key_names_key_and_stack_file(missing):
    config = raw()
    values = {k: v for k, v in config.values.items() if k != missing}
    problems = errors_of(RawStackConfig("dev", "Pulumi.dev.yaml", values))
    assert [p.code for p in problems] == ["stack-config-missing"]
    assert problems[0].file == "Pulumi.dev.yaml"
    assert problems[0].yaml_path == missing
    assert "pulumi config set --path" in problems[0].fix
    assert "--stack dev" in problems[0].fix


@pytest.mark.parametrize(
    ("key", "value", "path"),
    [
        ("chart", {"version": "^0.0.38"}, "qtap:chart.version"),
        ("chart", {"version": "latest"}, "qtap:chart.version"),
        ("chart", {"version": "0.0.38", "repo": "http://helm.qpoint.io/"}, "qtap:chart.repo"),
        ("chart", {"version": "0.0.38", "value": {}}, "qtap:chart.value"),
        ("vault", {"address": "vault.example.com"}, "qtap:vault.address"),
        ("vault", {"address": "https://v:8200", "path": "data/qpoint/qtap"}, "qtap:vault.path"),
        ("vault", {"address": "https://v:8200", "kvMount": "/secret/"}, "qtap:vault.kvMount"),
        (
            "vault",
            {"address": "https://v:8200", "caBundle": "MIIB...not pem"},
            "qtap:vault.caBundle",
        ),
        ("vault", {"address": "http://v:8200", "caBundle": PEM}, "qtap:vault.caBundle"),
        ("objectStore", {"retentionDays": 0}, "qtap:objectStore.retentionDays"),
        ("objectStore", {"retentionDays": "a week"}, "qtap:objectStore.retentionDays"),
        ("objectStore", {"protect": "maybe"}, "qtap:objectStore.protect"),
        ("objectStore", {"kmsKeyId": "alias/qtap"}, "qtap:objectStore.kmsKeyId"),
        ("namespace", "Qpoint_Agents", "qtap:namespace"),
        ("namespace", "kube-system", "qtap:namespace"),
        ("namespace", "default", "qtap:namespace"),
        ("strictSnapshot", "yes please", "qtap:strictSnapshot"),
        ("snapshot", "/home/me/qtap.yaml", "qtap:snapshot"),
        ("namespce", "qpoint", "qtap:namespce"),
    ],
)
def test_wrong_values_are_reported_with_their_key(key, value, path):
    problems = errors_of(raw(**{key: value}))
    assert [p.yaml_path for p in problems] == [path], [p.format() for p in problems]
    assert problems[0].fix


def test_plaintext_registration_token_is_refused():
    problems = errors_of(raw(registrationToken="qp_live_123"))
    assert [p.code for p in problems] == ["secret-plaintext"]
    assert "pulumi config set --secret 'qtap:registrationToken'" in problems[0].fix


def test_secret_registration_token_is_accepted_and_never_kept():
    settings = parse_settings(
        raw(registrationToken="qp_live_123", secret_keys=frozenset({"qtap:registrationToken"}))
    )
    assert settings.registration_token_set
    assert "qp_live_123" not in repr(settings)


def test_secret_env_names_are_kept_and_values_dropped():
    settings = parse_settings(
        raw(secretEnv={"AXIOM_TOKEN": "xaat-123"}, secret_keys=frozenset({"qtap:secretEnv"}))
    )
    assert settings.secret_env_names == frozenset({"AXIOM_TOKEN"})
    assert "xaat-123" not in repr(settings)


def test_secret_env_in_plaintext_or_with_bad_names_is_refused():
    problems = errors_of(raw(secretEnv={"AXIOM-TOKEN": "x"}))
    assert sorted(p.code for p in problems) == ["secret-plaintext", "stack-config"]


def test_parse_settings_raises_every_problem_at_once():
    with pytest.raises(ContractError) as raised:
        parse_settings(raw(namespace="Bad", objectStore={"retentionDays": -1}))
    assert len(raised.value.errors) == 2


@pytest.mark.parametrize(
    ("values", "path"),
    [
        ({"config": "tap: {}"}, "qtap:chart.values.config"),
        ({"registrationToken": "x"}, "qtap:chart.values.registrationToken"),
        (
            {"registrationTokenSecretRefName": "x"},
            "qtap:chart.values.registrationTokenSecretRefName",
        ),
        ({"replicas": 2}, "qtap:chart.values.replicas"),
        ({"image": {"registry": "x"}}, "qtap:chart.values.image.registry"),
        ({"logLevel": "verbose"}, "qtap:chart.values.logLevel"),
        (
            {"podAnnotations": {"checksum/qtap-config": "x"}},
            "qtap:chart.values.podAnnotations.checksum/qtap-config",
        ),
        ({"extraEnv": [{"name": "LOG_LEVEL", "value": "debug"}]}, "qtap:chart.values.extraEnv[0]"),
    ],
)
def test_chart_values_are_limited_to_what_the_chart_defines_and_the_program_does_not_own(
    values, path
):
    problems = check_chart_values(values, "Pulumi.dev.yaml", {})
    assert [p.yaml_path for p in problems] == [path]


def test_chart_values_keys_match_the_real_chart_values_file():
    values_file = shared_file("schemas", "qtap-chart-0.0.38", "values.yaml")
    chart_values = YAML(typ="safe").load(values_file.read_text())
    # registrationTokenSecretRefName is documented only as a comment in values.yaml.
    assert set(CHART_VALUE_KEYS) == set(chart_values) | {"registrationTokenSecretRefName"}


# -- the committed project -------------------------------------------------------------------


def test_pulumi_yaml_declares_every_setting_with_description_and_matching_defaults():
    project = YAML(typ="safe").load((REPO / "Pulumi.yaml").read_text())
    assert project["name"] == s.NAMESPACE
    assert project["runtime"]["name"] == "python"
    assert project["runtime"]["options"] == {"toolchain": "pip", "virtualenv": ".venv"}
    config = project["config"]
    assert set(config) == set(s.TOP_LEVEL_KEYS)
    for key, declaration in config.items():
        assert declaration.get("description"), key
        assert declaration.get("type") in (None, "string", "integer", "boolean", "array"), key
    # The CLI requires a key without a default on every stack, and applies a default as a
    # plaintext value that `secret: true` then refuses (tests/contract/test_pulumi_project.py):
    # the token has an empty default, which the program reads as "not set", and no secret flag;
    # the program itself refuses a plaintext token.
    assert config["registrationToken"]["default"] == ""
    assert not any(d.get("secret") and "default" in d for d in config.values())
    assert config["namespace"]["default"] == s.DEFAULT_NAMESPACE
    assert config["strictSnapshot"]["default"] is False
    assert config["objectStore"]["default"] == {}
    assert config["secretEnv"]["default"] == {}
    # Pulumi applies these defaults before the program runs; they must mean the code's defaults.
    applied = parse_settings(
        raw(snapshot=config["snapshot"]["default"], namespace=config["namespace"]["default"])
    )
    assert applied.snapshot_path == s.default_snapshot_path("dev")
    every_default = parse_settings(
        raw(**{k: d["default"] for k, d in config.items() if k not in ("chart", "vault")})
    )
    assert every_default.registration_token_set is False
    assert every_default.secret_env_names == frozenset()
    assert every_default == parse_settings(raw())


@pytest.mark.parametrize("stack", STACKS)
def test_committed_stack_files_parse_and_differ_per_environment(stack):
    project = find_project(REPO)
    config, problems = load_stack_config(project, stack)
    assert problems == []
    assert config is not None
    settings = parse_settings(config)
    assert settings.snapshot_path == f"snapshots/{stack}/qtap-config.yaml"
    assert settings.object_store.protect is (stack == "prod")
    # No encrypted value is committed: secrets are set per deployment (README).
    assert SECRET_PLACEHOLDER not in json.dumps(dict(config.values))
    assert config.values.get("aws:region")


def test_committed_stacks_differ_in_region_retention_chart_and_vault():
    project = find_project(REPO)
    settings = {}
    for stack in STACKS:
        config, _ = load_stack_config(project, stack)
        assert config is not None
        settings[stack] = (parse_settings(config), config.values["aws:region"])
    for attribute in (
        lambda x: x[1],
        lambda x: x[0].object_store.retention_days,
        lambda x: x[0].vault.address,
    ):
        assert len({attribute(v) for v in settings.values()}) == 3
    assert len({v[0].chart.version for v in settings.values()}) > 1


def test_stack_file_errors_point_at_the_line(tmp_path: Path):
    (tmp_path / "Pulumi.yaml").write_text("name: qtap\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  qtap:chart:\n    version: 0.0.38\n  qtap:vault:\n    address: https://v:8200\n"
        "  qtap:objectStore:\n    retentionDays: -3\n  qtap:registrationToken:\n    secure: v1:abc\n"
    )
    project = find_project(tmp_path)
    config, problems = load_stack_config(project, "dev")
    assert problems == []
    assert config is not None
    assert "qtap:registrationToken" in config.secret_keys
    (problem,) = errors_of(config)
    assert (problem.file, problem.line, problem.column) == ("Pulumi.dev.yaml", 7, 5)


def test_chart_values_errors_point_at_the_line(tmp_path: Path):
    (tmp_path / "Pulumi.yaml").write_text("name: qtap\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  qtap:chart:\n    version: 0.0.38\n    values:\n      logLevel: info\n"
        "      replicas: 3\n"
    )
    config, _ = load_stack_config(find_project(tmp_path), "dev")
    assert config is not None
    (problem,) = check_chart_values(
        json.loads(config.values["qtap:chart"])["values"], config.source, config.positions
    )
    assert (problem.line, problem.column, problem.yaml_path) == (6, 7, "qtap:chart.values.replicas")


def test_vault_ca_bundle_is_kept_for_https_vault():
    settings = parse_settings(raw(vault={"address": "https://v:8200", "caBundle": PEM}))
    assert settings.vault.ca_bundle == PEM


def test_prod_trusts_its_internal_vault_ca():
    config, _ = load_stack_config(find_project(REPO), "prod")
    assert config is not None
    ca_bundle = parse_settings(config).vault.ca_bundle
    assert ca_bundle is not None
    assert ca_bundle.startswith("-----BEGIN CERTIFICATE-----")


# -- the sections that choose identity, delivery and secrets backend --------------------------


def test_new_sections_default_to_keys_helm_and_external_secrets():
    settings = parse_settings(raw())
    assert settings.object_store.key_version == 1
    assert settings.object_store.identity is None
    assert settings.eks == s.EksSettings()
    assert settings.delivery.mode is s.DeliveryMode.HELM
    assert settings.secrets.backend is s.SecretsBackend.EXTERNAL_SECRETS
    # Each mode's settings live on its own variant, with their defaults.
    argocd = parse_settings(raw(delivery={"mode": "argocd"})).delivery
    assert isinstance(argocd, s.ArgoCdDeliverySettings)
    assert argocd.argocd == s.ArgoCdSettings(
        namespace="argocd", project="default", destination_server=s.DEFAULT_ARGOCD_DESTINATION
    )
    flux = parse_settings(raw(delivery={"mode": "flux"})).delivery
    assert isinstance(flux, s.FluxDeliverySettings)
    assert flux.flux.interval == "5m"
    config = dict(
        raw(secrets={"backend": "sealed-secrets", "sealedSecrets": {"certificate": PEM}}).values
    )
    del config["qtap:vault"]
    sealed = parse_settings(RawStackConfig("dev", "Pulumi.dev.yaml", config)).secrets
    assert isinstance(sealed, s.SealedSecretsBackendSettings)
    assert sealed.sealed_secrets.scope is s.SealedSecretsScope.STRICT


def test_identity_needs_its_eks_field_and_refuses_the_other():
    irsa = raw(objectStore={"identity": "irsa"})
    assert [p.yaml_path for p in errors_of(irsa)] == ["qtap:eks.oidcProviderArn"]
    arn = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABCDEF"
    settings = parse_settings(raw(objectStore={"identity": "irsa"}, eks={"oidcProviderArn": arn}))
    assert settings.object_store.identity is s.IdentityMode.IRSA
    assert settings.eks.oidc_issuer == "oidc.eks.us-east-1.amazonaws.com/id/ABCDEF"
    wrong = raw(objectStore={"identity": "irsa"}, eks={"oidcProviderArn": arn, "clusterName": "c"})
    assert [p.code for p in errors_of(wrong)] == ["setting-not-applicable"]
    pod = parse_settings(
        raw(objectStore={"identity": "pod-identity"}, eks={"clusterName": "acme-1"})
    )
    assert pod.eks.cluster_name == "acme-1"
    assert [p.yaml_path for p in errors_of(raw(objectStore={"identity": "oidc"}))] == [
        "qtap:objectStore.identity"
    ]


def test_key_version_is_a_bounded_whole_number():
    assert parse_settings(raw(objectStore={"keyVersion": 2})).object_store.key_version == 2
    for bad in (0, -1, "²", "2\n", 10**20, True):
        assert [p.yaml_path for p in errors_of(raw(objectStore={"keyVersion": bad}))] == [
            "qtap:objectStore.keyVersion"
        ], bad


def test_delivery_mode_settings_that_do_not_apply_are_refused():
    argo = parse_settings(raw(delivery={"mode": "argocd", "argocd": {"project": "platform"}}))
    assert isinstance(argo.delivery, s.ArgoCdDeliverySettings)
    assert argo.delivery.mode is s.DeliveryMode.ARGOCD
    assert argo.delivery.argocd.project == "platform"
    mixed = raw(delivery={"mode": "argocd", "flux": {"interval": "1m"}})
    assert [(p.yaml_path, p.code) for p in errors_of(mixed)] == [
        ("qtap:delivery.flux", "setting-not-applicable")
    ]
    assert [p.yaml_path for p in errors_of(raw(delivery={"mode": "kustomize"}))] == [
        "qtap:delivery.mode"
    ]
    assert [
        p.yaml_path for p in errors_of(raw(delivery={"mode": "flux", "flux": {"interval": "soon"}}))
    ] == ["qtap:delivery.flux.interval"]


def test_vault_agent_is_refused_with_the_reason():
    (problem,) = errors_of(raw(secrets={"backend": "vault-agent"}))
    assert problem.code == "secrets-backend-unsupported"
    assert "env variables" in problem.message
    assert "vault-secrets-operator" in problem.fix


def test_sealed_secrets_needs_a_certificate_and_no_vault():
    config = dict(raw(secrets={"backend": "sealed-secrets"}).values)
    del config["qtap:vault"]
    missing = RawStackConfig("dev", "Pulumi.dev.yaml", config)
    assert [p.yaml_path for p in errors_of(missing)] == ["qtap:secrets.sealedSecrets.certificate"]
    config["qtap:secrets"] = json.dumps(
        {
            "backend": "sealed-secrets",
            "sealedSecrets": {"certificate": PEM, "scope": "cluster-wide"},
        }
    )
    settings = parse_settings(RawStackConfig("dev", "Pulumi.dev.yaml", config))
    assert settings.vault is None
    assert isinstance(settings.secrets, s.SealedSecretsBackendSettings)
    assert settings.secrets.sealed_secrets.scope is s.SealedSecretsScope.CLUSTER_WIDE
    with_vault = raw(secrets={"backend": "sealed-secrets", "sealedSecrets": {"certificate": PEM}})
    assert [(p.yaml_path, p.code) for p in errors_of(with_vault)] == [
        ("qtap:vault", "setting-not-applicable")
    ]
    sealed_on_eso = raw(secrets={"sealedSecrets": {"certificate": PEM}})
    assert [p.code for p in errors_of(sealed_on_eso)] == ["setting-not-applicable"]

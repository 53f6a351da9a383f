"""Typed stack settings from the `qtap:*` configuration of one stack.

The same parser serves the Pulumi program (config handed over by the engine) and the offline
tools (config read from `Pulumi.<stack>.yaml`): both give it a `RawStackConfig`, where every
value is the engine's string form (objects as JSON text). Secret values never enter the
settings; only whether they are present does.
"""

from __future__ import annotations

import ipaddress
import json
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, TypeVar

from .problems import Problem, Severity, raise_if_errors

NAMESPACE = "qtap"
_Choice = TypeVar("_Choice", bound=StrEnum)
DEFAULT_CHART_REPO = "https://helm.qpoint.io/"
DEFAULT_NAMESPACE = "qpoint"
DEFAULT_KV_MOUNT = "secret"
DEFAULT_VAULT_PATH = "qpoint/qtap"
DEFAULT_AUTH_MOUNT = "kubernetes"
DEFAULT_RETENTION_DAYS = 30
DEFAULT_KEY_VERSION = 1
MAX_KEY_VERSION = 1_000_000
DEFAULT_ARGOCD_NAMESPACE = "argocd"
DEFAULT_ARGOCD_PROJECT = "default"
# The API server of the cluster Argo CD runs in, as Argo CD names it.
DEFAULT_ARGOCD_DESTINATION = "https://kubernetes.default.svc"
DEFAULT_FLUX_INTERVAL = "5m"
PROTECTED_BY_DEFAULT = frozenset({"prod"})

TOP_LEVEL_KEYS = (
    "registrationToken",
    "secretEnv",
    "snapshot",
    "namespace",
    "chart",
    "vault",
    "objectStore",
    "strictSnapshot",
    "eks",
    "delivery",
    "secrets",
    "fleet",
)
SECRET_KEYS = frozenset({"registrationToken", "secretEnv"})
CHART_KEYS = frozenset({"version", "repo", "values"})
VAULT_KEYS = frozenset({"address", "kvMount", "path", "authMount", "role", "caBundle"})
OBJECT_STORE_KEYS = frozenset(
    {"retentionDays", "protect", "versioning", "kmsKeyId", "keyVersion", "identity"}
)
EKS_KEYS = frozenset({"oidcProviderArn", "clusterName"})
DELIVERY_KEYS = frozenset({"mode", "argocd", "flux"})
ARGOCD_KEYS = frozenset({"namespace", "project", "destinationServer"})
FLUX_KEYS = frozenset({"interval"})
SECRETS_KEYS = frozenset({"backend", "sealedSecrets"})
SEALED_SECRETS_KEYS = frozenset({"certificate", "scope"})
FLEET_KEYS = frozenset({"environment", "owner", "ring", "organization"})
# Rollout rings 0 (canary) to MAX_RING; deploy.yml runs one stage per ring.
MAX_RING = 4
# A stack name as Pulumi allows it (letters, digits, '-', '_', '.'), starting with a letter or digit.
_STACK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}", re.ASCII)
_PULUMI_ORG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,39}", re.ASCII)

_SYSTEM_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", re.ASCII)
_PINNED_VERSION = re.compile(
    r"[0-9]{1,9}\.[0-9]{1,9}\.[0-9]{1,9}(-[0-9A-Za-z.\-]+)?(\+[0-9A-Za-z.\-]+)?", re.ASCII
)
_VAULT_SEGMENT = re.compile(r"[A-Za-z0-9_.\-]+", re.ASCII)
_KMS_KEY_ARN = re.compile(
    r"arn:aws(-cn|-us-gov)?:kms:(?P<region>[a-z0-9\-]+):[0-9]{12}:key/[A-Za-z0-9\-]+", re.ASCII
)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_OIDC_PROVIDER_ARN = re.compile(
    r"arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:oidc-provider/[A-Za-z0-9.\-]+(/[A-Za-z0-9.\-_]+)*"
)
_EKS_CLUSTER_NAME = re.compile(r"[0-9A-Za-z][A-Za-z0-9\-_]{0,99}")
_FLUX_DURATION = re.compile(r"([0-9]+(\.[0-9]+)?(ms|s|m|h))+")
_PEM_CERTIFICATE = re.compile(
    r"-----BEGIN CERTIFICATE-----\s+[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----"
)


@dataclass(frozen=True)
class RawStackConfig:
    """One stack's configuration as the engine sees it.

    `values` maps full keys (`qtap:chart`) to their string form (objects as JSON text).
    `secret_keys` holds the keys whose values are secrets. `positions` maps full keys and nested
    paths (`qtap:chart.version`) to 1-based (line, column) in `source`, when known.
    """

    stack: str
    source: str
    values: Mapping[str, str]
    secret_keys: frozenset[str] = frozenset()
    positions: Mapping[str, tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class ChartSettings:
    version: str
    repo: str
    values: Mapping[str, Any]


@dataclass(frozen=True)
class VaultSettings:
    address: str
    kv_mount: str
    path: str
    auth_mount: str
    role: str
    ca_bundle: str | None = None
    """PEM CA certificate(s) ESO trusts for Vault's TLS certificate (an internal CA)."""

    @property
    def policy_name(self) -> str:
        return f"{self.role}-read"

    @property
    def data_path(self) -> str:
        """The KV v2 API path of the secret (`secret/data/qpoint/qtap`)."""
        return f"{self.kv_mount}/data/{self.path}"

    @property
    def metadata_path(self) -> str:
        return f"{self.kv_mount}/metadata/{self.path}"


class IdentityMode(StrEnum):
    """How the agent authenticates to S3 for an AWS store without key references."""

    IRSA = "irsa"
    POD_IDENTITY = "pod-identity"


@dataclass(frozen=True)
class ObjectStoreSettings:
    retention_days: int
    protect: bool
    versioning: bool
    kms_key_id: str | None
    key_version: int = DEFAULT_KEY_VERSION
    """Bumped in a reviewed change to rotate the S3 writer's access key."""
    identity: IdentityMode | None = None
    """Workload identity for keyless AWS stores; None means static keys only."""


@dataclass(frozen=True)
class EksSettings:
    oidc_provider_arn: str | None = None
    """The cluster's IAM OIDC provider ARN (IRSA)."""
    cluster_name: str | None = None
    """The EKS cluster name (Pod Identity)."""

    @property
    def oidc_issuer(self) -> str | None:
        """`oidc.eks.<region>.amazonaws.com/id/<ID>`: the provider ARN's resource part."""
        if self.oidc_provider_arn is None:
            return None
        return self.oidc_provider_arn.split(":oidc-provider/", 1)[1]


class DeliveryMode(StrEnum):
    HELM = "helm"
    ARGOCD = "argocd"
    FLUX = "flux"


@dataclass(frozen=True)
class ArgoCdSettings:
    namespace: str = DEFAULT_ARGOCD_NAMESPACE
    project: str = DEFAULT_ARGOCD_PROJECT
    destination_server: str = DEFAULT_ARGOCD_DESTINATION


@dataclass(frozen=True)
class FluxSettings:
    interval: str = DEFAULT_FLUX_INTERVAL


@dataclass(frozen=True)
class DeliverySettings:
    mode: DeliveryMode = DeliveryMode.HELM
    argocd: ArgoCdSettings = field(default_factory=ArgoCdSettings)
    flux: FluxSettings = field(default_factory=FluxSettings)


class SecretsBackend(StrEnum):
    EXTERNAL_SECRETS = "external-secrets"
    VAULT_SECRETS_OPERATOR = "vault-secrets-operator"
    SEALED_SECRETS = "sealed-secrets"

    @property
    def uses_vault(self) -> bool:
        return self is not SecretsBackend.SEALED_SECRETS


class SealedSecretsScope(StrEnum):
    STRICT = "strict"
    NAMESPACE_WIDE = "namespace-wide"
    CLUSTER_WIDE = "cluster-wide"


@dataclass(frozen=True)
class SealedSecretsSettings:
    certificate: str | None = None
    """The controller's public certificate (PEM): safe to commit."""
    scope: SealedSecretsScope = SealedSecretsScope.STRICT


@dataclass(frozen=True)
class SecretsSettings:
    backend: SecretsBackend = SecretsBackend.EXTERNAL_SECRETS
    sealed_secrets: SealedSecretsSettings = field(default_factory=SealedSecretsSettings)


# Why `vault-agent` is not a backend: the injector writes files, Qtap reads env variables, and the
# chart cannot source a file before the agent starts (hashicorp/vault-k8s #45, #228).
VAULT_AGENT_REFUSAL = (
    "the Vault Agent Injector only writes files under /vault/secrets, Qtap reads its secrets "
    "from env variables, and the qtap chart has no command override (only args) to source "
    "such a file"
)


@dataclass(frozen=True)
class FleetSettings:
    """Where this stack (one cluster) stands in its environment's fleet (`qtap:fleet`)."""

    environment: str
    """The Qplane environment (one snapshot) this cluster runs; default: the stack name."""
    owner: str
    """The stack that owns the environment's bucket, writer identity and Vault secret;
    default: this stack."""
    ring: int = 0
    """Rollout order, 0 first (canary)."""
    organization: str | None = None
    """The Pulumi organization of the owner's stack (StackReference); None: the current one."""


@dataclass(frozen=True)
class StackSettings:
    stack: str
    source: str
    snapshot_path: str
    namespace: str
    chart: ChartSettings
    vault: VaultSettings | None
    """None only with the sealed-secrets backend, which uses no Vault."""
    object_store: ObjectStoreSettings
    strict_snapshot: bool
    registration_token_set: bool
    secret_env_names: frozenset[str]
    eks: EksSettings = field(default_factory=EksSettings)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    secrets: SecretsSettings = field(default_factory=SecretsSettings)
    fleet: FleetSettings | None = None
    """None is read as this stack alone (see `fleet_of`)."""

    @property
    def fleet_settings(self) -> FleetSettings:
        return self.fleet or FleetSettings(environment=self.stack, owner=self.stack)

    @property
    def is_member(self) -> bool:
        """A member deploys its owner's environment on another cluster (`qtap:fleet.owner`)."""
        return self.fleet_settings.owner != self.stack

    def require_vault(self) -> VaultSettings:
        """The Vault settings of a backend that uses Vault."""
        if self.vault is None:
            raise ValueError(f"stack {self.stack}: the {self.secrets.backend} backend has no Vault")
        return self.vault


def position_of(
    positions: Mapping[str, tuple[int, int]], key: str
) -> tuple[int | None, int | None]:
    """Where `key` (`qtap:chart.values.logLevel`) is in the stack file, or its nearest parent."""
    key = key.split("[", 1)[0]
    while key:
        if key in positions:
            return positions[key]
        if "." not in key:
            break
        key = key.rsplit(".", 1)[0]
    return None, None


def default_snapshot_path(stack: str) -> str:
    return f"snapshots/{stack}/qtap-config.yaml"


def set_secret_command(stack: str, key: str, placeholder: str = "<value>") -> str:
    """The exact command that stores a secret for `stack`; `key` may be a --path expression."""
    path = " --path" if "." in key or "[" in key else ""
    return f"pulumi config set --secret{path} '{NAMESPACE}:{key}' '{placeholder}' --stack {stack}"


class _Parser:
    def __init__(self, raw: RawStackConfig) -> None:
        self.raw = raw
        self.problems: list[Problem] = []

    def error(self, key: str, message: str, fix: str, code: str = "stack-config") -> None:
        line, column = position_of(self.raw.positions, f"{NAMESPACE}:{key}")
        self.problems.append(
            Problem(
                severity=Severity.ERROR,
                code=code,
                file=self.raw.source,
                line=line,
                column=column,
                yaml_path=f"{NAMESPACE}:{key}",
                message=message,
                fix=fix,
            )
        )

    def warn(self, key: str, message: str, fix: str, code: str = "stack-config") -> None:
        self.error(key, message, fix, code)
        self.problems[-1] = replace(self.problems[-1], severity=Severity.WARNING)

    def raw_value(self, key: str) -> str | None:
        value = self.raw.values.get(f"{NAMESPACE}:{key}")
        return value

    def is_secret(self, key: str) -> bool:
        return f"{NAMESPACE}:{key}" in self.raw.secret_keys

    def object(self, key: str) -> dict[str, Any] | None:
        """A structured value, or None when unset; reports a problem when it is not a mapping."""
        text = self.raw_value(key)
        if text is None or text == "":
            return None
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):  # not JSON, too deep, or a 5000-digit number
            value = text
        if not isinstance(value, dict):
            shown = "a value (not shown)" if self.is_secret(key) else _describe(value)
            self.error(
                key,
                f"must be a mapping of settings, found {shown}",
                f"write it as a YAML mapping under '{NAMESPACE}:{key}:' in {self.raw.source}",
            )
            return None
        return value

    def unknown(self, key: str, value: Mapping[str, Any], known: frozenset[str]) -> None:
        for sub in value:
            if sub not in known:
                self.error(
                    f"{key}.{sub}",
                    f"unknown setting {sub!r}",
                    f"remove it or correct the spelling (known: {', '.join(sorted(known))})",
                )

    def string(
        self,
        key: str,
        value: Any,
        *,
        default: str | None = None,
        required: bool = False,
        example: str = "...",
    ) -> str | None:
        if value is None or value == "":
            if required:
                self.error(
                    key,
                    "is required and not set",
                    f"pulumi config set --path '{NAMESPACE}:{key}' {example} --stack {self.raw.stack}",
                    code="stack-config-missing",
                )
            return default
        if isinstance(value, (dict, list, bool)):
            self.error(
                key,
                f"must be a string, found {_describe(value)}",
                f"set it to a string like {example}",
            )
            return default
        return str(value)

    def boolean(self, key: str, value: Any, default: bool) -> bool:
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        self.error(key, f"must be true or false, found {_describe(value)}", "write true or false")
        return default

    def integer(
        self, key: str, value: Any, default: int, minimum: int, maximum: int = 36500
    ) -> int:
        if value is None or value == "":
            return default
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and re.fullmatch(r"[0-9]{1,12}", value):
            number = int(value)
        if number is None or not minimum <= number <= maximum:
            self.error(
                key,
                f"must be a whole number from {minimum} to {maximum}, found {_describe(value)}",
                f"write a number, e.g. {default}",
            )
            return default
        return number

    # -- sections ---------------------------------------------------------------------------

    def parse(self) -> StackSettings | None:
        stack = self.raw.stack
        for full_key in self.raw.values:
            prefix, _, key = full_key.partition(":")
            if prefix == NAMESPACE and key not in TOP_LEVEL_KEYS:
                self.error(
                    key,
                    f"unknown configuration key {full_key!r}",
                    f"remove it or correct the spelling (known: {', '.join(TOP_LEVEL_KEYS)})",
                )

        registration_token_set = self.secret_present("registrationToken")
        secret_env_names = self.secret_env()

        snapshot_path = self.string(
            "snapshot", self.raw_value("snapshot"), default=default_snapshot_path(stack)
        )
        assert snapshot_path is not None
        if snapshot_path.startswith("/"):
            self.error(
                "snapshot",
                f"{snapshot_path!r} is an absolute path, which differs between machines",
                "give the path relative to the project directory, e.g. "
                f"{default_snapshot_path(stack)}",
            )

        namespace = self.string("namespace", self.raw_value("namespace"), default=DEFAULT_NAMESPACE)
        assert namespace is not None
        if namespace in _SYSTEM_NAMESPACES or namespace.startswith("kube-"):
            self.error(
                "namespace",
                f"{namespace!r} is a namespace Kubernetes itself owns; this stack creates its "
                "namespace and labels it for privileged pods",
                f"use a namespace of the agent's own, e.g. {DEFAULT_NAMESPACE}",
            )
        elif not _DNS_LABEL.fullmatch(namespace):
            self.error(
                "namespace",
                f"{namespace!r} is not a valid Kubernetes namespace name",
                "use at most 63 lowercase letters, digits and hyphens, starting and ending "
                "with a letter or digit",
            )

        chart = self.chart()
        secrets = self.secrets()
        vault: VaultSettings | None = None
        if secrets.backend.uses_vault:
            vault = self.vault()
        elif self.object("vault"):  # {} is the CLI-applied default of Pulumi.yaml
            self.error(
                "vault",
                f"does not apply: the {secrets.backend} backend keeps no secret in Vault",
                f"remove qtap:vault from {self.raw.source}, or choose a Vault backend in "
                "qtap:secrets.backend",
                code="setting-not-applicable",
            )
        object_store = self.object_store()
        eks = self.eks(object_store.identity)
        delivery = self.delivery()
        strict = self.boolean("strictSnapshot", self.raw_value("strictSnapshot"), False)
        fleet = self.fleet()

        if any(p.is_error for p in self.problems) or chart is None:
            return None
        if secrets.backend.uses_vault and vault is None:
            return None
        return StackSettings(
            stack=stack,
            source=self.raw.source,
            snapshot_path=snapshot_path,
            namespace=namespace,
            chart=chart,
            vault=vault,
            object_store=object_store,
            strict_snapshot=strict,
            registration_token_set=registration_token_set,
            secret_env_names=secret_env_names,
            eks=eks,
            delivery=delivery,
            secrets=secrets,
            fleet=fleet,
        )

    def fleet(self) -> FleetSettings:
        value = self.object("fleet") or {}
        self.unknown("fleet", value, FLEET_KEYS)
        stack = self.raw.stack
        names = {}
        for key in ("environment", "owner"):
            name = self.string(f"fleet.{key}", value.get(key), default=stack)
            assert name is not None
            if not _STACK_NAME.fullmatch(name):
                self.error(
                    f"fleet.{key}",
                    f"{name[:60]!r} is not a stack name (letters, digits, '-', '_' or '.', "
                    "starting with a letter or digit)",
                    f"name a stack of this project, e.g. {stack}",
                )
                name = stack
            names[key] = name
        ring = self.integer("fleet.ring", value.get("ring"), 0, 0, maximum=MAX_RING)
        organization = self.string("fleet.organization", value.get("organization"))
        if organization is not None and not _PULUMI_ORG.fullmatch(organization):
            self.error(
                "fleet.organization",
                f"{organization[:60]!r} is not a Pulumi organization name",
                "use the organization as `pulumi org get-default` prints it, or remove the key",
            )
            organization = None
        return FleetSettings(names["environment"], names["owner"], ring, organization)

    def secret_present(self, key: str) -> bool:
        value = self.raw_value(key)
        if value is None or value == "":
            return False
        if not self.is_secret(key):
            self.error(
                key,
                "is stored in plaintext; anyone who can read the repository can read it",
                f"store it encrypted instead: {set_secret_command(self.raw.stack, key)}",
                code="secret-plaintext",
            )
        return True

    def secret_env(self) -> frozenset[str]:
        value = self.object("secretEnv")
        if not value:
            return frozenset()
        if not self.is_secret("secretEnv"):
            self.error(
                "secretEnv",
                "holds values in plaintext; anyone who can read the repository can read them",
                "set each value with " + set_secret_command(self.raw.stack, "secretEnv.NAME"),
                code="secret-plaintext",
            )
        names = set()
        for name, item in value.items():
            if not _ENV_NAME.fullmatch(name):
                self.error(
                    f"secretEnv.{name}",
                    f"{name!r} is not a valid env variable name",
                    "use the exact env name the snapshot references, e.g. AXIOM_TOKEN",
                )
                continue
            if not isinstance(item, str) or item == "":
                self.error(
                    f"secretEnv.{name}",
                    "must be a non-empty string",
                    set_secret_command(self.raw.stack, f"secretEnv.{name}"),
                )
                continue
            names.add(name)
        return frozenset(names)

    def chart(self) -> ChartSettings | None:
        value = self.object("chart")
        if value is None:
            self.error(
                "chart",
                "is required and not set: the qtap chart version must be pinned per stack",
                f"pulumi config set --path '{NAMESPACE}:chart.version' 0.0.38 --stack {self.raw.stack}",
                code="stack-config-missing",
            )
            return None
        self.unknown("chart", value, CHART_KEYS)
        version = self.string(
            "chart.version", value.get("version"), required=True, example="0.0.38"
        )
        if version is not None and not _PINNED_VERSION.fullmatch(version):
            self.error(
                "chart.version",
                f"{version!r} is not a pinned chart version; a range or 'latest' would let "
                "deploys change without a commit",
                "pin an exact version such as 0.0.38",
            )
        repo = self.string("chart.repo", value.get("repo"), default=DEFAULT_CHART_REPO)
        assert repo is not None
        if not repo.startswith(("https://", "oci://")):
            self.error(
                "chart.repo",
                f"{repo!r} is not an https:// or oci:// repository",
                f"use {DEFAULT_CHART_REPO}",
            )
        values = value.get("values") or {}
        if not isinstance(values, dict):
            self.error("chart.values", f"must be a mapping of chart values, found {values!r}", "")
            values = {}
        if version is None:
            return None
        return ChartSettings(version=version, repo=repo, values=values)

    def vault(self) -> VaultSettings | None:
        value = self.object("vault")
        if value is None:
            self.error(
                "vault",
                "is required and not set: the stack needs the Vault server that holds its secrets",
                f"pulumi config set --path '{NAMESPACE}:vault.address' https://vault.example.com:8200 "
                f"--stack {self.raw.stack}",
                code="stack-config-missing",
            )
            return None
        self.unknown("vault", value, VAULT_KEYS)
        address = self.string(
            "vault.address",
            value.get("address"),
            required=True,
            example="https://vault.example.com:8200",
        )
        if address is not None:
            reason = _vault_address_problem(address)
            if reason is not None:
                self.error(
                    "vault.address",
                    f"{_describe(address)} is not a Vault URL: {reason}",
                    "write the URL ESO uses to reach Vault, e.g. https://vault.example.com:8200",
                )
                address = None
            elif address.startswith("http://"):
                self.warn(
                    "vault.address",
                    "is plain http://: ESO would send its Kubernetes token to Vault and get the "
                    "agent's secrets back unencrypted",
                    "serve Vault over https:// (with qtap:vault.caBundle for an internal CA)",
                )
        kv_mount = self.vault_path("vault.kvMount", value.get("kvMount"), DEFAULT_KV_MOUNT)
        path = self.vault_path("vault.path", value.get("path"), DEFAULT_VAULT_PATH)
        if path.split("/")[0] in ("data", "metadata"):
            self.error(
                "vault.path",
                f"{path!r} starts with '{path.split('/')[0]}/'; the KV v2 API prefix is added "
                "by Vault and ESO, not part of the secret's path",
                f"write the path without it, e.g. {path.split('/', 1)[-1]}",
            )
        auth_mount = self.vault_path("vault.authMount", value.get("authMount"), DEFAULT_AUTH_MOUNT)
        role = self.vault_path("vault.role", value.get("role"), f"qtap-{self.raw.stack}")
        if "/" in role:
            self.error("vault.role", f"role name {role!r} may not contain '/'", "use a plain name")
        ca_bundle = self.string("vault.caBundle", value.get("caBundle"))
        if ca_bundle is not None:
            if not _PEM_CERTIFICATE.search(ca_bundle):
                self.error(
                    "vault.caBundle",
                    "is not a PEM certificate (-----BEGIN CERTIFICATE----- ... "
                    "-----END CERTIFICATE-----)",
                    "paste the PEM of the CA that signed Vault's certificate, as a YAML block (|)",
                )
            elif address is not None and not address.startswith("https://"):
                self.error(
                    "vault.caBundle",
                    "is only used for https:// Vault addresses (ESO ignores it for plain HTTP)",
                    "use Vault's https:// address, or remove caBundle",
                )
        if address is None:
            return None
        return VaultSettings(address.rstrip("/"), kv_mount, path, auth_mount, role, ca_bundle)

    def vault_path(self, key: str, value: Any, default: str) -> str:
        text = self.string(key, value, default=default)
        assert text is not None
        segments = text.split("/")
        if (
            text.startswith("/")
            or text.endswith("/")
            or not all(_VAULT_SEGMENT.fullmatch(s) for s in segments)
        ):
            self.error(
                key,
                f"{text!r} is not a Vault path: use segments of letters, digits, '.', '_' or '-' "
                "separated by single slashes, without a leading or trailing slash",
                f"e.g. {default}",
            )
        return text

    def object_store(self) -> ObjectStoreSettings:
        value = self.object("objectStore") or {}
        self.unknown("objectStore", value, OBJECT_STORE_KEYS)
        retention = self.integer(
            "objectStore.retentionDays", value.get("retentionDays"), DEFAULT_RETENTION_DAYS, 1
        )
        protect = self.boolean(
            "objectStore.protect", value.get("protect"), self.raw.stack in PROTECTED_BY_DEFAULT
        )
        versioning = self.boolean("objectStore.versioning", value.get("versioning"), protect)
        kms = self.string("objectStore.kmsKeyId", value.get("kmsKeyId"))
        if kms is not None and not _KMS_KEY_ARN.fullmatch(kms):
            self.error(
                "objectStore.kmsKeyId",
                f"{kms!r} is not a KMS key ARN; the writer's IAM policy must name the key itself "
                "(an alias cannot grant kms:GenerateDataKey)",
                "use the key ARN, arn:aws:kms:<region>:<account>:key/<key-id>",
            )
        key_version = self.integer(
            "objectStore.keyVersion",
            value.get("keyVersion"),
            DEFAULT_KEY_VERSION,
            1,
            maximum=MAX_KEY_VERSION,
        )
        identity = self.choice(
            "objectStore.identity", value.get("identity"), IdentityMode, default=None
        )
        return ObjectStoreSettings(retention, protect, versioning, kms, key_version, identity)

    def choice(self, key: str, value: Any, kind: type[_Choice], default: _Choice | None) -> Any:
        """One of an enum's values; a problem naming the allowed values otherwise."""
        if value is None or value == "":
            return default
        allowed = [member.value for member in kind]
        if isinstance(value, str) and value in allowed:
            return kind(value)
        self.error(
            key,
            f"must be one of {', '.join(allowed)}, found {_describe(value)}",
            f"set it to one of: {', '.join(allowed)}",
        )
        return default

    def eks(self, identity: IdentityMode | None) -> EksSettings:
        value = self.object("eks") or {}
        self.unknown("eks", value, EKS_KEYS)
        arn = self.string("eks.oidcProviderArn", value.get("oidcProviderArn"))
        cluster = self.string("eks.clusterName", value.get("clusterName"))
        if arn is not None and not _OIDC_PROVIDER_ARN.fullmatch(arn):
            self.error(
                "eks.oidcProviderArn",
                "is not an IAM OIDC provider ARN",
                "use the ARN of the cluster's OIDC provider, "
                "arn:aws:iam::<account>:oidc-provider/oidc.eks.<region>.amazonaws.com/id/<ID>",
            )
            arn = None
        if cluster is not None and not _EKS_CLUSTER_NAME.fullmatch(cluster):
            self.error(
                "eks.clusterName",
                "is not an EKS cluster name (1-100 letters, digits, '-' or '_', starting with a "
                "letter or digit)",
                "use the cluster's name as `aws eks list-clusters` shows it",
            )
            cluster = None
        needed = {
            IdentityMode.IRSA: (
                "oidcProviderArn",
                arn,
                "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE",
            ),
            IdentityMode.POD_IDENTITY: ("clusterName", cluster, "my-cluster"),
        }
        for mode, (field_name, field_value, example) in needed.items():
            if identity is mode and field_value is None and f"{field_name}" not in value:
                self.error(
                    f"eks.{field_name}",
                    f"is required with qtap:objectStore.identity {mode.value} and not set",
                    f"pulumi config set --path '{NAMESPACE}:eks.{field_name}' {example} "
                    f"--stack {self.raw.stack}",
                    code="stack-config-missing",
                )
            elif identity is not mode and field_name in value:
                self.error(
                    f"eks.{field_name}",
                    "does not apply: "
                    + (
                        "no qtap:objectStore.identity is set"
                        if identity is None
                        else f"qtap:objectStore.identity is {identity.value}"
                    ),
                    f"remove qtap:eks.{field_name}, or set qtap:objectStore.identity to {mode.value}",
                    code="setting-not-applicable",
                )
        return EksSettings(arn, cluster)

    def delivery(self) -> DeliverySettings:
        value = self.object("delivery") or {}
        self.unknown("delivery", value, DELIVERY_KEYS)
        mode = self.choice("delivery.mode", value.get("mode"), DeliveryMode, DeliveryMode.HELM)
        for other in (DeliveryMode.ARGOCD, DeliveryMode.FLUX):
            if other.value in value and mode is not other:
                self.error(
                    f"delivery.{other.value}",
                    f"does not apply: qtap:delivery.mode is {mode.value}",
                    f"remove qtap:delivery.{other.value}, or set qtap:delivery.mode to {other.value}",
                    code="setting-not-applicable",
                )
        argocd = self.nested("delivery.argocd", value.get("argocd"), ARGOCD_KEYS)
        argocd_settings = ArgoCdSettings(
            namespace=self.dns_label(
                "delivery.argocd.namespace", argocd.get("namespace"), DEFAULT_ARGOCD_NAMESPACE
            ),
            project=self.dns_label(
                "delivery.argocd.project", argocd.get("project"), DEFAULT_ARGOCD_PROJECT
            ),
            destination_server=self.https_url(
                "delivery.argocd.destinationServer",
                argocd.get("destinationServer"),
                DEFAULT_ARGOCD_DESTINATION,
            ),
        )
        flux = self.nested("delivery.flux", value.get("flux"), FLUX_KEYS)
        interval = self.string("delivery.flux.interval", flux.get("interval"))
        if interval is not None and not _FLUX_DURATION.fullmatch(interval):
            self.error(
                "delivery.flux.interval",
                f"{interval!r} is not a Go duration Flux accepts",
                "write a duration such as 5m, 1h or 30s",
            )
            interval = None
        return DeliverySettings(
            mode, argocd_settings, FluxSettings(interval or DEFAULT_FLUX_INTERVAL)
        )

    def secrets(self) -> SecretsSettings:
        value = self.object("secrets") or {}
        self.unknown("secrets", value, SECRETS_KEYS)
        if value.get("backend") == "vault-agent":
            self.error(
                "secrets.backend",
                f"vault-agent cannot deliver the agent's secrets: {VAULT_AGENT_REFUSAL}",
                "use vault-secrets-operator, HashiCorp's operator that writes Vault secrets into "
                "a Kubernetes Secret",
                code="secrets-backend-unsupported",
            )
            backend = SecretsBackend.EXTERNAL_SECRETS
        else:
            backend = self.choice(
                "secrets.backend",
                value.get("backend"),
                SecretsBackend,
                SecretsBackend.EXTERNAL_SECRETS,
            )
        if "sealedSecrets" in value and backend is not SecretsBackend.SEALED_SECRETS:
            self.error(
                "secrets.sealedSecrets",
                f"does not apply: qtap:secrets.backend is {backend.value}",
                "remove qtap:secrets.sealedSecrets, or set qtap:secrets.backend to sealed-secrets",
                code="setting-not-applicable",
            )
        sealed = self.nested(
            "secrets.sealedSecrets", value.get("sealedSecrets"), SEALED_SECRETS_KEYS
        )
        certificate = self.string(
            "secrets.sealedSecrets.certificate",
            sealed.get("certificate"),
            required=backend is SecretsBackend.SEALED_SECRETS,
            example='"$(kubeseal --fetch-cert)"',
        )
        if certificate is not None and not _PEM_CERTIFICATE.search(certificate):
            self.error(
                "secrets.sealedSecrets.certificate",
                "is not a PEM certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)",
                "paste the controller's public certificate (kubeseal --fetch-cert) as a YAML block (|)",
            )
        scope = self.choice(
            "secrets.sealedSecrets.scope",
            sealed.get("scope"),
            SealedSecretsScope,
            SealedSecretsScope.STRICT,
        )
        return SecretsSettings(backend, SealedSecretsSettings(certificate, scope))

    def nested(self, key: str, value: Any, known: frozenset[str]) -> dict[str, Any]:
        """A nested mapping of settings ({} when unset); a problem when it is not a mapping."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(
                key,
                f"must be a mapping of settings, found {_describe(value)}",
                f"write it as a YAML mapping with keys: {', '.join(sorted(known))}",
            )
            return {}
        self.unknown(key, value, known)
        return value

    def dns_label(self, key: str, value: Any, default: str) -> str:
        text = self.string(key, value, default=default)
        assert text is not None
        if not _DNS_LABEL.fullmatch(text):
            self.error(
                key,
                f"{text!r} is not a valid Kubernetes name",
                "use at most 63 lowercase letters, digits and hyphens, starting and ending with "
                "a letter or digit",
            )
            return default
        return text

    def https_url(self, key: str, value: Any, default: str) -> str:
        text = self.string(key, value, default=default)
        assert text is not None
        if not re.fullmatch(r"https://[A-Za-z0-9.\-]+(:[0-9]{1,5})?/?", text):
            self.error(
                key,
                f"{text!r} is not an https:// URL of an API server",
                f"e.g. {default}",
            )
            return default
        return text


_VAULT_HOST = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*",
    re.ASCII,
)


def _vault_address_problem(address: str) -> str | None:
    """Why `address` is not a plain http(s)://host[:port][/] URL (None when it is)."""
    if any(c.isspace() for c in address) or not address.isprintable():
        return "it contains spaces or control characters"
    try:
        parts = urllib.parse.urlsplit(address)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "it is not a valid URL"
    if parts.scheme not in ("https", "http"):
        return "it does not start with https://"
    if parts.username is not None or parts.password is not None:
        return "it holds credentials"
    if parts.query or parts.fragment or parts.path not in ("", "/"):
        return "it has a path, query or fragment (Vault's API paths are added by ESO)"
    host = parts.netloc.rsplit(":", 1)[0] if parts.port is not None else parts.netloc
    if not _VAULT_HOST.fullmatch(host):
        try:
            ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return "its host is not a valid host name"
    return None


def kms_key_region(arn: str) -> str | None:
    """The region of a KMS key ARN (`arn:aws:kms:eu-west-1:...` -> `eu-west-1`)."""
    match = _KMS_KEY_ARN.fullmatch(arn)
    return match.group("region") if match else None


def _describe(value: Any) -> str:
    """A value as messages show it: short, one line, printable."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:56] + "...'"


def check_settings(raw: RawStackConfig) -> tuple[StackSettings | None, list[Problem]]:
    parser = _Parser(raw)
    settings = parser.parse()
    return settings, parser.problems


def parse_settings(raw: RawStackConfig) -> StackSettings:
    """The typed settings, or a `ContractError` naming every wrong key."""
    settings, problems = check_settings(raw)
    raise_if_errors(problems)
    assert settings is not None
    return settings


def kms_region_problems(
    settings: StackSettings, snapshot: Any, positions: Mapping[str, tuple[int, int]]
) -> list[Problem]:
    """SSE-KMS needs the key in the bucket's region: a key elsewhere makes every upload fail.

    `snapshot` is the checked `Snapshot` (typed loosely to keep settings free of the snapshot
    package); each AWS-managed bucket this stack creates must share the key's region.
    """
    kms = settings.object_store.kms_key_id
    region = kms_key_region(kms) if kms else None
    if region is None:
        return []
    line, column = position_of(positions, f"{NAMESPACE}:objectStore.kmsKeyId")
    return [
        Problem(
            severity=Severity.ERROR,
            code="kms-region",
            file=settings.source,
            line=line,
            column=column,
            yaml_path=f"{NAMESPACE}:objectStore.kmsKeyId",
            message=f"the KMS key is in {region}, but bucket {store.bucket} is in "
            f"{store.region}; S3 can only encrypt with a key of the bucket's own region",
            fix=f"use a KMS key in {store.region}",
        )
        for store in snapshot.aws_stores
        if store.region != region
    ]

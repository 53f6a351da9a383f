"""Every `qtap:*` setting, declared once: type, default, rule, description.

`Pulumi.yaml`'s `config:` block and the README's configuration table are generated from these
declarations (`python -m qtapctl.settings_docs`), and every message about a setting is
derived from them (`check.py`). A setting that depends on another mode is declared on that
mode's variant (`delivery.mode`, `secrets.backend`), so setting it under another mode is
refused by structure.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Discriminator, Field, Tag, field_validator

from . import rules
from .fields import (
    Doc,
    Flag,
    Section,
    ValidationInfo,
    Whole,
    context_of,
    invalid,
    matches,
    note,
    rule,
    shown,
    stack_of,
)

# Rollout rings 0 (canary) to MAX_RING; deploy.yml runs one stage per ring.
MAX_RING = 4
MAX_KEY_VERSION = 1_000_000
DEFAULT_NAMESPACE = "qpoint"
DEFAULT_CHART_REPO = "https://helm.qpoint.io/"
# The API server of the cluster Argo CD runs in, as Argo CD names it.
DEFAULT_ARGOCD_DESTINATION = "https://kubernetes.default.svc"


def default_snapshot_path(stack: str) -> str:
    return f"snapshots/{stack}/qtap-config.yaml"


def default_vault_path(environment: str) -> str:
    """One secret per Qplane environment, so two environments on one Vault never collide."""
    return f"qpoint/qtap/{environment}"


KubernetesName = Annotated[
    str, matches(rules.DNS_LABEL, "{value} is not a valid Kubernetes name", rules.K8S_NAME_FIX)
]


def _pem(value: str) -> str | None:
    if rules.PEM_CERTIFICATE.search(value):
        return None
    return "is not a PEM certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)"


CaBundle = Annotated[
    str,
    rule(_pem, "paste the PEM of the CA that signed Vault's certificate, as a YAML block (|)"),
]
ControllerCertificate = Annotated[
    str,
    rule(
        _pem,
        "paste the controller's public certificate (kubeseal --fetch-cert) as a YAML block (|)",
    ),
    Doc(example='"$(kubeseal --fetch-cert)"'),
]
StackName = Annotated[
    str,
    matches(
        rules.STACK_NAME,
        "{value} is not a stack name (letters, digits, '-', '_' or '.', starting with a letter "
        "or digit)",
        "name a stack of this project, e.g. {stack}",
    ),
]


# -- qtap:chart -------------------------------------------------------------------------------


class ChartSettings(Section):
    version: Annotated[
        str,
        matches(
            rules.PINNED_VERSION,
            "{value} is not a pinned chart version; a range or 'latest' would let deploys "
            "change without a commit",
            "pin an exact version such as 0.0.38",
        ),
        Doc(example="0.0.38"),
    ] = Field(description="the qpoint/qtap chart version, pinned exactly")
    repo: Annotated[
        str,
        matches(
            r"(https|oci)://\S+",
            "{value} is not an https:// or oci:// repository",
            f"use {DEFAULT_CHART_REPO}",
        ),
    ] = Field(default=DEFAULT_CHART_REPO, description="the chart repository")
    values: dict[str, Any] = Field(
        default_factory=dict,
        description="extra non-secret chart values (resources, tolerations, logLevel, ...; "
        "never config, the registration token or extraEnv names the snapshot uses)",
    )


# -- qtap:vault -------------------------------------------------------------------------------


def _vault_address(address: str, info: ValidationInfo) -> str:
    reason = rules.url_problem(address)
    if reason is not None:
        if "path" in reason:
            reason += " (Vault's API paths are added by ESO)"
        raise invalid(
            f"{shown(address)} is not a Vault URL: {reason}",
            "write the URL ESO uses to reach Vault, e.g. https://vault.example.com:8200",
        )
    if address.startswith("http://"):
        note(
            info,
            "vault.address",
            "is plain http://: ESO would send its Kubernetes token to Vault and get the "
            "agent's secrets back unencrypted",
            "serve Vault over https:// (with qtap:vault.caBundle for an internal CA)",
            warning=True,
        )
    return address.rstrip("/")


def _secret_path(path: str) -> str:
    head = path.split("/")[0]
    if head in ("data", "metadata"):
        raise invalid(
            f"{path!r} starts with '{head}/'; the KV v2 API prefix is added by Vault and ESO, "
            "not part of the secret's path",
            f"write the path without it, e.g. {path.split('/', 1)[-1]}",
        )
    return path


class VaultSettings(Section):
    address: Annotated[
        str, AfterValidator(_vault_address), Doc(example="https://vault.example.com:8200")
    ] = Field(
        description="the URL ESO and Pulumi reach Vault at, https://host[:port] (plain "
        "http:// is accepted with a warning)"
    )
    kv_mount: Annotated[str, rule(rules.vault_path_problem, "e.g. secret")] = Field(
        default="secret", description="the KV v2 mount"
    )
    path: Annotated[
        str,
        rule(rules.vault_path_problem, "e.g. qpoint/qtap/prod"),
        AfterValidator(_secret_path),
        Doc(default="qpoint/qtap/<environment>"),
    ] = Field(default="", description="the secret's path in the KV mount")
    auth_mount: Annotated[str, rule(rules.vault_path_problem, "e.g. kubernetes")] = Field(
        default="kubernetes", description="the Kubernetes auth mount"
    )
    role: Annotated[
        str,
        rule(
            lambda v: "role name {value} may not contain '/'" if "/" in v else None,
            "use a plain name",
        ),
        rule(rules.vault_path_problem, "e.g. qtap-prod"),
        Doc(default="qtap-<stack>"),
    ] = Field(default="", description="the Vault role of the stack's Kubernetes auth")
    ca_bundle: CaBundle | None = Field(
        default=None,
        description="PEM of the internal CA that signed Vault's certificate; ESO and Pulumi's "
        "Vault provider both trust it",
    )

    @field_validator("ca_bundle", mode="after")
    @classmethod
    def _ca_only_for_https(cls, ca: str | None, info: ValidationInfo) -> str | None:
        address = info.data.get("address")
        if ca is not None and address is not None and not address.startswith("https://"):
            raise invalid(
                "is only used for https:// Vault addresses (ESO ignores it for plain HTTP)",
                "use Vault's https:// address, or remove caBundle",
            )
        return ca

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


# -- qtap:objectStore -------------------------------------------------------------------------


class IdentityMode(StrEnum):
    """How the agent authenticates to S3 for an AWS store without key references."""

    IRSA = "irsa"
    POD_IDENTITY = "pod-identity"


def _region_of(info: ValidationInfo) -> str | None:
    region = context_of(info).get("region")
    return region if isinstance(region, str) and region else None


def _arn(pattern: re.Pattern[str], message: str, fix: str) -> AfterValidator:
    """An ARN that matches `pattern`, in the partition of the stack's aws:region."""

    def check(arn: str, info: ValidationInfo) -> str:
        match = pattern.fullmatch(arn)
        if match is None:
            raise invalid(message.format(value=shown(arn)), fix)
        reason = rules.partition_problem(match.group("partition"), _region_of(info))
        if reason is not None:
            raise invalid(f"{shown(arn)} {reason}", "use the ARN from the stack's own partition")
        return arn

    return AfterValidator(check)


class ObjectStoreSettings(Section):
    retention_days: Annotated[Whole, Field(ge=1, le=36500)] = Field(
        default=30, description="days before payloads expire"
    )
    protect: Flag = Field(
        default=True,
        description="protect the bucket from deletion (a stack that wants it off says so)",
    )
    versioning: Annotated[Flag, Doc(default="same as protect")] = Field(
        default=None, validate_default=True, description="bucket versioning"
    )
    kms_key_id: (
        Annotated[
            str,
            _arn(
                rules.KMS_KEY_ARN,
                "{value} is not a KMS key ARN; the writer's IAM policy must name the key itself "
                "(an alias cannot grant kms:GenerateDataKey)",
                "use the key ARN, arn:aws:kms:<region>:<account>:key/<key-id>",
            ),
        ]
        | None
    ) = Field(
        default=None,
        description="a KMS key ARN in the region of the stack's buckets (SSE-KMS); AES256 "
        "otherwise",
    )
    key_version: Annotated[Whole, Field(ge=1, le=MAX_KEY_VERSION)] = Field(
        default=1, description="bump it in a reviewed change to rotate the S3 writer's access key"
    )
    identity: IdentityMode | None = Field(
        default=None,
        validate_default=True,
        description="keyless S3 for AWS stores whose snapshot entry has no access_key/"
        "secret_key; static keys when unset",
    )

    @field_validator("versioning", mode="before")
    @classmethod
    def _versioning_follows_protect(cls, value: Any, info: ValidationInfo) -> Any:
        return info.data.get("protect", True) if value is None else value

    @field_validator("identity", mode="after")
    @classmethod
    def _known_identity(cls, identity: IdentityMode | None, info: ValidationInfo) -> Any:
        # Kept for qtap:eks's rule, which applies even when another store setting is wrong.
        context_of(info)["identity"] = identity
        return identity


OWNER_ONLY_OBJECT_STORE = ("retention_days", "protect", "versioning", "kms_key_id", "key_version")
OWNER_ONLY_VAULT = ("path", "kv_mount")


# -- qtap:eks ---------------------------------------------------------------------------------


OidcProviderArn = Annotated[
    str,
    _arn(
        rules.OIDC_PROVIDER_ARN,
        "is not the IAM OIDC provider ARN of an EKS cluster",
        "use the ARN of the cluster's OIDC provider, "
        "arn:aws:iam::<account>:oidc-provider/oidc.eks.<region>.amazonaws.com/id/<ID>",
    ),
]
EksClusterName = Annotated[
    str,
    matches(
        rules.EKS_CLUSTER_NAME,
        "is not an EKS cluster name (1-100 letters, digits, '-' or '_', starting with a "
        "letter or digit)",
        "use the cluster's name as `aws eks list-clusters` shows it",
    ),
]


class EksSettings(Section):
    oidc_provider_arn: Annotated[
        OidcProviderArn | None,
        Doc(
            example="arn:aws:iam::111122223333:oidc-provider/"
            "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"
        ),
    ] = Field(default=None, description="the cluster's IAM OIDC provider ARN (identity irsa)")
    cluster_name: Annotated[EksClusterName | None, Doc(example="my-cluster")] = Field(
        default=None, description="the EKS cluster name (identity pod-identity)"
    )

    @property
    def oidc_issuer(self) -> str | None:
        """`oidc.eks.<region>.amazonaws.com/id/<ID>`: the provider ARN's resource part."""
        if self.oidc_provider_arn is None:
            return None
        return self.oidc_provider_arn.split(":oidc-provider/", 1)[1]


EKS_FIELD_OF = {IdentityMode.IRSA: "oidc_provider_arn", IdentityMode.POD_IDENTITY: "cluster_name"}


# -- qtap:delivery ----------------------------------------------------------------------------


class DeliveryMode(StrEnum):
    HELM = "helm"
    ARGOCD = "argocd"
    FLUX = "flux"


class ArgoCdSettings(Section):
    namespace: KubernetesName = Field(default="argocd", description="the namespace Argo CD runs in")
    project: Annotated[
        str,
        matches(
            rules.DNS_SUBDOMAIN,
            "{value} is not an Argo CD project name",
            "use at most 253 lowercase letters, digits, '-' and '.', starting and ending with "
            "a letter or digit",
        ),
    ] = Field(default="default", description="the Argo CD AppProject")
    destination_server: Annotated[
        str,
        rule(
            lambda v: (
                None
                if rules.url_problem(v, ("https",)) is None
                else "{value} is not an https:// URL of an API server"
            ),
            f"e.g. {DEFAULT_ARGOCD_DESTINATION}",
        ),
    ] = Field(default=DEFAULT_ARGOCD_DESTINATION, description="the API server Argo CD deploys to")


class FluxSettings(Section):
    interval: Annotated[
        str,
        rule(rules.flux_interval_problem, "write a duration of a minute or more, e.g. 5m or 1h"),
    ] = Field(default="5m", description="how often Flux reconciles the release")


class HelmDeliverySettings(Section):
    """Pulumi's own Helm release."""

    mode: Literal[DeliveryMode.HELM] = DeliveryMode.HELM


class ArgoCdDeliverySettings(Section):
    """An Argo CD Application."""

    mode: Literal[DeliveryMode.ARGOCD]
    argocd: ArgoCdSettings = Field(default=ArgoCdSettings(), description="Argo CD")


class FluxDeliverySettings(Section):
    """A Flux HelmRepository and HelmRelease."""

    mode: Literal[DeliveryMode.FLUX]
    flux: FluxSettings = Field(default=FluxSettings(), description="Flux")


def _tag(default: str, discriminator: str) -> Any:
    def tag_of(value: Any) -> Any:
        if isinstance(value, dict):
            found = value.get(discriminator)
            return default if found in (None, "") else found
        return getattr(value, discriminator, None)

    return Discriminator(tag_of)


DeliverySettings = Annotated[
    Annotated[HelmDeliverySettings, Tag(DeliveryMode.HELM.value)]
    | Annotated[ArgoCdDeliverySettings, Tag(DeliveryMode.ARGOCD.value)]
    | Annotated[FluxDeliverySettings, Tag(DeliveryMode.FLUX.value)],
    _tag(DeliveryMode.HELM.value, "mode"),
]


# -- qtap:secrets -----------------------------------------------------------------------------


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


class SealedSecretsSettings(Section):
    certificate: ControllerCertificate = Field(
        description="the controller's public certificate (PEM, kubeseal --fetch-cert), safe "
        "to commit"
    )
    scope: SealedSecretsScope = Field(
        default=SealedSecretsScope.STRICT, description="the sealing scope"
    )


class ExternalSecretsBackendSettings(Section):
    """Vault and the External Secrets Operator."""

    backend: Literal[SecretsBackend.EXTERNAL_SECRETS] = SecretsBackend.EXTERNAL_SECRETS


class VaultSecretsOperatorBackendSettings(Section):
    """Vault and HashiCorp's Vault Secrets Operator."""

    backend: Literal[SecretsBackend.VAULT_SECRETS_OPERATOR]


class SealedSecretsBackendSettings(Section):
    """Bitnami Sealed Secrets: no Vault."""

    backend: Literal[SecretsBackend.SEALED_SECRETS]
    sealed_secrets: SealedSecretsSettings = Field(
        default_factory=dict,  # validated, so a missing certificate is named
        validate_default=True,
        description="the controller's certificate and the scope",
    )


SecretsSettings = Annotated[
    Annotated[ExternalSecretsBackendSettings, Tag(SecretsBackend.EXTERNAL_SECRETS.value)]
    | Annotated[
        VaultSecretsOperatorBackendSettings, Tag(SecretsBackend.VAULT_SECRETS_OPERATOR.value)
    ]
    | Annotated[SealedSecretsBackendSettings, Tag(SecretsBackend.SEALED_SECRETS.value)],
    _tag(SecretsBackend.EXTERNAL_SECRETS.value, "backend"),
]


# -- qtap:fleet -------------------------------------------------------------------------------


class FleetSettings(Section):
    """Where this stack (one cluster) stands in its environment's fleet."""

    environment: Annotated[StackName, Doc(default="the stack name")] = Field(
        default="",
        validate_default=True,
        description="the Qplane environment (one snapshot) this cluster runs",
    )
    owner: Annotated[StackName, Doc(default="this stack")] = Field(
        default="",
        validate_default=True,
        description="the stack that owns the environment's bucket, writer identity and Vault "
        "secret; a member (owner is another stack) deploys the owner's snapshot",
    )
    ring: Annotated[Whole, Field(ge=0, le=MAX_RING)] = Field(
        default=0, description="rollout order, 0 first (canary)"
    )
    organization: (
        Annotated[
            str,
            matches(
                rules.PULUMI_ORG,
                "{value} is not a Pulumi organization name",
                "use the organization as `pulumi org get-default` prints it, or remove the key",
            ),
            Doc(default="the current one"),
        ]
        | None
    ) = Field(default=None, description="the Pulumi organization of the owner's stack")

    @field_validator("environment", "owner", mode="before")
    @classmethod
    def _this_stack(cls, value: Any, info: ValidationInfo) -> Any:
        return stack_of(info) if value in (None, "") else value


EnvName = Annotated[
    str,
    matches(
        rules.ENV_NAME,
        "{value} is not a valid env variable name",
        "use the exact env name the snapshot references, e.g. AXIOM_TOKEN",
    ),
]
# A backend name that is refused with its reason rather than listed as unknown. Why `vault-agent`
# is not a backend: the injector writes files, Qtap reads env variables, and the chart cannot
# source a file before the agent starts (hashicorp/vault-k8s #45, #228).
REFUSED_CHOICES = {
    ("secrets", "vault-agent"): (
        "secrets-backend-unsupported",
        "vault-agent cannot deliver the agent's secrets: the Vault Agent Injector only writes "
        "files under /vault/secrets, Qtap reads its secrets from env variables, and the qtap "
        "chart has no command override (only args) to source such a file",
        "use vault-secrets-operator, HashiCorp's operator that writes Vault secrets into a "
        "Kubernetes Secret",
    )
}

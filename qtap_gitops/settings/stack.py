"""The settings of one stack: the top-level `qtap:*` keys and how they relate.

Each key's value arrives as the engine's string (objects as JSON text, read by pydantic's
`Json`). Keys are validated in declaration order, so a rule about two keys (the Vault settings
of a Vault backend, the EKS field of an identity, what a fleet member may set) runs in the later
key's validator with the earlier one at hand, whenever that one is valid.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import AfterValidator, Field, Json, field_validator
from pydantic_core import PydanticKnownError

from .fields import (
    Doc,
    Flag,
    Section,
    ValidationInfo,
    context_of,
    doc_of,
    invalid,
    key_of,
    note,
    rule,
    stack_of,
)
from .model import (
    DEFAULT_NAMESPACE,
    EKS_FIELD_OF,
    OWNER_ONLY_OBJECT_STORE,
    OWNER_ONLY_VAULT,
    ChartSettings,
    DeliverySettings,
    EksSettings,
    EnvName,
    FleetSettings,
    ObjectStoreSettings,
    SecretsSettings,
    VaultSettings,
    default_snapshot_path,
    default_vault_path,
)
from .raw import NAMESPACE, set_command, set_secret_command
from .rules import namespace_problem

_HIDDEN = "<secret>"
SecretValue = Annotated[str, Field(min_length=1), AfterValidator(lambda _: _HIDDEN)]
"""A secret's value: checked, then dropped, so no value is ever kept in the settings."""


def _mapping(description: str, alias: str | None = None) -> Any:
    """A key holding a mapping, `{}` when unset: validated even then, so its defaults apply."""
    return Field(default="{}", validate_default=True, alias=alias, description=description)


def _is_secret(info: ValidationInfo, key: str) -> bool:
    return f"{NAMESPACE}:{key}" in context_of(info).get("secret_keys", frozenset())


def _plaintext(info: ValidationInfo, key: str, message: str, fix: str) -> None:
    if not _is_secret(info, key):
        note(info, key, message, fix, code="secret-plaintext")


def _member_of(info: ValidationInfo) -> FleetSettings | None:
    """The fleet settings of a member stack (whose owner is another stack), else None."""
    fleet: FleetSettings | None = info.data.get("fleet")
    return fleet if fleet is not None and fleet.owner != stack_of(info) else None


def _owner_only(info: ValidationInfo, key: str, section: Section, names: tuple[str, ...]) -> None:
    """A fleet member shares its owner's bucket and Vault secret: it may not set `names`."""
    fleet = _member_of(info)
    if fleet is None:
        return
    for name in names:
        if name in section.model_fields_set:
            path = f"{key}.{key_of(type(section), name)}"
            note(
                info,
                path,
                f"only the owner stack may set it: this stack is a member of {fleet.owner} "
                f"(qtap:fleet.owner) and shares {fleet.owner}'s bucket and Vault secret",
                f"remove qtap:{path} here; set it in Pulumi.{fleet.owner}.yaml",
            )


class Located(Section):
    """Which stack's file the settings come from; not a setting."""

    stack: str
    source: str


class StackSettings(Located):
    registration_token_set: Annotated[
        bool, Doc(kind="secret", default="— (required when the snapshot has a pulse store)")
    ] = Field(
        default=False,
        alias="registrationToken",
        description="Qplane registration token (Settings -> Environments -> Manage), required "
        "when the snapshot has a pulse event store; set it encrypted: pulumi config set "
        "--secret qtap:registrationToken <token>",
    )
    secret_env: Annotated[Json[dict[EnvName, SecretValue]], Doc(kind="secret object")] = _mapping(
        "values of every other env variable the snapshot references (an "
        "S3-compatible store's keys, axiom or otel credentials, ...), keyed by the env name; "
        "set each with pulumi config set --secret --path 'qtap:secretEnv.NAME' <value>",
        alias="secretEnv",
    )
    fleet: Json[FleetSettings] = _mapping(
        "where this stack's cluster stands in its environment's fleet"
    )
    snapshot_path: Annotated[
        str,
        rule(
            lambda v: (
                "{value} is an absolute path, which differs between machines"
                if v.startswith("/")
                else None
            ),
            "give the path relative to the project directory, e.g. snapshots/{stack}/"
            "qtap-config.yaml",
        ),
        Doc(default="snapshots/<owner>/qtap-config.yaml"),
    ] = Field(
        default="",
        validate_default=True,
        alias="snapshot",
        description="path of the committed Qplane snapshot, relative to the project directory",
    )
    namespace: Annotated[
        str,
        rule(namespace_problem, f"use a namespace of the agent's own, e.g. {DEFAULT_NAMESPACE}"),
    ] = Field(
        default=DEFAULT_NAMESPACE,
        description="Kubernetes namespace of the agent, its ServiceAccount and its secrets; "
        "created by the stack (not default or kube-*)",
    )
    chart: Annotated[
        Json[ChartSettings],
        Doc(
            missing="the qtap chart version must be pinned per stack",
            set_path="chart.version",
            example="0.0.38",
        ),
    ] = Field(description="the qpoint/qtap Helm chart")
    secrets: Json[SecretsSettings] = _mapping(
        "how the agent's secrets reach the Kubernetes Secret qtap-secrets "
        "(vault-agent is refused: its injector writes files, Qtap reads env variables)",
    )
    vault: Annotated[
        Json[VaultSettings] | None,
        Doc(
            missing="the stack needs the Vault server that holds its secrets",
            set_path="vault.address",
            example="https://vault.example.com:8200",
        ),
    ] = Field(
        default=None,
        validate_default=True,
        description="the Vault holding the agent's secrets (Vault backends only); Pulumi "
        "writes the secret to this same address, so do not set vault:address",
    )
    object_store: Json[ObjectStoreSettings] = _mapping(
        "the buckets this stack creates for the snapshot's AWS s3 stores"
    )
    eks: Json[EksSettings] = _mapping("the EKS cluster the agent runs in, for keyless S3")
    delivery: Json[DeliverySettings] = _mapping("who applies the qtap chart")
    strict_snapshot: Flag = Field(
        default=False, description="treat the snapshot contract's warnings as errors"
    )

    # -- secrets: present or not, never kept --------------------------------------------------

    @field_validator("registration_token_set", mode="before")
    @classmethod
    def _token(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        _plaintext(
            info,
            "registrationToken",
            "is stored in plaintext; anyone who can read the repository can read it",
            "store it encrypted instead: "
            + set_secret_command(stack_of(info), "registrationToken"),
        )
        return True

    @field_validator("secret_env", mode="before")
    @classmethod
    def _secret_env_plaintext(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str) and value.strip() not in ("", "{}"):
            _plaintext(
                info,
                "secretEnv",
                "holds values in plaintext; anyone who can read the repository can read them",
                "set each value with " + set_secret_command(stack_of(info), "secretEnv.NAME"),
            )
        return value

    # -- defaults derived from the stack and its fleet ----------------------------------------

    @field_validator("snapshot_path", mode="before")
    @classmethod
    def _owner_snapshot(cls, value: Any, info: ValidationInfo) -> Any:
        if value not in (None, ""):
            return value
        fleet = info.data.get("fleet")
        return default_snapshot_path(fleet.owner if fleet else stack_of(info))

    @field_validator("secrets", mode="after")
    @classmethod
    def _member_uses_vault(cls, secrets: Any, info: ValidationInfo) -> Any:
        if _member_of(info) is not None and not secrets.backend.uses_vault:
            note(
                info,
                "secrets.backend",
                f"a member stack shares its owner's Vault secret; {secrets.backend} keeps "
                "the secret in this cluster only",
                "choose external-secrets or vault-secrets-operator, or make this stack "
                "an owner (remove qtap:fleet.owner)",
            )
        return secrets

    @field_validator("vault", mode="before")
    @classmethod
    def _vault_for_backend(cls, value: Any, info: ValidationInfo) -> Any:
        secrets = info.data.get("secrets")
        if secrets is None:
            return value
        if secrets.backend.uses_vault:
            if value is None:
                raise PydanticKnownError("missing")
            return value
        if value is None or _is_empty_mapping(value):  # {} is the CLI's default (Pulumi.yaml)
            return None
        raise invalid(
            f"does not apply: the {secrets.backend} backend keeps no secret in Vault",
            "remove qtap:vault from {source}, or choose a Vault backend in qtap:secrets.backend",
            code="setting-not-applicable",
        )

    @field_validator("vault", mode="after")
    @classmethod
    def _vault_defaults(cls, vault: VaultSettings | None, info: ValidationInfo) -> Any:
        if vault is None:
            return None
        stack = stack_of(info)
        fleet = info.data.get("fleet")
        environment = fleet.environment if fleet else stack
        _owner_only(info, "vault", vault, OWNER_ONLY_VAULT)
        update = {}
        if not vault.path:
            update["path"] = default_vault_path(environment)
        if not vault.role:
            update["role"] = f"qtap-{stack}"
        return vault.model_copy(update=update)

    @field_validator("object_store", mode="after")
    @classmethod
    def _owner_only_store(cls, store: ObjectStoreSettings, info: ValidationInfo) -> Any:
        _owner_only(info, "objectStore", store, OWNER_ONLY_OBJECT_STORE)
        return store

    @field_validator("eks", mode="after")
    @classmethod
    def _eks_for_identity(cls, eks: EksSettings, info: ValidationInfo) -> Any:
        context = context_of(info)
        if "identity" not in context:  # qtap:objectStore.identity itself is wrong
            return eks
        identity = context["identity"]
        for mode, name in EKS_FIELD_OF.items():
            key = f"eks.{key_of(EksSettings, name)}"
            if identity is mode and getattr(eks, name) is None:
                example = doc_of(EksSettings.model_fields[name]).example
                note(
                    info,
                    key,
                    f"is required with qtap:objectStore.identity {mode.value} and not set",
                    set_command(stack_of(info), key, example),
                    code="stack-config-missing",
                )
            elif identity is not mode and name in eks.model_fields_set:
                why = (
                    "no qtap:objectStore.identity is set"
                    if identity is None
                    else f"qtap:objectStore.identity is {identity.value}"
                )
                note(
                    info,
                    key,
                    f"does not apply: {why}",
                    f"remove qtap:{key}, or set qtap:objectStore.identity to {mode.value}",
                    code="setting-not-applicable",
                )
        return eks

    # -- what the rest of the program reads ---------------------------------------------------

    @property
    def secret_env_names(self) -> frozenset[str]:
        return frozenset(self.secret_env)

    @property
    def is_member(self) -> bool:
        """A member deploys its owner's environment on another cluster (`qtap:fleet.owner`)."""
        return self.fleet.owner != self.stack

    def require_vault(self) -> VaultSettings:
        """The Vault settings of a backend that uses Vault."""
        if self.vault is None:
            raise ValueError(f"stack {self.stack}: the {self.secrets.backend} backend has no Vault")
        return self.vault


def _is_empty_mapping(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return False
    return bool(value == {})


TOP_LEVEL_KEYS = tuple(
    key_of(StackSettings, name)
    for name in StackSettings.model_fields
    if name not in Located.model_fields
)
SECRET_KEYS = frozenset(
    key_of(StackSettings, name)
    for name, field in StackSettings.model_fields.items()
    if doc_of(field).kind.startswith("secret")
)
"""The keys whose values are secrets wherever they are written (kind `secret` in the docs)."""

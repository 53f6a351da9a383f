"""Typed stack settings from the `qtap:*` configuration of one stack.

The same model serves the Pulumi program (config handed over by the engine) and the offline
tools (config read from `Pulumi.<stack>.yaml`): both give it a `RawStackConfig`, where every
value is the engine's string form (objects as JSON text). Every key is declared once, in
`model.py` (sections) and `stack.py` (the top level); `check.py` turns what pydantic refuses
into `Problem`s; `docs.py` writes `Pulumi.yaml`'s `config:` block and the README's table from
the same declarations. Secret values never stay in the settings; only whether they are present.
"""

from .check import check_settings, kms_region_problems, parse_settings
from .model import (
    DEFAULT_ARGOCD_DESTINATION,
    DEFAULT_CHART_REPO,
    DEFAULT_NAMESPACE,
    MAX_KEY_VERSION,
    MAX_RING,
    VAULT_AGENT_REFUSAL,
    ArgoCdDeliverySettings,
    ArgoCdSettings,
    ChartSettings,
    DeliveryMode,
    DeliverySettings,
    EksSettings,
    ExternalSecretsBackendSettings,
    FleetSettings,
    FluxDeliverySettings,
    FluxSettings,
    HelmDeliverySettings,
    IdentityMode,
    ObjectStoreSettings,
    SealedSecretsBackendSettings,
    SealedSecretsScope,
    SealedSecretsSettings,
    SecretsBackend,
    SecretsSettings,
    VaultSecretsOperatorBackendSettings,
    VaultSettings,
    default_snapshot_path,
    default_vault_path,
)
from .raw import CONFIG_BLOCK, NAMESPACE, RawStackConfig, position_of, set_secret_command
from .rules import kms_key_region
from .stack import TOP_LEVEL_KEYS, StackSettings

__all__ = [
    "CONFIG_BLOCK",
    "DEFAULT_ARGOCD_DESTINATION",
    "DEFAULT_CHART_REPO",
    "DEFAULT_NAMESPACE",
    "MAX_KEY_VERSION",
    "MAX_RING",
    "NAMESPACE",
    "TOP_LEVEL_KEYS",
    "VAULT_AGENT_REFUSAL",
    "ArgoCdDeliverySettings",
    "ArgoCdSettings",
    "ChartSettings",
    "DeliveryMode",
    "DeliverySettings",
    "EksSettings",
    "ExternalSecretsBackendSettings",
    "FleetSettings",
    "FluxDeliverySettings",
    "FluxSettings",
    "HelmDeliverySettings",
    "IdentityMode",
    "ObjectStoreSettings",
    "RawStackConfig",
    "SealedSecretsBackendSettings",
    "SealedSecretsScope",
    "SealedSecretsSettings",
    "SecretsBackend",
    "SecretsSettings",
    "StackSettings",
    "VaultSecretsOperatorBackendSettings",
    "VaultSettings",
    "check_settings",
    "default_snapshot_path",
    "default_vault_path",
    "kms_key_region",
    "kms_region_problems",
    "parse_settings",
    "position_of",
    "set_secret_command",
]

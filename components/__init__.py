"""One Pulumi ComponentResource per concern, composed by `QtapEnvironment`.

Components take typed args and never read configuration; `__main__.py` does that at the edge.
"""

from .argocd_delivery import ArgoCdDelivery, ArgoCdDeliveryArgs
from .environment import QtapEnvironment, QtapEnvironmentArgs
from .flux_delivery import FluxDelivery, FluxDeliveryArgs
from .object_store import ObjectStore, ObjectStoreArgs
from .qtap_release import QtapRelease, QtapReleaseArgs
from .secret_sync import SecretSync, SecretSyncArgs
from .vault_secrets import VaultSecrets, VaultSecretsArgs
from .workload_identity import WorkloadIdentity, WorkloadIdentityArgs

__all__ = [
    "ArgoCdDelivery",
    "ArgoCdDeliveryArgs",
    "FluxDelivery",
    "FluxDeliveryArgs",
    "ObjectStore",
    "ObjectStoreArgs",
    "QtapEnvironment",
    "QtapEnvironmentArgs",
    "QtapRelease",
    "QtapReleaseArgs",
    "SecretSync",
    "SecretSyncArgs",
    "VaultSecrets",
    "VaultSecretsArgs",
    "WorkloadIdentity",
    "WorkloadIdentityArgs",
]

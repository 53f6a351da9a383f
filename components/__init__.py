"""One Pulumi ComponentResource per concern, composed by `QtapEnvironment`.

Components take typed args and never read configuration; `__main__.py` does that at the edge.
"""

from .environment import QtapEnvironment, QtapEnvironmentArgs
from .object_store import ObjectStore, ObjectStoreArgs
from .qtap_release import QtapRelease, QtapReleaseArgs
from .secret_sync import SecretSync, SecretSyncArgs
from .vault_secrets import VaultSecrets, VaultSecretsArgs
from .workload_identity import WorkloadIdentity, WorkloadIdentityArgs

__all__ = [
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

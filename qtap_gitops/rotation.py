"""Rotation: the pods roll when any value behind the Kubernetes Secret `qtap-secrets` changes.

The chart reads its env from the Secret only when a container starts, and a changed Secret
alone never restarts a DaemonSet. So the release's pod template carries one annotation whose
value is a non-secret revision of the secrets (the Vault KV version Pulumi wrote): it changes
exactly when a value changes, and reveals nothing about it (a hash of a low-entropy token
could be brute-forced; a version number cannot).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

SECRETS_REVISION_ANNOTATION = "revision/qtap-secrets"


def with_secrets_revision(values: Mapping[str, Any], revision: Any) -> dict[str, Any]:
    """`values` (from `release_values`) with the secrets' revision as a pod annotation.

    `revision` is whatever the delivery object can carry (a string, or a Pulumi Output of one);
    this module never looks inside it.
    """
    result: dict[str, Any] = copy.copy(dict(values))
    annotations = dict(result.get("podAnnotations") or {})
    annotations[SECRETS_REVISION_ANNOTATION] = revision
    result["podAnnotations"] = annotations
    return result

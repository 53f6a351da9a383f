"""The Pod Security Admission label the agent's namespace carries: one declaration for the
components that create the namespace and for the policy pack (policy/) that checks it.

Qtap is a privileged, hostPID/hostNetwork eBPF DaemonSet; Pod Security Admission's baseline or
restricted level would reject its pods
(https://kubernetes.io/docs/concepts/security/pod-security-admission/, "privileged" level).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

PRIVILEGED: Final[Mapping[str, str]] = MappingProxyType(
    {"pod-security.kubernetes.io/enforce": "privileged"}
)

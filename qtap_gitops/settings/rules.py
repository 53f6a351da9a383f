"""The rules a setting's value must follow, as the program that consumes it defines them.

Each rule returns why a value is refused (None when it is fine); `{value}` in the reason is
the value as messages show it. The references say whose rule it is.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse

from ..aws_names import partition_for_region

SYSTEM_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
# Kubernetes object names (k8s.io/apimachinery validation: DNS-1123 label and subdomain).
DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
DNS_SUBDOMAIN = r"(?=.{1,253}\Z)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
PINNED_VERSION = r"[0-9]{1,9}\.[0-9]{1,9}\.[0-9]{1,9}(-[0-9A-Za-z.\-]+)?(\+[0-9A-Za-z.\-]+)?"
VAULT_SEGMENT = re.compile(r"[A-Za-z0-9_.\-]+", re.ASCII)
ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# A stack name as Pulumi allows it (letters, digits, '-', '_', '.'), starting with a letter or digit.
STACK_NAME = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}"
PULUMI_ORG = r"[A-Za-z0-9][A-Za-z0-9_\-]{0,39}"
EKS_CLUSTER_NAME = r"[0-9A-Za-z][A-Za-z0-9\-_]{0,99}"
PEM_CERTIFICATE = re.compile(
    r"-----BEGIN CERTIFICATE-----\s+[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----"
)
_PARTITION = r"(?P<partition>aws(-cn|-us-gov|-iso(-[a-z])?)?)"
KMS_KEY_ARN = re.compile(
    rf"arn:{_PARTITION}:kms:(?P<region>[a-z0-9\-]+):[0-9]{{12}}:key/[A-Za-z0-9\-]+", re.ASCII
)
# An EKS cluster's IAM OIDC provider: its resource part is the cluster's issuer without https://
# (https://docs.aws.amazon.com/eks/latest/userguide/enable-iam-roles-for-service-accounts.html).
OIDC_PROVIDER_ARN = re.compile(
    rf"arn:{_PARTITION}:iam::[0-9]{{12}}:oidc-provider/"
    r"oidc\.eks\.[a-z0-9\-]+\.amazonaws\.com(\.cn)?/id/[A-Za-z0-9]{1,64}",
    re.ASCII,
)
# Flux's CRDs (helm.toolkit.fluxcd.io HelmRelease spec.interval) accept this pattern; Go's
# time.ParseDuration reads it; Flux recommends no interval below a minute.
_FLUX_DURATION = re.compile(r"([0-9]{1,9}(\.[0-9]{1,9})?(ms|s|m|h)){1,8}", re.ASCII)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_HOST = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*",
    re.ASCII,
)


K8S_NAME_FIX = (
    "use at most 63 lowercase letters, digits and hyphens, starting and ending with a letter "
    "or digit"
)


def namespace_problem(name: str) -> str | tuple[str, str] | None:
    if name in SYSTEM_NAMESPACES or name.startswith("kube-"):
        return (
            "{value} is a namespace Kubernetes itself owns; this stack creates its namespace "
            "and labels it for privileged pods"
        )
    if not re.fullmatch(DNS_LABEL, name, re.ASCII):
        return "{value} is not a valid Kubernetes namespace name", K8S_NAME_FIX
    return None


def vault_path_problem(path: str) -> str | None:
    segments = path.split("/")
    if (
        path.startswith("/")
        or path.endswith("/")
        or not all(map(VAULT_SEGMENT.fullmatch, segments))
    ):
        return (
            "{value} is not a Vault path: use segments of letters, digits, '.', '_' or '-' "
            "separated by single slashes, without a leading or trailing slash"
        )
    return None


def url_problem(address: str, schemes: tuple[str, ...] = ("https", "http")) -> str | None:
    """Why `address` is not a plain scheme://host[:port][/] URL (None when it is)."""
    if any(c.isspace() for c in address) or not address.isprintable():
        return "it contains spaces or control characters"
    try:
        parts = urllib.parse.urlsplit(address)
        port = parts.port  # raises ValueError for a port that is not a number or above 65535
    except ValueError:
        return "it is not a valid URL (a port is a number from 1 to 65535)"
    if parts.scheme not in schemes:
        return f"it does not start with {schemes[0]}://"
    if parts.username is not None or parts.password is not None:
        return "it holds credentials"
    if parts.query or parts.fragment or parts.path not in ("", "/"):
        return "it has a path, query or fragment"
    if port == 0:
        return "its port is 0; a port is a number from 1 to 65535"
    host = parts.netloc.rsplit(":", 1)[0] if port is not None else parts.netloc
    if not _HOST.fullmatch(host):
        try:
            ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return "its host is not a valid host name"
    return None


def flux_interval_problem(interval: str) -> str | None:
    if not _FLUX_DURATION.fullmatch(interval):
        return "{value} is not a Go duration Flux accepts"
    seconds = sum(
        float(number) * _UNIT_SECONDS[unit]
        for number, _, unit in re.findall(r"([0-9]+(\.[0-9]+)?)(ms|s|m|h)", interval)
    )
    if seconds < 60:
        return "{value} is shorter than a minute; Flux would poll the chart repository nonstop"
    return None


def partition_problem(arn_partition: str, region: str | None) -> str | None:
    """An ARN of another partition than the stack's region cannot be used from that region."""
    if region is None or partition_for_region(region) == arn_partition:
        return None
    return (
        f"names the {arn_partition} partition, but the stack's aws:region {region} is in "
        f"{partition_for_region(region)}"
    )


def kms_key_region(arn: str) -> str | None:
    """The region of a KMS key ARN (`arn:aws:kms:eu-west-1:...` -> `eu-west-1`)."""
    match = KMS_KEY_ARN.fullmatch(arn)
    return match.group("region") if match else None

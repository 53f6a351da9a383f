"""AWS naming rules: S3 bucket names, S3 endpoints, partitions, IAM user names."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import urllib.parse

# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
_BUCKET_CHARS = re.compile(r"[a-z0-9][a-z0-9.\-]*[a-z0-9]", re.ASCII)
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")

# The endpoints of Amazon S3 itself, as AWS names them
# (https://docs.aws.amazon.com/general/latest/gr/s3.html): the global endpoint, regional ones,
# their dual-stack and FIPS forms, and the `.amazonaws.com.cn` suffix of the China regions only.
_AWS_GLOBAL_ENDPOINT = "s3.amazonaws.com"
REGION = re.compile(r"(?:[a-z]{2}(?:-gov)?-[a-z]+-[0-9]{1,2})", re.ASCII)
_AWS_REGIONAL_ENDPOINT = re.compile(
    r"s3(?:-fips)?(?:\.dualstack)?\.(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-[0-9]{1,2})"
    r"\.amazonaws\.com(?P<cn>\.cn)?",
    re.ASCII,
)
_HOST = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*",
    re.ASCII,
)

_IAM_USER_MAX = 64


def bucket_name_problems(name: str) -> list[str]:
    """Why `name` is not a valid S3 bucket name (empty when it is)."""
    reasons = []
    if not 3 <= len(name) <= 63:
        reasons.append(f"it is {len(name)} characters long (S3 allows 3 to 63)")
    if len(name) > 255:
        return reasons
    if not _BUCKET_CHARS.fullmatch(name):
        reasons.append(
            "it may contain only lowercase letters, digits, dots and hyphens, "
            "and must begin and end with a letter or digit"
        )
    if ".." in name:
        reasons.append("it contains two adjacent dots")
    try:
        ipaddress.IPv4Address(name)
        reasons.append("it is formatted as an IP address")
    except ValueError:
        pass
    for prefix in _RESERVED_PREFIXES:
        if name.startswith(prefix):
            reasons.append(f"the prefix {prefix!r} is reserved by S3")
    for suffix in _RESERVED_SUFFIXES:
        if name.endswith(suffix):
            reasons.append(f"the suffix {suffix!r} is reserved by S3")
    return reasons


def endpoint_problem(endpoint: str) -> str | None:
    """Why `endpoint` is not a usable S3 endpoint `host[:port]` (None when it is).

    An address that looks like Amazon's but is not one AWS defines is refused rather than
    guessed at: treating it as AWS would create a bucket Qtap never reaches, treating it as
    another S3 service would skip the bucket and key this stack owes it.
    """
    if endpoint == "":
        return None
    if endpoint != endpoint.strip() or any(c.isspace() for c in endpoint):
        return "it contains spaces"
    try:
        parts = urllib.parse.urlsplit("//" + endpoint)
        port = parts.port
    except ValueError:
        return "its port is not a number from 0 to 65535"
    host = parts.hostname or ""
    if parts.path or parts.query or parts.fragment or parts.username is not None:
        return "it is not of the form host[:port]"
    if port is not None and not endpoint.endswith(f":{port}"):
        return "its port is not written as a plain number"
    bracketed = parts.netloc.startswith("[")
    if bracketed:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return "it is not a valid IPv6 address"
        return None
    host = parts.netloc.rsplit(":", 1)[0] if ":" in parts.netloc else parts.netloc
    if not _HOST.fullmatch(host):
        return "it is not a valid host name"
    return _aws_host_problem(host, port)


def _aws_host_problem(host: str, port: int | None) -> str | None:
    """Why a host under amazonaws.com is not an S3 endpoint AWS defines (None for any other)."""
    lowered = host.lower()
    if not (
        lowered.endswith((".amazonaws.com", ".amazonaws.com.cn"))
        or lowered in ("amazonaws.com", "amazonaws.com.cn")
    ):
        return None
    if host != lowered:
        return "an AWS endpoint is written in lowercase"
    if port is not None:
        return "an AWS endpoint takes no port"
    if lowered == _AWS_GLOBAL_ENDPOINT:
        return None
    match = _AWS_REGIONAL_ENDPOINT.fullmatch(lowered)
    if match is None:
        return (
            "it is under amazonaws.com but is not an S3 endpoint AWS defines "
            "(s3.amazonaws.com or s3.<region>.amazonaws.com)"
        )
    china = match.group("region").startswith("cn-")
    if china and not match.group("cn"):
        return "the China regions' endpoints end in .amazonaws.com.cn"
    if match.group("cn") and not china:
        return "only the China regions (cn-...) have endpoints under .amazonaws.com.cn"
    return None


def is_aws_endpoint(endpoint: str) -> bool:
    """True for the endpoints that reach Amazon S3 itself (empty means Qtap's default).

    Only exact, valid forms count; check `endpoint_problem` first for anything else.
    """
    if endpoint_problem(endpoint) is not None:
        return False
    return endpoint in ("", _AWS_GLOBAL_ENDPOINT) or bool(
        _AWS_REGIONAL_ENDPOINT.fullmatch(endpoint)
    )


def endpoint_region(endpoint: str) -> str | None:
    """The region named by a regional endpoint (`s3.eu-west-1.amazonaws.com` -> `eu-west-1`)."""
    if not is_aws_endpoint(endpoint):
        return None
    match = _AWS_REGIONAL_ENDPOINT.fullmatch(endpoint)
    return match.group("region") if match else None


def is_region(name: str) -> bool:
    return bool(REGION.fullmatch(name))


# The partitions other than `aws`, by region prefix (botocore's endpoints.json, "regionRegex").
_PARTITIONS = (
    ("cn-", "aws-cn"),
    ("us-gov-", "aws-us-gov"),
    ("us-iso-", "aws-iso"),
    ("us-isob-", "aws-iso-b"),
    ("eu-isoe-", "aws-iso-e"),
    ("us-isof-", "aws-iso-f"),
)


def partition_for_region(region: str) -> str:
    for prefix, partition in _PARTITIONS:
        if region.startswith(prefix):
            return partition
    return "aws"


def iam_user_name(bucket: str) -> str:
    """The writer's IAM user name for `bucket`: stable, unique per bucket, at most 64 chars.

    Bucket names are globally unique, so the user name derived from one is unique in the account.
    """
    name = f"qtap-writer-{bucket}"
    if len(name) <= _IAM_USER_MAX:
        return name
    digest = hashlib.sha256(bucket.encode()).hexdigest()[:8]
    return f"{name[: _IAM_USER_MAX - 9]}-{digest}"

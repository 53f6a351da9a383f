"""AWS naming rules: S3 bucket names, S3 endpoints, partitions, IAM user names."""

from __future__ import annotations

import hashlib
import ipaddress
import re

# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
_BUCKET_CHARS = re.compile(r"^[a-z0-9][a-z0-9.\-]*[a-z0-9]$")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")

# Endpoints under which a store is "AWS-managed": the bucket and its key are this stack's.
_AWS_GLOBAL_ENDPOINT = "s3.amazonaws.com"
_AWS_REGIONAL_ENDPOINT = re.compile(r"^s3\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?:\.cn)?$")

_IAM_USER_MAX = 64


def bucket_name_problems(name: str) -> list[str]:
    """Why `name` is not a valid S3 bucket name (empty when it is)."""
    reasons = []
    if not 3 <= len(name) <= 63:
        reasons.append(f"it is {len(name)} characters long (S3 allows 3 to 63)")
    if not _BUCKET_CHARS.match(name):
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


def is_aws_endpoint(endpoint: str) -> bool:
    """True for the endpoints that reach Amazon S3 itself (empty means Qtap's default)."""
    host = endpoint.strip().lower()
    return host in ("", _AWS_GLOBAL_ENDPOINT) or bool(_AWS_REGIONAL_ENDPOINT.match(host))


def endpoint_region(endpoint: str) -> str | None:
    """The region named by a regional endpoint (`s3.eu-west-1.amazonaws.com` -> `eu-west-1`)."""
    match = _AWS_REGIONAL_ENDPOINT.match(endpoint.strip().lower())
    return match.group(1) if match else None


def partition_for_region(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
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

"""Which input changes make Pulumi replace a resource rather than update it in place.

Only for the resource types this program creates. Each entry is a property the provider marks
as forcing a new resource; a change of it is shown as a replacement (`+-`) in `qtapctl diff`.
"""

from __future__ import annotations

from typing import Any

from qtap_gitops.yamldiff import Change

# Kubernetes objects are identified by (namespace, name): pulumi-kubernetes replaces an object
# whose metadata.name or metadata.namespace changes (pulumi-kubernetes provider/pkg/provider,
# `forceNewProperties`: metadata.name, metadata.namespace).
KUBERNETES_IDENTITY = ("metadata.name", "metadata.namespace")

# Properties marked ForceNew in the providers' schemas (the Terraform AWS provider under
# pulumi-aws, the Terraform Vault provider under pulumi-vault), and the Helm release's
# name/namespace (pulumi-kubernetes helm/v3 Release: a release cannot be renamed or moved).
FORCE_NEW: dict[str, tuple[str, ...]] = {
    "kubernetes:helm.sh/v3:Release": ("name", "namespace"),
    "aws:s3/bucket:Bucket": ("bucket", "bucketPrefix", "objectLockEnabled"),
    "aws:s3/bucketPolicy:BucketPolicy": ("bucket",),
    "aws:s3/bucketVersioning:BucketVersioning": ("bucket", "expectedBucketOwner"),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ("bucket",),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ("bucket",),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "bucket",
        "expectedBucketOwner",
    ),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (
        "bucket",
        "expectedBucketOwner",
    ),
    "aws:iam/accessKey:AccessKey": ("user", "pgpKey"),
    "aws:iam/role:Role": ("name", "namePrefix"),
    "aws:iam/rolePolicy:RolePolicy": ("name", "namePrefix", "role"),
    "aws:iam/userPolicy:UserPolicy": ("name", "namePrefix", "user"),
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": (
        "clusterName",
        "namespace",
        "serviceAccount",
    ),
    "vault:kv/secretV2:SecretV2": ("mount", "name"),
    "vault:kubernetes/authBackendRole:AuthBackendRole": ("backend", "roleName"),
}


def _forces_new(resource_type: str, input_path: str) -> bool:
    properties = FORCE_NEW.get(resource_type, ())
    if resource_type.startswith("kubernetes:") and resource_type not in FORCE_NEW:
        properties = KUBERNETES_IDENTITY
    return any(input_path == p or input_path.startswith(f"{p}.") for p in properties)


def replacement_reasons(resource_type: str, changes: list[Change]) -> list[str]:
    """Why Pulumi replaces the resource given these changes of its review view (empty: an update)."""
    reasons = []
    for change in changes:
        if change.path == "replacementTrigger" or change.path.startswith("replacementTrigger."):
            reasons.append("replacementTrigger changed")
            continue
        head, _, rest = change.path.partition(".")
        if head == "inputs" and _forces_new(resource_type, rest):
            reasons.append(f"{rest} changed")
    return list(dict.fromkeys(reasons))


def replacement_order(delete_before_replace: Any) -> str:
    return (
        "the old one is deleted first (deleteBeforeReplace)"
        if delete_before_replace
        else "the new one is created before the old one is deleted"
    )

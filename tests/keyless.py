"""Keyless variants of the committed stacks, for tests: a copied project whose snapshot's AWS
store references no key, and whose stack file sets a workload identity."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import copy_project, edit_snapshot

# The key references of the committed snapshots' AWS store (the same block in every stack).
KEY_BLOCK = (
    "      access_key:\n        type: env\n        value: S3_ACCESS_KEY\n"
    "      secret_key:\n        type: env\n        value: S3_SECRET_KEY\n"
)
ISSUER = "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
OIDC_PROVIDER_ARN = f"arn:aws:iam::111122223333:oidc-provider/{ISSUER}"
CLUSTER_NAME = "acme-prod"


def remove_keys(project: Path, stack: str) -> Path:
    return edit_snapshot(project, stack, KEY_BLOCK, "")


def edit_stack_file(project: Path, stack: str, old: str, new: str) -> Path:
    path = project / f"Pulumi.{stack}.yaml"
    text = path.read_text()
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new, 1))
    return project


def set_identity(project: Path, stack: str, mode: str, *, eks: bool = True) -> Path:
    """`qtap:objectStore.identity: mode` and (with `eks`) the `qtap:eks` field it needs."""
    edit_stack_file(
        project, stack, "  qtap:objectStore:\n", f"  qtap:objectStore:\n    identity: {mode}\n"
    )
    if eks:
        field = (
            f"oidcProviderArn: {OIDC_PROVIDER_ARN}"
            if mode == "irsa"
            else f"clusterName: {CLUSTER_NAME}"
        )
        path = project / f"Pulumi.{stack}.yaml"
        path.write_text(path.read_text() + f"  qtap:eks:\n    {field}\n")
    return project


def keyless_project(destination: Path, stack: str, mode: str) -> Path:
    """A copy of the project where `stack`'s AWS store is keyless and served by `mode`."""
    project = copy_project(destination)
    remove_keys(project, stack)
    return set_identity(project, stack, mode)

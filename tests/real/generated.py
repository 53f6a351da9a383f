"""What the real program generates for a stack (from a mock run), and what it should generate
according to the committed files (the snapshot and Pulumi.<stack>.yaml), read independently.

Nothing here re-types a generated value: every resource input comes from `run_stack`.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from qtapctl.mock_engine import ProgramRun, Registration, reveal
from tests.conftest import REPO
from tests.pulumi_harness import run_stack

# Pulumi type tokens of the resources these tests apply to real services.
VAULT_POLICY = "vault:index/policy:Policy"
VAULT_SECRET = "vault:kv/secretV2:SecretV2"
VAULT_ROLE = "vault:kubernetes/authBackendRole:AuthBackendRole"
BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
IAM_USER = "aws:iam/user:User"
IAM_USER_POLICY = "aws:iam/userPolicy:UserPolicy"
NAMESPACE = "kubernetes:core/v1:Namespace"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
SECRET_STORE = "kubernetes:external-secrets.io/v1:SecretStore"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
OBJECT_STORE = "qtap:aws:ObjectStore"

# README, "Stack configuration reference": qtap:objectStore.retentionDays defaults to 30.
DEFAULT_RETENTION_DAYS = 30


@dataclass(frozen=True)
class Generated:
    """One stack's registrations, with secrets revealed (these tests apply them for real)."""

    stack: str
    run: ProgramRun

    def inputs_of(self, registration: Registration) -> dict[str, Any]:
        """A fresh deep copy of the registration's inputs (tests may mutate it)."""
        return copy.deepcopy(reveal(dict(registration.inputs)))

    def one(self, type_token: str) -> dict[str, Any]:
        """The inputs of the only resource of that type."""
        return self.inputs_of(self.run.one(type_token))

    def components(self, component_type: str) -> list[dict[str, dict[str, Any]]]:
        """Per component of that type (e.g. one ObjectStore per S3 store of the snapshot), the
        inputs of its children, by type (each type at most once per component)."""
        found = []
        for component in self.run.of_type(component_type):
            children: dict[str, dict[str, Any]] = {}
            for child in self.run.registrations:
                if child.parent == component.urn:
                    assert child.type not in children, f"two {child.type} in {component.name}"
                    children[child.type] = self.inputs_of(child)
            found.append(children)
        return found


@functools.cache
def generated(stack: str, **config_overrides: str) -> Generated:
    """The real `__main__.py` of `stack` under the mock engine, configured from
    Pulumi.<stack>.yaml plus `config_overrides` (engine strings, e.g. JSON for an object).
    About 1 s per run; cached for the session."""
    run = run_stack(stack, config_overrides=config_overrides)
    if run.error is not None:
        raise AssertionError(f"the program failed for stack {stack}: {run.error}")
    return Generated(stack, run)


# What the committed files say, read without the program's code.


def stack_config(stack: str) -> Mapping[str, Any]:
    document = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))
    return document.get("config") or {}


def retention_days(stack: str) -> int:
    store = stack_config(stack).get("qtap:objectStore") or {}
    return int(store.get("retentionDays", DEFAULT_RETENTION_DAYS))


def kms_key_id(stack: str) -> str | None:
    return (stack_config(stack).get("qtap:objectStore") or {}).get("kmsKeyId")


def snapshot_path(stack: str) -> Path:
    return REPO / stack_config(stack).get("qtap:snapshot", f"snapshots/{stack}/qtap-config.yaml")


def _env_references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "env" and isinstance(node.get("value"), str):
            yield node["value"]
        for value in node.values():
            yield from _env_references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _env_references(value)


def snapshot_env_names(stack: str) -> list[str]:
    """Every `{type: env, value: NAME}` in the committed snapshot, in order, once each."""
    document = yaml.safe_load(snapshot_path(stack).read_text(encoding="utf-8"))
    return list(dict.fromkeys(_env_references(document)))


def kebab(env_name: str) -> str:
    """`REGISTRATION_TOKEN` -> `registration-token` (DESIGN.md: Vault property names)."""
    return env_name.lower().replace("_", "-")


def expected_vault_properties(stack: str) -> set[str]:
    return {kebab(name) for name in snapshot_env_names(stack)}


def secret_data(secret_inputs: Mapping[str, Any]) -> dict[str, str]:
    """The KV v2 secret's data, from a SecretV2's `dataJson` (a JSON string)."""
    return json.loads(secret_inputs["dataJson"])

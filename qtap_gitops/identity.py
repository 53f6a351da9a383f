"""Keyless S3: which AWS stores a workload identity serves, and whether snapshot and settings agree.

Qtap's s3 store accepts a store without `access_key`/`secret_key` and then takes credentials
from a chain: a web identity token (IRSA: `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`), then
minio-go's IAM provider (EKS Pod Identity's container credentials endpoint, or the node's
instance metadata) (qpoint-io/qtap pkg/services/objectstore/s3/minio/minio.go,
`NewS3ObjectStore`). So an AWS store of the snapshot is either keyed (this stack creates an IAM
user and a key for it) or keyless (this stack creates one IAM role for the agent, assumed
through `qtap:objectStore.identity`). One stack does not mix the two: with an identity set,
every AWS store must be keyless (DESIGN.md, `qtap:objectStore.identity`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from .problems import Problem, problem
from .settings import NAMESPACE, IdentityMode, StackSettings, position_of
from .snapshot import EnvReference, ReferenceRole, S3Store, Snapshot

# The ServiceAccount the agent's pods run as when a workload identity is used. The chart
# creates it (serviceAccount.create) under this fixed name, and the IAM role's trust (IRSA) or
# the Pod Identity association names exactly it. "qtap" is the name the chart already gives it
# for the release "qtap" (qpoint-io/helm-charts charts/qtap/templates/_helpers.tpl,
# qpoint.serviceAccountName), so turning an identity on does not rename the ServiceAccount.
AGENT_SERVICE_ACCOUNT = "qtap"
ROLE_PATH = "/qtap/"
_IAM_ROLE_MAX = 64


def is_keyless(store: S3Store) -> bool:
    """An AWS store whose snapshot entry references no key at all."""
    return store.aws_managed and store.access_key_env is None and store.secret_key_env is None


def keyless_stores(snapshot: Snapshot) -> tuple[S3Store, ...]:
    return tuple(store for store in snapshot.aws_stores if is_keyless(store))


def agent_role_name(stack: str) -> str:
    """The agent's IAM role for `stack`: stable, at most 64 characters."""
    name = f"qtap-agent-{stack}"
    if len(name) <= _IAM_ROLE_MAX:
        return name
    digest = hashlib.sha256(stack.encode()).hexdigest()[:8]
    return f"{name[: _IAM_ROLE_MAX - 9]}-{digest}"


def _identity_fix(stack: str) -> str:
    return (
        f"pulumi config set --path '{NAMESPACE}:objectStore.identity' irsa --stack {stack} "
        f"(and '{NAMESPACE}:eks.oidcProviderArn'), or pod-identity (and "
        f"'{NAMESPACE}:eks.clusterName'); or reference keys in Qplane: access_key: "
        "{type: env, value: S3_ACCESS_KEY}, secret_key: {type: env, value: S3_SECRET_KEY}"
    )


def check_identity(
    settings: StackSettings, snapshot: Snapshot, positions: Mapping[str, tuple[int, int]]
) -> list[Problem]:
    """Snapshot and settings agree on keys vs workload identity.

    - a keyless AWS store needs `qtap:objectStore.identity`;
    - with an identity, an AWS store that references keys is an error (one mode per stack);
    - an identity with no AWS store at all has nothing to serve.
    """
    identity = settings.object_store.identity
    problems: list[Problem] = []
    if identity is None:
        for store in keyless_stores(snapshot):
            problems.append(
                problem(
                    "s3-aws-keys",
                    snapshot.file,
                    (store.line, None),
                    store.yaml_path,
                    f"this AWS s3 store (bucket {store.bucket}) references no access_key/"
                    "secret_key, so Qtap takes its credentials from a workload identity, and "
                    f"stack {settings.stack} sets no {NAMESPACE}:objectStore.identity",
                    _identity_fix(settings.stack),
                )
            )
        return problems

    keyed_refs: dict[str | None, EnvReference] = {}
    for ref in snapshot.env_references:
        if ref.role in (ReferenceRole.AWS_ACCESS_KEY_ID, ReferenceRole.AWS_SECRET_ACCESS_KEY):
            keyed_refs.setdefault(ref.store_label, ref)
    for store in snapshot.aws_stores:
        if is_keyless(store):
            continue
        key_ref = keyed_refs.get(store.label)
        problems.append(
            problem(
                "s3-identity-keys",
                snapshot.file,
                (key_ref.line, key_ref.column) if key_ref else (store.line, None),
                key_ref.yaml_path if key_ref else store.yaml_path,
                f"{NAMESPACE}:objectStore.identity is {identity.value}, and this AWS s3 store "
                f"(bucket {store.bucket}) references a static key; with an identity every AWS "
                "store is served by the agent's role and no IAM key is created",
                "remove access_key and secret_key from this store in Qplane, or remove "
                f"{NAMESPACE}:objectStore.identity from {settings.source} to keep static keys",
            )
        )
    if not snapshot.aws_stores:
        key = f"{NAMESPACE}:objectStore.identity"
        problems.append(
            problem(
                "setting-not-applicable",
                settings.source,
                position_of(positions, key),
                key,
                f"does not apply: the snapshot {snapshot.file} has no AWS s3 store for the "
                f"{identity.value} role to write into",
                f"remove {key}",
            )
        )
    return problems


def describe_identity(settings: StackSettings, snapshot: Snapshot) -> list[str]:
    """For `check`: which identity serves which store (one line each), empty without one."""
    identity = settings.object_store.identity
    if identity is None:
        return []
    namespace = settings.namespace
    if identity is IdentityMode.IRSA:
        how = (
            f"IRSA: ServiceAccount {namespace}/{AGENT_SERVICE_ACCOUNT} annotated with the role, "
            f"trusted through {settings.eks.oidc_provider_arn}"
        )
    else:
        how = (
            f"EKS Pod Identity: association of ServiceAccount {namespace}/"
            f"{AGENT_SERVICE_ACCOUNT} in cluster {settings.eks.cluster_name}"
        )
    lines = [f"IAM role {agent_role_name(settings.stack)} ({how})"]
    lines += [
        f"  serves {store.yaml_path}: s3:PutObject into {store.bucket} ({store.region}), no key"
        for store in keyless_stores(snapshot)
    ]
    return lines

"""The qtap policy pack's rules, as plain functions over plain records.

Nothing here imports `pulumi_policy` (whose `PolicyPack` starts a gRPC server) or Pulumi: the
pack's entry file (`policy/__main__.py`) wraps each function in a `ResourceValidationPolicy` or
`StackValidationPolicy`, and the tests (tests/policy/) feed them the resources the real program
registers under Pulumi's mock engine.

A `PolicyResource` holds what CrossGuard hands a policy (pulumi/pulumi-policy
sdk/python/lib/pulumi_policy/policy.py, `ResourceValidationArgs` and `PolicyResource`): the type
token, URN, name, the resource's *inputs* with camelCase property names and secrets already
unwrapped to plaintext (`deserialize_properties(..., proxy_secrets=False)` in `Analyze`), and the
options `protect`, `parent` and the provider. Pulumi's analyzer protocol carries no
`retainOnDelete` (pulumi proto/pulumi/analyzer.proto, `AnalyzerResourceOptions`), so the pack
receives None there and can only check what the bucket's inputs say; the mock engine knows it.

Every function returns violations as messages (resource policies) or (URN, message) pairs (stack
policies); an empty list means the resources comply.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qtap_gitops.pod_security import PRIVILEGED
from qtap_gitops.settings import check_settings
from qtap_gitops.stackfile import ProjectError, find_project, load_stack_config

PUBLISHED_CHART_VERSIONS = Path(__file__).resolve().parent / "published_chart_versions.json"

# Resource type tokens (the providers' schemas: pulumi-aws, pulumi-kubernetes).
ACCESS_KEY = "aws:iam/accessKey:AccessKey"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
ARGO_APPLICATION = "kubernetes:argoproj.io/v1alpha1:Application"
FLUX_HELM_RELEASE = "kubernetes:helm.toolkit.fluxcd.io/v2:HelmRelease"
NAMESPACE = "kubernetes:core/v1:Namespace"
KUBERNETES_SECRETS = frozenset({"kubernetes:core/v1:Secret", "kubernetes:core/v1:SecretPatch"})
# The program's component that gives the agent its workload identity (components/
# workload_identity.py; tests/policy/ checks the token against the component's own).
WORKLOAD_IDENTITY = "qtap:aws:WorkloadIdentity"
# Packages whose types are components, not provider resources: the engine's own and the
# project's (every component token starts with `qtap:`).
COMPONENT_PACKAGES = frozenset({"pulumi", "qtap"})

QTAP_CHART = "qtap"
EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_S3_ARN = re.compile(r"arn:aws[a-z-]*:s3:::([^/\"*]+)")
# Env variables that carry a credential; the chart's `registrationToken` value is one too.
_CREDENTIAL_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL)")
_CREDENTIAL_VALUE_KEYS = frozenset({"registrationToken"})
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
_CERTIFICATES = re.compile(
    r"(?:-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----\s*)+"
)
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
_SSE_ALGORITHMS = frozenset({"AES256", "aws:kms", "aws:kms:dsse"})
_PUBLIC_ACCESS_FLAGS = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)


@dataclass(frozen=True)
class PolicyResource:
    """What CrossGuard tells a policy about one resource (see the module's docstring)."""

    type: str
    urn: str
    name: str
    props: Mapping[str, Any]
    protect: bool = False
    retain_on_delete: bool | None = None
    """None: not reported (CrossGuard's analyzer protocol has no retainOnDelete)."""
    provider: str | None = None
    """The URN of the explicit provider the resource names; None for a default provider."""
    parent: str | None = None


@dataclass(frozen=True)
class Violation:
    urn: str
    message: str


def load_published_versions(path: Path = PUBLISHED_CHART_VERSIONS) -> frozenset[str]:
    """The published qpoint/qtap chart versions the repository keeps (see the file's `source`)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    versions = data.get("versions") if isinstance(data, dict) else None
    if not isinstance(versions, list) or not all(isinstance(v, str) for v in versions):
        raise ValueError(f"{path}: `versions` must be a list of version strings")
    return frozenset(versions)


def _get(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _package(type_token: str) -> str:
    return type_token.split(":", 1)[0]


# -- no static AWS key where the agent has a workload identity ----------------------------------


def _keyless_buckets(resources: Sequence[PolicyResource]) -> set[str]:
    """Buckets the agent's workload identity is granted (its role policies' S3 ARNs)."""
    identities = {r.urn for r in resources if r.type == WORKLOAD_IDENTITY}
    buckets: set[str] = set()
    for resource in resources:
        if resource.type == ROLE_POLICY and resource.parent in identities:
            policy = resource.props.get("policy")
            if isinstance(policy, str):
                buckets.update(_S3_ARN.findall(policy))
    return buckets


def _store_bucket(resources: Sequence[PolicyResource], key: PolicyResource) -> str | None:
    """The bucket of the store (component) an access key belongs to."""
    for resource in resources:
        if resource.type == BUCKET and key.parent is not None and resource.parent == key.parent:
            bucket = resource.props.get("bucket")
            return bucket if isinstance(bucket, str) else None
    return None


def no_static_key_when_keyless(resources: Sequence[PolicyResource]) -> list[Violation]:
    """No `aws:iam/accessKey` for a store the agent reaches through its workload identity, and
    none at all once the stack sets `qtap:objectStore.identity` (the WorkloadIdentity)."""
    has_identity = any(r.type == WORKLOAD_IDENTITY for r in resources)
    if not has_identity:
        return []
    keyless = _keyless_buckets(resources)
    violations = []
    for key in (r for r in resources if r.type == ACCESS_KEY):
        bucket = _store_bucket(resources, key)
        if bucket is not None and bucket in keyless:
            message = (
                f"{key.name}: a static AWS access key for the store {bucket}, which the agent "
                "writes to keylessly through its workload identity; "
                "fix: remove the store's access_key/secret_key references from the snapshot"
            )
        else:
            message = (
                f"{key.name}: a static AWS access key in a stack that sets "
                "qtap:objectStore.identity (the agent's workload identity); no long-lived key "
                "may exist there. fix: make every AWS store keyless, or drop "
                "qtap:objectStore.identity"
            )
        violations.append(Violation(key.urn, message))
    return violations


# -- every bucket's guardrails -------------------------------------------------------------------


def _public_access_blocked(props: Mapping[str, Any]) -> bool:
    return all(props.get(flag) is True for flag in _PUBLIC_ACCESS_FLAGS)


def _encrypted(props: Mapping[str, Any]) -> bool:
    rules = props.get("rules")
    return isinstance(rules, list) and any(
        _get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm") in _SSE_ALGORITHMS
        for rule in rules
    )


def _tls_only(props: Mapping[str, Any]) -> bool:
    try:
        document = json.loads(str(props.get("policy")))
    except ValueError:
        return False
    statements = _get(document, "Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list):
        return False
    return any(
        _get(s, "Effect") == "Deny"
        and str(_get(s, "Condition", "Bool", "aws:SecureTransport")).lower() == "false"
        for s in statements
    )


def _expires(props: Mapping[str, Any]) -> bool:
    rules = props.get("rules")
    if not isinstance(rules, list):
        return False
    for rule in rules:
        days = _get(rule, "expiration", "days")
        if _get(rule, "status") == "Enabled" and isinstance(days, int) and days > 0:
            return True
    return False


# What each bucket needs beside it (the same store): (type, check, what is missing).
_BUCKET_COMPANIONS = (
    (PUBLIC_ACCESS_BLOCK, _public_access_blocked, "a public-access block with all four flags on"),
    (ENCRYPTION, _encrypted, "default server-side encryption (AES256 or aws:kms)"),
    (BUCKET_POLICY, _tls_only, "a bucket policy denying requests without TLS"),
    (LIFECYCLE, _expires, "an enabled lifecycle rule that expires payloads"),
)


def _bucket_problems(
    bucket: PolicyResource, siblings: Sequence[PolicyResource], protect: bool
) -> Iterator[str]:
    for type_token, check, what in _BUCKET_COMPANIONS:
        if not any(s.type == type_token and check(s.props) for s in siblings):
            yield f"lacks {what}"
    if bucket.retain_on_delete is False:
        yield "is not retained on delete (retainOnDelete); deleting the stack would delete it"
    if bucket.props.get("forceDestroy") is True:
        yield "sets forceDestroy: a deletion would empty it"
    if protect and not bucket.protect:
        yield "is not protected although the stack sets qtap:objectStore.protect"


def stack_protects_buckets(project_dir: Path, stack: str) -> bool | None:
    """`qtap:objectStore.protect` of `stack` as the program reads it (with its per-stack
    default), from the project's stack file; None when there is no readable, valid one."""
    try:
        project = find_project(project_dir)
    except ProjectError:
        return None
    raw, _ = load_stack_config(project, stack)
    if raw is None:
        return None
    settings, _ = check_settings(raw)
    return None if settings is None else settings.object_store.protect


def bucket_guardrails(resources: Sequence[PolicyResource], *, protect: bool) -> list[Violation]:
    """Every bucket has its public-access block, encryption, TLS-only policy and lifecycle (the
    resources beside it in its store), is retained on delete, and is protected when the stack
    says so (`protect`: `qtap:objectStore.protect`)."""
    violations = []
    for bucket in (r for r in resources if r.type == BUCKET):
        siblings = [r for r in resources if r.parent == bucket.parent and r is not bucket]
        for problem in _bucket_problems(bucket, siblings, protect):
            violations.append(Violation(bucket.urn, f"bucket {bucket.name} {problem}"))
    return violations


# -- the chart version every delivery pins ------------------------------------------------------


def _chart_pins(resource: PolicyResource) -> list[tuple[Any, Any]]:
    """(chart, version) of each chart the delivery object installs."""
    props = resource.props
    if resource.type == HELM_RELEASE:
        return [(props.get("chart"), props.get("version"))]
    if resource.type == ARGO_APPLICATION:
        sources = [_get(props, "spec", "source")]
        listed = _get(props, "spec", "sources")
        sources += listed if isinstance(listed, list) else []
        return [
            (_get(s, "chart"), _get(s, "targetRevision"))
            for s in sources
            if isinstance(s, Mapping) and s.get("chart") is not None
        ]
    if resource.type == FLUX_HELM_RELEASE:
        chart = _get(props, "spec", "chart", "spec")
        if chart is None:  # spec.chartRef (an OCIRepository or HelmChart): no version here
            return [(QTAP_CHART, _get(props, "spec", "chartRef"))]
        return [(_get(chart, "chart"), _get(chart, "version"))]
    return []


def chart_pinned_to_published(resource: PolicyResource, published: Iterable[str]) -> list[str]:
    """The Helm release, Argo CD Application or Flux HelmRelease pins an exact qtap chart
    version that is in the repository's list of published versions."""
    known = frozenset(published)
    messages = []
    for chart, version in _chart_pins(resource):
        if chart != QTAP_CHART:
            continue
        if not isinstance(version, str) or not EXACT_VERSION.match(version):
            messages.append(
                f"{resource.name} installs the qtap chart at {version!r}, not an exact version; "
                f"fix: pin one of the published versions ({', '.join(sorted(known))})"
            )
        elif version not in known:
            messages.append(
                f"{resource.name} pins qtap chart {version}, which is not a published version of "
                "qpoint/qtap (policy/published_chart_versions.json; 0.0.36 and 0.0.37 were "
                "tagged but never published): it cannot install. "
                f"fix: pin one of {', '.join(sorted(known))}"
            )
    return messages


# -- no plaintext secret in a Kubernetes object ---------------------------------------------------


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(path, key, value) of every mapping entry and list item below `value`."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            yield child, key, item
            yield from _walk(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            child = f"{path}[{index}]"
            yield child, None, item
            yield from _walk(item, child)


def _plaintext_at(path: str, key: Any, value: Any) -> str | None:
    if isinstance(value, Mapping):
        name, literal = value.get("name"), value.get("value")
        # An env entry: a credential comes through valueFrom.secretKeyRef, never `value`.
        if (
            isinstance(name, str)
            and _CREDENTIAL_NAME.search(name.upper())
            and isinstance(literal, str)
            and literal
        ):
            return f"{path}: env {name} has a plaintext value"
        return None
    if not isinstance(value, str):
        return None
    if key in _CREDENTIAL_VALUE_KEYS and value:
        return f"{path}: a plaintext {key}"
    if _PRIVATE_KEY.search(value):
        return f"{path}: a plaintext private key"
    if _AWS_KEY_ID.search(value):
        return f"{path}: an AWS access key id"
    return None


def _only_certificates(props: Mapping[str, Any]) -> bool:
    """A Secret that holds nothing but PEM certificates (public: e.g. the Vault CA that VSO's
    VaultConnection reads from a Secret, caCertSecretRef)."""
    values: list[Any] = []
    for field, encoded in (("stringData", False), ("data", True)):
        entries = props.get(field)
        if entries is None:
            continue
        if not isinstance(entries, Mapping):
            return False
        for value in entries.values():
            if encoded and isinstance(value, str):
                try:
                    value = base64.b64decode(value, validate=True).decode("utf-8")
                except (ValueError, UnicodeDecodeError):
                    return False
            values.append(value)
    return bool(values) and all(
        isinstance(v, str) and _CERTIFICATES.fullmatch(v.strip()) for v in values
    )


def no_plaintext_secret(resource: PolicyResource) -> list[str]:
    """No plaintext secret in any Kubernetes object's inputs: secret data reaches the cluster
    only through the sync objects (ExternalSecret, VaultStaticSecret, SealedSecret), which carry
    references or ciphertext."""
    if _package(resource.type) != "kubernetes":
        return []
    fix = (
        "fix: keep the value in Vault (or seal it) and let the secrets backend's sync object "
        "create the Secret; reference it with valueFrom.secretKeyRef"
    )
    if resource.type in KUBERNETES_SECRETS and not _only_certificates(resource.props):
        return [f"{resource.name}: a Kubernetes Secret written by the stack itself; {fix}"]
    messages = []
    for path, key, value in _walk(resource.props):
        found = _plaintext_at(path, key, value)
        if found:
            messages.append(f"{resource.name}: {found}; {fix}")
    return messages


# -- the agent namespace's pod-security label -----------------------------------------------------


def _agent_namespaces(resources: Sequence[PolicyResource]) -> set[str]:
    """The namespaces the delivery objects install the agent into."""
    found = set()
    for resource in resources:
        if resource.type == HELM_RELEASE:
            namespace = resource.props.get("namespace")
        elif resource.type == ARGO_APPLICATION:
            namespace = _get(resource.props, "spec", "destination", "namespace")
        elif resource.type == FLUX_HELM_RELEASE:
            namespace = _get(resource.props, "spec", "targetNamespace")
            if namespace is None:
                namespace = _get(resource.props, "metadata", "namespace")
        else:
            continue
        if isinstance(namespace, str):
            found.add(namespace)
    return found


def agent_namespace_privileged(resources: Sequence[PolicyResource]) -> list[Violation]:
    """The namespace the agent's privileged DaemonSet runs in is managed by the stack and
    carries the Pod Security Admission label that admits it."""
    namespaces = {_get(r.props, "metadata", "name"): r for r in resources if r.type == NAMESPACE}
    wanted = ", ".join(f"{k}={v}" for k, v in PRIVILEGED.items())
    violations = []
    for name in sorted(_agent_namespaces(resources)):
        namespace = namespaces.get(name)
        if namespace is None:
            owner = next(r for r in resources if name in _agent_namespaces([r]))
            violations.append(
                Violation(
                    owner.urn,
                    f"the agent's namespace {name} is not created by the stack, so nothing "
                    f"gives it the label {wanted}; fix: let the program create it",
                )
            )
            continue
        labels = _get(namespace.props, "metadata", "labels")
        labels = labels if isinstance(labels, Mapping) else {}
        if any(labels.get(key) != value for key, value in PRIVILEGED.items()):
            violations.append(
                Violation(
                    namespace.urn,
                    f"namespace {name} runs the privileged Qtap DaemonSet but lacks the label "
                    f"{wanted}: Pod Security Admission would reject its pods; "
                    "fix: label the namespace",
                )
            )
    return violations


# -- explicit providers only ----------------------------------------------------------------------


def explicit_providers_only(resources: Sequence[PolicyResource]) -> list[Violation]:
    """Every provider resource names an explicit provider (built from the stack file), never a
    default provider configured from the environment."""
    violations = []
    for resource in resources:
        package = _package(resource.type)
        if package in COMPONENT_PACKAGES or resource.provider is not None:
            continue
        violations.append(
            Violation(
                resource.urn,
                f"{resource.name} ({resource.type}) uses a default {package} provider; "
                "fix: pass the stack's explicit provider (ResourceOptions(provider=...)) and "
                'keep pulumi:disable-default-providers: ["*"] in the stack file',
            )
        )
    return violations


# The pack's policies (policy/__main__.py wraps each exactly once).
RESOURCE_POLICIES = (chart_pinned_to_published, no_plaintext_secret)
STACK_POLICIES = (
    no_static_key_when_keyless,
    bucket_guardrails,
    agent_namespace_privileged,
    explicit_providers_only,
)

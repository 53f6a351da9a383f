"""The policy pack's rules (policy/qtap_policies.py) on what the real program registers: every
stack in every delivery mode, secrets backend and keyless identity passes every policy, and a
mutated copy of those resources, one violation at a time, fails with the policy's message.

The rules run as plain functions; `PolicyPack` (which starts a gRPC server) is never built here.
"""

from __future__ import annotations

import ast
import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policy import qtap_policies as rules
from policy.qtap_policies import PolicyResource
from qtap_gitops.pod_security import PRIVILEGED
from tests.conftest import REPO, STACKS
from tests.policy.records import (
    DELIVERY_MODES,
    IDENTITY_MODES,
    KEYLESS_STACK,
    SECRETS_BACKENDS,
    Scenario,
    edited,
    scenarios,
)

LABELS = [
    *(f"{s}-{m}" for s in STACKS for m in (*DELIVERY_MODES, *SECRETS_BACKENDS)),
    *(f"{KEYLESS_STACK}-{m}" for m in IDENTITY_MODES),
]
PUBLISHED = rules.load_published_versions()
CHART_VERSION = {"dev": "0.0.38", "staging": "0.0.38", "prod": "0.0.35"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Scenario]:
    found = {s.label: s for s in scenarios(tmp_path_factory.mktemp("policy"))}
    assert sorted(found) == sorted(LABELS)
    return found


def violations(resources: list[PolicyResource], *, protect: bool) -> list[str]:
    """Every message every policy reports on `resources`."""
    messages = [v.message for v in rules.no_static_key_when_keyless(resources)]
    messages += [v.message for v in rules.bucket_guardrails(resources, protect=protect)]
    messages += [v.message for v in rules.agent_namespace_privileged(resources)]
    messages += [v.message for v in rules.explicit_providers_only(resources)]
    for resource in resources:
        messages += rules.chart_pinned_to_published(resource, PUBLISHED)
        messages += rules.no_plaintext_secret(resource)
    return messages


def one(resources: list[PolicyResource], type_token: str) -> PolicyResource:
    (found,) = [r for r in resources if r.type == type_token]
    return found


def swap(resources: list[PolicyResource], old: PolicyResource, new: PolicyResource | None):
    """`resources` with `old` replaced by `new` (or removed)."""
    return [new if r is old else r for r in resources if not (r is old and new is None)]


def fails_with(resources: list[PolicyResource], needle: str, *, protect: bool = False) -> None:
    messages = violations(resources, protect=protect)
    assert messages, f"no policy refused the mutation (expected {needle!r})"
    assert any(needle in m for m in messages), messages


# -- the committed stacks in every mode pass ------------------------------------------------------


@pytest.mark.parametrize("label", LABELS)
def test_every_stack_and_mode_passes_every_policy(runs, label):
    scenario = runs[label]
    resources = scenario.resources
    # Not vacuous: each policy has something to look at.
    types = {r.type for r in resources}
    assert rules.BUCKET in types
    assert rules.NAMESPACE in types
    assert types & {rules.HELM_RELEASE, rules.ARGO_APPLICATION, rules.FLUX_HELM_RELEASE}
    assert any(r.provider for r in resources)
    assert violations(resources, protect=scenario.protect) == []


def test_the_modes_really_differ(runs):
    def has(label: str, type_token: str) -> bool:
        return any(r.type == type_token for r in runs[label].resources)

    assert has("dev-argocd", rules.ARGO_APPLICATION)
    assert has("dev-flux", rules.FLUX_HELM_RELEASE)
    assert has("prod-helm", rules.ACCESS_KEY)
    for mode in IDENTITY_MODES:
        assert has(f"prod-{mode}", rules.WORKLOAD_IDENTITY)
        assert not has(f"prod-{mode}", rules.ACCESS_KEY)


def test_the_workload_identity_token_is_the_components(runs):
    (identity,) = [r for r in runs["prod-irsa"].run.registrations if "WorkloadIdentity" in r.type]
    assert identity.type == rules.WORKLOAD_IDENTITY
    assert not identity.custom


@pytest.mark.parametrize("stack", STACKS)
def test_the_expected_protection_is_the_stacks_own(runs, stack):
    scenario = runs[f"{stack}-helm"]
    bucket = one(scenario.resources, rules.BUCKET)
    assert scenario.protect is bucket.protect
    assert scenario.protect is (stack == "prod")


def test_the_published_versions_cover_the_pins_and_exclude_the_unpublished():
    data = json.loads(rules.PUBLISHED_CHART_VERSIONS.read_text())
    assert "source" in data
    assert set(CHART_VERSION.values()) <= PUBLISHED
    assert {"0.0.36", "0.0.37"}.isdisjoint(PUBLISHED)
    assert set(data["tagged_but_not_published"]) == {"0.0.36", "0.0.37"}
    assert all(rules.EXACT_VERSION.match(v) for v in PUBLISHED)


# -- each policy refuses its violation ------------------------------------------------------------


def keyless_with_a_key(runs) -> tuple[list[PolicyResource], PolicyResource]:
    """prod served keylessly, plus the access key prod registers with static keys."""
    resources = runs["prod-irsa"].resources
    key = one(runs["prod-helm"].resources, rules.ACCESS_KEY)
    bucket = one(resources, rules.BUCKET)
    return resources, replace(key, parent=bucket.parent)


def test_no_access_key_for_a_store_served_keylessly(runs):
    resources, key = keyless_with_a_key(runs)
    fails_with([*resources, key], "which the agent writes to keylessly")
    (violation,) = rules.no_static_key_when_keyless([*resources, key])
    assert violation.urn == key.urn


def test_no_access_key_at_all_when_the_stack_sets_an_identity(runs):
    resources, key = keyless_with_a_key(runs)
    elsewhere = replace(key, parent=None)
    fails_with([*resources, elsewhere], "sets qtap:objectStore.identity")


COMPANIONS = {
    rules.PUBLIC_ACCESS_BLOCK: "public-access block",
    rules.ENCRYPTION: "default server-side encryption",
    rules.BUCKET_POLICY: "denying requests without TLS",
    rules.LIFECYCLE: "lifecycle rule",
}


@pytest.mark.parametrize("type_token", list(COMPANIONS))
def test_a_bucket_without_a_guardrail_is_refused(runs, type_token):
    resources = runs["dev-helm"].resources
    fails_with(swap(resources, one(resources, type_token), None), COMPANIONS[type_token])


def weakened(props: dict[str, Any], type_token: str) -> dict[str, Any]:
    props = copy.deepcopy(props)
    if type_token == rules.PUBLIC_ACCESS_BLOCK:
        props["restrictPublicBuckets"] = False
    elif type_token == rules.ENCRYPTION:
        props["rules"][0]["applyServerSideEncryptionByDefault"].pop("sseAlgorithm")
    elif type_token == rules.BUCKET_POLICY:
        props["policy"] = props["policy"].replace('"Deny"', '"Allow"')
    else:
        props["rules"][0]["status"] = "Disabled"
    return props


@pytest.mark.parametrize("type_token", list(COMPANIONS))
def test_a_weakened_guardrail_is_refused(runs, type_token):
    resources = runs["prod-helm"].resources
    old = one(resources, type_token)
    new = replace(old, props=weakened(dict(old.props), type_token))
    fails_with(swap(resources, old, new), COMPANIONS[type_token], protect=True)


def test_a_bucket_not_retained_or_force_destroyed_is_refused(runs):
    resources = runs["staging-helm"].resources
    bucket = one(resources, rules.BUCKET)
    fails_with(swap(resources, bucket, replace(bucket, retain_on_delete=False)), "not retained")
    fails_with(swap(resources, bucket, edited(bucket, forceDestroy=True)), "forceDestroy")


def test_an_unprotected_bucket_is_refused_where_the_stack_protects(runs):
    scenario = runs["prod-helm"]
    resources = scenario.resources
    bucket = one(resources, rules.BUCKET)
    unprotected = swap(resources, bucket, replace(bucket, protect=False))
    fails_with(unprotected, "is not protected", protect=scenario.protect)
    # dev does not ask for protection: the same bucket passes there.
    assert rules.bucket_guardrails(unprotected, protect=False) == []


def with_chart_version(resource: PolicyResource, version: Any) -> PolicyResource:
    props = copy.deepcopy(dict(resource.props))
    if resource.type == rules.HELM_RELEASE:
        props["version"] = version
    elif resource.type == rules.ARGO_APPLICATION:
        props["spec"]["source"]["targetRevision"] = version
    else:
        props["spec"]["chart"]["spec"]["version"] = version
    return replace(resource, props=props)


DELIVERY_TYPE = {
    "helm": rules.HELM_RELEASE,
    "argocd": rules.ARGO_APPLICATION,
    "flux": rules.FLUX_HELM_RELEASE,
}


@pytest.mark.parametrize("mode", DELIVERY_MODES)
@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("0.0.36", "not a published version"),
        ("0.0.37", "not a published version"),
        ("0.0.99", "not a published version"),
        ("^0.0.38", "not an exact version"),
        ("latest", "not an exact version"),
        (None, "not an exact version"),
    ],
)
def test_a_chart_pin_outside_the_published_versions_is_refused(runs, mode, version, message):
    resources = runs[f"staging-{mode}"].resources
    delivery = one(resources, DELIVERY_TYPE[mode])
    assert rules.chart_pinned_to_published(delivery, PUBLISHED) == []
    fails_with(swap(resources, delivery, with_chart_version(delivery, version)), message)


def test_a_flux_chart_ref_without_a_version_is_refused(runs):
    resources = runs["dev-flux"].resources
    release = one(resources, rules.FLUX_HELM_RELEASE)
    props = copy.deepcopy(dict(release.props))
    props["spec"].pop("chart")
    props["spec"]["chartRef"] = {"kind": "OCIRepository", "name": "qtap"}
    fails_with(swap(resources, release, replace(release, props=props)), "not an exact version")


def test_a_kubernetes_secret_written_by_the_stack_is_refused(runs):
    resources = runs["dev-helm"].resources
    namespace = one(resources, rules.NAMESPACE)
    secret = PolicyResource(
        type="kubernetes:core/v1:Secret",
        urn=namespace.urn.replace("Namespace", "Secret"),
        name="qtap-plain",
        props={"metadata": {"name": "qtap-secrets"}, "stringData": {"TOKEN": "x"}},
        provider=namespace.provider,
        parent=namespace.parent,
    )
    fails_with([*resources, secret], "a Kubernetes Secret written by the stack itself")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"extraEnv": [{"name": "REGISTRATION_TOKEN", "value": "tok-123"}]}, "plaintext value"),
        ({"registrationToken": "tok-123"}, "plaintext registrationToken"),
        ({"extraEnv": [{"name": "S3_ACCESS_KEY", "value": "AKIAABCDEFGHIJKLMNOP"}]}, "env"),
        ({"config": "-----BEGIN RSA PRIVATE KEY-----\nMII..."}, "plaintext private key"),
        ({"podAnnotations": {"id": "AKIAABCDEFGHIJKLMNOP"}}, "AWS access key id"),
    ],
)
def test_a_plaintext_secret_in_helm_values_is_refused(runs, values, message):
    resources = runs["prod-helm"].resources
    release = one(resources, rules.HELM_RELEASE)
    merged = {**release.props["values"], **values}
    fails_with(swap(resources, release, edited(release, values=merged)), message)


def test_a_namespace_without_the_pod_security_label_is_refused(runs):
    for label in ("dev-helm", "dev-vault-secrets-operator"):
        resources = runs[label].resources
        namespace = one(resources, rules.NAMESPACE)
        props = copy.deepcopy(dict(namespace.props))
        for key in PRIVILEGED:
            props["metadata"]["labels"].pop(key)
        fails_with(swap(resources, namespace, replace(namespace, props=props)), "lacks the label")
        fails_with(swap(resources, namespace, None), "is not created by the stack")


def test_a_resource_on_a_default_provider_is_refused(runs):
    resources = runs["staging-sealed-secrets"].resources
    for resource in [r for r in resources if r.provider][:3]:
        fails_with(swap(resources, resource, replace(resource, provider=None)), "default")


# -- hostile props: the rules answer, never raise -------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
TYPES = st.sampled_from(
    [
        rules.HELM_RELEASE,
        rules.ARGO_APPLICATION,
        rules.FLUX_HELM_RELEASE,
        rules.NAMESPACE,
        rules.BUCKET,
        rules.BUCKET_POLICY,
        rules.ENCRYPTION,
        rules.LIFECYCLE,
        rules.PUBLIC_ACCESS_BLOCK,
        rules.ROLE_POLICY,
        rules.ACCESS_KEY,
        rules.WORKLOAD_IDENTITY,
        "kubernetes:core/v1:ConfigMap",
    ]
)


@given(
    st.lists(st.tuples(TYPES, st.dictionaries(st.text(max_size=12), JSON, max_size=5)), max_size=6)
)
def test_the_rules_answer_any_props_without_raising(items):
    resources = [
        PolicyResource(
            type=t, urn=f"urn:pulumi:dev::qtap::{t}::r{i}", name=f"r{i}", props=p, parent="p"
        )
        for i, (t, p) in enumerate(items)
    ]
    for message in violations(resources, protect=True):
        assert isinstance(message, str)
        assert message


# -- the entry file -------------------------------------------------------------------------------


def test_the_entry_file_wraps_every_policy_exactly_once():
    tree = ast.parse((REPO / "policy" / "__main__.py").read_text(encoding="utf-8"))
    referenced = [
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "rules"
    ]
    policies = [f.__name__ for f in (*rules.RESOURCE_POLICIES, *rules.STACK_POLICIES)]
    assert len(policies) == 6
    for name in policies:
        assert referenced.count(name) == 1, name
    # One pack, built only there, out of the policy classes of pulumi_policy.
    calls = [
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    ]
    assert calls.count("PolicyPack") == 1
    assert calls.count("ResourceValidationPolicy") == len(rules.RESOURCE_POLICIES)
    assert calls.count("StackValidationPolicy") == len(rules.STACK_POLICIES)
    imports = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert "pulumi_policy" in imports


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {name.split(".")[0] for name in found}


def test_only_the_entry_file_imports_pulumi_policy():
    entry = REPO / "policy" / "__main__.py"
    assert "pulumi_policy" in imported_modules(entry)
    others = [p for p in (REPO / "policy").glob("*.py") if p != entry]
    others += list(Path(__file__).parent.glob("*.py"))
    assert others
    for path in others:
        assert not {"pulumi_policy", "pulumi"} & imported_modules(path), path

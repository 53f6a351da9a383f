"""The qtap CrossGuard policy pack: `pulumi preview --policy-pack policy` (README, "Policy pack").

This is the only file that imports `pulumi_policy` and builds the `PolicyPack` (whose
constructor starts the analyzer's gRPC server and never returns). The rules are plain functions
in `qtap_policies.py`, tested without the CLI in tests/policy/. Each is adapted here, following
pulumi/pulumi-policy sdk/python/lib/pulumi_policy/policy.py:

- A `ResourceValidationPolicy`'s `validate(args, report_violation)` gets one resource:
  `args.resource_type`, `args.urn`, `args.name`, `args.props` (the resource's inputs, camelCase,
  secrets unwrapped, behind a proxy that raises `UnknownValueError` on a value unknown in a
  preview), `args.opts` (`PolicyResourceOptions`: `protect`, `parent` URN, ...) and
  `args.provider` (`PolicyProviderResource` or None). `_record` turns it into a
  `qtap_policies.PolicyResource`; each message the function returns is reported.
- A `StackValidationPolicy`'s `validate(args, report_violation)` gets `args.resources`, a list of
  `pulumi_policy.PolicyResource` with the same fields (`parent` there is the parent resource,
  `opts.parent` its URN); each `Violation` is reported with its URN.

Neither carries `retainOnDelete` (the analyzer protocol has no such option), so records hold None
there. An unknown value becomes None: the rule then sees it as absent, which for every check
here fails closed or is not applicable, rather than skipping the whole policy.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
# qtap_policies.py is beside this file; the constants it reads (qtap_gitops/) are the project's.
for directory in (HERE, PROJECT):
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))

import qtap_policies as rules  # noqa: E402
from pulumi_policy import (  # noqa: E402
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError  # noqa: E402

PUBLISHED = rules.load_published_versions()


def _plain(value: Any) -> Any:
    """`value` without the SDK's proxies; an unknown (preview) value becomes None."""
    if isinstance(value, Mapping):
        result = {}
        for key in list(value.keys()):
            try:
                item = value[key]
            except UnknownValueError:
                item = None
            result[key] = _plain(item)
        return result
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        items = []
        for index in range(len(value)):
            try:
                item = value[index]
            except UnknownValueError:
                item = None
            items.append(_plain(item))
        return items
    return value


def _provider_urn(provider: Any) -> str | None:
    """The explicit provider's URN; None for a default provider (named `default...`)."""
    if provider is None or str(provider.name).startswith("default"):
        return None
    return str(provider.urn)


def _record(resource: Any) -> rules.PolicyResource:
    """A `ResourceValidationArgs` or a stack's `PolicyResource` as the rules' record."""
    return rules.PolicyResource(
        type=resource.resource_type,
        urn=resource.urn,
        name=resource.name,
        props=_plain(resource.props),
        protect=bool(resource.opts.protect),
        retain_on_delete=None,
        provider=_provider_urn(resource.provider),
        parent=resource.opts.parent or None,
    )


def _resource_policy(
    check: Callable[[rules.PolicyResource], list[str]],
) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in check(_record(args)):
            report_violation(message, None)

    return validate


def _stack_policy(
    check: Callable[[StackValidationArgs, Sequence[rules.PolicyResource]], list[rules.Violation]],
) -> Callable[[StackValidationArgs, ReportViolation], None]:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        for violation in check(args, [_record(r) for r in args.resources]):
            report_violation(violation.message, violation.urn)

    return validate


def _protect_expected(args: StackValidationArgs, resources: Sequence[rules.PolicyResource]) -> bool:
    """The pack's `protectBuckets` setting when a policy group sets it; otherwise the stack's own
    `qtap:objectStore.protect`, read from the project beside the pack (stack name from a URN,
    `urn:pulumi:<stack>::<project>::...`)."""
    configured = args.get_config().get("protectBuckets")
    if isinstance(configured, bool):
        return configured
    stack = resources[0].urn.split(":")[2] if resources else ""
    return bool(stack and rules.stack_protects_buckets(PROJECT, stack))


def _keyless(args: StackValidationArgs, resources: Sequence[rules.PolicyResource]) -> list[Any]:
    return rules.no_static_key_when_keyless(resources)


def _buckets(args: StackValidationArgs, resources: Sequence[rules.PolicyResource]) -> list[Any]:
    return rules.bucket_guardrails(resources, protect=_protect_expected(args, resources))


def _namespace(args: StackValidationArgs, resources: Sequence[rules.PolicyResource]) -> list[Any]:
    return rules.agent_namespace_privileged(resources)


def _providers(args: StackValidationArgs, resources: Sequence[rules.PolicyResource]) -> list[Any]:
    return rules.explicit_providers_only(resources)


def _chart(resource: rules.PolicyResource) -> list[str]:
    return rules.chart_pinned_to_published(resource, PUBLISHED)


MANDATORY = EnforcementLevel.MANDATORY

PolicyPack(
    name="qtap-guardrails",
    enforcement_level=MANDATORY,
    policies=[
        StackValidationPolicy(
            name="qtap-no-static-key-when-keyless",
            description="No AWS access key where the agent writes through its workload identity.",
            validate=_stack_policy(_keyless),
        ),
        StackValidationPolicy(
            name="qtap-bucket-guardrails",
            description="Every bucket: public-access block, encryption, TLS-only policy, "
            "lifecycle, retained on delete, protected where the stack says so.",
            validate=_stack_policy(_buckets),
            config_schema=PolicyConfigSchema(
                properties={"protectBuckets": {"type": "boolean"}},
            ),
        ),
        ResourceValidationPolicy(
            name="qtap-chart-pinned-to-published",
            description="The qtap chart is pinned to an exact, published version.",
            validate=_resource_policy(_chart),
        ),
        ResourceValidationPolicy(
            name="qtap-no-plaintext-secret",
            description="No plaintext secret in a Kubernetes object's inputs.",
            validate=_resource_policy(rules.no_plaintext_secret),
        ),
        StackValidationPolicy(
            name="qtap-agent-namespace-privileged",
            description="The agent's namespace carries the privileged pod-security label.",
            validate=_stack_policy(_namespace),
        ),
        StackValidationPolicy(
            name="qtap-explicit-providers-only",
            description="Every resource names an explicit provider.",
            validate=_stack_policy(_providers),
        ),
    ],
)

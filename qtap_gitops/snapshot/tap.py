"""`tap`: what traffic Qtap captures, which stack handles it, and the process filters."""

from __future__ import annotations

from .. import qtap_conformance as qc
from .. import qtap_schema as qs
from ..yamlsource import View, quote
from .model import one_of, report_finding, unknown_keys


def check_tap(tap: View, stack_names: set[str]) -> None:
    if not tap.optional_mapping("tap"):
        return
    unknown_keys(tap, qs.TAP_KEYS, "tap")
    at = tap.get("direction")
    if at is not None:
        direction = at.string("direction")
        if direction is not None and direction not in qs.TAP_DIRECTIONS:
            at.warn(
                "tap-direction",
                f"unknown direction {quote(direction)}; Qtap does not validate it and may "
                "capture nothing",
                f"use one of: {one_of(qs.TAP_DIRECTIONS)}",
            )
    for flag in ("ignore_loopback", "audit_include_dns"):
        at = tap.get(flag)
        if at is not None:
            at.boolean(flag)
    check_protocols(tap, stack_names)
    endpoints = tap.get("endpoints")
    if endpoints is not None and endpoints.optional_sequence("tap.endpoints"):
        for endpoint in tap.child("endpoints").elements():
            check_endpoint(endpoint, stack_names)
    if tap.has("filters"):
        check_filters(tap.child("filters"))


def check_protocol(block: View, stack_names: set[str]) -> None:
    if not block.optional_mapping(block.rendered_path):
        return
    unknown_keys(block, qs.TAP_PROTOCOL_KEYS, block.rendered_path)
    at = block.get("stack")
    if at is None:
        return
    name = at.string("stack")
    if name is None or name in qs.NO_STACK:
        return
    if name not in stack_names:
        at.error(
            "unknown-stack",
            f"stack {quote(name)} is not defined under 'stacks'; this traffic would get no plugins",
            f"use one of: {one_of(stack_names) or '(no stacks defined)'}, or 'none'",
        )


def check_endpoint(endpoint: View, stack_names: set[str]) -> None:
    if not endpoint.mapping("a tap endpoint"):
        return
    unknown_keys(endpoint, qs.TAP_ENDPOINT_KEYS, "a tap endpoint")
    at = endpoint.get("domain")
    domain = at.string("domain") if at is not None else ""
    if domain == "":
        endpoint.error(
            "endpoint-domain",
            "the endpoint has no 'domain'; Qtap's validator rejects the config",
            "set 'domain' to the host name this rule applies to",
        )
    elif domain is not None and at is not None:
        # go-playground's `hostname` rule, which Qtap applies (qtap_gitops/hostname.py)
        report_finding(at, qc.endpoint_domain_finding(domain, at.line, at.column))
    check_protocols(endpoint, stack_names)


def check_protocols(owner: View, stack_names: set[str]) -> None:
    """The protocol blocks of `tap` or an endpoint, current and older Qtap revisions'."""
    for protocol in qs.ALL_TAP_PROTOCOLS:
        if owner.has(protocol):
            at = owner.child(protocol)
            check_protocol(at, stack_names)
            if protocol in qs.LEGACY_TAP_PROTOCOLS:
                report_finding(at, qc.legacy_protocol_finding(protocol, at.line, at.column))


def check_filters(filters: View) -> None:
    if not filters.optional_mapping("tap.filters"):
        return
    unknown_keys(filters, qs.TAP_FILTER_KEYS, "tap.filters")
    groups = filters.get("groups")
    if groups is not None and groups.optional_sequence("filters.groups"):
        for group in filters.child("groups").elements():
            name = group.string("a filter group")
            if name is None or name in qs.FILTER_GROUPS:
                continue
            hint = (
                "write 'container-runtimes' (Qpoint's docs say 'container', which Qtap does "
                "not know)"
                if name == "container"
                else f"use one of: {one_of(qs.FILTER_GROUPS)}"
            )
            group.warn(
                "filter-group",
                f"unknown filter group {quote(name)}; Qtap ignores it silently, so those "
                "processes are not filtered",
                hint,
            )
    custom = filters.get("custom")
    if custom is not None and custom.optional_sequence("filters.custom"):
        for rule in filters.child("custom").elements():
            check_custom_filter(rule)


def check_custom_filter(rule: View) -> None:
    if not rule.mapping("a custom filter"):
        return
    unknown_keys(rule, qs.TAP_CUSTOM_FILTER_KEYS, "a custom filter")
    exe_at = rule.get("exe")
    exe = exe_at.string("exe") if exe_at is not None else ""
    if exe == "":
        rule.error(
            "filter-exe",
            "the custom filter has no 'exe'; Qtap rejects it ('exe must not be empty')",
            "set 'exe' to the executable to filter",
        )
    at = rule.get("strategy")
    if at is not None and not at.is_null:
        strategy = at.string("strategy")
        if strategy is not None and strategy not in qs.FILTER_STRATEGIES:
            at.warn(
                "filter-strategy",
                f"unknown match strategy {quote(strategy)}; the filter may never match",
                f"use one of: {one_of(qs.FILTER_STRATEGIES)}",
            )
    only = rule.get("only")
    if only is not None and only.optional_sequence("only"):
        for level in rule.child("only").elements():
            name = level.string("a filter level")
            if name is not None and name not in qs.FILTER_LEVELS:
                level.error(
                    "filter-only",
                    f"unknown filter level {quote(name)}; Qtap rejects the filter "
                    "('invalid filter')",
                    f"use any of: {one_of(qs.FILTER_LEVELS)}",
                )

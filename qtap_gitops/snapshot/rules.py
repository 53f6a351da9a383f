"""`tags`, `control` and `rulekit`: labels attached to events, access rules, and macros."""

from __future__ import annotations

from .. import qtap_conformance as qc
from .. import qtap_schema as qs
from ..yamlsource import View, quote
from .model import (
    MAX_RULE_EXPRESSION,
    RULE_BUDGET,
    Context,
    one_of,
    report_finding,
    unknown_keys,
)


def rule_expression(ctx: Context, owner: View, key: str, role: str) -> None:
    """The rulekit expression at `owner[key]`, checked as Qtap checks it for `role`."""
    at = owner.get(key)
    if at is None or at.node.kind != "scalar":
        return  # absent, or a wrong type the Go-struct walk reports
    expression = at.string(key) or ""
    if len(expression) > MAX_RULE_EXPRESSION or len(expression) > ctx.rule_budget:
        ctx.unchecked_rules += 1
        if ctx.unchecked_rules == 1:
            at.warn(
                "rule-unchecked",
                f"this rule expression ({len(expression)} characters) and any after it beyond "
                f"{ctx.rule_budget} characters in all were not parsed (the contract parses "
                f"expressions of at most {MAX_RULE_EXPRESSION} characters, "
                f"{RULE_BUDGET} per snapshot); Qtap may refuse or skip them",
                "shorten the expressions in Qplane (e.g. split a long list into macros)",
            )
        return
    ctx.rule_budget -= len(expression)
    for found in qc.rule_expression_findings(
        ctx.lines, expression, at.line, at.column, role=role, macros=ctx.macros
    ):
        report_finding(at, found)


def check_tags(tags: View) -> None:
    if not tags.optional_sequence("tags"):
        return
    for tag in tags.elements():
        if not tag.mapping("a tag"):
            continue
        unknown_keys(tag, qs.TAG_KEYS, "a tag")
        values: dict[str, str | None] = {}
        for key in sorted(qs.TAG_KEYS):
            at = tag.get(key)
            values[key] = at.string(key) if at is not None else ""
            if values[key] == "":
                tag.error(
                    "tag-field",
                    f"the tag has no {quote(key)}; Qtap's validator rejects the config",
                    f"set {quote(key)} in Qplane's tag settings",
                )
        source = values.get("source")
        if source and source not in qs.TAG_SOURCES:
            tag.value_at("source").error(
                "tag-source",
                f"tag source {quote(source)} is not one Qtap accepts",
                f"use one of: {one_of(qs.TAG_SOURCES)}",
            )


def check_control(ctx: Context, control: View) -> None:
    if not control.optional_mapping("control"):
        return
    unknown_keys(control, qs.CONTROL_KEYS, "control")
    at = control.get("default")
    if at is not None:
        default = at.string("default")
        if default and default.lower() not in qs.CONTROL_DEFAULT_ACTIONS:
            at.error(
                "control-default",
                f"control default {quote(default)} is not accepted; Qtap supports only 'allow'",
                "set 'default: allow' and express denials as rules",
            )
    rules = control.get("rules")
    if rules is None or not rules.optional_sequence("control.rules"):
        return
    for rule in control.child("rules").elements():
        if not rule.mapping("a control rule"):
            continue
        unknown_keys(rule, qs.CONTROL_RULE_KEYS, "a control rule")
        for key in ("name", "expr"):
            at = rule.get(key)
            if (at.string(key) if at is not None else "") == "":
                rule.error(
                    "control-rule",
                    f"the control rule has no {quote(key)}; Qtap's validator rejects the config",
                    f"set {quote(key)}",
                )
        rule_expression(ctx, rule, "expr", "control")
        actions = rule.get("actions")
        if actions is not None and actions.optional_sequence("actions"):
            for action in rule.child("actions").elements():
                name = action.string("an action")
                if name is not None and name.lower() not in qs.CONTROL_ACTIONS:
                    action.error(
                        "control-action",
                        f"control action {quote(name)} is not 'allow' or 'deny'",
                        "use allow or deny",
                    )


def check_rulekit(ctx: Context, rulekit: View) -> None:
    if not rulekit.optional_mapping("rulekit"):
        return
    unknown_keys(rulekit, qs.RULEKIT_KEYS, "rulekit")
    macros = rulekit.get("macros")
    if macros is None or not macros.optional_sequence("rulekit.macros"):
        return
    seen: set[str] = set()
    for macro in rulekit.child("macros").elements():
        if not macro.mapping("a rulekit macro"):
            continue
        unknown_keys(macro, qs.RULEKIT_MACRO_KEYS, "a rulekit macro")
        name_at, expr_at = macro.get("name"), macro.get("expr")
        name = name_at.string("name") if name_at is not None else ""
        expr = expr_at.string("expr") if expr_at is not None else ""
        if expr is not None:
            rule_expression(ctx, macro, "expr", "macro")
        if name is None or expr is None:
            continue
        if not name or not expr:
            macro.error(
                "rulekit-macro",
                "the macro needs both 'name' and 'expr'; Qtap's validator rejects the config",
                "set both",
            )
        elif name in seen:
            macro.value_at("name").error(
                "rulekit-macro",
                f"macro name {quote(name)} is used twice; Qtap requires unique macro names",
                "rename one of them in Qplane",
            )
        else:
            seen.add(name)
            at = macro.value_at("name")
            report_finding(at, qc.macro_name_finding(name, at.line, at.column))

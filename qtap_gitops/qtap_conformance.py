"""What Qtap refuses to start with, warns about or silently skips, as plain findings.

The snapshot contract turns each `Finding` into a `Problem` at the place it names. Every function
here is pure: it takes the snapshot text, the value and its position, and returns findings.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import qtap_schema as qs
from .hostname import hostname_problem
from .problems import Severity
from .rulekit import STDLIB_FUNCTIONS, RuleSyntaxError, parse
from .rulekit.legacy import older_grammar_problem
from .rulekit.position import expression_position


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str
    line: int | None
    column: int | None
    message: str
    fix: str


def declared_macros(root: Any) -> frozenset[str]:
    """Names under `rulekit.macros` (those with a name), whatever else is wrong with them."""
    rulekit = root.get("rulekit") if isinstance(root, Mapping) else None
    macros = rulekit.get("macros") if isinstance(rulekit, Mapping) else None
    if not isinstance(macros, list):
        return frozenset()
    return frozenset(
        str(m["name"]) for m in macros if isinstance(m, Mapping) and m.get("name") is not None
    )


def rule_expression_findings(
    text: str | Sequence[str],
    expression: str,
    line: int | None,
    column: int | None,
    *,
    role: str,
    macros: Collection[str],
) -> list[Finding]:
    """Check one rule expression. `role` is "macro", "control" or a plugin type. `text` is
    the snapshot, or its lines (`splitlines()`) when many expressions are checked.

    A macro or control rule that does not parse makes Qtap's Validate() fail, so Qtap does not
    start: an error. A plugin rule that does not parse is logged and skipped when the plugin
    starts (the rule never applies): a warning. Calls rulekit cannot resolve are not checked
    when Qtap starts; rulekit evaluates them to an error ("unknown function", qpoint-io/rulekit
    functions.go at 044b7a5), so the rule never matches: a warning.
    """
    if not expression:
        return _empty_expression_findings(line, column, role=role)
    try:
        parsed = parse(expression)
    except RuleSyntaxError as exc:
        return [_syntax_finding(text, expression, line, column, exc, role=role)]
    findings = []
    older = _older_grammar_finding(text, expression, line, column, role=role)
    if older is not None:
        findings.append(older)
    for call in parsed.calls:
        problem = _call_problem(call.name, call.arguments, macros)
        if problem is None:
            continue
        at_line, at_column, _ = _locate(text, expression, line, column, call.offset)
        findings.append(
            Finding(
                Severity.WARNING,
                "rule-call",
                at_line,
                at_column,
                f"{problem}; Qtap starts, but rulekit evaluates the call to an error "
                "('unknown function'), so the rule never matches",
                "declare the macro under rulekit.macros or correct the call",
            )
        )
    return findings


def _empty_expression_findings(line: int | None, column: int | None, *, role: str) -> list[Finding]:
    if role in ("macro", "control"):
        return []  # an empty expr is the `required` check of the contract already
    return [
        Finding(
            Severity.WARNING,
            "rule-syntax",
            line,
            column,
            f"the {role} rule has an empty expression; Qtap skips the rule, so it never applies",
            "give the rule an expression in Qplane, or remove the rule",
        )
    ]


def _syntax_finding(
    text: str | Sequence[str],
    expression: str,
    line: int | None,
    column: int | None,
    exc: RuleSyntaxError,
    *,
    role: str,
) -> Finding:
    """An expression that does not parse: fatal for a macro or control rule, else skipped."""
    at_line, at_column, where = _locate(text, expression, line, column, exc.offset)
    if role in ("macro", "control"):
        what = "rulekit macro" if role == "macro" else "control rule"
        return Finding(
            Severity.ERROR,
            "rule-syntax",
            at_line,
            at_column,
            f"the {what}'s expression does not parse ({exc.message}{where}); Qtap's "
            "config validation rejects it and Qtap does not start",
            "correct the expression in Qplane; rulekit's syntax is "
            "`field op value` joined with and/or/not, e.g. res.status >= 500",
        )
    return Finding(
        Severity.WARNING,
        "rule-syntax",
        at_line,
        at_column,
        f"the {role} rule's expression does not parse ({exc.message}{where}); Qtap logs "
        "'error parsing log rule' and skips the rule, so it never applies",
        "correct the expression in Qplane; rulekit's syntax is "
        "`field op value` joined with and/or/not, e.g. res.status >= 500",
    )


def _older_grammar_finding(
    text: str | Sequence[str],
    expression: str,
    line: int | None,
    column: int | None,
    *,
    role: str,
) -> Finding | None:
    """Syntax only current rulekit accepts, refused by the goyacc releases."""
    older = older_grammar_problem(expression)
    if older is None:
        return None
    offset, what = older
    at_line, at_column, where = _locate(text, expression, line, column, offset)
    outcome = (
        "a Qtap build with one of them does not start"
        if role in ("macro", "control")
        else "a Qtap build with one of them skips the rule"
    )
    return Finding(
        Severity.WARNING,
        "rule-syntax-revision",
        at_line,
        at_column,
        f"current rulekit accepts this expression, but its goyacc releases (parser.y, "
        f"before the hand-written parser of 00088b9) refuse it: {what}{where}; "
        f"{outcome}",
        "keep to the older syntax (no [..] or .field after a value, no parentheses "
        "around values, one comparison per operand pair) unless the stack's Qtap "
        "release is known to ship the newer rulekit",
    )


def _call_problem(name: str, arguments: int, macros: Collection[str]) -> str | None:
    functions = {**STDLIB_FUNCTIONS, **qs.QTAP_RULE_FUNCTIONS}
    if name in functions:
        expected = functions[name]
        if expected != arguments:
            return f"{name}() takes {expected} argument(s), this call passes {arguments}"
        return None
    if name in macros:
        if arguments:
            return f"macro {name}() takes no arguments, this call passes {arguments}"
        return None
    known = ", ".join(sorted(functions))
    return (
        f"{name}() is neither a macro under rulekit.macros nor a function Qtap provides ({known})"
    )


def macro_name_finding(name: str, line: int | None, column: int | None) -> Finding | None:
    """rulekit.Ctx.Validate refuses a macro named like a stdlib or Qtap function."""
    if name in STDLIB_FUNCTIONS or name in qs.QTAP_RULE_FUNCTIONS:
        kind = "rulekit's stdlib" if name in STDLIB_FUNCTIONS else "Qtap's rule functions"
        return Finding(
            Severity.ERROR,
            "rulekit-macro",
            line,
            column,
            f"macro name {name!r} conflicts with a function of {kind}; rulekit's validation "
            "fails and Qtap does not start",
            "rename the macro in Qplane",
        )
    return None


def _locate(
    text: str | Sequence[str], expression: str, line: int | None, column: int | None, offset: int
) -> tuple[int | None, int | None, str]:
    """The file position of `offset` in the expression, and a note for the message."""
    if line is None or column is None:
        return line, column, f" at character {offset + 1} of the expression"
    position = expression_position(text, line, column, expression, offset)
    if position.exact:
        return position.line, position.column, ""
    return (
        position.line,
        position.column,
        f" at character {offset + 1} of the expression; the position shown is the value's "
        "start, as YAML folding or escapes hide the exact column",
    )


def endpoint_domain_finding(domain: str, line: int | None, column: int | None) -> Finding | None:
    problem = hostname_problem(domain)
    if problem is None:
        return None
    return Finding(
        Severity.ERROR,
        "endpoint-domain",
        line,
        column,
        f"domain {domain!r} is not a host name as Qtap validates it (go-playground's RFC 952 "
        f"'hostname' rule): {problem}; Qtap's config validation fails and Qtap does not start",
        "use a host name that starts with a letter and whose first label has at least two "
        "characters; a host name the rule cannot express cannot be an endpoint",
    )


def legacy_protocol_finding(protocol: str, line: int | None, column: int | None) -> Finding:
    revisions = qs.LEGACY_TAP_PROTOCOLS[protocol]
    return Finding(
        Severity.WARNING,
        "tap-protocol-revision",
        line,
        column,
        f"{protocol!r} is a tap protocol of older Qtap revisions ({revisions}); the current "
        f"revision (QT@b185462:pkg/config/tap.go) knows {', '.join(qs.TAP_PROTOCOLS)} and "
        "ignores it",
        "keep it only if the stack runs a Qtap release that knows it",
    )


def legacy_event_store_finding(kind: str, line: int | None, column: int | None) -> Finding:
    revisions = qs.LEGACY_EVENT_STORE_TYPES[kind]
    return Finding(
        Severity.WARNING,
        "store-type-revision",
        line,
        column,
        f"event store type {kind!r} is known to older Qtap revisions ({revisions}); the current "
        "revision has no such type and falls back to the console store",
        "use type 'pulse' unless the stack runs a Qtap release that knows this type",
    )


def missing_access_url_finding(line: int | None, column: int | None) -> Finding:
    return Finding(
        Severity.WARNING,
        "s3-access-url",
        line,
        column,
        "the s3 store has no 'access_url'; Qtap accepts that, but records an empty link for "
        "every stored object, so Qplane cannot link to captured payloads",
        "set access_url in Qplane, e.g. 'https://{{ENDPOINT}}/{{BUCKET}}/{{DIGEST}}'",
    )

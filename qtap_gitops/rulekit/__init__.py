"""rulekit, the rule language of Qtap's control rules, macros and plugin rules, in Python.

A faithful parser only: it decides whether qpoint-io/rulekit accepts an expression and, if not,
where (the offset rulekit reports) and why. It does not evaluate rules.
"""

from __future__ import annotations

from .parser import STDLIB_FUNCTIONS, Call, ParsedRule, RuleSyntaxError, parse

__all__ = ["STDLIB_FUNCTIONS", "Call", "ParsedRule", "RuleSyntaxError", "parse"]

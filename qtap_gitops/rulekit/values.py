"""Literal values that rulekit accepts only after lexing: quoted strings and regexes.

rulekit lowers its AST after a successful parse (qpoint-io/rulekit `parser.go` at 00088b9,
`parseValueToken`): a quoted string goes through Go's `strconv.Unquote` and a regex through Go's
`regexp.Compile` (RE2 syntax). Either failing is a parse error pointing at the literal.
"""

from __future__ import annotations

import re

_SIMPLE_ESCAPES = frozenset("abfnrtv\\")


def go_unquote_error(quoted: str) -> str | None:
    """Why `strconv.Unquote` refuses the double-quoted Go string `quoted`, or None."""
    if len(quoted) < 2 or quoted[0] != '"' or quoted[-1] != '"':
        return "invalid syntax"
    body = quoted[1:-1]
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == '"' or ch == "\n":
            return "invalid syntax"
        if ch != "\\":
            i += 1
            continue
        if i + 1 >= len(body):
            return "invalid syntax"
        esc = body[i + 1]
        if esc in _SIMPLE_ESCAPES or esc == '"':
            i += 2
        elif esc in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[esc]
            digits = body[i + 2 : i + 2 + width]
            if len(digits) != width or not re.fullmatch(r"[0-9a-fA-F]+", digits):
                return "invalid syntax"
            value = int(digits, 16)
            if esc != "x" and (value > 0x10FFFF or 0xD800 <= value <= 0xDFFF):
                return "invalid syntax"
            i += 2 + width
        elif esc in "01234567":
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or not re.fullmatch(r"[0-7]{3}", digits) or int(digits, 8) > 255:
                return "invalid syntax"
            i += 4
        else:
            return "invalid syntax"
    return None


def rulekit_string_error(raw: str) -> str | None:
    """rulekit's parseString: a single-quoted literal is rewritten to a double-quoted one first."""
    text = raw
    if text.startswith("'"):
        text = text[1:-1].replace('"', '\\"').replace("\\'", "'")
        text = f'"{text}"'
    return go_unquote_error(text)


# Constructs Python's `re` accepts but RE2 (Go's regexp) refuses.
_RE2_REFUSES = (
    (re.compile(r"\(\?(?:=|!|<=|<!)"), "lookaround assertions are not supported"),
    (re.compile(r"\(\?>"), "atomic groups are not supported"),
    (re.compile(r"\(\?\("), "conditionals are not supported"),
    (re.compile(r"\(\?P="), "backreferences are not supported"),
    (re.compile(r"\\[1-9]"), "backreferences are not supported"),
    (re.compile(r"\\Z"), "invalid escape sequence: \\Z"),
    (re.compile(r"(?:[*+?}])\+"), "possessive quantifiers are not supported"),
)
_REPEAT = re.compile(r"\{(\d+)(?:,(\d*))?\}")


def _strip_escaped(pattern: str) -> str:
    """The pattern with escaped characters and \\Q...\\E spans blanked out, for scanning."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("\\Q", i):
            end = pattern.find("\\E", i + 2)
            i = len(pattern) if end < 0 else end + 2
            out.append("_")
            continue
        if pattern[i] == "\\" and i + 1 < len(pattern):
            out.append(pattern[i : i + 2] if pattern[i + 1] in "123456789Z" else "_")
            i += 2
            continue
        out.append(pattern[i])
        i += 1
    return "".join(out)


def _to_python(pattern: str) -> str:
    """Rewrite RE2-only syntax into something Python's `re` parses the same way."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("\\Q", i):
            end = pattern.find("\\E", i + 2)
            literal = pattern[i + 2 :] if end < 0 else pattern[i + 2 : end]
            out.append(re.escape(literal))
            i = len(pattern) if end < 0 else end + 2
            continue
        if pattern.startswith("\\z", i):
            out.append("\\Z")
            i += 2
            continue
        if pattern.startswith(("\\p", "\\P"), i):
            if i + 2 < len(pattern) and pattern[i + 2] == "{":
                end = pattern.find("}", i + 3)
                i = len(pattern) if end < 0 else end + 1
            else:
                i += 3
            out.append("\\w")
            continue
        if pattern.startswith("\\C", i):
            out.append(".")
            i += 2
            continue
        if pattern.startswith("(?<", i) and not pattern.startswith(("(?<=", "(?<!"), i):
            out.append("(?P<")
            i += 3
            continue
        if pattern[i] == "\\" and i + 1 < len(pattern):
            out.append(pattern[i : i + 2])
            i += 2
            continue
        out.append(pattern[i])
        i += 1
    python = "".join(out)
    # RE2's `U` (ungreedy) flag has no Python equivalent; it does not change what parses.
    return re.sub(r"\(\?([imsU]*)(-?[imsU]*)([:)])", _drop_u_flag, python)


def _drop_u_flag(match: re.Match[str]) -> str:
    on = match.group(1).replace("U", "")
    off = match.group(2).replace("U", "")
    if off == "-":
        off = ""
    if not on and not off:
        return "(?:" if match.group(3) == ":" else "(?:)"
    return f"(?{on}{off}{match.group(3)}"


def re2_error(pattern: str) -> str | None:
    """Why Go's regexp.Compile would refuse `pattern`, or None.

    An approximation: Python's `re` parses the pattern after RE2-only syntax (\\z, \\p{..},
    \\Q..\\E, (?<name>), the U flag) is rewritten, and constructs RE2 lacks (lookaround,
    backreferences, atomic groups, possessive quantifiers, repeat counts over 1000) are refused.
    """
    scan = _strip_escaped(pattern)
    for construct, reason in _RE2_REFUSES:
        if construct.search(scan):
            return reason
    for match in _REPEAT.finditer(scan):
        counts = [int(n) if len(n) <= 6 else 10**6 for n in match.groups() if n]
        if any(n > 1000 for n in counts):
            return f"invalid repeat count: {match.group(0)}"
    try:
        re.compile(_to_python(pattern))
    except re.error as exc:
        return str(exc)
    except (OverflowError, RecursionError):
        return "expression too large"
    return None

"""Host names as Qtap validates `tap.endpoints[].domain`: go-playground/validator's `hostname`.

Qtap tags the field `validate:"required,hostname"` (qpoint-io/qtap pkg/config/tap.go at b185462
and 15cd28d). go-playground/validator v10 maps `hostname` to `isHostnameRFC952` (baked_in.go),
which matches `hostnameRegexStringRFC952` (regexes.go at c0a5f73):

    ^[a-zA-Z]([a-zA-Z0-9\\-]+[\\.]?)*[a-zA-Z0-9]$

the RFC 952 form: it must start with a letter, so `1password.com` is refused, and a dot may only
follow at least two label characters, so a one-letter first label such as `x.com` is refused too
(a quirk of the regex, but it is what Qtap runs). No trailing dot, no `_`, no wildcard. A
refused domain makes `Validate()` fail and Qtap does not start.
"""

from __future__ import annotations

import re

# The same language without nested quantifiers: Python's backtracking `re` takes exponential
# time on the pattern as written (Go's RE2 does not). After the first letter, a dot may follow
# any label character but not another dot or that first letter.
HOSTNAME_RFC952 = re.compile(
    r"^[a-zA-Z](?:[a-zA-Z0-9\-](?:[a-zA-Z0-9\-]|(?<!\.)\.)*)?[a-zA-Z0-9]$", re.ASCII
)


def hostname_problem(domain: str) -> str | None:
    """Why go-playground's `hostname` validator refuses `domain`, or None when it accepts it."""
    if HOSTNAME_RFC952.fullmatch(domain):
        return None
    if not domain:
        return "it is empty"
    if not domain[:1].isascii() or not domain[:1].isalpha():
        return f"it starts with {domain[:1]!r}, and an RFC 952 host name must start with a letter"
    if not domain[-1:].isascii() or not domain[-1:].isalnum():
        return f"it ends with {domain[-1:]!r}, and it must end with a letter or digit"
    bad = sorted({ch for ch in domain if not (ch.isascii() and (ch.isalnum() or ch in "-."))})
    if bad:
        shown = ", ".join(repr(ch) for ch in bad)
        return f"it contains {shown}; only letters, digits, '-' and '.' are allowed"
    if ".." in domain:
        return "it has an empty label ('..')"
    first_label = domain.split(".", 1)[0]
    if len(first_label) == 1:
        return (
            f"its first label {first_label!r} is a single character, which the validator's "
            "RFC 952 pattern does not accept"
        )
    return "it does not match the RFC 952 host name pattern the validator uses"

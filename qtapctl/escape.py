"""Escaping for everything the tools print: input can add words, never structure.

Snapshot keys, values, stack names and messages come from files in pull requests. In a terminal
an escape sequence could recolour, hide or rewrite lines; in the PR comment a newline, a `|` or a
code fence could close a table or a block and show text the project never wrote. So every piece
of input goes out through one of these functions, chosen by where it lands:

- `terminal_line` / `terminal_block`: control characters (ESC, CR, NUL, DEL, C1), bidi
  overrides and other invisible format characters shown as `\\x1b` / `\\u202e`; a line also
  shows a newline as `\\n`.
- `md_text` / `md_code`: a table cell, heading or list item in markdown: everything that
  markdown or HTML could read as syntax becomes a character reference, so it is shown literally.
- `md_fence`: a fenced block whose fence is longer than any backtick run inside it.
"""

from __future__ import annotations

import re
import unicodedata

# Unicode "format" characters (Cf: bidi overrides and isolates, zero-width joiners, BOM...) are
# invisible and can reorder what a reader sees (CVE-2021-42574, "Trojan Source").
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _escape_char(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _visible(char: str, keep: str) -> str:
    if char in keep:
        return char
    if char == "\\":
        return char
    if unicodedata.category(char) in _INVISIBLE_CATEGORIES:
        return _escape_char(char)
    return char


def terminal_line(text: object) -> str:
    """One line for a terminal: nothing invisible, no line break."""
    return "".join(_visible(c, "") for c in str(text))


def terminal_block(text: object) -> str:
    """Lines for a terminal: line breaks and tabs kept, every other control character shown."""
    return "".join(_visible(c, "\n\t") for c in str(text))


# Characters kept as they are in markdown: letters, digits, space and punctuation that no
# markdown or HTML construct starts with in the middle of a line.
_MD_SAFE = re.compile(r"[A-Za-z0-9 ,.:;/=@%+\-?'\"(){}]")


def md_text(text: object) -> str:
    """Text for a markdown table cell, heading or list item, shown literally.

    Invisible characters are first made visible (`\\x1b`), then everything but letters, digits
    and harmless punctuation becomes a numeric character reference: `|` cannot split a cell, a
    backtick cannot open code, `<` cannot open HTML, `*`/`_`/`[` cannot format or link, and a
    newline cannot end the line (it is shown as `\\n`).
    """
    visible = terminal_line(text)
    return "".join(
        c if _MD_SAFE.fullmatch(c) or (c.isalnum() and not c.isascii()) else f"&#{ord(c)};"
        for c in visible
    )


def md_code(text: object) -> str:
    """Inline code for markdown: `<code>` with escaped content (a backtick span could be closed
    by the content itself, and `|` would still split a table cell)."""
    return f"<code>{md_text(text)}</code>"


def md_fence(text: object, info: str = "text") -> str:
    """A fenced code block holding `text` verbatim (control characters made visible).

    The fence is one backtick longer than the longest backtick run in the text, so no line of
    the text can close it (CommonMark: a closing fence is at least as long as the opening one).
    """
    body = terminal_block(text).rstrip("\n")
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{body}\n{fence}\n"

"""Where a character of a YAML scalar is in the file, for errors inside rule expressions.

ruamel's round-trip loader gives the position of a scalar's first character (`lc.value(key)`),
which is its quote or block indicator for a quoted or block scalar. From there this walks the
scalar's source text in step with the decoded value. Where the mapping is exact (a one-line
plain or quoted scalar, a literal block, a folded block of plain lines) the result points at the
character; where YAML folding or escapes make it ambiguous, it points at the scalar's start and
says so (`exact=False`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ScalarPosition:
    line: int  # 1-based
    column: int  # 1-based, in characters
    exact: bool


_DOUBLE_ESCAPE_WIDTH = {"x": 4, "u": 6, "U": 10}


def _single_line(raw: str, value: str, offset: int, quote: str) -> int | None:
    """Index in `raw` (the text after the opening quote) of character `offset` of `value`."""
    i = 0  # index in raw
    for index in range(len(value) + 1):
        if index == offset:
            return i
        if i >= len(raw):
            return None
        ch = raw[i]
        if quote == "'" and raw.startswith("''", i):
            i += 2
        elif quote == '"' and ch == "\\":
            i += _DOUBLE_ESCAPE_WIDTH.get(raw[i + 1 : i + 2], 2)
        elif quote and ch == quote:
            return None  # the scalar ended on this line: it continued on the next
        else:
            if ch != value[index]:
                return None
            i += 1
    return None


def _block_lines(lines: Sequence[str], header_line: int) -> tuple[int, list[str]]:
    """The indentation and content lines of the block scalar whose header is on `header_line`."""
    parent_indent = len(lines[header_line]) - len(lines[header_line].lstrip(" "))
    body: list[str] = []
    indent = None
    for number in range(header_line + 1, len(lines)):  # no copy of the rest of the file
        line = lines[number]
        stripped = line.lstrip(" ")
        this_indent = len(line) - len(stripped)
        if stripped and indent is None:
            if this_indent <= parent_indent:
                break
            indent = this_indent
        if stripped and indent is not None and this_indent < indent:
            break
        body.append(line)
    while body and not body[-1].strip():
        body.pop()
    return indent or parent_indent + 1, body


def expression_position(
    text: str | Sequence[str], value_line: int, value_column: int, value: str, offset: int
) -> ScalarPosition:
    """Position in `text` of character `offset` of the scalar `value` starting at the given
    1-based line and column (as ruamel reports the value's start). `text` may be given as its
    lines (`text.splitlines()`), so a caller locating many values splits the file once."""
    start = ScalarPosition(value_line, value_column, False)
    lines = text.splitlines() if isinstance(text, str) else text
    if not 1 <= value_line <= len(lines):
        return start
    row = value_line - 1
    first = lines[row][value_column - 1 :]
    indicator = first[:1]
    if indicator in ("'", '"'):
        index = _single_line(first[1:], value, offset, indicator)
        if index is None:
            return start
        return ScalarPosition(value_line, value_column + 1 + index, True)
    if indicator in ("|", ">"):
        indent, body = _block_lines(lines, row)
        if indicator == "|":
            target_line = value.count("\n", 0, offset)
            column = offset - (value.rfind("\n", 0, offset) + 1)
            if target_line >= len(body):
                return start
            return ScalarPosition(value_line + 1 + target_line, indent + column + 1, True)
        # Folded: each line break between two plain content lines became one space.
        remaining = offset
        for number, line in enumerate(body):
            content = line[indent:]
            if not content or content.startswith((" ", "\t")):
                return start  # blank or more-indented lines fold differently
            if remaining <= len(content):
                return ScalarPosition(value_line + 1 + number, indent + remaining + 1, True)
            remaining -= len(content) + 1
        return start
    # Plain scalar: exact when the value sits on its first line as written.
    on_first_line = first.startswith(value) or first[:offset] == value[:offset]
    if on_first_line and offset <= len(first):
        return ScalarPosition(value_line, value_column + offset, True)
    return start

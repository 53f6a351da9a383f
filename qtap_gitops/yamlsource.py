"""YAML parsing that keeps positions, for messages that point at a line and column.

Qtap parses its config with Go's yaml.v3, which rejects duplicate mapping keys ("mapping key
already defined") and reads only the first document of a stream. ruamel.yaml's round-trip loader
gives line and column for every key and item, so each problem can name where it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from .problems import Problem, Severity

PathPart = str | int
Position = tuple[int | None, int | None]

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_\-]+$")


def render_path(parts: tuple[PathPart, ...]) -> str:
    """`("services", "object_stores", 0, "bucket")` -> `services.object_stores[0].bucket`."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f'["{part}"]'
    return out


@dataclass
class ParsedYaml:
    """The first document of a YAML stream (None when it could not be read) and its problems."""

    root: Any
    problems: list[Problem]


class _RecordingConstructor(RoundTripConstructor):
    """Records duplicate mapping keys instead of stopping at the first one.

    The first occurrence is kept, and the rest of the file is still read, so one run reports
    every duplicate and every other problem of the file.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.duplicates: list[tuple[Any, Any, Any]] = []

    def check_mapping_key(
        self, node: Any, key_node: Any, mapping: Any, key: Any, value: Any
    ) -> bool:
        if key in mapping:
            self.duplicates.append((mapping, key, key_node.start_mark))
            return False
        return True


def _paths(node: Any, path: tuple[PathPart, ...], out: dict[int, tuple[PathPart, ...]]) -> None:
    if isinstance(node, dict):
        out[id(node)] = path
        for key, value in node.items():
            _paths(value, (*path, str(key)), out)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _paths(value, (*path, index), out)


def parse_yaml(text: str, file: str, *, what: str) -> ParsedYaml:
    """Parse `text` in one pass; `what` names the file's role in messages ("snapshot", ...)."""
    problems: list[Problem] = []

    def problem(code: str, line: int | None, column: int | None, message: str, fix: str) -> None:
        problems.append(Problem(Severity.ERROR, code, file, line, column, "", message, fix))

    loader = YAML(typ="rt")
    loader.Constructor = _RecordingConstructor
    try:
        documents = [doc for doc in loader.load_all(text) if doc is not None]
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        detail = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            detail = f"{exc.problem} ({exc.context})"
        problem(
            "yaml-syntax",
            line,
            column,
            f"the {what} is not valid YAML: {detail}",
            "correct the YAML syntax at this position; for a snapshot, export it again from "
            "Qplane (Settings -> Snapshot) rather than editing it by hand",
        )
        return ParsedYaml(None, problems)
    except YAMLError as exc:
        problem("yaml-syntax", None, None, f"the {what} is not valid YAML: {exc}", "")
        return ParsedYaml(None, problems)

    if not documents:
        problem(
            "empty-file",
            1,
            1,
            f"the {what} holds no YAML document (only comments or blank lines)",
            "put the full YAML content in the file",
        )
        return ParsedYaml(None, problems)
    root = documents[0]
    if len(documents) > 1:
        # Point at the '---' that opens the second document, not at its first key.
        lines = text.splitlines()
        line = node_position(documents[1])[0] or len(lines)
        line -= 1
        while line > 0 and not lines[line].startswith("---"):
            line -= 1
        problem(
            "multiple-documents",
            line + 1,
            1,
            f"the {what} holds {len(documents)} YAML documents; only the first would be read",
            "keep exactly one document in the file (remove the extra '---' sections)",
        )

    paths: dict[int, tuple[PathPart, ...]] = {}
    _paths(root, (), paths)
    constructor = loader.constructor
    assert isinstance(constructor, _RecordingConstructor)
    for mapping, key, mark in constructor.duplicates:
        if id(mapping) not in paths:
            continue  # a duplicate in a later document, which is reported as a whole
        rendered = render_path((*paths[id(mapping)], str(key)))
        problem(
            "duplicate-key",
            mark.line + 1,
            mark.column + 1,
            f"duplicate key {rendered!r}; Go's yaml.v3 refuses a mapping that repeats a key",
            "keep one occurrence of the key and merge the values into it",
        )
    return ParsedYaml(root, problems)


def key_position(mapping: Any, key: Any) -> Position:
    """1-based (line, column) of `key` in `mapping`, or of the mapping if unknown."""
    if isinstance(mapping, CommentedMap):
        try:
            line, column = mapping.lc.key(key)
            return line + 1, column + 1
        except (KeyError, TypeError):
            return node_position(mapping)
    return None, None


def value_position(mapping: Any, key: Any) -> Position:
    if isinstance(mapping, CommentedMap):
        try:
            line, column = mapping.lc.value(key)
            return line + 1, column + 1
        except (KeyError, TypeError):
            return key_position(mapping, key)
    return None, None


def item_position(sequence: Any, index: int) -> Position:
    if isinstance(sequence, CommentedSeq):
        try:
            line, column = sequence.lc.item(index)
            return line + 1, column + 1
        except (KeyError, IndexError, TypeError):
            return node_position(sequence)
    return None, None


def node_position(node: Any) -> Position:
    lc = getattr(node, "lc", None)
    if lc is not None and lc.line is not None:
        return lc.line + 1, (lc.col or 0) + 1
    return None, None


@dataclass(frozen=True)
class Located:
    """A value inside a parsed document, with its path and the position that best names it."""

    value: Any
    path: tuple[PathPart, ...]
    line: int | None
    column: int | None

    @property
    def rendered_path(self) -> str:
        return render_path(self.path)

    def child(self, key: PathPart) -> Located:
        """The child at `key` (a mapping key or a sequence index); positions point at the key."""
        if isinstance(key, int):
            line, column = item_position(self.value, key)
            return Located(self.value[key], (*self.path, key), line, column)
        line, column = key_position(self.value, key)
        return Located(self.value[key], (*self.path, key), line, column)

    def value_at(self, key: str) -> Located:
        """Like `child`, but positioned at the value, for messages about the value itself."""
        line, column = value_position(self.value, key)
        return Located(self.value[key], (*self.path, key), line, column)

    def items(self) -> Iterator[tuple[str, Located]]:
        if isinstance(self.value, dict):
            for key in self.value:
                yield str(key), self.child(key)

    def elements(self) -> Iterator[Located]:
        if isinstance(self.value, list):
            for index in range(len(self.value)):
                yield self.child(index)

"""One typed, bounded view of a YAML document, read as Qtap's Go yaml.v3 decoder reads it.

Every file this project reads (snapshots, stack settings, Pulumi.yaml) arrives in a pull request,
so parsing must be safe for any input: no exception, no unbounded time or memory.

- The event stream comes from libyaml (PyYAML's C parser). Go's yaml.v3 is a port of libyaml,
  so a document libyaml refuses is one Qtap refuses too (go-yaml/yaml README, "pure Go port of
  libyaml"); it is also fast enough to decide a 1 MiB file well under a second.
- Nodes are composed here, not by a library constructor, with explicit limits: at most
  `MAX_NODES` nodes counting every alias as a copy of what it names (a "billion laughs" file of
  a few KB is refused at once), at most `MAX_DEPTH` levels, and no alias to a node that contains
  it (recursion).
- Decisions taken once, here: only string keys; duplicate keys refused (yaml.v3 reports "mapping
  key already defined"); merge keys (`<<`) and tags other than the core ones (`!!str`, `!!int`,
  `!!bool`, `!!float`, `!!null`, `!!map`, `!!seq`) refused, since Qplane writes none of them and
  yaml.v3 gives them meanings (binary decoding, merging) a reviewer would not see; control
  characters refused with their line and column.
- Scalars are decoded into the Go kind of the field that reads them, with yaml.v3's rules
  (go-yaml/yaml decode.go `scalar`, resolve.go `resolve`): a string field takes any scalar's
  text (null is ""), a bool field takes true/false and also the YAML 1.1 words y/yes/on/n/no/off
  in any of their spellings, an int field takes Go integer syntax. A mapping or list where a
  scalar is expected (or the reverse) is an error, as yaml.v3 reports "cannot unmarshal".

Checks never touch a node: they read through `View`, whose accessors report a `Problem` (file,
line:column, YAML path, what, fix) and return None instead of raising.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from .problems import Problem, Severity, problem
from .qtap_schema import SECRET_FIELDS

PathPart = str | int
Position = tuple[int | None, int | None]

MAX_DEPTH = 64
MAX_NODES = 10_000
MAX_PARSE_PROBLEMS = 200

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-]+", re.ASCII)
# Characters YAML does not allow in a stream (YAML 1.1/1.2 "c-printable"), libyaml's test.
_NOT_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CORE = "tag:yaml.org,2002:"
STR, INT, BOOL, FLOAT, NULL, MAP, SEQ = (
    f"{_CORE}{name}" for name in ("str", "int", "bool", "float", "null", "map", "seq")
)
_SCALAR_TAGS = frozenset({STR, INT, BOOL, FLOAT, NULL})
_TAG_NAMES = {STR: "!!str", INT: "!!int", BOOL: "!!bool", FLOAT: "!!float", NULL: "!!null"}

# yaml.v3 resolve.go: the plain scalars that resolve to null and bool (YAML 1.2 core schema).
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
# decode.go, reflect.Bool: YAML 1.1 words accepted only when the field is a Go bool.
_BOOL_WORDS = {
    **{w: True for w in ("y", "Y", "yes", "Yes", "YES", "on", "On", "ON")},
    **{w: False for w in ("n", "N", "no", "No", "NO", "off", "Off", "OFF")},
}
_FLOATS = {
    ".inf": math.inf,
    ".Inf": math.inf,
    ".INF": math.inf,
    "+.inf": math.inf,
    "+.Inf": math.inf,
    "+.INF": math.inf,
    "-.inf": -math.inf,
    "-.Inf": -math.inf,
    "-.INF": -math.inf,
    ".nan": math.nan,
    ".NaN": math.nan,
    ".NAN": math.nan,
}
_GO_INT = re.compile(
    r"([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)", re.ASCII
)
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?", re.ASCII)
_INT64 = (-(2**63), 2**64 - 1)


def render_path(parts: tuple[PathPart, ...]) -> str:
    """`("services", "object_stores", 0, "bucket")` -> `services.object_stores[0].bucket`."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{quote(part)}]"
    return out


def quote(text: str, limit: int = 80) -> str:
    """`text` quoted for a message: control and non-ASCII format characters escaped, and cut."""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return repr(text)


def is_credential_key(parent: tuple[PathPart, ...], key: PathPart) -> bool:
    """True when the value at `parent + (key,)` is a credential (or holds one): a field the
    contract classifies as secret (token, access_key, ...) or any header value."""
    if isinstance(key, str) and key in SECRET_FIELDS:
        return True
    return bool(parent) and parent[-1] == "headers" and isinstance(key, str)


@dataclass(eq=False, slots=True)
class Node:
    """A composed YAML node. An alias is the very node it names, so sharing is explicit."""

    kind: str  # "scalar", "mapping" or "sequence"
    tag: str  # the explicit tag, "" when none
    text: str  # a scalar's text after escapes (yaml.v3's Node.Value)
    plain: bool  # an unquoted, untagged scalar (the only kind yaml.v3 resolves)
    line: int
    column: int
    keys: list[Node] = field(default_factory=list)
    items: list[Node] = field(default_factory=list)  # mapping values, or sequence items
    index: dict[str, int] = field(default_factory=dict)  # mapping key text -> position
    size: int = 1  # nodes counting aliases as copies
    depth: int = 1
    _value: Any = None
    _resolved: bool = False

    def resolve(self) -> tuple[str, Any]:
        """(core tag, Python value) of a scalar, as yaml.v3 resolves it for an untyped field."""
        if self.tag == "!" or (not self.plain and self.tag == ""):
            return STR, self.text
        if self.tag == STR:
            return STR, self.text
        return resolve_plain(self.text)

    def value(self) -> Any:
        """The node as plain Python data (dicts with str keys, lists, scalars); memoized."""
        if not self._resolved:
            if self.kind == "mapping":
                self._value = {
                    k.text: v.value() for k, v in zip(self.keys, self.items, strict=True)
                }
            elif self.kind == "sequence":
                self._value = [item.value() for item in self.items]
            else:
                self._value = self.resolve()[1]
            self._resolved = True
        return self._value


def resolve_plain(text: str) -> tuple[str, Any]:
    """yaml.v3 resolve.go for a plain scalar: null, bool, int, float, else string."""
    if text in _NULLS:
        return NULL, None
    if text in _BOOLS:
        return BOOL, _BOOLS[text]
    if text in _FLOATS:
        return FLOAT, _FLOATS[text]
    if not text or text[0] not in "+-.0123456789":
        return STR, text
    plain = text.replace("_", "")
    # An integer literal of more than 100 characters is beyond uint64 anyway (and Python
    # refuses to convert very long ones); Go then tries it as a float.
    match = _GO_INT.fullmatch(plain) if len(plain) <= 100 else None
    if match:
        sign, body = match.groups()
        if len(body) > 1 and body[0] == "0" and body[1] in "01234567":
            body = "0o" + body[1:]  # Go's 0777 is octal
        number = int(sign + body, 0)
        if _INT64[0] <= number <= _INT64[1]:
            return INT, number
    if _YAML_FLOAT.fullmatch(plain):
        real = float(plain)
        # Go's ParseFloat fails with ErrRange on overflow, and yaml.v3 then keeps a string.
        return (FLOAT, real) if math.isfinite(real) else (STR, text)
    return STR, text


@dataclass
class ParsedYaml:
    """The first document of a stream (None when it cannot be used) and the problems found."""

    root: Node | None
    problems: list[Problem]

    def view(self, file: str, sink: list[Problem]) -> View | None:
        """The root as a `View` reporting into `sink`."""
        if self.root is None:
            return None
        return View(self.root, (), self.root.line, self.root.column, file, sink)


class _LimitError(Exception):
    """A limit was crossed: stop reading the file at once."""


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _events(text: str) -> Iterator[Any]:
    loader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
    return yaml.parse(text, Loader=loader)


class _Composer:
    def __init__(self, text: str, file: str, what: str) -> None:
        self.text = text
        self.file = file
        self.what = what
        self.problems: list[Problem] = []
        self.anchors: dict[str, Node] = {}
        self.open: set[int] = set()  # ids of collections being composed (for recursion)
        self.count = 0
        self.root_scalar: Node | None = None
        self.documents = 0
        self.root: Node | None = None
        self.stack: list[tuple[Node, list[Node]]] = []  # open collections and their pending key
        self.paths: list[tuple[PathPart, ...]] = []  # the YAML path of each open collection
        self.second_document_line: int | None = None

    def error(
        self, code: str, line: int | None, column: int | None, message: str, fix: str
    ) -> None:
        if len(self.problems) >= MAX_PARSE_PROBLEMS:
            self.problems.append(
                problem(
                    "too-many-problems",
                    self.file,
                    (line, column),
                    "",
                    f"the {self.what} has more than {MAX_PARSE_PROBLEMS} YAML problems; "
                    "reading stopped here",
                    "correct the ones shown first, or export the file again",
                )
            )
            raise _LimitError
        self.problems.append(
            problem(
                code,
                self.file,
                (line, column),
                "",
                message,
                fix,
            )
        )

    def fatal(
        self, code: str, line: int | None, column: int | None, message: str, fix: str
    ) -> None:
        self.error(code, line, column, message, fix)
        raise _LimitError

    def compose(self) -> Node | None:
        try:
            self.walk()
        except _LimitError:
            return None
        except yaml.MarkedYAMLError as exc:
            self.syntax_error(exc)
            return None
        except yaml.YAMLError as exc:  # a reader error without a position
            self.error("yaml-syntax", None, None, f"the {self.what} is not valid YAML: {exc}", "")
            return None
        return self.first_document()

    def walk(self) -> None:
        # One handler per libyaml event kind; the others (stream and document ends) carry
        # nothing to check.
        handlers: dict[type, Callable[[Any, int, int], None]] = {
            yaml.DocumentStartEvent: self.on_document_start,
            yaml.MappingEndEvent: self.on_collection_end,
            yaml.SequenceEndEvent: self.on_collection_end,
            yaml.AliasEvent: self.on_alias,
            yaml.ScalarEvent: self.on_scalar,
            yaml.MappingStartEvent: self.on_collection_start,
            yaml.SequenceStartEvent: self.on_collection_start,
        }
        for event in _events(self.text):
            handler = handlers.get(type(event))
            if handler is None:
                continue
            mark = event.start_mark
            line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
            handler(event, line, column)

    def on_document_start(self, event: Any, line: int, column: int) -> None:
        self.documents += 1
        if self.documents == 2:
            self.second_document_line = line
        if event.explicit and getattr(event, "tags", None):
            self.error(
                "yaml-directive",
                line,
                1,
                f"the {self.what} declares tag directives (%TAG)",
                "remove the directive lines; a Qplane export has none",
            )

    def on_collection_end(self, event: Any, line: int, column: int) -> None:
        node, _ = self.stack.pop()
        self.paths.pop()
        self.open.discard(id(node))
        self.finish(node, self.stack, self.documents)

    def on_alias(self, event: Any, line: int, column: int) -> None:
        target = self.anchors.get(event.anchor or "")
        if target is None:
            self.fatal(
                "yaml-syntax",
                line,
                column,
                f"the {self.what} uses alias *{event.anchor} before its anchor",
                "define the anchor (&name) before using it, or write the value out",
            )
        assert target is not None
        if id(target) in self.open:
            self.fatal(
                "yaml-alias-recursive",
                line,
                column,
                f"alias *{event.anchor} refers to a node that contains it; "
                "the document would be infinite",
                "write the value out instead of using a recursive alias",
            )
        self.count += target.size
        if self.count > MAX_NODES:
            self.too_large(line, column, alias=True)
        self.attach(target, self.stack, self.documents)

    def count_node(self, line: int, column: int) -> None:
        self.count += 1
        if self.count > MAX_NODES:
            self.too_large(line, column, alias=False)

    def on_scalar(self, event: Any, line: int, column: int) -> None:
        self.count_node(line, column)
        tag = event.tag or ""
        node = Node(
            "scalar",
            tag,
            event.value,
            bool(event.implicit[0]) and not event.style and tag == "",
            line,
            column,
        )
        self.check_tag(node)
        self.anchor(event.anchor, node)
        self.attach(node, self.stack, self.documents)

    def on_collection_start(self, event: Any, line: int, column: int) -> None:
        self.count_node(line, column)
        kind = "mapping" if isinstance(event, yaml.MappingStartEvent) else "sequence"
        node = Node(kind, event.tag or "", "", False, line, column)
        self.check_tag(node)
        self.anchor(event.anchor, node)
        stack = self.stack
        if len(stack) + 1 > MAX_DEPTH:
            self.fatal(
                "yaml-too-deep",
                line,
                column,
                f"the {self.what} nests deeper than {MAX_DEPTH} levels",
                "a Qplane export is a few levels deep; remove the nesting",
            )
        self.open.add(id(node))
        self.paths.append(self.child_path(stack))
        stack.append((node, []))
        if self.root is None and self.documents == 1 and len(stack) == 1:
            self.root = node

    def syntax_error(self, exc: yaml.MarkedYAMLError) -> None:
        mark = exc.problem_mark or exc.context_mark
        detail = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            detail = f"{exc.problem} ({exc.context})"
        self.error(
            "yaml-syntax",
            mark.line + 1 if mark is not None else None,
            mark.column + 1 if mark is not None else None,
            f"the {self.what} is not valid YAML: {detail}",
            "correct the YAML syntax at this position; for a snapshot, export it again from "
            "Qplane (Settings -> Snapshot) rather than editing it by hand",
        )

    def first_document(self) -> Node | None:
        root = self.root
        if self.root_scalar is not None and root is None:
            root = self.root_scalar
        if self.documents > 1 and root is not None:
            self.error(
                "multiple-documents",
                self.second_document_line,
                1,
                f"the {self.what} holds {self.documents} YAML documents; only the first would "
                "be read",
                "keep exactly one document in the file (remove the extra '---' sections)",
            )
        return root

    def child_path(self, stack: list[tuple[Node, list[Node]]]) -> tuple[PathPart, ...]:
        if not stack:
            return ()
        parent, pending = stack[-1]
        if parent.kind == "sequence":
            return (*self.paths[-1], len(parent.items))
        key = pending[0].text if pending and pending[0].kind == "scalar" else "?"
        return (*self.paths[-1], key)

    def too_large(self, line: int, column: int, *, alias: bool) -> None:
        why = " (aliases count as copies of what they name)" if alias else ""
        self.fatal(
            "yaml-too-large",
            line,
            column,
            f"the {self.what} has more than {MAX_NODES} YAML nodes{why}; a Qplane export has a "
            "few hundred",
            "export the configuration again from Qplane; do not expand it with aliases",
        )

    def anchor(self, name: str | None, node: Node) -> None:
        if name:
            self.anchors[name] = node

    def check_tag(self, node: Node) -> None:
        tag = node.tag
        if tag in ("", "!"):
            return
        if node.kind == "scalar" and tag in _SCALAR_TAGS:
            if tag != STR:
                resolved, _ = resolve_plain(node.text)
                # resolve.go: an integer is accepted as a !!float (converted).
                if resolved != tag and not (tag == FLOAT and resolved == INT):
                    self.error(
                        "yaml-tag",
                        node.line,
                        node.column,
                        f"{quote(node.text)} is not a valid {_TAG_NAMES[tag]}; yaml.v3 cannot decode it",
                        "remove the tag or correct the value",
                    )
                node.plain = True
            return
        if (node.kind, tag) in (("mapping", MAP), ("sequence", SEQ)):
            return
        shown = "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag
        self.error(
            "yaml-tag",
            node.line,
            node.column,
            f"the tag {quote(shown)} is not plain YAML data; Qplane never writes tags, and yaml.v3 "
            "gives some of them meanings (binary decoding, sets) a reviewer does not see",
            "remove the tag and write the plain value",
        )
        node.tag = ""

    def attach(self, node: Node, stack: list[tuple[Node, list[Node]]], documents: int) -> None:
        if not stack:
            if documents == 1 and self.root_scalar is None and node.kind == "scalar":
                self.root_scalar = node
            return
        parent, pending = stack[-1]
        if parent.kind == "sequence":
            parent.items.append(node)
        elif not pending:
            pending.append(node)
        else:
            key = pending.pop()
            self.add_pair(parent, key, node)
        parent.size += node.size
        parent.depth = max(parent.depth, node.depth + 1)
        if parent.depth > MAX_DEPTH:
            self.fatal(
                "yaml-too-deep",
                node.line,
                node.column,
                f"the {self.what} nests deeper than {MAX_DEPTH} levels (counting aliases)",
                "a Qplane export is a few levels deep; write the values out",
            )

    def finish(self, node: Node, stack: list[tuple[Node, list[Node]]], documents: int) -> None:
        # A collection is attached when it ends, once its size and depth are final.
        if stack:
            self.attach(node, stack, documents)

    def add_pair(self, mapping: Node, key: Node, value: Node) -> None:
        if key.kind != "scalar":
            self.error(
                "yaml-key",
                key.line,
                key.column,
                f"a {key.kind} is used as a mapping key; Qtap's config has only string keys",
                "use a plain name as the key",
            )
            return
        if key.plain and key.text == "<<" and key.tag in ("", "!"):
            self.error(
                "yaml-merge-key",
                key.line,
                key.column,
                "merge keys ('<<') are not accepted: yaml.v3 merges them with rules a reviewer "
                "does not see, and Qplane never writes them",
                "write the merged keys out in this mapping",
            )
            return
        kind, _ = key.resolve()
        if kind != STR:
            self.error(
                "yaml-key",
                key.line,
                key.column,
                f"the key {quote(key.text)} is read as {_TAG_NAMES.get(kind, kind)}, not a string; "
                "Qtap's config has only string keys",
                f"quote the key ('{key.text}') if it is meant as a name, or remove it",
            )
            return
        bad = _NOT_PRINTABLE.search(key.text) or re.search(r"[\t\n\r\x85]", key.text)
        if bad:
            self.error(
                "yaml-key",
                key.line,
                key.column,
                f"the key {quote(key.text)} holds the control character "
                f"U+{ord(bad.group()):04X}; no Qtap setting is named so",
                "remove the character from the key",
            )
            return
        if key.text in mapping.index:
            first = mapping.keys[mapping.index[key.text]]
            path = render_path((*self.paths[-1], key.text)) if self.paths else key.text
            self.error(
                "duplicate-key",
                key.line,
                key.column,
                f"duplicate key {quote(path)} (first at line {first.line}); Go's yaml.v3 "
                "refuses a mapping that repeats a key",
                "keep one occurrence of the key and merge the values into it",
            )
            return
        mapping.index[key.text] = len(mapping.keys)
        mapping.keys.append(key)
        mapping.items.append(value)


def control_character_problems(text: str, file: str) -> list[Problem]:
    """Characters YAML refuses in a stream (NUL, other C0/C1 controls), by line and column."""
    match = _NOT_PRINTABLE.search(text)
    if match is None:
        return []
    line, column = _position(text, match.start())
    char = match.group()
    what = "NUL byte" if char == "\0" else f"control character U+{ord(char):04X}"
    return [
        problem(
            "yaml-control-character",
            file,
            (line, column),
            "",
            f"the file holds a {what}; YAML does not allow it and Qtap would refuse the file",
            "remove the character (a Qplane export never contains one)",
        )
    ]


def parse_yaml(text: str, file: str, *, what: str) -> ParsedYaml:
    """Compose the first document of `text` within the limits; `what` names the file's role."""
    problems = control_character_problems(text, file)
    if problems:
        return ParsedYaml(None, problems)
    composer = _Composer(text, file, what)
    root = composer.compose()
    problems = composer.problems
    if root is None and not problems:
        problems.append(
            problem(
                "empty-file",
                file,
                (1, 1),
                "",
                f"the {what} holds no YAML document (only comments or blank lines)",
                "put the full YAML content in the file",
            )
        )
    fatal = ("yaml-too-large", "yaml-too-deep", "yaml-alias-recursive", "too-many-problems")
    if any(p.code in fatal for p in problems):
        root = None
    return ParsedYaml(root, problems)


def load_plain(text: str) -> Any:
    """The document as plain Python data within the limits, or None when it cannot be read."""
    parsed = parse_yaml(text, "", what="document")
    if parsed.root is None:
        return None
    return parsed.root.value()


# -- the typed view ---------------------------------------------------------------------------


def describe(node: Node, *, secret: bool = False) -> str:
    """What a node is, for a message; a credential's value is never shown."""
    if node.kind != "scalar":
        return f"a {node.kind}"
    kind, _ = node.resolve()
    if kind == NULL:
        return "empty (null)"
    names = {STR: "the string", INT: "the number", FLOAT: "the number", BOOL: "the boolean"}
    if secret:
        return f"a literal value ({len(node.text)} characters, not shown)"
    return f"{names.get(kind, 'the value')} {quote(node.text)}"


ProblemSink = list[Problem]


@dataclass(frozen=True)
class View:
    """A node with its YAML path and the position that best names it, and typed accessors.

    Accessors report into the shared problem list and return None when the value is unusable;
    `secret` marks a credential position, whose value no message may show.
    """

    node: Node
    path: tuple[PathPart, ...]
    line: int | None
    column: int | None
    file: str
    problems: ProblemSink
    secret: bool = False

    @property
    def rendered_path(self) -> str:
        return render_path(self.path)

    # -- reporting

    def report(self, severity: Severity, code: str, message: str, fix: str) -> None:
        self.problems.append(
            problem(
                code,
                self.file,
                (self.line, self.column),
                self.rendered_path,
                message,
                fix,
                severity,
            )
        )

    def error(self, code: str, message: str, fix: str) -> None:
        self.report(Severity.ERROR, code, message, fix)

    def warn(self, code: str, message: str, fix: str) -> None:
        self.report(Severity.WARNING, code, message, fix)

    def describe(self) -> str:
        return describe(self.node, secret=self.secret)

    # -- shape

    @property
    def is_mapping(self) -> bool:
        return self.node.kind == "mapping"

    @property
    def is_sequence(self) -> bool:
        return self.node.kind == "sequence"

    @property
    def is_null(self) -> bool:
        return self.node.kind == "scalar" and self.node.resolve()[0] == NULL

    def wrong_type(self, what: str, expected: str) -> None:
        self.error(
            "wrong-type",
            f"{what} must be {expected}, found {self.describe()}; Qtap cannot decode it "
            "(yaml: unmarshal errors)",
            "re-export the snapshot from Qplane; do not edit its structure by hand",
        )

    def mapping(self, what: str) -> bool:
        if self.is_mapping:
            return True
        self.wrong_type(what, "a mapping")
        return False

    def sequence(self, what: str) -> bool:
        if self.is_sequence:
            return True
        self.wrong_type(what, "a list")
        return False

    def optional_mapping(self, what: str) -> bool:
        """A mapping, or null (an absent block); reports anything else."""
        return not self.is_null and self.mapping(what)

    def optional_sequence(self, what: str) -> bool:
        return not self.is_null and self.sequence(what)

    # -- navigation

    def has(self, key: str) -> bool:
        return self.is_mapping and key in self.node.index

    def _at(self, key: PathPart, *, at_value: bool) -> View:
        node = self.node
        secret = self.secret or is_credential_key(self.path, key)
        if isinstance(key, int):
            child = node.items[key]
            return View(
                child, (*self.path, key), child.line, child.column, self.file, self.problems, secret
            )
        i = node.index[key]
        where = node.items[i] if at_value else node.keys[i]
        return View(
            node.items[i],
            (*self.path, key),
            where.line,
            where.column,
            self.file,
            self.problems,
            secret,
        )

    def child(self, key: PathPart) -> View:
        """The child at `key` (which must exist); positioned at the key."""
        return self._at(key, at_value=False)

    def value_at(self, key: str) -> View:
        """Like `child`, but positioned at the value, for messages about the value itself."""
        return self._at(key, at_value=True)

    def get(self, key: str) -> View | None:
        """The value at `key` of a mapping, or None when absent (or this is no mapping)."""
        return self.value_at(key) if self.has(key) else None

    def present(self, key: str) -> View | None:
        """The value at `key` unless absent or null."""
        child = self.get(key)
        return None if child is None or child.is_null else child

    def items(self) -> Iterator[tuple[str, View]]:
        if self.is_mapping:
            for key in list(self.node.index):
                yield key, self.child(key)

    def elements(self) -> Iterator[View]:
        if self.is_sequence:
            for index in range(len(self.node.items)):
                yield self.child(index)

    def keys(self) -> list[str]:
        return list(self.node.index) if self.is_mapping else []

    def as_secret(self) -> View:
        return View(self.node, self.path, self.line, self.column, self.file, self.problems, True)

    # -- typed scalars (yaml.v3 decode.go `scalar`)

    def string(self, what: str) -> str | None:
        """A Go string field: any scalar's text (null is ""); a mapping or list is an error."""
        if self.node.kind != "scalar":
            self.wrong_type(what, "a single value (a string)")
            return None
        if self.is_null:
            return ""
        return self.node.text

    def boolean(self, what: str) -> bool | None:
        """A Go bool field: true/false, the YAML 1.1 words yaml.v3 accepts, or null (false)."""
        if self.node.kind != "scalar":
            self.wrong_type(what, "true or false")
            return None
        kind, value = self.node.resolve()
        if kind == NULL:
            return False
        if kind == BOOL:
            return bool(value)
        if kind == STR and self.node.text in _BOOL_WORDS:
            return _BOOL_WORDS[self.node.text]
        self.error(
            "wrong-type",
            f"{what} must be true or false, found {self.describe()}; yaml.v3 refuses to decode "
            "it into a boolean and Qtap will not start",
            "write true or false",
        )
        return None

    def integer(self, what: str) -> int | None:
        """A Go int field: an integer (or a whole float, which yaml.v3 truncates)."""
        if self.node.kind != "scalar":
            self.wrong_type(what, "a whole number")
            return None
        kind, value = self.node.resolve()
        if kind == NULL:
            return 0
        if kind == INT and -(2**63) <= value < 2**63:
            return int(value)
        if kind == FLOAT and math.isfinite(value) and value == int(value) and abs(value) < 2**63:
            return int(value)
        self.error(
            "wrong-type",
            f"{what} must be a whole number, found {self.describe()}",
            "write a whole number",
        )
        return None

    def plain_value(self) -> Any:
        return self.node.value()

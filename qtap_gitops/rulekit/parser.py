"""rulekit expressions parsed as rulekit parses them, with a Lark LALR grammar.

Source: qpoint-io/rulekit `parser.go` at 00088b9 (a Pratt parser over the lexer in
`lexer.py`; `ast.go` for the operand checks). The grammar below encodes its precedence:
`||`/`or` < `&&`/`and` < comparisons (`==` `!=` `>` `>=` `<` `<=` `contains` `matches` `in`,
left-associative), and `!`/`not` binding to one operand. The checks rulekit makes while parsing
(an inequality needs numbers, fields or calls; `in` needs an array or a CIDR; `matches` needs a
regex; brackets and dots need a field path; `starts_with` takes two arguments) run when Lark
reduces the rule, so the first error found is the one rulekit reports, at the same offset.

Older rulekit releases (the goyacc grammar, `parser.y`) accept a subset of this language, so
an expression this parser refuses is refused by every release Qtap has shipped with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lexer import Lexer

from . import lexer as lx
from .values import re2_error, rulekit_string_error

# rulekit's standard library (functions_stdlib.go): name -> number of arguments.
STDLIB_FUNCTIONS = {"starts_with": 2}

_OPERAND_END = frozenset({lx.FIELD, lx.RPAREN, lx.RBRACKET, *lx.VALUE_KINDS})
_ROOT_PATH_FOLLOWERS = frozenset(
    {lx.LBRACKET, lx.DOT, lx.EQ, lx.NE, lx.GT, lx.GE, lx.LT, lx.LE, lx.CONTAINS, lx.MATCHES, lx.IN}
)

_GRAMMAR = r"""
start: or_expr

?or_expr: and_expr
        | or_expr OR and_expr               -> binary

?and_expr: cmp_expr
         | and_expr AND cmp_expr            -> binary

?cmp_expr: operand
         | cmp_expr EQ operand              -> binary
         | cmp_expr NE operand              -> binary
         | cmp_expr CONTAINS operand        -> binary
         | cmp_expr GT operand              -> inequality
         | cmp_expr GE operand              -> inequality
         | cmp_expr LT operand              -> inequality
         | cmp_expr LE operand              -> inequality
         | cmp_expr IN operand              -> membership
         | cmp_expr MATCHES regex_operand   -> binary

?operand: atom_expr
        | NOT operand                       -> negation

?atom_expr: primary
          | atom_expr POSTFIX_LBRACKET segment RBRACKET   -> index
          | atom_expr DOT FIELD                           -> traverse

?primary: FIELD                             -> path
        | literal
        | call
        | LPAREN or_expr RPAREN             -> group
        | LBRACKET array_values RBRACKET    -> array
        | ROOT_LBRACKET STRING RBRACKET     -> root_path

?regex_operand: REGEX                       -> literal
              | regex_operand POSTFIX_LBRACKET segment RBRACKET -> index
              | regex_operand DOT FIELD                         -> traverse

segment: STRING | INT

call: FUNC LPAREN [arguments] RPAREN
arguments: or_expr (COMMA or_expr)*

array_values: array_value (COMMA array_value)*
?array_value: array_atom
            | array_value POSTFIX_LBRACKET segment RBRACKET -> index
            | array_value DOT FIELD                         -> traverse
?array_atom: FIELD                          -> path
           | literal
           | call

literal: STRING | INT | FLOAT | BOOL | IP | IP_CIDR | HEX_STRING | REGEX

%declare FIELD FUNC STRING HEX_STRING INT FLOAT BOOL IP_CIDR IP REGEX
%declare LPAREN RPAREN LBRACKET POSTFIX_LBRACKET ROOT_LBRACKET RBRACKET DOT COMMA
%declare NOT AND OR EQ NE GT GE LT LE CONTAINS MATCHES IN
"""


@dataclass(frozen=True)
class Node:
    """A node of the expression, with its byte span; `kind` names what rulekit built."""

    kind: str  # path, literal, array, call, unary, binary
    start: int
    end: int
    literal: str = ""  # the token kind of a literal
    name: str = ""  # the function name of a call
    children: tuple[Node, ...] = ()


@dataclass(frozen=True)
class Call:
    """A function or macro call in an expression: its name and character offset."""

    name: str
    offset: int
    arguments: int


@dataclass(frozen=True)
class ParsedRule:
    expression: str
    calls: tuple[Call, ...] = field(default=())


class RuleSyntaxError(Exception):
    """rulekit refuses the expression. `offset` is in characters from the expression's start."""

    def __init__(self, expression: str, offset: int, message: str) -> None:
        self.expression = expression
        self.offset = offset
        self.message = message
        line = expression.count("\n", 0, offset) + 1
        column = offset - (expression.rfind("\n", 0, offset) + 1) + 1
        self.line = line
        self.column = column
        super().__init__(f"{message} (line {line}, column {column})")


class _SemanticError(Exception):
    def __init__(self, start: int, message: str) -> None:
        super().__init__(message)
        self.start = start
        self.message = message


class _TokenFeed(Lexer):
    """Hands the tokens of `lexer.py` to Lark (the text was lexed before parsing, as rulekit does)."""

    def __init__(self, conf: Any) -> None:
        pass

    def lex(self, data: Any) -> Any:  # type: ignore[override]  # Lark accepts lex(data)
        return iter(data)


def _span(node: Node | Token) -> tuple[int, int]:
    if isinstance(node, Node):
        return node.start, node.end
    return int(node.start_pos or 0), int(node.end_pos or 0)


def _inequality_operand(node: Node) -> bool:
    # ast.go astValidInequalityOperand: a path, a call, or an int/float literal.
    if node.kind in ("path", "call"):
        return True
    return node.kind == "literal" and node.literal in (lx.INT, lx.FLOAT)


class _Builder:
    """Lark callbacks, run as rules are reduced, building `Node`s and checking like rulekit."""

    def __init__(self) -> None:
        self.values: list[tuple[int, str]] = []  # (start, problem) found when lowering
        self.calls: list[tuple[str, int, int]] = []

    def start(self, children: list[Any]) -> Node:
        node: Node = children[0]
        return node

    def binary(self, children: list[Any]) -> Node:
        left, _op, right = children
        return Node("binary", _span(left)[0], _span(right)[1], children=(left, right))

    def inequality(self, children: list[Any]) -> Node:
        left, op, right = children
        if not _inequality_operand(left) or not _inequality_operand(right):
            raise _SemanticError(int(op.start_pos), "invalid operation")
        return self.binary(children)

    def membership(self, children: list[Any]) -> Node:
        _left, op, right = children
        # rulekit after 00088b9 also reads a quoted CIDR here (parser_test.go at d0f034c:
        # `ip in "192.168.1.0/24"`), so one is accepted rather than refusing a rule Qtap may run.
        if not (
            right.kind == "array"
            or (right.kind == "literal" and right.literal in (lx.IP_CIDR, "QUOTED_CIDR"))
        ):
            raise _SemanticError(int(op.start_pos), "in requires an array or CIDR value")
        return self.binary(children)

    def negation(self, children: list[Any]) -> Node:
        op, right = children
        return Node("unary", int(op.start_pos), right.end, children=(right,))

    def _segment_check(self, segment: Token) -> None:
        at = int(segment.start_pos or 0)
        if segment.type == lx.STRING:
            problem = rulekit_string_error(str(segment))
            if problem:
                raise _SemanticError(at, problem)
            if len(str(segment)) == 2:
                raise _SemanticError(at, "bracket key must not be empty")
        elif str(segment).startswith(("+", "-")) or not str(segment).isdigit():
            raise _SemanticError(at, "array index must be an unsigned integer")

    def index(self, children: list[Any]) -> Node:
        left, bracket, segment, close = children
        self._segment_check(segment)
        if left.kind != "path":
            raise _SemanticError(int(bracket.start_pos), "bracket indexing requires a field path")
        return Node("path", left.start, int(close.end_pos))

    def traverse(self, children: list[Any]) -> Node:
        left, dot, name = children
        if left.kind != "path":
            raise _SemanticError(int(dot.start_pos), "dot traversal requires a field path")
        return Node("path", left.start, int(name.end_pos))

    def segment(self, children: list[Any]) -> Token:
        token: Token = children[0]
        return token

    def path(self, children: list[Any]) -> Node:
        start, end = _span(children[0])
        return Node("path", start, end)

    def root_path(self, children: list[Any]) -> Node:
        bracket, key, close = children
        self._segment_check(key)
        return Node("path", int(bracket.start_pos), int(close.end_pos))

    def literal(self, children: list[Any]) -> Node:
        token: Token = children[0]
        start, end = _span(token)
        if token.type == lx.STRING:
            problem = rulekit_string_error(str(token))
            if problem:
                self.values.append((start, f"parsing string value {str(token)!r}: {problem}"))
        elif token.type == lx.REGEX:
            problem = re2_error(str(token)[1:-1])
            if problem:
                self.values.append((start, f"parsing regex value {str(token)!r}: {problem}"))
        kind = str(token.type)
        if kind == lx.STRING and lx.go_parse_cidr(str(token)[1:-1]):
            kind = "QUOTED_CIDR"
        return Node("literal", start, end, literal=kind)

    def group(self, children: list[Any]) -> Node:
        node: Node = children[1]  # parentheses leave no node behind
        return node

    def array(self, children: list[Any]) -> Node:
        open_, values, close = children
        return Node(
            "array", int(open_.start_pos), int(close.end_pos), children=tuple(values.children)
        )

    def array_values(self, children: list[Any]) -> Any:
        return _Items([c for c in children if isinstance(c, Node)])

    def arguments(self, children: list[Any]) -> Any:
        return _Items([c for c in children if isinstance(c, Node)])

    def call(self, children: list[Any]) -> Node:
        name, _open, arguments, close = children
        args: list[Node] = arguments.children if arguments is not None else []
        expected = STDLIB_FUNCTIONS.get(str(name))
        if expected is not None and expected != len(args):
            raise _SemanticError(
                int(close.end_pos),
                f'function "{name}" expects {expected} arguments, got {len(args)}',
            )
        self.calls.append((str(name), int(name.start_pos), len(args)))
        return Node(
            "call",
            int(name.start_pos),
            int(close.end_pos),
            name=str(name),
            children=tuple(args),
        )


@dataclass
class _Items:
    children: list[Node]


def _callbacks(builder: _Builder) -> dict[str, Any]:
    names = [
        "start",
        "binary",
        "inequality",
        "membership",
        "negation",
        "index",
        "traverse",
        "segment",
        "path",
        "root_path",
        "literal",
        "group",
        "array",
        "array_values",
        "arguments",
        "call",
    ]
    return {name: getattr(builder, name) for name in names}


_PARSER: Lark | None = None
_CURRENT: list[_Builder] = []


def _dispatch(name: str) -> Any:
    def callback(children: list[Any]) -> Any:
        return getattr(_CURRENT[-1], name)(children)

    return callback


class _Dispatcher:
    def __init__(self) -> None:
        for name in _callbacks(_Builder()):
            setattr(self, name, _dispatch(name))


def _parser() -> Lark:
    # One Lark instance for the process; its callbacks dispatch to the builder of the parse in
    # progress, so the tables are built once (a Lark LALR build costs milliseconds).
    global _PARSER
    if _PARSER is None:
        _PARSER = Lark(
            _GRAMMAR,
            parser="lalr",
            lexer=_TokenFeed,
            transformer=_Dispatcher(),
            keep_all_tokens=True,
            maybe_placeholders=True,
        )
    return _PARSER


def _retag(tokens: Sequence[lx.Token]) -> list[Token]:
    """rulekit's context decisions, made on the token stream before the grammar sees it.

    A field followed by `(` is a call when rulekit would read it as a primary (not after `.`);
    `[` after an operand indexes it; `["key"]` followed by an operator or path step starts a path
    (parser.go isRootBracketPath); any other `[` opens an array.
    """
    out: list[Token] = []
    for i, token in enumerate(tokens):
        if token.kind == lx.EOF:
            break
        kind = token.kind
        previous = tokens[i - 1].kind if i > 0 else None
        following = tokens[i + 1].kind if i + 1 < len(tokens) else lx.EOF
        if kind == lx.FIELD and following == lx.LPAREN and previous != lx.DOT:
            kind = "FUNC"
        elif kind == lx.LBRACKET:
            if previous in _OPERAND_END:
                kind = "POSTFIX_LBRACKET"
            elif (
                i + 3 < len(tokens)
                and tokens[i + 1].kind == lx.STRING
                and tokens[i + 2].kind == lx.RBRACKET
                and tokens[i + 3].kind in _ROOT_PATH_FOLLOWERS
            ):
                kind = "ROOT_LBRACKET"
        out.append(Token(kind, token.raw, start_pos=token.start, end_pos=token.end))
    return out


def _message(error: UnexpectedInput, tokens: Sequence[Token]) -> tuple[int, str]:
    token = getattr(error, "token", None)
    if token is None or token.type == "$END":
        end = int(tokens[-1].end_pos or 0) if tokens else 0
        return end, "empty expression" if not tokens else "unexpected end of expression"
    start = int(token.start_pos or 0)
    index = next((i for i, t in enumerate(tokens) if t.start_pos == start), 0)
    previous = tokens[index - 1].type if index > 0 else None
    if previous == lx.MATCHES:
        return start, "matches requires a regex value"
    if previous in ("LBRACKET",) and token.type in ("RBRACKET",):
        return start, "array requires at least one value"
    if previous == lx.COMMA and token.type == lx.RBRACKET:
        return start, "trailing commas are not allowed"
    return start, f"unexpected token {str(token)!r}"


def _byte_to_char(expression: str, data: bytes, offset: int) -> int:
    return len(data[:offset].decode("utf-8", "ignore"))


def parse(expression: str) -> ParsedRule:
    """Parse `expression` as rulekit.Parse does; raise RuleSyntaxError where rulekit would."""
    data = expression.encode("utf-8")

    def fail(byte_offset: int, message: str) -> RuleSyntaxError:
        return RuleSyntaxError(expression, _byte_to_char(expression, data, byte_offset), message)

    try:
        raw_tokens = lx.lex(expression)
    except lx.LexError as exc:
        raise fail(exc.start, exc.message) from None
    tokens = _retag(raw_tokens)
    end_offset = raw_tokens[-1].start
    if not tokens:
        raise fail(end_offset, "empty expression")
    builder = _Builder()
    _CURRENT.append(builder)
    try:
        try:
            _parser().parse(tokens)
        except _SemanticError as exc:
            raise fail(exc.start, exc.message) from None
        except (UnexpectedToken, UnexpectedEOF, UnexpectedCharacters) as exc:
            semantic = _pending_check(exc)
            if semantic is not None:
                raise fail(semantic.start, semantic.message) from None
            start, message = _message(exc, tokens)
            if getattr(exc, "token", None) is None or exc.token.type == "$END":  # type: ignore[union-attr]
                start = end_offset
            raise fail(start, message) from None
    finally:
        _CURRENT.pop()
    if builder.values:
        start, message = min(builder.values)
        raise fail(start, message)
    calls = tuple(
        Call(name, _byte_to_char(expression, data, start), count)
        for name, start, count in builder.calls
    )
    return ParsedRule(expression, calls)


def _pending_check(error: UnexpectedInput) -> _SemanticError | None:
    """The check rulekit would have failed before reaching the token Lark stopped at.

    rulekit checks a comparison as soon as its right operand is complete, before it looks at the
    next token; Lark reduces (and so checks) only on a valid next token. Feeding an `&&` to a copy
    of the stopped parser completes what is pending, running those checks.
    """
    interactive = getattr(error, "interactive_parser", None)
    if interactive is None:
        return None
    # Not deep-copied: a deep copy of a lark Token drops its end_pos, which the checks read.
    probe = interactive.copy(deepcopy_values=False)
    try:
        probe.feed_token(Token(lx.AND, "&&", start_pos=0, end_pos=0))
    except _SemanticError as exc:
        return exc
    except UnexpectedInput:
        return None
    return None

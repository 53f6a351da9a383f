"""The rule language of rulekit's goyacc releases, the ones before the hand-written parser.

Qtap builds that pin one of these releases run `rulekit.Parse` with this grammar, which is a
subset of the current one: no bracket or dotted paths after an operand, no parentheses around
a value, no chained comparisons, no expressions as function arguments, no calls as inequality
operands or in arrays, no quoted CIDR after `in`. Source: qpoint-io/rulekit `parser.y`, the
revision with `token_FUNCTION` (read_file id 49130184300; the commit is not named by the file
index), ported rule for rule. Its `%left`/`%right` precedences only shape the tree, so the
boolean layer is written here without them: it accepts the same expressions.

`older_grammar_problem` says whether such a release refuses an expression the current parser
accepts; the contract warns about it, as it does for keys only some Qtap revisions know.
"""

from __future__ import annotations

from lark import Lark, Token
from lark.exceptions import UnexpectedInput

from . import lexer as lx
from .parser import _TokenFeed

_GRAMMAR = r"""
?start: condition

?condition: conjunction
          | condition OR conjunction
?conjunction: negation
            | conjunction AND negation
?negation: NOT negation
         | LPAREN condition RPAREN
         | predicate

predicate: numeric inequality numeric
         | operand equality operand
         | operand MATCHES REGEX
         | operand
         | operand IN array
         | operand IN IP_CIDR

inequality: GT | GE | LT | LE
equality: EQ | NE | CONTAINS

?operand: call | value | array
?value: numeric | STRING | BOOL | IP | IP_CIDR | HEX_STRING | REGEX
?numeric: INT | FLOAT | FIELD | FUNCTION

array: LBRACKET value (COMMA value)* RBRACKET
call: FUNCTION LPAREN arguments RPAREN
arguments: operand? (COMMA operand)*

%declare FIELD FUNCTION STRING HEX_STRING INT FLOAT BOOL IP_CIDR IP REGEX
%declare LPAREN RPAREN LBRACKET RBRACKET DOT COMMA
%declare NOT AND OR EQ NE GT GE LT LE CONTAINS MATCHES IN
"""

_PARSER: Lark | None = None


def _parser() -> Lark:
    global _PARSER
    if _PARSER is None:
        _PARSER = Lark(_GRAMMAR, parser="lalr", lexer=_TokenFeed)
    return _PARSER


def older_grammar_problem(expression: str) -> tuple[int, str] | None:
    """(character offset, what) where the goyacc grammar stops, or None when it accepts.

    Only meaningful for an expression the current parser accepts (so it lexes).
    """
    try:
        tokens = lx.lex(expression)
    except lx.LexError:
        return None
    feed: list[Token] = []
    for i, token in enumerate(tokens[:-1]):
        kind = token.kind
        # The goyacc lexer reads a name followed by `(` as a function (names have no dots).
        if kind == lx.FIELD and tokens[i + 1].kind == lx.LPAREN and "." not in token.raw:
            kind = "FUNCTION"
        feed.append(Token(kind, token.raw, start_pos=token.start, end_pos=token.end))
    try:
        _parser().parse(feed)
    except UnexpectedInput as exc:
        stopped = getattr(exc, "token", None)
        data = expression.encode("utf-8")
        if stopped is None or stopped.type == "$END":
            return len(expression), "the expression ends where it expects more"
        offset = len(data[: int(stopped.start_pos or 0)].decode("utf-8", "ignore"))
        return offset, f"it does not accept {str(stopped)!r} here"
    return None

"""rulekit's lexer, ported so tokens start and end exactly where rulekit's do.

Source: qpoint-io/rulekit `parser.go` at 00088b9 (the hand-written lexer and parser that
replaced the goyacc grammar `parser.y`). rulekit lexes the whole expression before parsing, so
a lexing error always wins over a parse error later in the text.

The Go lexer walks bytes, not characters: a multi-byte UTF-8 character is classified by its
first byte (`rune(byte)`), which this port reproduces by lexing the UTF-8 encoding. Offsets are
byte offsets here; `parser.py` turns them into character offsets for messages.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass

# Token kinds, named as in parser.go.
EOF = "EOF"
FIELD = "FIELD"
STRING = "STRING"
HEX_STRING = "HEX_STRING"
INT = "INT"
FLOAT = "FLOAT"
BOOL = "BOOL"
IP_CIDR = "IP_CIDR"
IP = "IP"
REGEX = "REGEX"
LPAREN = "LPAREN"
RPAREN = "RPAREN"
LBRACKET = "LBRACKET"
RBRACKET = "RBRACKET"
DOT = "DOT"
COMMA = "COMMA"
NOT = "NOT"
AND = "AND"
OR = "OR"
EQ = "EQ"
NE = "NE"
GT = "GT"
GE = "GE"
LT = "LT"
LE = "LE"
CONTAINS = "CONTAINS"
MATCHES = "MATCHES"
IN = "IN"

VALUE_KINDS = frozenset({STRING, HEX_STRING, INT, FLOAT, BOOL, IP_CIDR, IP, REGEX})

_WORDS = {
    "not": NOT,
    "and": AND,
    "or": OR,
    "eq": EQ,
    "ne": NE,
    "gt": GT,
    "ge": GE,
    "lt": LT,
    "le": LE,
    "contains": CONTAINS,
    "matches": MATCHES,
    "in": IN,
    "true": BOOL,
    "false": BOOL,
}
# scanAtom stops at these bytes (and at whitespace).
_ATOM_STOP = frozenset(b"()[],<>=!&|\"'")
# Go's unicode.IsSpace for a single byte taken as a rune (Latin-1): \t \n \v \f \r, space,
# U+0085 and U+00A0.
_BYTE_SPACE = frozenset(b"\t\n\x0b\x0c\r \x85\xa0")


class LexError(Exception):
    def __init__(self, message: str, start: int) -> None:
        super().__init__(message)
        self.message = message
        self.start = start


@dataclass(frozen=True)
class Token:
    kind: str
    raw: str
    start: int  # byte offsets into the UTF-8 encoding of the expression
    end: int


def _rune_is_letter(ch: str) -> bool:
    return unicodedata.category(ch).startswith("L")


def _rune_is_digit(ch: str) -> bool:
    return unicodedata.category(ch) == "Nd"


def _rune_is_space(ch: str) -> bool:
    # unicode.IsSpace: Latin-1 whitespace plus the White_Space property elsewhere.
    return ch in "\t\n\x0b\x0c\r \x85\xa0" or (ord(ch) > 0xFF and ch.isspace())


def _byte_rune(byte: int) -> str:
    """What `rune(l.input[l.pos])` is in Go: the byte read as a Latin-1 code point."""
    return chr(byte)


def is_atom_start(ch: str) -> bool:
    return _rune_is_letter(ch) or ch == "_"


def is_field(raw: str) -> bool:
    if not raw:
        return False
    for i, ch in enumerate(raw):
        if i == 0:
            if not is_atom_start(ch):
                return False
            continue
        if not (_rune_is_letter(ch) or _rune_is_digit(ch) or ch in "_.-"):
            return False
    return True


_GO_DIGITS = {2: "01", 8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}


def go_parse_uint_base0(text: str) -> int | None:
    """strconv.ParseUint(s, 0, 64): base prefixes, a leading 0 for octal, `_` separators."""
    if not text:
        return None
    base = 10
    body = text
    if text[0] == "0" and len(text) > 1:
        prefix = text[1].lower()
        if prefix in "box":
            base = {"b": 2, "o": 8, "x": 16}[prefix]
            body = text[2:]
        else:
            base = 8
            body = text[1:]
    if not body and base != 8:
        return None
    underscores = "_" in text
    if underscores and not _underscores_ok(text):
        return None
    digits = body.replace("_", "")
    if base == 8 and not body:
        digits = "0"
    if not digits or any(c not in _GO_DIGITS[base] for c in digits):
        return None
    if len(digits.lstrip("0")) > 64:
        return None  # beyond uint64 in any base (and Python refuses huge decimal strings)
    value = int(digits, base)
    return value if value < 2**64 else None


def _underscores_ok(text: str) -> bool:
    """strconv.underscoreOK: `_` only between digits or after a base prefix."""
    saw = "^"
    i = 0
    if len(text) >= 1 and text[0] in "+-":
        text = text[1:]
    hexadecimal = False
    if len(text) >= 2 and text[0] == "0" and text[1].lower() in "box":
        hexadecimal = text[1].lower() == "x"
        i = 2
        saw = "0"
    while i < len(text):
        c = text[i]
        if c.isdigit() or (hexadecimal and c.lower() in "abcdef"):
            saw = "0"
        elif c == "_":
            if saw != "0":
                return False
            saw = "_"
        else:
            if saw == "_":
                return False
            saw = "!"
        i += 1
    return saw != "_"


def go_parse_int_base0(text: str) -> int | None:
    """strconv.ParseInt(s, 0, 64)."""
    if not text:
        return None
    sign = 1
    body = text
    if text[0] in "+-":
        sign = -1 if text[0] == "-" else 1
        body = text[1:]
    magnitude = go_parse_uint_base0(body)
    if magnitude is None:
        return None
    value = sign * magnitude
    if not -(2**63) <= value < 2**63:
        return None
    return value


def is_integer(raw: str) -> bool:
    if raw in ("", "+", "-"):
        return False
    return go_parse_int_base0(raw) is not None or go_parse_uint_base0(raw) is not None


_GO_DEC_FLOAT = re.compile(
    r"^[+-]?(?:(?:\d(?:_?\d)*)?\.(?:\d(?:_?\d)*)?|\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?$"
)
_GO_HEX_FLOAT = re.compile(
    r"^[+-]?0[xX](?:_?[0-9a-fA-F])*(?:\.(?:[0-9a-fA-F](?:_?[0-9a-fA-F])*)?)?[pP][+-]?\d(?:_?\d)*$"
)


def go_parse_float(raw: str) -> bool:
    """Whether strconv.ParseFloat(raw, 64) succeeds (decimal, hex with p exponent, inf, nan)."""
    lowered = raw.lower().lstrip("+-")
    if lowered in ("inf", "infinity", "nan"):
        return raw.lower() != "+nan" and raw.lower() != "-nan"
    if _GO_DEC_FLOAT.match(raw):
        if "." in raw and raw.lstrip("+-").replace("_", "") in (".", ""):
            return False
        mantissa = raw.lstrip("+-").split("e")[0].split("E")[0]
        if mantissa.replace("_", "").replace(".", "") == "":
            return False
        try:
            value = float(raw.replace("_", ""))
        except ValueError:
            return False
        return value not in (float("inf"), float("-inf"))
    return bool(_GO_HEX_FLOAT.match(raw))


def is_float(raw: str) -> bool:
    return "." in raw and go_parse_float(raw)


def is_hex_string(raw: str) -> bool:
    if len(raw) < 2:
        return False
    for part in raw.split(":"):
        if len(part) != 2:
            return False
        for ch in part:
            if not (_rune_is_digit(ch) or ch.lower() in "abcdef"):
                return False
    return True


def go_parse_ip(raw: str) -> bool:
    """net.ParseIP: dotted IPv4 (no leading zeros) or IPv6, no zone."""
    if "%" in raw or not raw.isascii():
        return False
    try:
        ipaddress.ip_address(raw)
    except ValueError:
        return False
    return True


def go_parse_cidr(raw: str) -> bool:
    """net.ParseCIDR: an address, '/', a decimal prefix length within the address size."""
    address, slash, bits = raw.partition("/")
    if not slash or not bits or not bits.isascii() or not bits.isdigit():
        return False
    if not go_parse_ip(address):
        return False
    size = 32 if ":" not in address else 128
    significant = bits.lstrip("0")
    return len(significant) <= 3 and int(significant or "0") <= size


class _Lexer:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def has_prefix(self, prefix: bytes) -> bool:
        return self.data.startswith(prefix, self.pos)

    def match(self, prefix: bytes) -> bool:
        if not self.has_prefix(prefix):
            return False
        self.pos += len(prefix)
        return True

    def token(self, kind: str, start: int) -> Token:
        return Token(kind, self.data[start : self.pos].decode("utf-8", "replace"), start, self.pos)

    def skip_ignored(self) -> None:
        while self.pos < len(self.data):
            ch, size = _decode_rune(self.data, self.pos)
            if _rune_is_space(ch):
                self.pos += size
                continue
            if self.has_prefix(b"--"):
                self.pos += 2
                while self.pos < len(self.data) and self.data[self.pos] != ord("\n"):
                    self.pos += 1
                continue
            if self.has_prefix(b"/*"):
                end = self.data.find(b"*/", self.pos + 2)
                if end < 0:
                    raise LexError("unterminated block comment", self.pos)
                self.pos = end + 2
                continue
            break

    def next(self) -> Token:
        self.skip_ignored()
        if self.pos >= len(self.data):
            return Token(EOF, "", self.pos, self.pos)
        start = self.pos
        ch = self.data[self.pos]
        single = {ord("("): LPAREN, ord(")"): RPAREN, ord("["): LBRACKET, ord("]"): RBRACKET}
        if ch in single:
            self.pos += 1
            return self.token(single[ch], start)
        if ch == ord(","):
            self.pos += 1
            return self.token(COMMA, start)
        if ch == ord("."):
            self.pos += 1
            return self.token(DOT, start)
        if ch == ord("!"):
            if self.match(b"!="):
                return self.token(NE, start)
            self.pos += 1
            return self.token(NOT, start)
        if ch == ord("&") and self.match(b"&&"):
            return self.token(AND, start)
        if ch == ord("|"):
            if self.match(b"||"):
                return self.token(OR, start)
            return self.scan_delimited(ch, REGEX)
        if ch == ord("="):
            if self.match(b"=="):
                return self.token(EQ, start)
            if self.match(b"=~"):
                return self.token(MATCHES, start)
        if ch == ord("<"):
            if self.match(b"<="):
                return self.token(LE, start)
            self.pos += 1
            return self.token(LT, start)
        if ch == ord(">"):
            if self.match(b">="):
                return self.token(GE, start)
            self.pos += 1
            return self.token(GT, start)
        if ch in (ord("'"), ord('"')):
            return self.scan_delimited(ch, STRING)
        if ch == ord("/") and not self.has_prefix(b"/*"):
            return self.scan_delimited(ch, REGEX)
        rune = _byte_rune(ch)
        if ch in (ord("+"), ord("-"), ord(":")) or is_atom_start(rune) or _rune_is_digit(rune):
            return self.scan_atom()
        self.pos += 1
        raw = self.data[start : self.pos].decode("utf-8", "replace")
        raise LexError(f"unexpected character: {_go_quote(raw)}", start)

    def scan_delimited(self, delim: int, kind: str) -> Token:
        start = self.pos
        self.pos += 1
        escaped = False
        while self.pos < len(self.data):
            ch = self.data[self.pos]
            self.pos += 1
            if escaped:
                escaped = False
                continue
            if ch == ord("\\"):
                escaped = True
                continue
            if ch == delim:
                return self.token(kind, start)
        raise LexError("unterminated literal", start)

    def scan_atom(self) -> Token:
        start = self.pos
        while self.pos < len(self.data):
            ch = self.data[self.pos]
            if ch in _BYTE_SPACE or ch in _ATOM_STOP:
                break
            self.pos += 1
        raw = self.data[start : self.pos].decode("utf-8", "replace")
        word = _WORDS.get(raw.lower())
        if word is not None:
            return Token(word, raw, start, self.pos)
        for kind, test in (
            (IP_CIDR, go_parse_cidr),
            (IP, go_parse_ip),
            (INT, is_integer),
            (FLOAT, is_float),
            (HEX_STRING, is_hex_string),
            (FIELD, is_field),
        ):
            if test(raw):
                return Token(kind, raw, start, self.pos)
        raise LexError(f"unexpected token: {_go_quote(raw)}", start)


def _decode_rune(data: bytes, pos: int) -> tuple[str, int]:
    """utf8.DecodeRuneInString: the rune at `pos` and its size (U+FFFD, 1 when invalid)."""
    for size in (1, 2, 3, 4):
        try:
            return data[pos : pos + size].decode("utf-8"), size
        except UnicodeDecodeError:
            continue
    return "\ufffd", 1


def _go_quote(text: str) -> str:
    """Roughly Go's %q: a double-quoted string with backslash escapes."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def lex(expression: str) -> list[Token]:
    """Every token of `expression`, ending with EOF; raises LexError at the first bad one."""
    lexer = _Lexer(expression.encode("utf-8"))
    tokens: list[Token] = []
    while True:
        token = lexer.next()
        tokens.append(token)
        if token.kind == EOF:
            return tokens

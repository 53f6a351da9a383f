"""The rulekit parser: what rulekit accepts, and where it reports what it refuses.

Cases are ported from qpoint-io/rulekit's own tests: `rule_test.go` at 032cf0a (TestParseError,
TestFilterParse*, TestArray, TestIn, TestOperationValidity, TestSpecialBooleanFields,
TestEngineExample, FuzzParse seeds), `parser_test.go` at d0f034c (TestQuotedLiteralTypes) and
the README at 00088b9. Offsets are those rulekit's parser.go at 00088b9 reports (the token where
its Pratt parser stops), counted in characters from 0.
"""

from __future__ import annotations

import pytest

from qtap_gitops.rulekit import RuleSyntaxError, parse
from qtap_gitops.rulekit.legacy import older_grammar_problem
from qtap_gitops.rulekit.position import expression_position
from tests.conftest import REPO, STACKS

VALID = [
    # rule_test.go TestEngineExample: comments, both regex delimiters, CIDR equality
    """
    tags == 'db-svc'
    OR domain matches /example\\.com$/ -- any domain or subdomain of example.com
    OR src.process.path matches |^/usr/bin/| -- patterns can be enclosed in |...| or /.../
    OR (process.uid != 0 AND tags contains 'internal-svc')
    /* connections to LAN addresses over privileged ports */
    OR (destination.port <= 1023 AND destination.ip == 192.168.0.0/16)
    """,
    "tls_version == 1.2",
    "tls_version != 5",
    "!tls_version",
    'domain matches /example\\.com$/ OR tags == "db-svc"',
    'domain == "example.com" AND tags == "db-svc"',
    "dst.ip == 8.8.8.8 or (dst.ip == 1.1.1.1 and (dst.port == 53 or (dst.port == 443 and tls.enabled)))",
    "f_uint==4294967295 && f_uint64==18446744073709551615",
    "f_int==-2147483648 && f_int64==-9223372036854775808",
    'f_string=="text" or f_string=="te\\"x\'t" or f_string ==\'test\' or '
    "f_string == 'te\"s\\'t' or f_string contains 12 && f_string==01:23:45:67:89:ab:AB:cd:ef",
    "f_string matches /gl=se$/ and str matches |some/path/here|",
    "f_ipv4 == 192.168.1.1 or f_ipv6==::1 or f_ipv6==2001:db8::1",
    "f_mac == 01:23:45:67:89:ab:cd:ef --or f_mac == 0123.4567.89ab.cdef",
    "f_bool.1 == true or f_bool.2 != false",
    "f_float32 == 123.345 or f_float64 != 74123412341234.123412341243",
    "f_string == 123",
    'f_string.1 == "1" and f_string.2 == 47:45:54  and f_string.3 == "abc123"',
    'field == [1, "str", 3]',
    'field contains [1, "str", 3]',
    "arr contains val",
    "[1,2,3] contains 2",
    'field in [1, "str", 3]',
    "1.2.3.4 in [1.0.0.0/8, 8.8.8.8]",
    "192.168.0.1 in 192.168.0.0/16",
    "cidr contains ip",
    "f >= 1",
    "f < 1.5",
    "true",
    "false",
    "TRUE == true",
    "FALSE == false",
    'user == "root" or (dst.protocol == "mysql" and dst.port == 3306)',
    "tags eq 'db-svc'",
    # parser_test.go TestQuotedLiteralTypes
    'ip == "192.168.1.1"',
    '"2001:db8::1" == 2001:db8:0:0:0:0:0:1',
    '"10.1.2.3" in 10.0.0.0/8',
    'ip in "192.168.1.0/24"',
    'mac == "01-23-45-67-89-AB"',
    # README at 00088b9: paths, brackets, functions, macros
    "domain matches /example\\.com$/ and port == 8080",
    "hash && version > 1",
    "src.port == dst.port",
    "destination.ip == 192.168.1.1",
    'labels["app.kubernetes.io/name"] == "api"',
    'request.headers["user-agent"] == "curl"',
    '["destination.ip"] == 192.168.1.1',
    'items[0].name == "first"',
    'starts_with(url, "https://")',
    'isInternalAPI() && user != "root"',
    "domain matches /\\.internal\\.example\\.com$/ or ip in 10.0.0.0/8",
    "randomInt(10, 20) == 15",
    # qpoint-io/qtap: pkg/config/config_test.go at 0ef1c04 (TestValidate "happy path"),
    # examples/sample-config-capture.yaml at e76f21b, examples/http-access-logs/qtap.yaml at
    # 02b1764, and the rule functions of pkg/rulekitext/ext.go at 05c1b17
    "src.ip == 192.168.1.1",
    'request.host == "httpbin.org"',
    "response.status >= 500",
    "response.status >= 400 && response.status < 500",
    "exe matches |sshd$|",
    'request.method != "GET"',
    'request.host == "example.com"',
    'container_name == "qpoint_qtap_demo"',
    'container_image == "alpine"',
    'pod_name == "qpoint_qtap_demo"',
    'pod_namespace == "qpoint_qtap_demo_ns"',
    'in_zone(dst.domain, "example.com")',
    'zone(dst.domain) == "example.com"',
    "res.status >= 500",
    'req.method == "POST" and res.status >= 400',
    "not (a == 1)",
    "not not a",
    "(a)[0] == 1",
    # a FuzzParse seed the goyacc grammar refused; 00088b9's lexer reads it as one field
    "field..name == 1",
]


@pytest.mark.parametrize("expression", VALID)
def test_rulekit_accepts(expression):
    parse(expression)


INVALID = [
    # (expression, offset, message part); rule_test.go TestParseError
    ("??", 0, "unexpected character"),
    ("field == %1==", 9, "unexpected character"),
    ("== true", 0, "unexpected token"),
    ("test == >=", 8, "unexpected token"),
    ("field == 123 && ip == 1.2.3", 22, "unexpected token"),
    ("field == 123 && ip << 1", 20, "unexpected token"),
    ("str == 'bad qu\\\"ote'", 7, "parsing string"),
    # TestArray
    ("field == [1,]", 12, "trailing commas"),
    ("field == [1, [1, 2], 3]", 13, ""),
    # TestOperationValidity: an inequality needs numbers, fields or calls
    ('f >= "string"', 2, "invalid operation"),
    ("f < 1.2.3.4", 2, "invalid operation"),
    ("f > 01:02:03:04:05:06", 2, "invalid operation"),
    ("f <= true", 2, "invalid operation"),
    ("f > /pattern/", 2, "invalid operation"),
    # qpoint-io/qtap pkg/config/config_test.go at 0ef1c04: "control invalid rule expression"
    ("true !+ false", 6, "unexpected token"),
    # FuzzParse seeds that are invalid
    ("", 0, "empty expression"),
    ('field == "unclosed string', 9, "unterminated literal"),
    ("field == 'unclosed string", 9, "unterminated literal"),
    ("field == /unclosed regex", 9, "unterminated literal"),
    ("field === value", 8, "unexpected"),
    ("field == 192.168.1.256", 9, "unexpected token"),
    ("field == 01:ZZ:03", 9, "unexpected token"),
    # parser.go at 00088b9 checks
    ("   ", 3, "empty expression"),
    ('x in "a"', 2, "in requires an array or CIDR value"),
    ('x matches "a"', 10, "matches requires a regex value"),
    ("starts_with(url)", 16, "expects 2 arguments"),
    ("1[0] == 1", 1, "bracket indexing requires a field path"),
    ('x[""] == 1', 2, "bracket key must not be empty"),
    ("x[-1] == 1", 2, "unsigned integer"),
    ("a b", 2, "unexpected token"),
    ("(a", 2, "unexpected end"),
    ("a /* c", 2, "unterminated block comment"),
    ("f(1,)", 4, "unexpected token"),
    ("field == []", 10, "at least one value"),
    ('"a" > 1 )', 4, "invalid operation"),  # checked before the stray ')' is read
    ("x matches /(?=a)/", 10, "lookaround"),
    ("x matches /a(/", 10, "parsing regex"),
    ("res.status >= 500 &&", 20, "unexpected end"),
    ("é == 1 &", 7, "unexpected character"),  # offsets count characters, not UTF-8 bytes
]


@pytest.mark.parametrize(("expression", "offset", "message"), INVALID)
def test_rulekit_refuses_at_the_offset_it_reports(expression, offset, message):
    with pytest.raises(RuleSyntaxError) as caught:
        parse(expression)
    assert caught.value.offset == offset
    assert message in caught.value.message


def test_a_lexing_error_wins_over_an_earlier_parse_error():
    # rulekit lexes the whole expression before parsing it
    with pytest.raises(RuleSyntaxError) as caught:
        parse("== 1 and ?")
    assert caught.value.offset == 9


def test_error_line_and_column_inside_a_multiline_expression():
    with pytest.raises(RuleSyntaxError) as caught:
        parse("a == 1\n  and b >= 'x'")
    assert (caught.value.line, caught.value.column) == (2, 9)


def test_calls_are_reported_with_their_offsets():
    parsed = parse('a == 1 and internal() or starts_with(url, "x")')
    assert [(c.name, c.offset, c.arguments) for c in parsed.calls] == [
        ("internal", 11, 0),
        ("starts_with", 25, 2),
    ]


def test_every_expression_in_the_committed_snapshots_parses():
    from ruamel.yaml import YAML

    found = 0
    for stack in STACKS:
        root = YAML(typ="rt").load((REPO / "snapshots" / stack / "qtap-config.yaml").read_text())
        for stack_config in (root.get("stacks") or {}).values():
            for plugin in stack_config.get("plugins") or []:
                for rule in (plugin.get("config") or {}).get("rules") or []:
                    if "expr" in rule:
                        parse(rule["expr"])
                        found += 1
    assert found >= 2


# -- positions in the snapshot ------------------------------------------------------------------

YAML_TEXT = """\
plain: a == 1 && b
single: 'a == ''x'' && b'
double: "a == \\"x\\" && b"
literal: |
  a == 1
    && b >= 'x'
folded: >
  a == 1
  && b
"""


@pytest.mark.parametrize(
    ("line", "column", "value", "offset", "expected"),
    [
        (1, 8, "a == 1 && b", 10, (1, 18, True)),
        (2, 9, "a == 'x' && b", 12, (2, 9 + 1 + 14, True)),  # '' is one character
        (3, 9, 'a == "x" && b', 12, (3, 9 + 1 + 14, True)),  # \" is one character
        (4, 10, "a == 1\n  && b >= 'x'\n", 14, (6, 10, True)),
        (7, 9, "a == 1 && b\n", 10, (9, 6, True)),
    ],
)
def test_expression_offsets_map_to_file_positions(line, column, value, offset, expected):
    position = expression_position(YAML_TEXT, line, column, value, offset)
    assert (position.line, position.column, position.exact) == expected


def test_an_unmappable_offset_points_at_the_value_and_says_so():
    text = 'k: "a ==\n  1 &&"\n'
    position = expression_position(text, 1, 4, "a == 1 &&", 7)
    assert (position.line, position.column, position.exact) == (1, 4, False)


def test_any_input_gives_a_result_or_a_positioned_error():
    # Seeded random token soup (after rulekit's FuzzParse): never a crash, always an offset
    # inside the expression. This found a Lark deep-copy that dropped token end positions.
    import random

    pieces = [
        *("a", "b.c", "x[0]", '["k"]', "(", ")", "[", "]", ",", ".", "!", "not", "and", "or"),
        *("&&", "||", "==", "!=", ">", ">=", "<", "<=", "contains", "matches", "in", "1"),
        *("1.5", "-2", "0x1f", "true", "'s'", '"d"', "/re/", "|re|", "10.0.0.0/8", "::1"),
        *("ab:cd", "f(", "starts_with(", "é", "--c\n", "/*c*/", " ", "=", "&", "'", '"', "/"),
    ]
    rng = random.Random(9)  # noqa: S311 - reproducible test input, not a secret
    outside = []
    for _ in range(3000):
        expression = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 9)))
        try:
            parse(expression)
        except RuleSyntaxError as exc:
            if not 0 <= exc.offset <= len(expression):
                outside.append(expression)
    assert outside == []


# -- the goyacc grammar of older rulekit releases (parser.y with token_FUNCTION) ---------------


@pytest.mark.parametrize(
    "expression",
    [
        "res.status >= 500",
        "not a == 1",
        "x in [1, 2]",
        "a matches /x/",
        "true",
        'internal_api() && not starts_with(url, "https://health")',
        'zone(dst.domain) == "acme.internal" or dst.ip in [10.0.0.1, 10.0.0.2]',
        "dst.ip == 169.254.169.254 && !internal_api()",
        VALID[0],  # rule_test.go TestEngineExample, from the goyacc era
    ],
)
def test_older_grammar_accepts(expression):
    assert older_grammar_problem(expression) is None


@pytest.mark.parametrize(
    ("expression", "offset"),
    [
        ("a == b == c", 7),  # one comparison per predicate
        ("f(x) > 1", 5),  # inequalities take numbers and fields only
        ('labels["a"] == 1', 6),  # no bracket paths
        ("items[0].name == 1", 5),
        ("x in (10.0.0.0/8)", 5),  # parentheses only around conditions
        ('x in "10.0.0.0/8"', 5),  # `in` takes an array or a CIDR literal
        ("(a) == 1", 4),
        ("[f(1)] == x", 2),  # arrays hold plain values
        ("f(a == 1)", 4),  # arguments are values, not conditions
    ],
)
def test_older_grammar_refuses_newer_syntax(expression, offset):
    parse(expression)  # the current grammar accepts it
    problem = older_grammar_problem(expression)
    assert problem is not None
    assert problem[0] == offset

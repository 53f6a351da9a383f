"""The snapshot contract agrees with Qtap: each disagreement of issue 9, on copies of the real
snapshots of this repository."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qtap_gitops.hostname import hostname_problem
from qtap_gitops.problems import Severity
from qtap_gitops.snapshot import SnapshotReport, check_snapshot
from tests.conftest import edit_snapshot
from tests.tools.cli import qtapctl

DATA = Path(__file__).parent / "data"
STRICT = {"dev": False, "staging": False, "prod": True}  # as Pulumi.<stack>.yaml sets it


def check(project: Path, stack: str, *, strict: bool | None = None) -> SnapshotReport:
    path = project / "snapshots" / stack / "qtap-config.yaml"
    return check_snapshot(
        path,
        f"snapshots/{stack}/qtap-config.yaml",
        strict=STRICT[stack] if strict is None else strict,
    )


def problems(report: SnapshotReport, code: str) -> list[str]:
    return [
        f"{p.severity.value} {p.line}:{p.column} {p.message}"
        for p in report.problems
        if p.code == code
    ]


def position_of(project: Path, stack: str, needle: str) -> tuple[int, int]:
    text = (project / "snapshots" / stack / "qtap-config.yaml").read_text()
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number, line.index(needle) + 1
    raise AssertionError(needle)


MACROS = "\nrulekit:\n  macros:\n    - name: internal\n      expr: {expr}\n"
CONTROL = "\ncontrol:\n  default: allow\n  rules:\n    - name: deny metadata\n      expr: {expr}\n      actions: [deny]\n"


def append(project: Path, stack: str, block: str) -> None:
    path = project / "snapshots" / stack / "qtap-config.yaml"
    path.write_text(path.read_text() + block)


# -- refused by Qtap at start: errors even on a non-strict stack -----------------------------


def test_macro_that_does_not_parse_is_an_error_at_its_column(project_copy: Path):
    append(project_copy, "dev", MACROS.format(expr="dst.ip in 10.0.0.0/8 or"))
    report = check(project_copy, "dev")
    line, column = position_of(project_copy, "dev", "dst.ip in")
    [problem] = [p for p in report.problems if p.code == "rule-syntax"]
    assert problem.severity is Severity.ERROR
    assert (problem.line, problem.column) == (line, column + len("dst.ip in 10.0.0.0/8 or"))
    assert "does not start" in problem.message
    assert report.snapshot is None


def test_control_rule_that_does_not_parse_is_an_error(project_copy: Path):
    append(project_copy, "staging", CONTROL.format(expr="'dst.ip == 169.254.169.254 &&& x'"))
    report = check(project_copy, "staging")
    line, column = position_of(project_copy, "staging", "'dst.ip")
    [problem] = [p for p in report.problems if p.code == "rule-syntax"]
    assert problem.is_error
    # the quote shifts the expression by one; '&&&' lexes as '&&' then a lone '&'
    assert (problem.line, problem.column) == (
        line,
        column + 1 + len("dst.ip == 169.254.169.254 &&"),
    )


def test_valid_macro_and_control_rule_pass_strict(project_copy: Path):
    append(project_copy, "prod", MACROS.format(expr="zone(dst.domain) == 'acme.internal'"))
    append(
        project_copy,
        "prod",
        "control:\n  default: allow\n  rules:\n    - name: internal only\n"
        "      expr: not internal()\n      actions: [deny]\n",
    )
    assert check(project_copy, "prod").problems == []


def test_macro_named_like_a_qtap_function_is_an_error(project_copy: Path):
    append(project_copy, "dev", MACROS.format(expr="true").replace("internal", "in_zone"))
    assert problems(check(project_copy, "dev"), "rulekit-macro")[0].startswith("error")


@pytest.mark.parametrize("domain", ["1password.com", "x.com", "not a hostname!", "stripe_api.com"])
def test_endpoint_domain_qtap_refuses_is_an_error_even_when_not_strict(project_copy: Path, domain):
    edit_snapshot(project_copy, "prod", "- domain: api.stripe.com", f"- domain: {domain}")
    report = check(project_copy, "prod", strict=False)
    [found] = problems(report, "endpoint-domain")
    line, column = position_of(project_copy, "prod", domain)
    assert found.startswith(f"error {line}:{column} ")
    assert "does not start" in found
    assert report.snapshot is None


def test_endpoint_domain_messages_say_why(project_copy: Path):
    edit_snapshot(project_copy, "prod", "- domain: api.stripe.com", "- domain: 1password.com")
    edit_snapshot(project_copy, "prod", "- domain: api.adyen.com", "- domain: x.com")
    found = problems(check(project_copy, "prod"), "endpoint-domain")
    assert "must start with a letter" in found[0]
    assert "single character" in found[1]


# -- accepted by Qtap: never an error ---------------------------------------------------------


def test_tap_postgres_is_accepted_on_strict_prod(project_copy: Path):
    edit_snapshot(
        project_copy,
        "prod",
        "  http:\n    stack: default\n",
        "  http:\n    stack: default\n  postgres:\n    stack: payments\n",
    )
    edit_snapshot(
        project_copy,
        "prod",
        "    - domain: api.adyen.com\n",
        "    - domain: payments-db.internal\n      postgres:\n        stack: payments\n"
        "    - domain: api.adyen.com\n",
    )
    report = check(project_copy, "prod")
    assert report.problems == [], [p.format() for p in report.problems]


def test_tap_kafka_warns_which_revisions_know_it(project_copy: Path):
    edit_snapshot(
        project_copy,
        "dev",
        "  http:\n    stack: default\n",
        "  http:\n    stack: default\n  kafka:\n    stack: default\n",
    )
    report = check(project_copy, "dev")
    [found] = problems(report, "tap-protocol-revision")
    assert found.startswith("warning")
    assert "15cd28d" in found
    assert "b185462" in found
    assert report.snapshot is not None
    assert check(project_copy, "dev", strict=True).snapshot is None


@pytest.mark.parametrize("kind", ["pulse-streaming", "pulse-legacy"])
def test_older_pulse_types_warn_instead_of_refusing(project_copy: Path, kind):
    edit_snapshot(project_copy, "staging", "      type: pulse\n", f"      type: {kind}\n")
    report = check(project_copy, "staging")
    [found] = problems(report, "store-type-revision")
    assert found.startswith("warning")
    assert "c1b6cb0" in found
    assert "console" in found
    assert report.errors == []


def test_missing_access_url_warns_that_qplane_cannot_link(project_copy: Path):
    edit_snapshot(
        project_copy,
        "dev",
        "      access_url: https://acme-qtap-dev-payloads.s3.us-east-1.amazonaws.com/{{DIGEST}}\n",
        "",
    )
    report = check(project_copy, "dev")
    [found] = problems(report, "s3-access-url")
    assert found.startswith("warning")
    assert "Qplane cannot link" in found
    assert report.snapshot is not None
    assert problems(check(project_copy, "dev", strict=True), "s3-access-url")[0].startswith("error")


# -- skipped by Qtap: a warning, an error under strict ----------------------------------------


def test_http_capture_rule_that_does_not_parse_warns_and_strict_refuses(project_copy: Path):
    edit_snapshot(project_copy, "prod", "expr: res.status >= 500", 'expr: res.status >= "500"')
    line, column = position_of(project_copy, "prod", "res.status")
    lenient = check(project_copy, "prod", strict=False)
    [found] = problems(lenient, "rule-syntax")
    # rulekit reports an inequality with a string at its operator
    assert found.startswith(f"warning {line}:{column + len('res.status ')} ")
    assert "skips the rule" in found
    assert "invalid operation" in found
    assert lenient.snapshot is not None
    assert problems(check(project_copy, "prod"), "rule-syntax")[0].startswith("error")


def test_call_to_an_undefined_macro_warns(project_copy: Path):
    edit_snapshot(
        project_copy,
        "staging",
        "expr: res.status >= 500",
        "expr: res.status >= 500 && is_internal()",
    )
    [found] = problems(check(project_copy, "staging"), "rule-call")
    assert found.startswith("warning")
    assert "is_internal()" in found
    assert "never matches" in found
    assert "unknown function" in found


def test_block_scalar_expression_error_points_into_the_block(project_copy: Path):
    edit_snapshot(
        project_copy,
        "prod",
        "              expr: res.status >= 500\n",
        "              expr: |\n                res.status >= 500\n                  and req.method in GET\n",
    )
    [problem] = [p for p in check(project_copy, "prod").problems if p.code == "rule-syntax"]
    line, column = position_of(project_copy, "prod", "and req.method")
    assert (problem.line, problem.column) == (line, column + len("and req.method "))


# -- every feature the repository knows, on strict prod ---------------------------------------


def test_feature_rich_snapshot_passes_strict_prod(project_copy: Path):
    shutil.copy(
        DATA / "qtap-config-all-features.yaml", project_copy / "snapshots/prod/qtap-config.yaml"
    )
    report = check(project_copy, "prod")
    assert report.problems == [], [p.format() for p in report.problems]
    result = qtapctl("check", "prod", cwd=project_copy)
    assert result.returncode == 0, result.stdout + result.stderr


def test_empty_plugin_rule_expression_warns_and_empty_control_expression_is_one_error(
    project_copy: Path,
):
    edit_snapshot(project_copy, "staging", "expr: res.status >= 500", "expr: ''")
    append(project_copy, "staging", CONTROL.format(expr="''"))
    report = check(project_copy, "staging")
    assert problems(report, "rule-syntax")[0].startswith("warning")
    assert "empty expression" in problems(report, "rule-syntax")[0]
    assert len(problems(report, "rule-syntax")) == 1
    assert [p.code for p in report.errors] == ["control-rule"]


def test_whitespace_only_control_expression_is_an_error(project_copy: Path):
    append(project_copy, "dev", CONTROL.format(expr="'   '"))
    [found] = problems(check(project_copy, "dev"), "rule-syntax")
    assert found.startswith("error")
    assert "empty expression" in found


@pytest.mark.parametrize(
    "domain",
    ["api.stripe.com", "ab", "a1.example", "payments-db.internal", "xn--bcher-kva.example"],
)
def test_hostnames_the_validator_accepts(domain):
    assert hostname_problem(domain) is None


@pytest.mark.parametrize(
    ("domain", "reason"),
    [
        ("1password.com", "start with a letter"),
        ("x.com", "single character"),
        ("a", "single character"),
        ("", "empty"),
        ("api.stripe.com.", "must end with a letter or digit"),
        ("-a.com", "start with a letter"),
        ("ab..com", "empty label"),
        ("api_x.com", "'_'"),
        ("*.x.com", "start with a letter"),
        ("m\u00fcnchen.de", "'\u00fc'"),
    ],
)
def test_hostnames_the_validator_refuses_say_why(domain, reason):
    problem = hostname_problem(domain)
    assert problem is not None
    assert reason in problem


def test_syntax_only_newer_rulekit_accepts_warns_and_strict_refuses(project_copy: Path):
    append(project_copy, "dev", CONTROL.format(expr='\'req.headers["x-id"] == "1"\''))
    report = check(project_copy, "dev")
    [found] = problems(report, "rule-syntax-revision")
    line, column = position_of(project_copy, "dev", "'req.headers")
    assert found.startswith(f"warning {line}:{column + 1 + len('req.headers')} ")
    assert "does not start" in found
    assert report.snapshot is not None
    assert check(project_copy, "dev", strict=True).snapshot is None


# -- bounded: hostile rules and domains are decided quickly, without an exception -------------


def test_a_long_hostile_domain_is_refused():
    # The validator's pattern as written backtracks exponentially in Python's `re`, so this
    # call would not return; hostname.py uses an equivalent pattern that runs in linear time
    # (benchmarks/check_adversarial.py measures it).
    assert hostname_problem("a" * 5000 + "!") is not None


@pytest.mark.parametrize(
    "expr",
    ["x == " + "1" * 5000, "x in 1.2.3.4/" + "9" * 5000, "x matches /a{" + "9" * 5000 + "}/"],
)
def test_huge_numbers_in_a_rule_are_a_syntax_problem_not_a_crash(project_copy: Path, expr):
    append(project_copy, "dev", CONTROL.format(expr=f"'{expr}'"))
    assert problems(check(project_copy, "dev"), "rule-syntax")[0].startswith("error")


def test_rule_expressions_beyond_the_parse_budget_are_reported_unchecked():
    from qtap_gitops.snapshot import check_snapshot_bytes

    rule = "    - {name: x, actions: [deny], expr: '" + " && ".join(["a >= 5"] * 1500) + "'}\n"
    raw = ("version: 2\ncontrol:\n  default: allow\n  rules:\n" + rule * 50).encode()
    report = check_snapshot_bytes(raw, "snapshot.yaml")
    [found] = [p for p in report.problems if p.code == "rule-unchecked"]
    assert found.severity is Severity.WARNING
    assert check_snapshot_bytes(raw, "snapshot.yaml", strict=True).snapshot is None


def test_shapes_know_every_key_of_the_schema_tables():
    from qtap_gitops import qtap_schema as qs
    from qtap_gitops.snapshot import shapes

    assert set(shapes.CONFIG.fields) == qs.ROOT_KEYS - {"version"}
    assert set(shapes.TAP.fields) == qs.TAP_KEYS
    endpoint = shapes.TAP.fields["endpoints"]
    assert isinstance(endpoint, shapes.ListOf)
    assert isinstance(endpoint.item, shapes.Struct)
    assert set(endpoint.item.fields) == qs.TAP_ENDPOINT_KEYS
    event_keys = set().union(*qs.EVENT_STORE_KEYS.values(), *qs.LEGACY_EVENT_STORE_KEYS.values())
    assert event_keys <= set(shapes.EVENT_STORE.fields)
    assert set().union(*qs.OBJECT_STORE_KEYS.values()) <= set(shapes.OBJECT_STORE.fields)


def test_an_expression_too_long_to_parse_is_unchecked_a_warning_and_an_error_under_strict():
    from qtap_gitops.snapshot import check_snapshot_bytes
    from qtap_gitops.snapshot.rules import MAX_RULE_EXPRESSION

    long = "a == 1 && " * (MAX_RULE_EXPRESSION // 10 + 1) + "(("  # would not parse
    raw = (
        "version: 2\ncontrol:\n  default: allow\n  rules:\n"
        f"    - name: r0\n      expr: '{long}'\n      actions: [deny]\n"
    ).encode()
    report = check_snapshot_bytes(raw, "s.yaml")
    (problem,) = [p for p in report.problems if p.code == "rule-unchecked"]
    assert problem.severity is Severity.WARNING
    assert problem.yaml_path == "control.rules[0].expr"
    assert (problem.line, problem.column) == (6, 13)
    assert not [p for p in report.problems if p.code == "rule-syntax"]
    strict = check_snapshot_bytes(raw, "s.yaml", strict=True)
    assert [p.code for p in strict.errors] == ["rule-unchecked"]

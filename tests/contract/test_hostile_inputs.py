"""Regressions: each hostile input the contract once mishandled, and what it must do now.

Committed files arrive in pull requests. Each test names what it proves: a clear problem with a
line and a fix, no traceback, no echoed credential, and bounded time.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from qtap_gitops.aws_names import endpoint_problem, is_aws_endpoint
from qtap_gitops.deployment import check_deployment
from qtap_gitops.problems import Problem
from qtap_gitops.release_values import check_chart_values
from qtap_gitops.settings import RawStackConfig, check_settings
from qtap_gitops.snapshot import SnapshotReport, check_snapshot_bytes
from qtap_gitops.stackfile import ProjectError, find_project, load_stack_config
from qtap_gitops.yamldiff import diff_yaml, show
from qtap_gitops.yamlsource import MAX_DEPTH
from tests.conftest import copy_project
from tests.contract.snapshots import BASE, line_of, replace

FILE = "snapshots/test/qtap-config.yaml"
CREDENTIAL = "sk-live-9f8e7d6c5b4a3f2e1d0c"


def check(text: str | bytes) -> SnapshotReport:
    return check_snapshot_bytes(text.encode() if isinstance(text, str) else text, FILE)


def error_codes(report: SnapshotReport) -> list[str]:
    return [p.code for p in report.errors]


def rendered(problems: list[Problem]) -> str:
    return "\n".join(p.format() for p in problems)


def settings_errors(**values: object) -> list[Problem]:
    config = {
        "qtap:chart": json.dumps({"version": "0.0.38"}),
        "qtap:vault": json.dumps({"address": "https://vault.example.com:8200"}),
    }
    secret = frozenset(f"qtap:{k}" for k in values if k in ("secretEnv", "registrationToken"))
    for key, value in values.items():
        config[f"qtap:{key}"] = value if isinstance(value, str) else json.dumps(value)
    _, problems = check_settings(RawStackConfig("dev", "Pulumi.dev.yaml", config, secret))
    return [p for p in problems if p.is_error]


# -- values Qtap reads differently -------------------------------------------------------------


@pytest.mark.parametrize("word", ["yes", "on", "y", "Y", "ON", "'yes'", "true"])
def test_insecure_yes_on_an_aws_store_is_read_as_true_and_refused(word):
    report = check(replace("insecure: false", f"insecure: {word}"))
    assert error_codes(report) == ["s3-insecure"]
    assert report.errors[0].line == line_of(BASE, "insecure: false")


@pytest.mark.parametrize("word", ["no", "off", "n", "false", "~"])
def test_insecure_no_or_off_on_an_aws_store_is_false_and_passes(word):
    assert check(replace("insecure: false", f"insecure: {word}")).errors == []


def test_insecure_that_is_no_boolean_at_all_is_refused_as_yaml_v3_would():
    report = check(replace("insecure: false", "insecure: maybe"))
    assert error_codes(report) == ["wrong-type"]


def test_bucket_with_a_trailing_newline_is_refused():
    report = check(replace("bucket: qtap-contract-test", 'bucket: "qtap-contract-test\\n"'))
    assert "s3-bucket-name" in error_codes(report)


def test_env_name_with_a_trailing_newline_is_refused():
    report = check(replace("value: S3_ACCESS_KEY", 'value: "S3_ACCESS_KEY\\n"'))
    assert "env-name" in error_codes(report)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("namespace", "qtap-dev\n"),
        ("chart", {"version": "0.0.38\n"}),
        ("chart", {"version": "\u0660.\u0660.\u0663\u0668"}),  # Arabic-Indic digits
        ("vault", {"address": "https://vault.example.com:8200", "role": "qtap-dev\n"}),
        ("secretEnv", {"AXIOM_TOKEN\n": "[secret]"}),
    ],
)
def test_settings_values_with_a_trailing_newline_or_non_ascii_digits_are_refused(key, value):
    assert settings_errors(**{key: value})


# -- credentials are never echoed -------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (
            "      token:\n        type: env\n        value: REGISTRATION_TOKEN\n",
            f"      token: {CREDENTIAL}\n",
        ),
        (
            "      token:\n        type: env\n        value: REGISTRATION_TOKEN\n",
            f"      token:\n        type: text\n        value: {CREDENTIAL}\n",
        ),
        (
            "      token:\n        type: env\n        value: REGISTRATION_TOKEN\n",
            f"      token:\n        type: {CREDENTIAL}\n        value: x\n",
        ),
        (
            "      token:\n        type: env\n        value: REGISTRATION_TOKEN\n",
            f"      token:\n        type: env\n        value: {CREDENTIAL}\n",
        ),
        (
            "      secret_key:\n        type: env\n        value: S3_SECRET_KEY\n",
            f"      secret_key: [{CREDENTIAL}]\n",
        ),
    ],
)
def test_a_literal_credential_is_refused_without_echoing_it(old, new):
    text = replace(old, new)
    report = check(text)
    assert report.errors
    assert CREDENTIAL not in rendered(report.problems)


def test_the_semantic_diff_names_a_changed_credential_without_its_value():
    old = replace(
        "      token:\n        type: env\n        value: REGISTRATION_TOKEN\n",
        "      token: old-secret-value\n",
    )
    new = replace(
        "      token:\n        type: env\n        value: REGISTRATION_TOKEN\n",
        f"      token: {CREDENTIAL}\n",
    )
    changes = diff_yaml(old, new)
    assert [c.path for c in changes] == ["services.event_stores[id=qpoint].token"]
    shown = " ".join(f"{show(c.old)} {show(c.new)}" for c in changes)
    assert CREDENTIAL not in shown
    assert "old-secret-value" not in shown
    assert "redacted" in shown


def test_the_semantic_diff_shows_env_reference_names():
    new = replace("value: REGISTRATION_TOKEN", "value: PULSE_TOKEN")
    (change,) = diff_yaml(BASE, new)
    assert (show(change.old), show(change.new)) == ("'REGISTRATION_TOKEN'", "'PULSE_TOKEN'")


def test_the_semantic_diff_redacts_header_values():
    store = (
        "  event_stores:\n    - id: otel\n      type: otel\n      headers:\n"
        f"        Authorization: Bearer {CREDENTIAL}\n"
    )
    text = replace("  event_stores:\n", store + "    - id: x\n      type: stdout\n")
    shown = " ".join(f"{c.path} {show(c.old)} {show(c.new)}" for c in diff_yaml(BASE, text))
    assert "Authorization" in shown
    assert CREDENTIAL not in shown


def test_settings_never_echo_a_secret_env_given_as_a_string():
    errors = settings_errors(secretEnv=CREDENTIAL)
    assert errors
    assert CREDENTIAL not in rendered(errors)


# -- shapes that used to raise ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (
            "        type: env\n        value: REGISTRATION_TOKEN\n",
            "        type: [env]\n        value: REGISTRATION_TOKEN\n",
        ),
        (
            "        type: env\n        value: REGISTRATION_TOKEN\n",
            "        type: {a: b}\n        value: REGISTRATION_TOKEN\n",
        ),
        ("      - qpoint\n", "      - {a: b}\n"),
        ("      - qpoint\n", "      - [qpoint]\n"),
        ("  groups:\n", "  groups: {a: 1}\n  x:\n"),
        ("version: 2\n", "version: 2\ntags: {a: b}\n"),
        ("version: 2\n", "version: 2\ntags:\n  - key: [a]\n    source: {b: c}\n    location: x\n"),
        ("version: 2\n", "version: 2\ncontrol: {default: [allow], rules: [{actions: [[a]]}]}\n"),
        ("version: 2\n", "version: 2\nrulekit: {macros: [{name: [a], expr: x}]}\n"),
        ("version: 2\n", "version: [2]\n"),
        ("  direction: egress-external\n", "  direction: {a: b}\n"),
        ("    stack: default\n", "    stack: [default]\n"),
        ("            id: objects\n", "            id: {a: b}\n"),
    ],
)
def test_wrong_shapes_are_problems_not_tracebacks(old, new):
    report = check(replace(old, new))
    assert report.errors, "a wrong shape must be refused"
    assert all(p.line is not None for p in report.errors), rendered(report.errors)


@pytest.mark.parametrize("key", ["1.5", "~", "null", "true", "? [a, b]\n", "? {a: b}\n", "1"])
def test_root_keys_that_are_not_strings_are_refused_with_their_line(key):
    text = BASE + f"{key}: x\n"  # "? ...\n: x" is YAML's explicit (complex) key
    report = check(text)
    assert "yaml-key" in error_codes(report)
    assert report.errors[0].line is not None


def test_deep_nesting_is_refused_quickly_without_recursion_error():
    report = check("version: 2\nx: " + "[" * 250 + "]" * 250 + "\n")
    assert error_codes(report) == ["yaml-too-deep"]
    assert MAX_DEPTH < 250


def test_a_recursive_alias_is_refused():
    report = check(BASE + "x: &a\n  - *a\n")
    assert error_codes(report) == ["yaml-alias-recursive"]
    assert report.errors[0].line == line_of(BASE + "x: &a\n  - *a\n", "- *a")


def test_a_billion_laughs_snapshot_is_refused_at_once():
    lines = ["version: 2", "x:", "  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 10):
        lines.append(f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    text = "\n".join(lines) + "\n"
    assert len(text) < 2000
    started = time.perf_counter()
    report = check(text)
    assert error_codes(report) == ["yaml-too-large"]
    assert time.perf_counter() - started < 5  # a bound against hangs, not a benchmark


def test_a_nul_byte_is_reported_by_line_and_column():
    report = check(replace("region: us-east-1", "region: us-\0east-1"))
    (problem,) = report.errors
    assert (problem.code, problem.line) == ("yaml-control-character", line_of(BASE, "region:"))
    assert problem.column == len("      region: us-") + 1
    assert "offset" not in problem.message


def test_a_key_holding_terminal_escapes_is_refused_and_escaped_in_the_message():
    report = check(BASE + '"\\e[31mred": x\n')
    assert "yaml-key" in error_codes(report)
    assert "\x1b" not in rendered(report.problems)


def test_a_duplicate_key_names_its_path_and_both_lines():
    report = check(BASE + "tap: {}\n")
    assert "duplicate-key" in error_codes(report)


# -- tags, merge keys, multiple documents -------------------------------------------------------


@pytest.mark.parametrize("tag", ["!foo", "!!binary", "!!timestamp", "!!python/object"])
def test_unknown_and_special_tags_are_refused(tag):
    report = check(replace("region: us-east-1", f"region: {tag} us-east-1"))
    assert "yaml-tag" in error_codes(report)


def test_a_set_is_refused():
    assert "yaml-tag" in error_codes(check(BASE + "x: !!set {a, b}\n"))


def test_core_tags_that_fit_their_value_are_accepted():
    report = check(replace("version: 2", "version: !!int 2"))
    assert report.errors == []
    report = check(replace("region: us-east-1", "region: !!str us-east-1"))
    assert report.errors == []


def test_a_merge_key_is_refused():
    report = check(BASE + "x: &x {a: 1}\ny:\n  <<: *x\n")
    assert "yaml-merge-key" in error_codes(report)


def test_a_tagged_scalar_is_shown_as_its_value_in_the_diff():
    (change,) = diff_yaml("a: 1\n", "a: !custom 2\n")
    assert show(change.new) == "'2'"


# -- the chart must be able to embed the snapshot --------------------------------------------


@pytest.mark.parametrize(
    "prefix",
    ["   \n", "\n", "  # exported from Qplane\n", "\t# exported\n", "\ufeff", "%YAML 1.2\n---\n"],
)
def test_a_snapshot_the_chart_cannot_embed_is_refused_with_the_line(prefix):
    report = check(prefix + BASE)
    assert {"chart-embedding", "yaml-directive"} & set(error_codes(report))
    assert report.errors[0].line == 1


@pytest.mark.parametrize("brk", ["\r", "\u2028", "\u0085"])
def test_line_breaks_the_chart_does_not_indent_after_are_refused(brk):
    report = check(replace("# Exported from Qplane;", f"# Exported{brk}from Qplane;"))
    assert "chart-embedding" in error_codes(report)


def test_a_document_start_marker_and_crlf_endings_embed_fine():
    assert check("---\n" + BASE).errors == []
    assert check(BASE.replace("\n", "\r\n")).errors == []


# -- AWS endpoints, numbers, URLs, regions ----------------------------------------------------


@pytest.mark.parametrize(
    "endpoint",
    [
        " S3.AMAZONAWS.COM ",
        "S3.AMAZONAWS.COM",
        "s3.us-east-1.amazonaws.com.cn",
        "s3.cn-north-1.amazonaws.com",
        "bucket.s3.amazonaws.com",
        "s3.amazonaws.com:443",
    ],
)
def test_endpoints_that_are_not_aws_as_aws_defines_them_are_refused(endpoint):
    assert not is_aws_endpoint(endpoint)
    assert endpoint_problem(endpoint)
    report = check(replace("endpoint: s3.amazonaws.com", f"endpoint: '{endpoint}'"))
    assert "s3-endpoint-host" in error_codes(report)
    assert report.snapshot is None


def test_a_china_region_endpoint_is_aws():
    text = replace("endpoint: s3.amazonaws.com", "endpoint: s3.cn-north-1.amazonaws.com.cn")
    snapshot = check(replace("region: us-east-1", "region: cn-north-1", text)).snapshot
    assert snapshot is not None
    assert snapshot.aws_stores[0].region == "cn-north-1"


def test_vault_address_with_trailing_junk_is_refused():
    errors = settings_errors(vault={"address": "https://vault:8200 && rm -rf /"})
    assert [p.yaml_path for p in errors] == ["qtap:vault.address"]


def test_plain_http_vault_is_named_in_a_warning():
    config = {
        "qtap:chart": json.dumps({"version": "0.0.38"}),
        "qtap:vault": json.dumps({"address": "http://vault.internal:8200"}),
    }
    _, problems = check_settings(RawStackConfig("dev", "Pulumi.dev.yaml", config))
    assert [(p.yaml_path, p.is_error) for p in problems] == [("qtap:vault.address", False)]


@pytest.mark.parametrize("days", ["²", "10" * 10, 10**20, -1, "1e3"])
def test_retention_days_out_of_range_or_unicode_digits_are_refused(days):
    errors = settings_errors(objectStore={"retentionDays": days})
    assert [p.yaml_path for p in errors] == ["qtap:objectStore.retentionDays"]


@pytest.mark.parametrize("value", [["debug"], {"a": 1}])
def test_log_level_of_the_wrong_shape_is_refused(value):
    problems = check_chart_values({"logLevel": value}, "Pulumi.dev.yaml", {})
    assert [p.yaml_path for p in problems] == ["qtap:chart.values.logLevel"]


def test_pod_annotations_that_are_not_a_mapping_are_refused():
    problems = check_chart_values({"podAnnotations": "hello"}, "Pulumi.dev.yaml", {})
    assert [p.yaml_path for p in problems] == ["qtap:chart.values.podAnnotations"]


@pytest.mark.parametrize("secret_env", [CREDENTIAL, json.dumps([CREDENTIAL])])
def test_secret_env_as_a_string_or_list_is_a_problem(secret_env):
    errors = settings_errors(secretEnv=secret_env)
    assert [p.yaml_path for p in errors] == ["qtap:secretEnv"]


def test_a_kms_key_in_another_region_than_its_bucket_is_refused(tmp_path: Path):
    project = copy_project(tmp_path / "project")
    stack_file = project / "Pulumi.prod.yaml"
    text = stack_file.read_text()
    assert "arn:aws:kms:us-west-2:" in text
    stack_file.write_text(text.replace("arn:aws:kms:us-west-2:", "arn:aws:kms:eu-west-1:"))
    raw, problems = load_stack_config(find_project(project), "prod")
    assert raw is not None, problems
    report = check_deployment(raw, project, require_secrets=False)
    assert [p.code for p in report.errors] == ["kms-region"]
    assert report.errors[0].line == line_of(stack_file.read_text(), "kmsKeyId")


# -- stack files and the project file ---------------------------------------------------------


def test_a_stack_file_named_pulumi_dot_dot_yaml_names_no_stack(tmp_path: Path):
    project = copy_project(tmp_path / "project")
    (project / "Pulumi..yaml").write_text("config: {}\n")
    (project / "Pulumi.-x.yaml").write_text("config: {}\n")
    assert find_project(project).stacks() == ["dev", "staging", "prod"]


def test_a_non_utf8_project_file_is_a_project_error(tmp_path: Path):
    project = copy_project(tmp_path / "project")
    (project / "Pulumi.yaml").write_bytes(b"name: qtap\xff\n")
    with pytest.raises(ProjectError, match="UTF-8"):
        find_project(project)


def test_a_non_utf8_stack_file_is_a_problem_with_its_line(tmp_path: Path):
    project = copy_project(tmp_path / "project")
    (project / "Pulumi.dev.yaml").write_bytes(b"config:\n  qtap:namespace: q\xfftap\n")
    raw, problems = load_stack_config(find_project(project), "dev")
    assert raw is None
    assert [(p.code, p.line) for p in problems] == [("stack-file-not-utf8", 2)]


def test_a_billion_laughs_stack_file_is_refused(tmp_path: Path):
    project = copy_project(tmp_path / "project")
    lines = ["config:", "  qtap:x: &a0 [a, a, a, a, a, a, a, a, a, a]"]
    lines += [f"  qtap:y{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 8)]
    (project / "Pulumi.dev.yaml").write_text("\n".join(lines) + "\n")
    raw, problems = load_stack_config(find_project(project), "dev")
    assert raw is None
    assert [p.code for p in problems] == ["yaml-too-large"]


# -- every field decodes into its Go type, whatever the store's type ---------------------------


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        # ServiceObjectStore inlines the s3, qpoint and otel configs: every field is decoded.
        (
            "      insecure: false\n",
            "      insecure: false\n      tls: {enabled: maybe}\n",
            "services.object_stores[0].tls.enabled",
        ),
        (
            "      insecure: false\n",
            "      insecure: false\n      url: [a]\n",
            "services.object_stores[0].url",
        ),
        (
            "      insecure: false\n",
            "      insecure: false\n      event_store: {disabled: 2}\n",
            "services.object_stores[0].event_store.disabled",
        ),
        (
            "      url: https://api-pulse.qpoint.io\n",
            "      url: https://api-pulse.qpoint.io\n      service_name: [a]\n",
            "services.event_stores[0].service_name",
        ),
        (
            "  ignore_loopback: true\n",
            "  ignore_loopback: true\n  endpoints: {a: b}\n",
            "tap.endpoints",
        ),
        (
            "      - container-runtimes\n",
            "      - container-runtimes\n    custom: [{exe: x, only: data}]\n",
            "tap.filters.custom[0].only",
        ),
    ],
)
def test_fields_decode_into_their_go_types_whatever_the_store_type(old, new, path):
    report = check(replace(old, new))
    assert [(p.code, p.yaml_path) for p in report.errors] == [("wrong-type", path)]


def test_a_flood_of_problems_is_capped_with_a_count_of_the_rest():
    report = check(BASE + "".join(f"unknown{i}: v\n" for i in range(500)))
    assert len(report.problems) == 101
    assert report.problems[-1].code == "too-many-problems"
    assert report.problems[-1].message.startswith("400 more")


def test_reading_stops_after_two_hundred_yaml_problems():
    report = check(BASE + "x:\n" + "".join("  k: v\n" for _ in range(5000)))
    assert report.snapshot is None
    assert report.errors[-1].code == "too-many-problems"
    assert len(report.problems) <= 101


@pytest.mark.parametrize("number", ["9" * 5000, "1e999", "0x" + "f" * 5000])
def test_huge_numbers_are_strings_as_in_go_not_a_conversion_error(number):
    report = check(replace("version: 2", f"version: {number}") + f"x: [{number}]\n")
    assert error_codes(report) == ["version"]


def test_a_setting_holding_a_5000_digit_number_is_a_problem_not_a_traceback():
    errors = settings_errors(chart="9" * 5000)
    assert {p.yaml_path for p in errors} == {"qtap:chart"}

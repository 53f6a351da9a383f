"""The snapshot contract: every rule with a case that passes and a case that fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from qtap_gitops.problems import ContractError, Severity
from qtap_gitops.snapshot import (
    MAX_SNAPSHOT_BYTES,
    ReferenceRole,
    SnapshotReport,
    check_snapshot,
    check_snapshot_bytes,
    load_snapshot,
)
from tests.conftest import REPO, STACKS
from tests.contract.snapshots import BASE, MINIO_STORE, line_of, replace, with_object_store

FILE = "snapshots/test/qtap-config.yaml"


def check(text: str | bytes, *, strict: bool = False) -> SnapshotReport:
    raw = text.encode() if isinstance(text, str) else text
    return check_snapshot_bytes(raw, FILE, strict=strict)


def codes(report: SnapshotReport, severity: Severity = Severity.ERROR) -> list[str]:
    return [p.code for p in report.problems if p.severity is severity]


def only_error(report: SnapshotReport, code: str):
    errors = [p for p in report.problems if p.is_error]
    assert [p.code for p in errors] == [code], [p.format() for p in errors]
    return errors[0]


# -- good cases ------------------------------------------------------------------------------


def test_baseline_passes_without_problems():
    report = check(BASE)
    assert report.problems == []
    assert report.snapshot is not None


@pytest.mark.parametrize("stack", STACKS)
def test_committed_snapshots_pass(stack):
    path = REPO / "snapshots" / stack / "qtap-config.yaml"
    report = check_snapshot(path, f"snapshots/{stack}/qtap-config.yaml")
    assert report.errors == [], [p.format() for p in report.errors]
    assert report.snapshot is not None
    assert report.snapshot.aws_stores, "every committed stack provisions its own bucket"


def test_loaded_bytes_equal_file_bytes_with_comments_order_and_quoting(tmp_path: Path):
    # CRLF endings, a BOM-free comment, single and double quotes, unusual key order: all kept.
    text = replace("version: 2\n", "version: 2  # exported 2026-11-02\n")
    text = replace("format: json", 'format: "json"', text)
    raw = text.replace("\n", "\r\n").encode()
    path = tmp_path / "qtap-config.yaml"
    path.write_bytes(raw)
    snapshot = load_snapshot(path)
    assert snapshot.raw == raw
    assert snapshot.text.encode() == raw
    assert "# exported 2026-11-02" in snapshot.text
    assert "'500'" in snapshot.text
    assert '"json"' in snapshot.text


def test_sha256_is_of_the_exact_bytes():
    import hashlib

    snapshot = check(BASE).snapshot
    assert snapshot is not None
    assert snapshot.sha256 == hashlib.sha256(BASE.encode()).hexdigest()


def test_env_references_carry_role_path_and_line():
    snapshot = check(BASE).snapshot
    assert snapshot is not None
    refs = {ref.name: ref for ref in snapshot.env_references}
    assert set(refs) == {"REGISTRATION_TOKEN", "S3_ACCESS_KEY", "S3_SECRET_KEY"}
    token = refs["REGISTRATION_TOKEN"]
    assert token.role is ReferenceRole.PULSE_TOKEN
    assert token.yaml_path == "services.event_stores[0].token"
    assert token.line == line_of(BASE, "value: REGISTRATION_TOKEN")
    assert refs["S3_ACCESS_KEY"].role is ReferenceRole.AWS_ACCESS_KEY_ID
    assert refs["S3_SECRET_KEY"].role is ReferenceRole.AWS_SECRET_ACCESS_KEY
    assert refs["S3_SECRET_KEY"].store_label == "objects"


@pytest.mark.parametrize(
    ("endpoint", "region", "expected_region"),
    [
        ("s3.amazonaws.com", "us-east-1", "us-east-1"),
        ("", "eu-central-1", "eu-central-1"),
        ("s3.eu-west-1.amazonaws.com", "eu-west-1", "eu-west-1"),
    ],
)
def test_aws_endpoints_are_managed_by_the_stack(endpoint, region, expected_region):
    text = replace("endpoint: s3.amazonaws.com", f"endpoint: '{endpoint}'")
    text = replace("region: us-east-1", f"region: {region}", text)
    snapshot = check(text).snapshot
    assert snapshot is not None
    (store,) = snapshot.s3_stores
    assert store.aws_managed
    assert store.region == expected_region


def test_s3_compatible_store_is_external_and_its_keys_come_from_secret_env():
    snapshot = check(with_object_store(MINIO_STORE)).snapshot
    assert snapshot is not None
    (store,) = snapshot.s3_stores
    assert not store.aws_managed
    assert snapshot.aws_stores == ()
    roles = {ref.name: ref.role for ref in snapshot.env_references}
    assert roles["MINIO_ACCESS_KEY"] is ReferenceRole.OTHER
    assert roles["MINIO_SECRET_KEY"] is ReferenceRole.OTHER


def test_external_store_without_keys_is_allowed():
    store = "\n".join(
        line
        for line in MINIO_STORE.splitlines()
        if "_key" not in line and "type: env" not in line and "value: MINIO" not in line
    )
    report = check(with_object_store(store + "\n"))
    assert report.errors == [], [p.format() for p in report.errors]


def test_none_stack_and_yaml11_booleans_and_anchors_are_accepted():
    text = replace("ignore_loopback: true", "ignore_loopback: yes")
    text = replace(
        "  http:\n    stack: default",
        "  http:\n    stack: default\n  redis:\n    stack: none",
        text,
    )
    text = replace("stacks:\n  default:", "stacks:\n  default: &default", text)
    text = replace("\ntap:", "  copy: *default\n\ntap:", text)
    report = check(text)
    assert report.problems == [], [p.format() for p in report.problems]


def test_axiom_dataset_may_be_text_but_its_token_must_be_env():
    store = """\
    - id: axiom
      type: axiom
      dataset:
        type: text
        value: qtap-events
      token:
        type: env
        value: AXIOM_TOKEN
"""
    text = replace("  object_stores:\n", store + "  object_stores:\n")
    snapshot = check(text).snapshot
    assert snapshot is not None
    assert ("AXIOM_TOKEN", ReferenceRole.OTHER) in {
        (r.name, r.role) for r in snapshot.env_references
    }


# -- file-level errors -----------------------------------------------------------------------


def test_missing_file(tmp_path: Path):
    report = check_snapshot(tmp_path / "nope.yaml", "snapshots/x/qtap-config.yaml")
    problem = only_error(report, "snapshot-missing")
    assert problem.file == "snapshots/x/qtap-config.yaml"
    assert "Qplane" in problem.fix


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_empty_file(content):
    only_error(check(content), "snapshot-empty")


def test_comments_only_file():
    only_error(check("# nothing exported yet\n"), "empty-file")


def test_non_utf8_file_names_line_and_column():
    raw = BASE.encode().replace(b"App Error", b"App \xff Error")
    problem = only_error(check(raw), "snapshot-not-utf8")
    assert problem.line == line_of(BASE, "App Error")
    assert problem.column == BASE.splitlines()[problem.line - 1].index("App") + 5


def test_oversized_file():
    raw = (BASE + "#" + "x" * MAX_SNAPSHOT_BYTES + "\n").encode()
    problem = only_error(check(raw), "snapshot-too-large")
    assert str(MAX_SNAPSHOT_BYTES) in problem.message


def test_yaml_syntax_error_names_line():
    text = replace("      - qpoint\n", "      - [qpoint\n")
    problem = only_error(check(text), "yaml-syntax")
    assert problem.line is not None
    assert problem.line >= line_of(text, "[qpoint")


def test_duplicate_keys_are_all_reported_with_their_lines():
    text = replace(
        "      region: us-east-1\n", "      region: us-east-1\n      region: eu-west-1\n"
    )
    text = replace(
        "  ignore_loopback: true\n", "  ignore_loopback: true\n  ignore_loopback: false\n", text
    )
    report = check(text)
    duplicates = [p for p in report.errors if p.code == "duplicate-key"]
    assert [p.line for p in duplicates] == [
        line_of(text, "eu-west-1"),
        line_of(text, "ignore_loopback: false"),
    ]
    assert "services.object_stores[0].region" in duplicates[0].message


def test_multiple_documents():
    problem = only_error(check(BASE + "---\nversion: 2\n"), "multiple-documents")
    assert problem.line == BASE.count("\n") + 1


@pytest.mark.parametrize("text", ["- version: 2\n", "just a string\n"])
def test_root_must_be_a_mapping(text):
    only_error(check(text), "root-not-mapping")


@pytest.mark.parametrize("version", ["1", "'2'", "3", "true"])
def test_version_other_than_2(version):
    text = replace("version: 2", f"version: {version}")
    problem = only_error(check(text), "version")
    assert problem.line == 1


def test_missing_version():
    # The blank line after "version: 2" goes too: a blank first line is a problem of its own.
    only_error(check(replace("version: 2\n\n", "")), "version")


# -- secrets and references ------------------------------------------------------------------


def test_token_as_text_is_refused_with_the_configmap_reason():
    text = replace(
        "        type: env\n        value: REGISTRATION_TOKEN",
        "        type: text\n        value: qp_live_123",
    )
    problem = only_error(check(text), "secret-as-text")
    assert problem.yaml_path == "services.event_stores[0].token.type"
    assert "ConfigMap" in problem.message
    assert problem.line == line_of(text, "type: text")


def test_access_key_as_text_is_refused():
    text = replace(
        "        type: env\n        value: S3_ACCESS_KEY",
        "        type: text\n        value: AKIAEXAMPLE",
    )
    only_error(check(text), "secret-as-text")


def test_otel_header_value_as_text_is_refused():
    store = """\
    - id: otel
      type: otel
      endpoint: otel-collector.observability:4317
      protocol: grpc
      headers:
        x-api-key:
          type: text
          value: abc123
"""
    text = replace("  object_stores:\n", store + "  object_stores:\n")
    problem = only_error(check(text), "secret-as-text")
    assert "x-api-key" in problem.message


def test_literal_string_token_is_refused():
    text = replace(
        "      token:\n        type: env\n        value: REGISTRATION_TOKEN",
        "      token: qp_live_123",
    )
    problem = only_error(check(text), "value-source")
    assert "ConfigMap" in problem.message


def test_reference_without_type():
    text = replace(
        "        type: env\n        value: REGISTRATION_TOKEN", "        value: REGISTRATION_TOKEN"
    )
    problem = only_error(check(text), "value-source-type")
    assert "empty string" in problem.message


def test_reference_with_unknown_type():
    text = replace(
        "        type: env\n        value: S3_SECRET_KEY",
        "        type: file\n        value: /run/secrets/s3",
    )
    only_error(check(text), "value-source-type")


@pytest.mark.parametrize("name", ["S3-ACCESS-KEY", "3SCALE_KEY", "''"])
def test_env_name_must_be_a_variable_name(name):
    text = replace("value: S3_ACCESS_KEY", f"value: {name}")
    problem = only_error(check(text), "env-name")
    assert problem.line == line_of(text, f"value: {name}")


def test_env_name_the_chart_sets_itself_is_refused():
    text = replace("value: S3_ACCESS_KEY", "value: LOG_LEVEL")
    only_error(check(text), "env-name-reserved")


# -- stores ----------------------------------------------------------------------------------


# pulse-legacy is a type of older Qtap revisions: a warning (tests/contract/test_qtap_conformance.py).
@pytest.mark.parametrize("kind", ["pulse-lagacy", "kafka"])
def test_unknown_event_store_type(kind):
    problem = only_error(check(replace("type: pulse", f"type: {kind}")), "store-type")
    assert "console" in problem.message


def test_unknown_object_store_type():
    text = replace("      type: s3\n", "      type: gcs\n")
    assert "store-type" in codes(check(text))


def test_store_without_type():
    text = replace("      type: pulse\n", "")
    assert "store-type" in codes(check(text))


def test_duplicate_event_store_ids():
    extra = "    - id: qpoint\n      type: stdout\n"
    text = replace("  object_stores:\n", extra + "  object_stores:\n")
    problem = only_error(check(text), "duplicate-store-id")
    assert problem.line == line_of(text, "type: stdout") - 1


def test_duplicate_object_store_ids():
    extra = "    - id: objects\n      type: stdout\n"
    text = replace("\nstacks:", extra + "\nstacks:")
    only_error(check(text), "duplicate-store-id")


def test_pulse_without_token():
    text = replace("      token:\n        type: env\n        value: REGISTRATION_TOKEN\n", "")
    only_error(check(text), "pulse-token")


def test_object_store_event_store_selector_must_exist():
    text = replace(
        "      insecure: false\n",
        "      insecure: false\n      event_store:\n        id: warehouse\n",
    )
    only_error(check(text), "unknown-store-id")


# -- s3 ------------------------------------------------------------------------------------


def test_s3_without_bucket():
    only_error(check(replace("      bucket: qtap-contract-test\n", "")), "s3-bucket")


@pytest.mark.parametrize(
    "bucket",
    [
        "Qtap_Payloads",
        "ab",
        "qtap..payloads",
        "192.168.5.4",
        "xn--qtap",
        "qtap-payloads-",
        "qtap-payloads-s3alias",
    ],
)
def test_invalid_bucket_names(bucket):
    text = replace("bucket: qtap-contract-test", f"bucket: '{bucket}'")
    problem = only_error(check(text), "s3-bucket-name")
    assert problem.line == line_of(text, "bucket: '")


@pytest.mark.parametrize("bucket", ["qtap", "qtap.payloads.eu", "a" * 63, "123-qtap"])
def test_valid_bucket_names(bucket):
    text = replace("bucket: qtap-contract-test", f"bucket: '{bucket}'")
    assert check(text).errors == []


def test_endpoint_with_scheme():
    text = with_object_store(MINIO_STORE.replace("endpoint: minio", "endpoint: https://minio"))
    problem = only_error(check(text), "s3-endpoint-scheme")
    assert "minio.storage.svc.cluster.local:9000" in problem.fix


def test_endpoint_with_path():
    text = with_object_store(MINIO_STORE.replace(":9000\n", ":9000/qtap\n", 1))
    only_error(check(text), "s3-endpoint-path")


@pytest.mark.parametrize("dropped", ["access_key", "secret_key"])
def test_only_one_of_the_key_pair(dropped):
    env = "S3_ACCESS_KEY" if dropped == "access_key" else "S3_SECRET_KEY"
    text = replace(f"      {dropped}:\n        type: env\n        value: {env}\n", "")
    assert "s3-key-pair" in codes(check(text))


def test_aws_store_without_keys_is_a_keyless_store():
    # Qtap then takes credentials from the AWS chain (IRSA, Pod Identity); whether the stack
    # serves it with a workload identity is checked against the settings (test_identity.py).
    text = replace(
        "      access_key:\n        type: env\n        value: S3_ACCESS_KEY\n      secret_key:\n        type: env\n        value: S3_SECRET_KEY\n",
        "",
    )
    report = check(text)
    assert report.errors == [], [p.format() for p in report.errors]
    (store,) = report.snapshot.aws_stores
    assert (store.access_key_env, store.secret_key_env) == (None, None)
    assert {ref.name for ref in report.snapshot.env_references} == {"REGISTRATION_TOKEN"}


def test_access_url_missing():
    # Qtap accepts it (a warning, see tests/contract/test_qtap_conformance.py); strict refuses.
    text = replace("      access_url: https://{{ENDPOINT}}/{{BUCKET}}/{{DIGEST}}\n", "")
    only_error(check(text, strict=True), "s3-access-url")


def test_access_url_without_digest():
    text = replace("/{{BUCKET}}/{{DIGEST}}", "/{{BUCKET}}/")
    problem = only_error(check(text), "s3-access-url")
    assert "DIGEST" in problem.message


@pytest.mark.parametrize("placeholder", ["{{KEY}}", "{{digest}}", "{{REGION}}"])
def test_access_url_with_unknown_placeholder(placeholder):
    text = replace("/{{BUCKET}}/{{DIGEST}}", f"/{placeholder}/{{{{DIGEST}}}}")
    problem = only_error(check(text), "s3-access-url")
    assert placeholder in problem.message


def test_access_url_with_all_four_placeholders():
    # Quoted: a plain scalar cannot start with '{' in YAML.
    text = replace(
        "access_url: https://{{ENDPOINT}}/{{BUCKET}}/{{DIGEST}}",
        "access_url: '{{SCHEME}}://{{ENDPOINT}}/{{BUCKET}}/{{DIGEST}}'",
    )
    assert check(text).problems == []


def test_region_disagreeing_with_regional_endpoint():
    text = replace("endpoint: s3.amazonaws.com", "endpoint: s3.eu-west-1.amazonaws.com")
    problem = only_error(check(text), "s3-region-mismatch")
    assert "eu-west-1" in problem.fix


def test_insecure_aws_store_would_be_refused_by_the_tls_only_bucket():
    text = replace("insecure: false", "insecure: true")
    only_error(check(text), "s3-insecure")


# -- stacks, tap and plugins -----------------------------------------------------------------


def test_tap_protocol_naming_a_missing_stack():
    text = replace("    stack: default", "    stack: defualt")
    problem = only_error(check(text), "unknown-stack")
    assert problem.yaml_path == "tap.http.stack"
    assert "default" in problem.fix


def test_tap_endpoint_naming_a_missing_stack():
    text = replace(
        "  filters:",
        "  endpoints:\n    - domain: api.stripe.com\n      http:\n        stack: payments\n  filters:",
    )
    only_error(check(text), "unknown-stack")


def test_plugin_naming_a_missing_object_store():
    text = replace("            id: objects", "            id: warehouse")
    problem = only_error(check(text), "unknown-store-id")
    assert "objects" in problem.fix


def test_qscan_plugin_naming_a_missing_object_store():
    text = replace(
        "      - type: report_usage\n",
        "      - type: report_usage\n      - type: qscan\n        config:\n          object_store_id: nowhere\n",
    )
    only_error(check(text), "unknown-store-id")


def test_wrong_scalar_type_is_an_error():
    problem = only_error(
        check(replace("ignore_loopback: true", "ignore_loopback: sometimes")), "wrong-type"
    )
    assert problem.yaml_path == "tap.ignore_loopback"


def test_stacks_must_be_a_mapping():
    text = replace("stacks:\n  default:\n", "stacks:\n  - default:\n")
    assert "wrong-type" in codes(check(text))


def test_tag_with_unknown_source():
    text = BASE + "tags:\n  - key: team\n    source: pod.label\n    location: team\n"
    only_error(check(text), "tag-source")


def test_control_default_must_be_allow():
    text = BASE + "control:\n  default: deny\n"
    only_error(check(text), "control-default")


def test_custom_filter_needs_exe():
    text = replace(
        "      - container-runtimes\n",
        "      - container-runtimes\n    custom:\n      - strategy: exact\n",
    )
    only_error(check(text), "filter-exe")


# -- warnings --------------------------------------------------------------------------------


def test_unknown_keys_warn_and_name_the_typo():
    text = replace("  ignore_loopback: true", "  ignore_loopbak: true")
    report = check(text)
    assert report.errors == []
    (warning,) = report.warnings
    assert warning.code == "unknown-key"
    assert warning.yaml_path == "tap.ignore_loopbak"
    assert warning.line == line_of(text, "ignore_loopbak")


def test_pulse_endpoint_instead_of_url():
    text = replace(
        "      url: https://api-pulse.qpoint.io", "      endpoint: https://pulse.internal.example"
    )
    report = check(text)
    assert report.errors == []
    assert [w.code for w in report.warnings] == ["pulse-endpoint"]
    assert "url" in report.warnings[0].fix


def test_unknown_filter_group_suggests_container_runtimes():
    report = check(replace("      - container-runtimes", "      - container"))
    assert [w.code for w in report.warnings] == ["filter-group"]
    assert "container-runtimes" in report.warnings[0].fix


def test_legacy_details_capture_level():
    report = check(replace("level: full", "level: details"))
    assert [w.code for w in report.warnings] == ["legacy-capture-level"]
    assert "headers" in report.warnings[0].fix


def test_unknown_plugin_type_warns():
    report = check(replace("- type: report_usage", "- type: report_usge"))
    assert [w.code for w in report.warnings] == ["plugin-unknown"]


def test_aws_store_without_region_warns_about_us_east_1():
    report = check(replace("      region: us-east-1\n", ""))
    assert [w.code for w in report.warnings] == ["s3-region-default"]
    assert report.snapshot is not None
    assert report.snapshot.s3_stores[0].region == "us-east-1"


def test_strict_mode_turns_warnings_into_errors():
    text = replace("      - container-runtimes", "      - container")
    assert check(text).snapshot is not None
    strict = check(text, strict=True)
    assert strict.snapshot is None
    assert codes(strict) == ["filter-group"]


# -- reporting -------------------------------------------------------------------------------


def test_all_problems_of_a_file_are_reported_together():
    text = replace("version: 2", "version: 1")
    text = replace("bucket: qtap-contract-test", "bucket: Bad_Bucket", text)
    text = replace("    stack: default", "    stack: missing", text)
    text = replace(
        "        type: env\n        value: REGISTRATION_TOKEN",
        "        type: text\n        value: x",
        text,
    )
    report = check(text)
    assert sorted(codes(report)) == ["s3-bucket-name", "secret-as-text", "unknown-stack", "version"]


def test_message_names_file_line_column_path_problem_and_fix():
    text = replace("bucket: qtap-contract-test", "bucket: Bad_Bucket")
    problem = only_error(check(text), "s3-bucket-name")
    line = line_of(text, "Bad_Bucket")
    rendered = problem.format()
    assert rendered.startswith(f"{FILE}:{line}:{problem.column}: error [s3-bucket-name]:")
    assert "services.object_stores[0].bucket" in rendered
    assert "fix: " in rendered


def test_load_snapshot_raises_with_every_error(tmp_path: Path):
    path = tmp_path / "qtap-config.yaml"
    path.write_text(replace("version: 2", "version: 1"))
    with pytest.raises(ContractError) as raised:
        load_snapshot(path, FILE)
    assert [p.code for p in raised.value.errors] == ["version"]
    assert "nothing was deployed" in str(raised.value)

"""Snapshot texts for the contract tests: one valid baseline and helpers to break it."""

from __future__ import annotations

BASE = """\
version: 2

# Exported from Qplane; the comment and the quoting below must survive untouched.
services:
  event_stores:
    - id: qpoint
      type: pulse
      url: https://api-pulse.qpoint.io
      token:
        type: env
        value: REGISTRATION_TOKEN
  object_stores:
    - id: objects
      type: s3
      endpoint: s3.amazonaws.com
      bucket: qtap-contract-test
      region: us-east-1
      access_url: https://{{ENDPOINT}}/{{BUCKET}}/{{DIGEST}}
      insecure: false
      access_key:
        type: env
        value: S3_ACCESS_KEY
      secret_key:
        type: env
        value: S3_SECRET_KEY

stacks:
  default:
    plugins:
      - type: report_usage
      - type: http_capture
        config:
          level: full
          format: json
          object_store:
            id: objects
      - type: detect_errors
        config:
          rules:
            - name: App Error
              trigger_status_codes:
                - '500'
              report_as_issue: true

tap:
  direction: egress-external
  ignore_loopback: true
  audit_include_dns: false
  http:
    stack: default
  filters:
    groups:
      - qpoint
      - container-runtimes
"""


def replace(old: str, new: str, text: str = BASE) -> str:
    """`text` with exactly one occurrence of `old` replaced (fails loudly if absent)."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing `needle`."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in text")


MINIO_STORE = """\
    - id: objects
      type: s3
      endpoint: minio.storage.svc.cluster.local:9000
      bucket: qtap-contract-test
      region: us-east-1
      access_url: http://minio.example.internal:9000/{{BUCKET}}/{{DIGEST}}
      insecure: true
      access_key:
        type: env
        value: MINIO_ACCESS_KEY
      secret_key:
        type: env
        value: MINIO_SECRET_KEY
"""


def with_object_store(store: str, text: str = BASE) -> str:
    """`text` with the s3 store replaced by `store` (an indented list item)."""
    start = text.index("    - id: objects")
    end = text.index("\nstacks:")
    return text[:start] + store + text[end:]

"""What Qtap's config format (the Qplane snapshot, "version 2") accepts.

Qtap has no JSON Schema: its config is Go structs decoded with yaml.v3 (non-strict, so unknown
keys and typos are silently ignored) and checked with go-playground/validator. The facts below
come from qpoint-io/qtap `pkg/config/*.go` (config.go, eventstore.go, objectstore.go, tap.go,
filters.go, qscan.go, types.go) and the plugin models under `pkg/plugins/`.
"""

from __future__ import annotations

import re

SNAPSHOT_VERSION = 2

ROOT_KEYS = frozenset({"version", "services", "stacks", "tap", "tags", "control", "rulekit"})
SERVICES_KEYS = frozenset({"event_stores", "object_stores", "qscan"})

# An unknown event or object store type silently falls back to the console store
# (ServiceEventStore.ServiceType / ServiceObjectStore.ServiceType `default:` branches).
EVENT_STORE_KEYS: dict[str, frozenset[str]] = {
    "pulse": frozenset({"type", "id", "token", "url", "allow_insecure"}),
    "axiom": frozenset({"type", "id", "token", "dataset"}),
    "otel": frozenset(
        {
            "type",
            "id",
            "token",
            "endpoint",
            "protocol",
            "headers",
            "service_name",
            "environment",
            "tls",
        }
    ),
    "stdout": frozenset({"type", "id"}),
    "disabled": frozenset({"type", "id"}),
}
OBJECT_STORE_KEYS: dict[str, frozenset[str]] = {
    "s3": frozenset(
        {
            "type",
            "id",
            "event_store",
            "endpoint",
            "bucket",
            "region",
            "access_key",
            "secret_key",
            "access_url",
            "insecure",
        }
    ),
    "qpoint": frozenset({"type", "id", "event_store", "url", "token"}),
    "otel": frozenset(
        {
            "type",
            "id",
            "event_store",
            "otel_endpoint",
            "protocol",
            "headers",
            "service_name",
            "environment",
            "tls",
        }
    ),
    "stdout": frozenset({"type", "id", "event_store"}),
    "disabled": frozenset({"type", "id", "event_store"}),
}
QSCAN_SERVICE_TYPES = frozenset({"disabled", "stdout", "client"})
QSCAN_SERVICE_KEYS = frozenset({"type", "url", "token"})
EVENT_STORE_SELECTOR_KEYS = frozenset({"id", "disabled"})
OTEL_TLS_KEYS = frozenset({"enabled", "insecure_skip_verify"})

# ValueSource (types.go): `env` reads os.Getenv(value), `text` is the literal value; any other or
# missing type resolves to "" without an error.
VALUE_SOURCE_KEYS = frozenset({"type", "value"})
VALUE_SOURCE_TYPES = frozenset({"env", "text"})
# Fields whose value is a credential: a `text` value would be rendered into the chart's
# ConfigMap, readable by anyone who can read ConfigMaps in the namespace.
SECRET_FIELDS = frozenset({"token", "access_key", "secret_key", "password", "api_key", "secret"})

# S3 `access_url` placeholders substituted by the s3 store (s3.go templateURL); anything else is
# left in the URL as-is.
ACCESS_URL_PLACEHOLDERS = frozenset({"SCHEME", "ENDPOINT", "BUCKET", "DIGEST"})
DEFAULT_S3_REGION = "us-east-1"

TAP_KEYS = frozenset(
    {
        "direction",
        "ignore_loopback",
        "audit_include_dns",
        "http",
        "redis",
        "mysql",
        "kafka",
        "filters",
        "endpoints",
    }
)
TAP_PROTOCOLS = ("http", "redis", "mysql", "kafka")
TAP_PROTOCOL_KEYS = frozenset({"stack"})
TAP_ENDPOINT_KEYS = frozenset({"domain", *TAP_PROTOCOLS})
TAP_DIRECTIONS = frozenset({"all", "ingress", "egress", "egress-internal", "egress-external"})
# TapProtocolConfig.HasStack: an empty stack or "none" means "no stack".
NO_STACK = frozenset({"", "none"})
TAP_FILTER_KEYS = frozenset({"groups", "custom"})
TAP_CUSTOM_FILTER_KEYS = frozenset({"exe", "strategy", "only"})
# pkg/process/filter_groups.go; unknown groups are silently ignored. Qpoint's docs call the
# runtimes group `container`, which Qtap does not know.
FILTER_GROUPS = frozenset({"container-runtimes", "eks", "gke", "kubernetes", "qpoint"})
FILTER_STRATEGIES = frozenset({"exact", "prefix", "suffix", "contains", "regex"})
FILTER_LEVELS = frozenset({"data", "dns", "tls", "http"})

TAG_KEYS = frozenset({"key", "source", "location"})
TAG_SOURCES = frozenset({"env", "k8s.label", "k8s.annotation", "container.label"})
CONTROL_KEYS = frozenset({"default", "rules"})
CONTROL_RULE_KEYS = frozenset({"name", "expr", "actions"})
CONTROL_DEFAULT_ACTIONS = frozenset({"allow"})
CONTROL_ACTIONS = frozenset({"allow", "deny"})
RULEKIT_KEYS = frozenset({"macros"})
RULEKIT_MACRO_KEYS = frozenset({"name", "expr"})

STACK_KEYS = frozenset({"plugins"})
PLUGIN_KEYS = frozenset({"type", "config"})
KNOWN_PLUGINS = frozenset(
    {
        "http_capture",
        "access_logs",
        "debug",
        "report_usage",
        "http_metrics",
        "logger",
        "llm",
        "detect_errors",
        "qscan",
        "data_loss_protection",
        "devtools",
    }
)

# http_capture levels (pkg/plugins/httpcapture); `details` is the legacy name of `headers`.
CAPTURE_LEVELS = frozenset({"none", "summary", "headers", "full"})
LEGACY_CAPTURE_LEVELS = {"details": "headers"}
CAPTURE_FORMATS = frozenset({"json", "text"})

# Known `config` keys of the plugins whose models are documented; None = not checked.
_DETECT_ERRORS_RULE_KEYS = frozenset(
    {
        "name",
        "trigger_status_codes",
        "trigger_empty_body",
        "trigger_duration",
        "trigger_contains",
        "only_categories",
        "only_urls",
        "exclude_urls",
        "with_tags",
        "report_as_issue",
        "continue",
        "record_req_headers",
        "record_req_body",
        "record_res_headers",
        "record_res_body",
    }
)
PLUGIN_CONFIG_KEYS: dict[str, frozenset[str]] = {
    "http_capture": frozenset({"level", "format", "object_store", "rules"}),
    "access_logs": frozenset({"mode", "format", "rules"}),
    "debug": frozenset({"mode", "format", "rules"}),
    "report_usage": frozenset({"tags", "headers"}),
    "detect_errors": frozenset({"rules"}),
    "qscan": frozenset(
        {
            "cache_ttl",
            "cache_size",
            "sample_baseline",
            "sample_rate",
            "record_document",
            "verbose",
            "qscan_cloud",
            "object_store_id",
            "classifier",
            "monitors",
        }
    ),
    "data_loss_protection": frozenset({"scan_headers", "rules"}),
}
PLUGIN_RULE_KEYS: dict[str, frozenset[str]] = {
    "http_capture": frozenset({"name", "expr", "level", "format"}),
    "access_logs": frozenset({"name", "expr", "mode"}),
    "debug": frozenset({"name", "expr", "mode"}),
    "detect_errors": _DETECT_ERRORS_RULE_KEYS,
    "data_loss_protection": frozenset(
        {"label", "expression", "scrub", "report", "record", "fail_on_detect"}
    ),
}
OBJECT_STORE_SELECTOR_KEYS = frozenset({"id", "disabled"})

# Env variables the qtap chart (0.0.38 templates/daemonset.yaml) sets itself before `extraEnv`;
# a snapshot reference to one of them would get a second, conflicting definition in the pod.
CHART_MANAGED_ENV = frozenset(
    {
        "REGISTRATION_ENDPOINT",
        "QPOINT_CONFIG",
        "STATUS_LISTEN",
        "LOG_LEVEL",
        "LOG_ENCODING",
        "TINI_SUBREAPER",
    }
)

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# yaml.v3 decodes these scalars into a Go bool (YAML 1.1 booleans included).
YAML_BOOL_STRINGS = frozenset(
    {"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO"}
    | {"true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF"}
)

"""What Qtap's config format (the Qplane snapshot, "version 2") accepts.

Qtap has no JSON Schema: its config is Go structs decoded with yaml.v3 (non-strict, so unknown
keys and typos are silently ignored) and checked with go-playground/validator. The facts below
come from qpoint-io/qtap `pkg/config/*.go` (config.go, eventstore.go, objectstore.go, tap.go,
filters.go, qscan.go, types.go) and the plugin models under `pkg/plugins/`.

Each table names the file and commit it was read from (`QT@<commit>:<path>`), so an update is a
matter of reading the newer revision and editing the table. The file index the facts come from
holds several revisions of each file without dating them; where a commit could not be named the
read_file id of the revision is given instead. Which revision is newest was judged from the
code (a revision that builds on another's types is the later one), and the qtap chart 0.0.38
deploys Qtap v0.17.6 (its `appVersion`). A key or type known to an older revision but not to the
current one is a warning that names the revisions, never an error: Qtap ignores it, but it may be
the revision a stack runs.
"""

from __future__ import annotations

import re

SNAPSHOT_VERSION = 2

# QT id:61554759975 (pkg/config/config.go, the revision with `rulekit.macros` and `control`).
ROOT_KEYS = frozenset({"version", "services", "stacks", "tap", "tags", "control", "rulekit"})
SERVICES_KEYS = frozenset({"event_stores", "object_stores", "qscan"})

# An unknown event or object store type silently falls back to the console store
# (ServiceEventStore.ServiceType / ServiceObjectStore.ServiceType `default:` branches).
# Event stores: QT id:61452742862 (pkg/config/eventstore.go, the current revision: otel headers
# are ValueSources and the pulse-streaming/pulse-legacy types are gone).
_PULSE_KEYS = frozenset({"type", "id", "token", "url", "allow_insecure"})
EVENT_STORE_KEYS: dict[str, frozenset[str]] = {
    "pulse": _PULSE_KEYS,
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
# Types older revisions knew and the current one does not (it falls back to the console store).
LEGACY_EVENT_STORE_TYPES: dict[str, str] = {
    "pulse-streaming": "QT@c1b6cb0 and QT@279bac5 (pkg/config/eventstore.go)",
    "pulse-legacy": "QT@c1b6cb0, QT@279bac5 and QT id:61756974236 (pkg/config/eventstore.go)",
}
LEGACY_EVENT_STORE_KEYS: dict[str, frozenset[str]] = {
    "pulse-streaming": _PULSE_KEYS,
    "pulse-legacy": _PULSE_KEYS,
}
# Object stores: QT@76adbc6:pkg/config/objectstore.go.
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
# services.qscan: QT@cbee308:pkg/config/qscan.go.
QSCAN_SERVICE_TYPES = frozenset({"disabled", "stdout", "client"})
QSCAN_SERVICE_KEYS = frozenset({"type", "url", "token"})
EVENT_STORE_SELECTOR_KEYS = frozenset({"id", "disabled"})
OTEL_TLS_KEYS = frozenset({"enabled", "insecure_skip_verify"})

# ValueSource (QT@42c5e0b:pkg/config/types.go): `env` reads os.Getenv(value), `text` is the literal value; any other or
# missing type resolves to "" without an error.
VALUE_SOURCE_KEYS = frozenset({"type", "value"})
VALUE_SOURCE_TYPES = frozenset({"env", "text"})
# Fields whose value is a credential: a `text` value would be rendered into the chart's
# ConfigMap, readable by anyone who can read ConfigMaps in the namespace.
SECRET_FIELDS = frozenset({"token", "access_key", "secret_key", "password", "api_key", "secret"})

# S3 `access_url` placeholders substituted by the s3 store (QT@9e4a300:
# pkg/services/objectstore/s3/s3.go templateURL); anything else is
# left in the URL as-is.
ACCESS_URL_PLACEHOLDERS = frozenset({"SCHEME", "ENDPOINT", "BUCKET", "DIGEST"})
DEFAULT_S3_REGION = "us-east-1"

# Tap: QT@b185462:pkg/config/tap.go, the current revision (it adds `postgres` and drops
# `kafka`); QT@15cd28d:pkg/config/tap.go is the older one with `kafka`.
TAP_PROTOCOLS = ("http", "redis", "mysql", "postgres")
LEGACY_TAP_PROTOCOLS: dict[str, str] = {"kafka": "QT@15cd28d (pkg/config/tap.go)"}
ALL_TAP_PROTOCOLS = (*TAP_PROTOCOLS, *LEGACY_TAP_PROTOCOLS)
TAP_KEYS = frozenset(
    {
        "direction",
        "ignore_loopback",
        "audit_include_dns",
        "filters",
        "endpoints",
        *ALL_TAP_PROTOCOLS,
    }
)
TAP_PROTOCOL_KEYS = frozenset({"stack"})
TAP_ENDPOINT_KEYS = frozenset({"domain", *ALL_TAP_PROTOCOLS})
TAP_DIRECTIONS = frozenset({"all", "ingress", "egress", "egress-internal", "egress-external"})
# TapProtocolConfig.HasStack: an empty stack or "none" means "no stack".
NO_STACK = frozenset({"", "none"})
TAP_FILTER_KEYS = frozenset({"groups", "custom"})
TAP_CUSTOM_FILTER_KEYS = frozenset({"exe", "strategy", "only"})
# QT@1af3297:pkg/process/filter_groups.go (and pkg/config/filters.go for the custom filter
# keys); unknown groups are silently ignored. Qpoint's docs call the
# runtimes group `container`, which Qtap does not know.
FILTER_GROUPS = frozenset({"container-runtimes", "eks", "gke", "kubernetes", "qpoint"})
FILTER_STRATEGIES = frozenset({"exact", "prefix", "suffix", "contains", "regex"})
FILTER_LEVELS = frozenset({"data", "dns", "tls", "http"})

# Tags, control and rulekit: QT id:61554759975 (pkg/config/config.go). Control rule and macro
# expressions are tagged `required,rule_expression` (rulekit.Parse must succeed) and macros are
# parsed and checked by rulekit.Ctx.Validate before the config is accepted.
TAG_KEYS = frozenset({"key", "source", "location"})
TAG_SOURCES = frozenset({"env", "k8s.label", "k8s.annotation", "container.label"})
CONTROL_KEYS = frozenset({"default", "rules"})
CONTROL_RULE_KEYS = frozenset({"name", "expr", "actions"})
CONTROL_DEFAULT_ACTIONS = frozenset({"allow"})
CONTROL_ACTIONS = frozenset({"allow", "deny"})
RULEKIT_KEYS = frozenset({"macros"})
RULEKIT_MACRO_KEYS = frozenset({"name", "expr"})

# Functions Qtap registers for rules (QT@05c1b17:pkg/rulekitext/ext.go): name -> arguments.
# rulekit.Ctx.Validate refuses a macro named like one of them or like a stdlib function.
QTAP_RULE_FUNCTIONS = {"zone": 1, "in_zone": 2}
# Plugin rules whose `expr` is a rulekit expression. Qtap parses them when the plugin starts and
# logs and skips a rule that does not parse (QT@035e3d1:pkg/plugins/httpcapture/
# httpcapture_plugin.go, "error parsing log rule"; access_logs and its alias debug do the same).
PLUGIN_RULE_EXPRESSIONS = {"http_capture": "expr", "access_logs": "expr", "debug": "expr"}

# Stacks and plugins: QT id:61554759975 (pkg/config/config.go); the plugin types Qtap registers,
# QT@00ce36c:pkg/cmd/tap_linux.go.
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

# http_capture levels (QT@035e3d1:pkg/plugins/httpcapture/httpcapture_plugin.go); `details` is the legacy name of `headers`.
CAPTURE_LEVELS = frozenset({"none", "summary", "headers", "full"})
LEGACY_CAPTURE_LEVELS = {"details": "headers"}
CAPTURE_FORMATS = frozenset({"json", "text"})

# Known `config` keys of the plugins whose models are documented; None = not checked. Read from
# QT@035e3d1 (httpcapture_plugin.go), QT@07a8661 (accesslogs/access_logs_plugin.go),
# QT@3b86134 (errordetection/model.go), QT@cac120a (qscan/qscan_plugin.go), QT@eedcf72
# (dlp/model.go) and QT id:61407795106 (report/report_plugin.go), all under pkg/plugins/.
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

"""The Go structs Qtap decodes its config into, declared once, and the walk that decodes a
snapshot against them as yaml.v3 would.

yaml.v3 decodes every field of every inlined struct whatever the store's `type` (the s3, qpoint
and otel configs are all `,inline` in ServiceObjectStore), so `insecure: maybe` on a stdout
store, or a list where a string belongs anywhere, stops Qtap with "yaml: unmarshal errors".
This walk reports each such field with its line; a null is the zero value, as in Go. Unknown
keys are ignored here (yaml.v3 ignores them; the part checkers warn about them).

Source: qpoint-io/qtap pkg/config/config.go, eventstore.go, objectstore.go, qscan.go, tap.go,
filters.go, types.go. (`version` is this project's own, checked on its own: Qtap's Config
has no such field.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .. import qtap_schema as qs
from ..yamlsource import View


@dataclass(frozen=True)
class Struct:
    name: str
    fields: Mapping[str, Shape]


@dataclass(frozen=True)
class ListOf:
    item: Shape


@dataclass(frozen=True)
class MapOf:
    value: Shape


STRING = "string"
BOOL = "bool"
INT = "int"  # no field of the top-level structs; plugin configs are decoded by each plugin
ANY = "yaml.Node"  # decoded later (a plugin's config)
Shape = Struct | ListOf | MapOf | str

VALUE_SOURCE = Struct("ValueSource", {"type": STRING, "value": STRING})
OTEL_TLS = Struct("TLS", {"enabled": BOOL, "insecure_skip_verify": BOOL})
_OTEL: dict[str, Shape] = {
    "protocol": STRING,
    "headers": MapOf(VALUE_SOURCE),
    "service_name": STRING,
    "environment": STRING,
    "tls": OTEL_TLS,
}
EVENT_STORE = Struct(
    "ServiceEventStore",
    {
        "type": STRING,
        "id": STRING,
        "token": VALUE_SOURCE,
        "url": STRING,
        "allow_insecure": BOOL,
        "dataset": VALUE_SOURCE,
        "endpoint": STRING,
        **_OTEL,
    },
)
OBJECT_STORE = Struct(
    "ServiceObjectStore",
    {
        "type": STRING,
        "id": STRING,
        "url": STRING,
        "token": VALUE_SOURCE,
        "endpoint": STRING,
        "bucket": STRING,
        "region": STRING,
        "access_key": VALUE_SOURCE,
        "secret_key": VALUE_SOURCE,
        "access_url": STRING,
        "insecure": BOOL,
        "otel_endpoint": STRING,
        **_OTEL,
        "event_store": Struct("EventStoreSelector", {"id": STRING, "disabled": BOOL}),
    },
)
SERVICES = Struct(
    "Services",
    {
        "event_stores": ListOf(EVENT_STORE),
        "object_stores": ListOf(OBJECT_STORE),
        "qscan": Struct("ServiceQscan", {"type": STRING, "url": STRING, "token": VALUE_SOURCE}),
    },
)
PROTOCOL = Struct("TapProtocolConfig", {"stack": STRING})
# Current and older revisions' protocols (qtap_schema.ALL_TAP_PROTOCOLS: postgres, kafka, ...).
_PROTOCOLS: dict[str, Shape] = {protocol: PROTOCOL for protocol in qs.ALL_TAP_PROTOCOLS}
TAP = Struct(
    "TapConfig",
    {
        "direction": STRING,
        "ignore_loopback": BOOL,
        "audit_include_dns": BOOL,
        **_PROTOCOLS,
        "filters": Struct(
            "TapFilters",
            {
                "groups": ListOf(STRING),
                "custom": ListOf(
                    Struct("TapFilter", {"exe": STRING, "strategy": STRING, "only": ListOf(STRING)})
                ),
            },
        ),
        "endpoints": ListOf(Struct("TapEndpointConfig", {"domain": STRING, **_PROTOCOLS})),
    },
)
CONFIG = Struct(
    "Config",
    {
        "services": SERVICES,
        "stacks": MapOf(
            Struct(
                "Stack",
                {"plugins": ListOf(Struct("Plugin", {"type": STRING, "config": ANY}))},
            )
        ),
        "tap": TAP,
        "tags": ListOf(Struct("Tag", {"key": STRING, "source": STRING, "location": STRING})),
        "control": Struct(
            "Control",
            {
                "default": STRING,
                "rules": ListOf(
                    Struct("Rule", {"name": STRING, "expr": STRING, "actions": ListOf(STRING)})
                ),
            },
        ),
        "rulekit": Struct(
            "Rulekit", {"macros": ListOf(Struct("RulekitMacro", {"name": STRING, "expr": STRING}))}
        ),
    },
)


def decode(at: View, shape: Shape) -> None:
    """Report every value of `at` that yaml.v3 could not decode into `shape`."""
    if at.is_null or shape == ANY:
        return
    what = at.rendered_path or "the snapshot"
    if shape == STRING:
        at.string(what)
    elif shape == BOOL:
        at.boolean(what)
    elif shape == INT:
        at.integer(what)
    elif isinstance(shape, Struct):
        if at.mapping(what):
            for key, child in at.items():
                field = shape.fields.get(key)
                if field is not None:
                    decode(at.value_at(key) if not _container(field) else child, field)
    elif isinstance(shape, ListOf):
        if at.sequence(what):
            for item in at.elements():
                decode(item, shape.item)
    elif isinstance(shape, MapOf) and at.mapping(what):
        for _, child in at.items():
            decode(child, shape.value)


def _container(shape: Shape) -> bool:
    return isinstance(shape, (Struct, ListOf, MapOf))

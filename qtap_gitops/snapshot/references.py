"""Value sources (`{type: env|text, value: ...}`), the env references they make, and which
positions of a snapshot hold credentials.

`is_credential_path` is the one classifier both the checks' messages and the semantic diff use:
a value in such a position is never shown, only its path and its kind. The env variable NAME
of a valid `{type: env, value: NAME}` reference is not a credential and is shown.
"""

from __future__ import annotations

import re
from typing import Any

from .. import qtap_schema as qs
from ..yamlsource import PathPart, View, is_credential_key, quote
from .model import Context, EnvReference, ReferenceRole, unknown_keys

EXAMPLE = "{type: env, value: NAME}"

# An env variable of the agent's pod is also read by the process itself: these names change how
# it runs (the dynamic loader's LD_*, the shell's PATH/HOME, the Go runtime's GO* knobs, Go's
# net/http proxy and crypto/x509 trust variables), so a snapshot may not set them.
PROCESS_ENV = frozenset(
    {
        "PATH", "HOME", "USER", "SHELL", "PWD", "TMPDIR", "HOSTNAME", "IFS", "ENV", "BASH_ENV",
        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR",
        "GODEBUG", "GOGC", "GOMAXPROCS", "GOMEMLIMIT", "GOTRACEBACK", "TZ",
    }
)  # fmt: skip
PROCESS_ENV_PREFIXES = ("LD_", "DYLD_")
# The longest name a ConfigMap or Secret key may have (Kubernetes validates env names as
# C identifiers up to 253 characters); uppercase only, as POSIX reserves lowercase for apps.
MAX_ENV_NAME = 253
ENV_NAME_STRICT = re.compile(r"[A-Z_][A-Z0-9_]*", re.ASCII)


def env_name_refusal(name: str) -> tuple[str, str] | None:
    """(what is wrong, fix) for an env name this project refuses, or None."""
    if len(name) > MAX_ENV_NAME:
        return (
            f"is {len(name)} characters long; at most {MAX_ENV_NAME} are allowed",
            "use a shorter variable name in Qplane",
        )
    if not ENV_NAME_STRICT.fullmatch(name):
        # Not shown: a lower-case "name" may well be a credential pasted in the wrong field.
        return (
            f"is not an upper-case variable name ([A-Z_][A-Z0-9_]*; {len(name)} characters, "
            "not shown)",
            "use upper-case letters, digits and underscores in Qplane (e.g. S3_SECRET_KEY)",
        )
    if name in PROCESS_ENV or name.startswith(PROCESS_ENV_PREFIXES):
        return (
            f"{name} changes how the agent's process runs (loader, shell, Go runtime or "
            "proxy), not only what it reads",
            "pick another variable name in Qplane",
        )
    return None


def is_credential_path(path: tuple[PathPart, ...]) -> bool:
    """True when any step of `path` enters a credential position."""
    return any(is_credential_key(path[:i], path[i]) for i in range(len(path)))


def shown_reference_name(source: Any) -> str | None:
    """The env name of a value-source mapping that may be shown: a valid `{type: env}` name."""
    if not isinstance(source, dict) or source.get("type") != "env":
        return None
    name = source.get("value")
    return name if isinstance(name, str) and qs.ENV_NAME.fullmatch(name) else None


def redact(value: Any, path: tuple[PathPart, ...], inside: bool = False) -> Any:
    """`value` with every credential replaced by a description of its kind."""
    if inside:
        if isinstance(value, dict):
            name = shown_reference_name(value)
            out: dict[str, Any] = {}
            for key, item in value.items():
                if key == "type" and isinstance(item, str) and item in qs.VALUE_SOURCE_TYPES:
                    out[key] = item
                elif key == "value" and name is not None:
                    out[key] = name
                else:
                    out[key] = redact(item, (*path, key), inside=True)
            return out
        if isinstance(value, list):
            return [redact(item, (*path, i), inside=True) for i, item in enumerate(value)]
        return Redacted.of(value)
    if isinstance(value, dict):
        return {
            key: redact(item, (*path, key), is_credential_key(path, key))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item, (*path, i)) for i, item in enumerate(value)]
    return value


class Redacted(str):
    """A credential's stand-in: its kind, never its value."""

    __slots__ = ()

    @classmethod
    def of(cls, value: Any) -> Redacted | None:
        if value is None:
            return None
        kind = "text" if isinstance(value, str) else type(value).__name__
        return cls(f"<redacted {kind}>")


def check_value_source(
    ctx: Context, at: View, *, secret: bool, role: ReferenceRole | None
) -> str | None:
    """Check a ValueSource; record and return the env name if it is an env reference."""
    field_name = next((p for p in reversed(at.path) if isinstance(p, str)), "value")
    if at.path[-2:-1] == ("headers",):
        field_name = f"header {quote(str(at.path[-1]))}"
    if secret:
        at = at.as_secret()
    if not _is_env_source(at, field_name, secret=secret):
        return None
    value_at = at.get("value") or at
    name = value_at.string("value") if at.has("value") else ""
    if name is None or not _usable_env_name(value_at, name, field_name):
        return None
    ctx.references.append(
        EnvReference(
            name, role or ReferenceRole.OTHER, at.rendered_path, value_at.line, value_at.column
        )
    )
    return name


def _is_env_source(at: View, field_name: str, *, secret: bool) -> bool:
    """Whether `at` is a ValueSource mapping of type env (reporting any other shape)."""
    if not at.is_mapping:
        at.error(
            "value-source",
            f"{field_name} must be a reference like {EXAMPLE}, found {at.describe()}"
            + (
                "; a literal credential would be readable in the agent's ConfigMap"
                if secret
                else ""
            ),
            f"write {field_name} as {EXAMPLE} and provide the value as a secret",
        )
        return False
    unknown_keys(at, qs.VALUE_SOURCE_KEYS, field_name)
    type_at = at.get("type")
    if type_at is None or type_at.is_null:
        at.error(
            "value-source-type",
            f"{field_name} has no 'type'; Qtap resolves it to an empty string",
            f"write {EXAMPLE}",
        )
        return False
    kind = type_at.string("type")
    if kind is None:
        return False
    if kind not in qs.VALUE_SOURCE_TYPES:
        type_at.error(
            "value-source-type",
            f"{field_name} has type {type_at.describe()}; Qtap knows only 'env' and 'text' and "
            "resolves anything else to an empty string",
            f"write {EXAMPLE}",
        )
        return False
    if kind == "text":
        if secret:
            type_at.error(
                "secret-as-text",
                f"{field_name} is a credential given as 'type: text'; the chart renders the "
                "snapshot into a ConfigMap that anyone who can read the namespace can see",
                f"in Qplane, change it to {EXAMPLE}; this stack then supplies the value "
                "from a secret",
            )
        return False
    return True


def _usable_env_name(value_at: View, name: str, field_name: str) -> bool:
    """Whether the agent can read `name` from its env (a valid name, not the chart's own)."""
    if not qs.ENV_NAME.fullmatch(name):
        shown = "nothing" if name == "" else f"a value of {len(name)} characters (not shown)"
        value_at.error(
            "env-name",
            f"{field_name} names {shown} as its env variable, which is not a valid variable name",
            "use letters, digits and underscores, not starting with a digit (e.g. "
            "REGISTRATION_TOKEN)",
        )
        return False
    refusal = env_name_refusal(name)
    if refusal is not None:
        value_at.error(
            "env-name-process",
            f"{field_name} reads an env variable that {refusal[0]}"
            if refusal[0].startswith("is ")
            else f"{field_name} reads {refusal[0]}",
            refusal[1],
        )
        return False
    if name in qs.CHART_MANAGED_ENV:
        value_at.error(
            "env-name-reserved",
            f"{field_name} reads {name}, which the qtap chart sets itself; the agent would "
            "get two conflicting definitions",
            "pick another variable name in Qplane",
        )
        return False
    return True


def check_headers(ctx: Context, headers: View) -> None:
    if not headers.optional_mapping("headers"):
        return
    for _, value in headers.items():
        check_value_source(ctx, value, secret=True, role=None)

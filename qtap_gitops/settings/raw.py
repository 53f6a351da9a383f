"""One stack's configuration as the engine hands it over, and where each key is written."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

NAMESPACE = "qtap"
CONFIG_BLOCK = "config"
"""The key of `positions` that holds the stack file's `config:` block (config keys have a ':')."""


@dataclass(frozen=True)
class RawStackConfig:
    """One stack's configuration as the engine sees it.

    `values` maps full keys (`qtap:chart`) to their string form (objects as JSON text).
    `secret_keys` holds the keys whose values are secrets. `positions` maps full keys and nested
    paths (`qtap:chart.version`) to 1-based (line, column) in `source`, when known.
    """

    stack: str
    source: str
    values: Mapping[str, str]
    secret_keys: frozenset[str] = frozenset()
    positions: Mapping[str, tuple[int, int]] = field(default_factory=dict)


def position_of(
    positions: Mapping[str, tuple[int, int]], key: str
) -> tuple[int | None, int | None]:
    """Where `key` (`qtap:chart.values.logLevel`) is in the stack file, or its nearest parent;
    a key the file lacks is placed at its `config:` block, where it belongs."""
    key = key.split("[", 1)[0]
    while key:
        if key in positions:
            return positions[key]
        if "." not in key:
            break
        key = key.rsplit(".", 1)[0]
    return positions.get(CONFIG_BLOCK, (None, None))


def set_command(stack: str, key: str, value: str) -> str:
    """The command that sets a (non-secret) setting; `key` is a dotted --path."""
    return f"pulumi config set --path '{NAMESPACE}:{key}' {value} --stack {stack}"


def set_secret_command(stack: str, key: str, placeholder: str = "<value>") -> str:
    """The exact command that stores a secret for `stack`; `key` may be a --path expression."""
    path = " --path" if "." in key or "[" in key else ""
    return f"pulumi config set --secret{path} '{NAMESPACE}:{key}' '{placeholder}' --stack {stack}"

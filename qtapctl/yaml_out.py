"""YAML as the tools print it (plans, the sealed manifest), with PyYAML, the project's one YAML
library at runtime.

Plans are compared byte for byte between revisions, so the text is fixed by these rules, those
of the YAML 1.2 printer the tools used before (ruamel.yaml's round-trip dumper):

- block style, keys in the order given (callers sort), lines never folded, non-ASCII as is;
- a string is quoted exactly when YAML 1.2's core schema would read it as something else
  (`true`, `null`, `0x1f`, `1e3`); YAML 1.1's extra words (`yes`, `on`) stay plain, since every
  reader of a plan (people, Pulumi, Kubernetes' sigs.k8s.io/yaml does not apply) reads 1.2;
- multi-line strings as literal blocks (`|`), readable as written (a Vault policy);
- null is `null` at the top and empty (`key:`) inside a mapping or list; floats as Python's
  shortest repr (`1e-05`).

`tests/tools/test_yaml_out.py` shows the plans of every stack, delivery mode and secrets backend
and the sealed manifest byte-identical to ruamel.yaml's text, and that any JSON-like value reads
back (YAML 1.2) as itself. Where the two emitters differ, on values no plan of a valid stack
holds (a null list item is `-`, not `- `; an empty key is written `? ''`; a multi-line string
with trailing spaces or a carriage return is double-quoted, which ruamel.yaml wrote as a literal
block that loses the `\r`; characters beyond U+FFFF inside a double-quoted string are escaped;
a plain string longer than the width stays on its key's line), this text is the one kept.
"""

from __future__ import annotations

import io
import math
import re
from typing import Any

import yaml

_CORE = "tag:yaml.org,2002:"

# YAML 1.2 core schema resolution (ruamel.yaml resolver.py, version (1, 2)): what a plain
# scalar means, so that a string looking like one of these is quoted.
_RESOLVERS_1_2: list[tuple[str, str, str]] = [
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (
        "float",
        r"""^(?:
         [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        "-+0123456789.",
    ),
    (
        "int",
        r"""^(?:[-+]?0b[0-1_]+
        |[-+]?0o?[0-7_]+
        |[-+]?[0-9_]+
        |[-+]?0x[0-9a-fA-F_]+)$""",
        "-+0123456789",
    ),
    ("merge", r"^(?:<<)$", "<"),
    ("null", r"^(?: ~ |null|Null|NULL | )$", "~nN"),
    (
        "timestamp",
        r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
        |[0-9][0-9][0-9][0-9] -[0-9][0-9]? -[0-9][0-9]?
        (?:[Tt]|[ \t]+)[0-9][0-9]?
        :[0-9][0-9] :[0-9][0-9] (?:\.[0-9]*)?
        (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""",
        "0123456789",
    ),
    ("value", r"^(?:=)$", "="),
]


class _Dumper(yaml.SafeDumper):
    """The pure-Python emitter (the one ruamel.yaml's descends from), YAML 1.2 resolution."""

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012 (PyYAML's class-level registry)
    _document_is_null = False

    def ignore_aliases(self, data: Any) -> bool:
        return True  # the values come from JSON: nothing is shared, never an anchor

    def represent(self, data: Any) -> None:
        self._document_is_null = data is None
        super().represent(data)

    def represent_none(self, data: None) -> yaml.ScalarNode:
        # Empty inside a collection, `null` for a document that is only null.
        return self.represent_scalar(f"{_CORE}null", "null" if self._document_is_null else "")

    def represent_float(self, data: float) -> yaml.ScalarNode:
        # Python's shortest repr (`1e-05`, `1e+20`): already a YAML 1.2 float.
        if math.isnan(data):
            value = ".nan"
        elif math.isinf(data):
            value = ".inf" if data > 0 else "-.inf"
        else:
            value = repr(data).lower()
        return self.represent_scalar(f"{_CORE}float", value)

    def choose_scalar_style(self) -> str:
        # ruamel.yaml's one difference (emitter.py, choose_scalar_style): a string that must be
        # quoted and holds a single quote or a line break is double-quoted, not doubled up.
        style: str = super().choose_scalar_style()
        event = self.event
        # YAML also breaks lines at U+0085, U+2028 and U+2029 (and a lone CR); only the
        # double-quoted style escapes them, so a value holding one reads back as written.
        if isinstance(event, yaml.ScalarEvent) and any(c in event.value for c in _OTHER_BREAKS):
            return '"'
        if (
            style == "'"
            and isinstance(event, yaml.ScalarEvent)
            and not event.style
            and self.analysis is not None
            and self.analysis.allow_double_quoted
            and ("'" in event.value or "\n" in event.value)
        ):
            return '"'
        return style


for _name, _pattern, _first in _RESOLVERS_1_2:
    _Dumper.add_implicit_resolver(f"{_CORE}{_name}", re.compile(_pattern, re.X), list(_first))
# The empty string resolves to null (the `| )` branch above matches only with a first character).
_Dumper.add_implicit_resolver(f"{_CORE}null", re.compile(r"^$"), [""])


_OTHER_BREAKS = ("\x85", "\u2028", "\u2029", "\r")


def _represent_str(dumper: _Dumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar(f"{_CORE}str", data, style=style)


def _represent_dict(dumper: _Dumper, data: dict[Any, Any]) -> yaml.MappingNode:
    # Keys sorted, or in the caller's order (plans sort them before); a key is never a literal
    # block, only values are.
    items = sorted(data.items()) if dumper.sort_keys else list(data.items())
    node = yaml.MappingNode(f"{_CORE}map", [], flow_style=False)
    for key, value in items:
        key_node = (
            dumper.represent_scalar(f"{_CORE}str", key)
            if isinstance(key, str)
            else dumper.represent_data(key)
        )
        node.value.append((key_node, dumper.represent_data(value)))
    return node


_Dumper.add_representer(type(None), _Dumper.represent_none)
_Dumper.add_representer(float, _Dumper.represent_float)
_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(dict, _represent_dict)


def dump(value: Any, *, width: int, sort_keys: bool = False) -> str:
    """`value` (JSON-like data) as block YAML by the rules in the module docstring; a plain
    or quoted scalar longer than `width` characters is folded at a space."""
    out = io.StringIO()
    yaml.dump(
        value,
        out,
        Dumper=_Dumper,
        default_flow_style=False,
        allow_unicode=True,
        width=width,
        sort_keys=sort_keys,
    )
    return out.getvalue()

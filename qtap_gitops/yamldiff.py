"""Semantic diff of two YAML documents: which values changed, by path, ignoring formatting.

Lists of mappings are matched by a stable identity where one exists (`id`, then `name`, then a
unique `type`), so reordering stores or plugins reads as what it is, not as every item changing.

Snapshots are read with the same bounded parser as the contract, and a value in a credential
position (the contract's one classifier, `snapshot.references`) is shown only as its kind: the
diff is posted as a pull-request comment, which must never publish a credential.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .snapshot.references import Redacted, redact
from .yamlsource import load_plain as _load_bounded

_IDENTITY_KEYS = ("id", "name", "secretKey", "type", "domain", "key")
MISSING = object()


@dataclass(frozen=True)
class Change:
    path: str
    old: Any  # MISSING when added
    new: Any  # MISSING when removed

    @property
    def kind(self) -> str:
        if self.old is MISSING:
            return "added"
        if self.new is MISSING:
            return "removed"
        return "changed"


def load_plain(text: str) -> Any:
    """The document as plain Python values, or None when it is not readable YAML."""
    return _load_bounded(text)


def _identity(items: list[Any]) -> str | None:
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    for key in _IDENTITY_KEYS:
        values = [item.get(key) for item in items]
        if all(isinstance(v, (str, int)) for v in values) and len(set(values)) == len(values):
            return key
    return None


def _segment(key: Any) -> str:
    text = str(key)
    return f".{text}" if text.replace("_", "").replace("-", "").isalnum() else f'["{text}"]'


def flatten(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, leaf) pairs; empty mappings and lists are leaves of their own."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from flatten(item, f"{path}{_segment(key)}")
    elif isinstance(value, list) and value:
        identity = _identity(value)
        for index, item in enumerate(value):
            label = f"[{identity}={item[identity]}]" if identity else f"[{index}]"
            yield from flatten(item, f"{path}{label}")
    else:
        yield path.lstrip(".") or ".", value


def diff_values(old: Any, new: Any) -> list[Change]:
    before = dict(flatten(old))
    after = dict(flatten(new))
    changes = []
    for path in sorted(before.keys() | after.keys()):
        a = before.get(path, MISSING)
        b = after.get(path, MISSING)
        if a != b or type(a) is not type(b):
            changes.append(Change(path, a, b))
    return changes


def diff_yaml(old_text: str | None, new_text: str | None) -> list[Change]:
    """The changes between two snapshots, with every credential redacted."""
    old = load_plain(old_text) if old_text is not None else None
    new = load_plain(new_text) if new_text is not None else None
    shown_old = dict(flatten(redact(old, ())))
    shown_new = dict(flatten(redact(new, ())))
    return [
        Change(
            change.path, shown_old.get(change.path, MISSING), shown_new.get(change.path, MISSING)
        )
        for change in diff_values(old, new)
    ]


def show(value: Any) -> str:
    """A value as a YAML scalar (`true`, `null`, `'text'`) or flow collection, cut to 80
    characters: a review reads YAML, not Python (`True`, `None`)."""
    if value is MISSING:
        return "(absent)"
    if isinstance(value, Redacted):
        return str(value)
    if isinstance(value, str):
        text = value if len(value) <= 80 else value[:77] + "..."
        if text.isprintable():
            return "'" + text.replace("'", "''") + "'"
        return json.dumps(text)  # a double-quoted YAML scalar, escapes included
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, (dict, list)):
        text = json.dumps(value, sort_keys=True, default=repr, ensure_ascii=False)
        return text if len(text) <= 80 else text[:77] + "..."
    return repr(value)

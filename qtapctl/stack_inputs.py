"""What a stack's deployment depends on besides the program: the parts of its settings file the
plan cannot show (encrypted values, the Pulumi ESC `environment:` block) and the snapshot's bytes.

`stack_inputs_digest` is one digest of all of it: two revisions with the same digest deploy the
same thing with the same program, so a tool may skip planning a stack whose digest is unchanged.
The `*_changes` functions say what changed in words a reviewer can act on, never a secret.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qtap_gitops.stackfile import Project, read_stack_file
from qtap_gitops.yamldiff import MISSING, Change, diff_values, show

SECRET_CHANGED = "secret changed (value hidden)"


@dataclass(frozen=True)
class StackInputs:
    config: Mapping[str, str] = field(default_factory=dict)
    secret_keys: frozenset[str] = frozenset()
    secure: Mapping[str, str] = field(default_factory=dict)
    """Config path -> SHA-256 of its ciphertext."""
    environment: Any = None
    error: str | None = None


def stack_inputs(project: Project, stack: str) -> StackInputs:
    stack_file = read_stack_file(project, stack)
    if stack_file.raw is None:
        return StackInputs(error="; ".join(p.format() for p in stack_file.problems))
    return StackInputs(
        dict(stack_file.raw.values),
        stack_file.raw.secret_keys,
        dict(stack_file.secure),
        stack_file.environment,
    )


def stack_inputs_digest(project: Project, stack: str, snapshot: bytes | None) -> str:
    """One SHA-256 over everything in `stack`'s settings file that reaches a deployment, plus
    the snapshot's bytes (`snapshot`, None when it cannot be read)."""
    inputs = stack_inputs(project, stack)
    payload = {
        "config": inputs.config,
        "secretKeys": sorted(inputs.secret_keys),
        "secure": inputs.secure,
        "environment": inputs.environment,
        "error": inputs.error,
        "snapshot": hashlib.sha256(snapshot).hexdigest() if snapshot is not None else None,
    }
    text = json.dumps(payload, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def secret_changes(before: StackInputs | None, after: StackInputs | None) -> list[str]:
    """One line per encrypted config value added, removed or re-encrypted (a rotation)."""
    old = before.secure if before else {}
    new = after.secure if after else {}
    lines = []
    for path in sorted(old.keys() | new.keys()):
        if path not in old:
            lines.append(f"{path}: secret added (value hidden)")
        elif path not in new:
            lines.append(f"{path}: secret removed")
        elif old[path] != new[path]:
            lines.append(f"{path}: {SECRET_CHANGED}")
    return lines


# -- the `environment:` block ----------------------------------------------------------------


class Hidden:
    """A secret of an inline environment: compared by a digest of its value, shown as hidden."""

    def __init__(self, value: Any) -> None:
        text = json.dumps(value, sort_keys=True, default=repr)
        self.digest = hashlib.sha256(text.encode()).hexdigest()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Hidden) and other.digest == self.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def __repr__(self) -> str:
        return "[secret]"


def _hide_secrets(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((key, item),) = value.items()
        if key in ("secure", "fn::secret"):
            return Hidden(item)
    if isinstance(value, dict):
        return {str(k): _hide_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_hide_secrets(v) for v in value]
    return value


def imported(environment: Any) -> list[str]:
    """The names a stack file's `environment:` imports, in order (options dropped)."""
    items = environment.get("imports") if isinstance(environment, dict) else environment
    if not isinstance(items, list):
        return []
    names = []
    for item in items:
        if isinstance(item, dict) and len(item) == 1:
            names.append(str(next(iter(item))))
        elif isinstance(item, str):
            names.append(item)
    return names


def _imports_line(old: list[str], new: list[str]) -> str | None:
    if old == new:
        return None
    parts = [f"{name} added" for name in new if name not in old]
    parts += [f"{name} removed" for name in old if name not in new]
    if not parts or [n for n in old if n in new] != [n for n in new if n in old]:
        parts.append("order changed (a later import overrides an earlier one)")
    return f"imports changed: {', '.join(parts)}; the real preview decides"


def environment_changes(before: StackInputs | None, after: StackInputs | None) -> list[str]:
    """What changed in the `environment:` block. Imports are opaque offline (only Pulumi Cloud
    can open them); inline values are compared, secrets by digest only."""
    old = before.environment if before else None
    new = after.environment if after else None
    if old == new:
        return []
    lines = []
    line = _imports_line(imported(old), imported(new))
    if line:
        lines.append(line)
    old_values = old.get("values", MISSING) if isinstance(old, dict) else MISSING
    new_values = new.get("values", MISSING) if isinstance(new, dict) else MISSING
    shown_old = {"values": _hide_secrets(old_values)} if old_values is not MISSING else {}
    shown_new = {"values": _hide_secrets(new_values)} if new_values is not MISSING else {}
    for change in diff_values(shown_old, shown_new):
        if change.path != ".":
            lines.append(_environment_line(change))
    if not lines:
        lines.append("the environment block changed (options of its imports)")
    return lines


def _environment_line(change: Change) -> str:
    if isinstance(change.old, Hidden) and isinstance(change.new, Hidden):
        return f"{change.path}: {SECRET_CHANGED}"
    return f"{change.path}: {show(change.old)} -> {show(change.new)}"

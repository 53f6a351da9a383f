"""`Pulumi.yaml`'s `config:` block and the README's settings table, written from the model.

    python -m qtapctl.settings_docs          # rewrite both from the declarations
    python -m qtapctl.settings_docs --check  # exit 1 when either has drifted

A setting is declared once (qtap_gitops/settings/model.py, stack.py); these documents are derived, and
tests/contract/test_settings_docs.py fails when a committed copy differs.
"""

from __future__ import annotations

import sys
import textwrap
import typing
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from qtap_gitops.settings.fields import Section, doc_of, key_of, sections_in
from qtap_gitops.settings.raw import NAMESPACE
from qtap_gitops.settings.stack import TOP_LEVEL_KEYS, StackSettings

REGENERATE = "python -m qtapctl.settings_docs"
_ROOT = Path(__file__).resolve().parents[1]
_TABLE_HEADER = "| key | kind | default | meaning |"


def _shown_default(field: FieldInfo) -> str | None:
    """The default as a reader writes it, or None for a required or optional setting."""
    doc = doc_of(field)
    if doc.default:
        return doc.default
    if field.is_required():
        return None
    value = field.get_default(call_default_factory=True)
    if value is None or isinstance(value, (BaseModel, dict)):
        return None
    if isinstance(value, bool):
        return str(value).lower()
    return str(value.value if isinstance(value, Enum) else value)


def _choices(field: FieldInfo) -> str:
    """` (one of a, b or c)` for a setting with a fixed set of values."""
    kinds = typing.get_args(field.annotation) or (field.annotation,)
    kind = next((k for k in kinds if isinstance(k, type) and issubclass(k, Enum)), None)
    if kind is None:
        return ""
    *rest, last = [f"`{member.value}`" for member in kind]
    return f" (one of {', '.join(rest)} or {last})"


def _keys(model: type[Section], prefix: str = "") -> list[str]:
    """`key` (default): description, for every setting of a section and its subsections."""
    parts = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        nested = sections_in(field.annotation).get(None)
        if nested is not None:
            parts += _keys(nested, f"{key}.")
            continue
        default = _shown_default(field)
        if default is None and field.is_required():
            default = "required"
        when = f" ({default})" if default else ""
        parts.append(f"`{key}`{when}: {field.description}{_choices(field)}")
    return parts


def _variant_text(discriminator: str, tag: str, model: type[Section], first: bool) -> str:
    rest = [p for p in _keys(model) if not p.startswith(f"`{discriminator}`")]
    settings = f", with {'; '.join(rest)}" if rest else ""
    default = " (default)" if first else ""
    what = str(model.__doc__).strip().rstrip(".")
    return f"`{tag}`{default}: {what}{settings}"


def _explained(field: FieldInfo) -> str:
    """A top-level key's meaning: its description, then its settings or variants."""
    text = str(field.description)
    text = text[:1].upper() + text[1:]
    variants = sections_in(field.annotation)
    if None in variants:
        return (
            f"{text}. " + "; ".join(_keys(variants[None])) if variants[None].model_fields else text
        )
    if variants:
        discriminator = next(iter(next(iter(variants.values())).model_fields))
        tags = [
            _variant_text(discriminator, str(tag), model, i == 0)
            for i, (tag, model) in enumerate(variants.items())
        ]
        return (
            f"{text}. `{discriminator}` is one of: "
            + "; ".join(tags)
            + ". Settings of another mode are refused"
        )
    return text


def _kind(field: FieldInfo) -> str:
    doc = doc_of(field)
    if doc.kind:
        return doc.kind
    if field.annotation is bool:
        return "bool"
    return "string" if field.annotation is str else "object"


def _top_level() -> list[tuple[str, FieldInfo]]:
    fields = {key_of(StackSettings, name): f for name, f in StackSettings.model_fields.items()}
    return [(key, fields[key]) for key in TOP_LEVEL_KEYS]


def _cli_default(kind: str, field: FieldInfo) -> Any:
    """The default `Pulumi.yaml` declares: every key needs one (the CLI requires keys without)."""
    if kind == "bool":
        return "false" if field.default is False else "true"
    if kind in ("string", "secret"):
        default = field.default
        return default if isinstance(default, str) and default else '""'
    return "{}"


def pulumi_config() -> str:
    """The `config:` block of `Pulumi.yaml`."""
    lines = ["config:"]
    for key, field in _top_level():
        kind = _kind(field)
        lines.append(f"  {key}:")
        if kind in ("string", "secret"):
            lines.append("    type: string")
        elif kind == "bool":
            lines.append("    type: boolean")
        lines.append(f"    default: {_cli_default(kind, field)}")
        lines.append("    description: >-")
        lines += textwrap.wrap(
            _explained(field) + ".",
            width=100,
            initial_indent="      ",
            subsequent_indent="      ",
            break_on_hyphens=False,
        )
    return "\n".join(lines) + "\n"


def readme_table() -> str:
    """The README's table of every `qtap:*` key."""
    rows = [_TABLE_HEADER, "|---|---|---|---|"]
    for key, field in _top_level():
        kind = _kind(field)
        default = _shown_default(field) if kind in ("string", "bool", "secret") else None
        if kind in ("object", "secret object"):
            default = "{}" if not field.is_required() else None
        shown = f"`{default}`" if default and not default.startswith("—") else default or "—"
        meaning = _explained(field).replace("|", "\\|")
        rows.append(f"| `{NAMESPACE}:{key}` | {kind} | {shown} | {meaning} |")
    return "\n".join(rows) + "\n"


def _with_config(text: str) -> str:
    head, marker, _ = text.partition("\nconfig:\n")
    if not marker:
        raise ValueError("Pulumi.yaml has no top-level config: block")
    return head + "\n" + pulumi_config()


def _with_table(text: str) -> str:
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith(_TABLE_HEADER))
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return "".join(lines[:start]) + readme_table() + "".join(lines[end:])


def rendered(root: Path = _ROOT) -> dict[Path, str]:
    """Each generated file as it must read."""
    project, readme = root / "Pulumi.yaml", root / "README.md"
    return {
        project: _with_config(project.read_text(encoding="utf-8")),
        readme: _with_table(readme.read_text(encoding="utf-8")),
    }


def main(argv: list[str]) -> int:
    stale = [p for p, text in rendered().items() if p.read_text(encoding="utf-8") != text]
    if "--check" in argv:
        for path in stale:
            print(f"{path.name} differs from the settings model; run {REGENERATE}")
        return 1 if stale else 0
    for path, text in rendered().items():
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

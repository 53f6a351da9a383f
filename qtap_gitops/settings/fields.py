"""The kinds of value a `qtap:*` setting can hold, and how a setting explains itself.

Every value reaches the settings as the engine hands it over: strings as written, objects as
JSON text, and inside objects whatever YAML made of the value (`protect: "true"` and
`protect: true` mean the same). The kinds below accept exactly that and refuse the rest with
the words the user needs: a rule names what is wrong and how to fix it in the error itself
(`invalid`), so the one adapter in `check.py` turns any error into a `Problem` without knowing
the setting.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Strict,
    Tag,
    model_validator,
)
from pydantic import ValidationInfo as ValidationInfo
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

INVALID = "invalid"
"""The error type of a rule: its context carries `message`, `fix` and optionally `code`."""


@dataclass(frozen=True)
class Doc:
    """How one setting is documented and explained, beside its type, default and description.

    `example` is suggested when the setting is missing or of the wrong type; `default` is the
    default as documents show it when the code derives it (`qtap-<stack>`); `missing` says why a
    required setting is needed; `kind` is the README's word for it (string, object, secret, ...).
    """

    example: str = ""
    default: str = ""
    missing: str = ""
    kind: str = ""
    set_path: str = ""
    """The key the fix of a missing setting sets (`chart.version` for a missing `chart`)."""


def doc_of(field: FieldInfo | None) -> Doc:
    """The `Doc` a field is annotated with (an empty one when it has none)."""
    metadata = field.metadata if field is not None else []
    return next((m for m in metadata if isinstance(m, Doc)), Doc())


def invalid(message: str, fix: str, code: str = "stack-config") -> PydanticCustomError:
    """The error of a value that breaks a setting's rule."""
    return PydanticCustomError(INVALID, "{message}", {"message": message, "fix": fix, "code": code})


def shown(value: Any) -> str:
    """A value as messages show it: short, one line, printable."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:56] + "...'"


def rule(check: Callable[[str], str | tuple[str, str] | None], fix: str) -> AfterValidator:
    """A string rule: `check` returns why a value is refused (None when it is fine), or why
    and a fix of its own."""

    def apply(value: str) -> str:
        reason = check(value)
        if reason is not None:
            why, how = reason if isinstance(reason, tuple) else (reason, fix)
            raise invalid(why.format(value=shown(value)), how)
        return value

    return AfterValidator(apply)


def matches(pattern: str | re.Pattern[str], message: str, fix: str) -> AfterValidator:
    """A string that fully matches `pattern`; `message` may name the value as {value}."""
    compiled = re.compile(pattern, re.ASCII) if isinstance(pattern, str) else pattern
    return rule(lambda v: None if compiled.fullmatch(v) else message, fix)


# -- what a note is: a finding about one setting that does not stop the others ---------------


@dataclass(frozen=True)
class Note:
    """A finding about one setting, before it is placed in the stack file: an error pydantic
    raised, or one a validator makes beside the value it returns (a warning, or how two
    settings relate: they cannot be raised, since the value itself is fine)."""

    path: str
    """Dotted key below `qtap:` (`vault.address`)."""
    message: str
    fix: str
    code: str = "stack-config"
    warning: bool = False


def note(
    info: ValidationInfo,
    path: str,
    message: str,
    fix: str,
    code: str = "stack-config",
    warning: bool = False,
) -> None:
    """Record a `Note` for `check_settings`, which reports it with the errors."""
    context_of(info).setdefault("notes", []).append(Note(path, message, fix, code, warning))


def stack_of(info: ValidationInfo) -> str:
    return str(context_of(info).get("stack", ""))


def context_of(info: ValidationInfo) -> dict[str, Any]:
    """What `check_settings` hands the validators (the stack, its secret keys, aws:region) and
    where they leave notes; empty for a model built without it."""
    return info.context if isinstance(info.context, dict) else {}


# -- scalars as YAML and the engine give them ------------------------------------------------


def _flag(value: Any) -> Any:
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _whole(value: Any) -> Any:
    # Only ASCII digits: int() would also read '²', ' 7' or '1_000'.
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,12}", value, re.ASCII):
        return int(value)
    return value


Flag = Annotated[bool, Strict(), BeforeValidator(_flag)]
"""true or false (also as the strings "true"/"false"); never yes/no/1/0."""
Whole = Annotated[int, Strict(), BeforeValidator(_whole)]
"""A whole number (also as a string of digits); never a bool or a float."""


class Section(BaseModel):
    """One mapping of settings: camelCase keys, nothing unknown, immutable."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        coerce_numbers_to_str=True,
        # A ValidationError printed anywhere must not show a value: it may be a secret.
        hide_input_in_errors=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _unset_empty(cls, data: Any) -> Any:
        """A setting set to "" or null is not set, as the CLI writes an empty default; an
        unknown key stays, to be named."""
        if not isinstance(data, dict):
            return data
        known = {key_of(cls, name) for name in cls.model_fields}
        return {k: v for k, v in data.items() if k not in known or v not in (None, "")}


def key_of(model: type[BaseModel], name: str) -> str:
    """A field's key as a stack file writes it (its alias, `retentionDays`)."""
    return model.model_fields[name].alias or name


def sections_in(annotation: Any) -> dict[str | None, type[Section]]:
    """The sections a field holds: {None: model}, or {tag: model} for a tagged union."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = typing.get_args(annotation)
    else:
        members = (annotation,)
    found: dict[str | None, type[Section]] = {}
    for member in members:
        tag = None
        if typing.get_origin(member) is typing.Annotated:
            member, *meta = typing.get_args(member)
            tag = next((m.tag for m in meta if isinstance(m, Tag)), None)
        if isinstance(member, type) and issubclass(member, Section):
            found[tag] = member
    return found

"""From the engine's strings to typed settings or `Problem`s: the one adapter.

Pydantic reports every error at once with its location (`('delivery', 'argocd', 'argocd',
'project')`: keys, with a union's tag after the union's key). `_locate` walks the model along
that location, so each error becomes a `Problem` at the stack file's line and column, with a
message and a fix derived from the setting's declaration.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from annotated_types import Ge, Le
from pydantic import ValidationError
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from ..problems import Problem, Severity, problem, raise_if_errors
from .fields import INVALID, Doc, Note, Section, doc_of, key_of, sections_in, shown
from .model import REFUSED_CHOICES
from .raw import NAMESPACE, RawStackConfig, position_of, set_command, set_secret_command
from .rules import kms_key_region
from .stack import SECRET_KEYS, TOP_LEVEL_KEYS, StackSettings


@dataclass(frozen=True)
class _Place:
    """Where an error's location points in the model."""

    path: tuple[str, ...]
    """The keys below `qtap:` (aliases), union tags left out."""
    field: FieldInfo | None
    """The declaration of the last key, when it is a setting."""
    model: type[Section] | None
    """The section the last key is in (or would be, for an unknown key)."""
    union: tuple[tuple[str, ...], str, str, dict[str, type[Section]]] | None = None
    """The innermost union on the way: its path, discriminator, chosen tag and variants."""


def _by_alias(model: type[Section], key: str, by_name: bool = True) -> tuple[str, FieldInfo] | None:
    """The field a key names: its alias (a validated default is located by its name)."""
    for name, field in model.model_fields.items():
        if key == field.alias or (by_name and key == name):
            return field.alias or name, field
    return None


def _locate(loc: Sequence[int | str], unknown_last: bool = False) -> _Place:
    """Walk the model along `loc`; `unknown_last`: the last key is one the user wrote."""
    model: type[Section] | None = StackSettings
    path: list[str] = []
    field: FieldInfo | None = None
    owner: type[Section] | None = StackSettings
    union = None
    parts = [str(p) for p in loc if p != "[key]"]
    i = 0
    while i < len(parts):
        key = parts[i]
        i += 1
        exact = unknown_last and i == len(parts)
        found = _by_alias(model, key, by_name=not exact) if model is not None else None
        owner, field = model, None
        if found is None:
            path.append(key)
            model = None
            continue
        alias, field = found
        path.append(alias)
        variants = sections_in(field.annotation)
        tags = {t: m for t, m in variants.items() if t is not None}
        if tags and i < len(parts) and parts[i] in tags:
            discriminator = next(iter(tags.values())).model_fields
            union = (tuple(path), next(iter(discriminator)), parts[i], tags)
            model = tags[parts[i]]
            i += 1
        else:
            model = variants.get(None)
    return _Place(tuple(path), field, owner, union)


def _known(model: type[Section] | None) -> list[str]:
    return sorted(key_of(model, name) for name in model.model_fields) if model else []


def _spelling_fix(key: str, known: Sequence[str]) -> str:
    camel = to_camel(key)  # `retention_days` is `retentionDays`
    close = [camel] if camel in known else difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}remove it or correct the spelling (known: {', '.join(known)})"


def _unknown(place: _Place) -> tuple[str, str, str]:
    """An unknown key, or a key of another variant of the union it is in."""
    key = place.path[-1]
    if place.union is not None and place.model is not None:
        union_path, discriminator, tag, variants = place.union
        for other, variant in variants.items():
            if other != tag and _by_alias(variant, key):
                where = ".".join(union_path)
                return (
                    "setting-not-applicable",
                    f"does not apply: qtap:{where}.{discriminator} is {tag}",
                    f"remove qtap:{'.'.join(place.path)}, or set qtap:{where}.{discriminator} "
                    f"to {other}",
                )
    return "stack-config", f"unknown setting {key!r}", _spelling_fix(key, _known(place.model))


@dataclass(frozen=True)
class _Error:
    """One validation error, placed in the model."""

    place: _Place
    details: ErrorDetails
    raw: RawStackConfig

    @property
    def key(self) -> str:
        return ".".join(self.place.path)

    @property
    def doc(self) -> Doc:
        return doc_of(self.place.field)

    @property
    def secret(self) -> bool:
        top = self.place.path[0]
        return top in SECRET_KEYS or f"{NAMESPACE}:{top}" in self.raw.secret_keys

    @property
    def value(self) -> str:
        """The offending value as messages show it; a secret's never."""
        return "a value (not shown)" if self.secret else shown(self.details["input"])

    @property
    def context(self) -> dict[str, Any]:
        return dict(self.details.get("ctx", {}))


_Words = tuple[str, str, str]
"""The code, message and fix of a problem."""


def _rule(e: _Error) -> _Words:
    return e.context.get("code", "stack-config"), str(e.context["message"]), str(e.context["fix"])


def _missing(e: _Error) -> _Words:
    why = f": {e.doc.missing}" if e.doc.missing else ""
    fix = set_command(e.raw.stack, e.doc.set_path or e.key, e.doc.example or "<value>")
    return "stack-config-missing", f"is required and not set{why}", fix


def _choice(e: _Error) -> _Words:
    """A value outside a fixed set (an enum, or a union's tag)."""
    tag = e.context.get("tag", e.details["input"])
    refused = REFUSED_CHOICES.get((e.place.path[0], str(tag)))
    if refused is not None:
        return refused
    listed = str(e.context.get("expected_tags", e.context.get("expected", "")))
    allowed = [a.strip("'") for part in listed.split(" or ") for a in part.split(", ")]
    given = e.details["input"]
    if "tag" in e.context and isinstance(given, dict):  # the union's tag: show it as written
        given = given.get(e.place.path[-1], tag)
    value = "a value (not shown)" if e.secret else shown(given)
    return (
        "stack-config",
        f"must be one of {', '.join(allowed)}, found {value}",
        f"set it to one of: {', '.join(allowed)}",
    )


def _mapping(e: _Error) -> _Words:
    section = sections_in(e.place.field.annotation).get(None) if e.place.field else None
    if len(e.place.path) == 1:
        fix = f"write it as a YAML mapping under '{NAMESPACE}:{e.key}:' in {e.raw.source}"
    elif section is not None:
        fix = f"write it as a YAML mapping with keys: {', '.join(_known(section))}"
    else:
        fix = "write it as a YAML mapping"
    return "stack-config", f"must be a mapping of settings, found {e.value}", fix


def _number(e: _Error) -> _Words:
    metadata = e.place.field.metadata if e.place.field is not None else []
    low = next((m.ge for m in metadata if isinstance(m, Ge)), 0)
    high = next((m.le for m in metadata if isinstance(m, Le)), None)
    default = e.place.field.default if e.place.field is not None else low
    return (
        "stack-config",
        f"must be a whole number from {low} to {high}, found {e.value}",
        f"write a number, e.g. {default}",
    )


def _flag(e: _Error) -> _Words:
    return "stack-config", f"must be true or false, found {e.value}", "write true or false"


def _string(e: _Error) -> _Words:
    if e.secret:
        fix = set_secret_command(e.raw.stack, e.key)
    else:
        fix = f"set it to a string like {e.doc.example or '...'}"
    if e.details["type"] == "string_too_short":
        return "stack-config", "must be a non-empty string", fix
    return "stack-config", f"must be a string, found {e.value}", fix


# pydantic's error types (pydantic_core ErrorType) by the words a user needs for them; any
# other error is about a string.
_WORDS = {
    INVALID: _rule,
    "missing": _missing,
    "extra_forbidden": lambda e: _unknown(e.place),
    **dict.fromkeys(("enum", "literal_error", "union_tag_invalid"), _choice),
    **dict.fromkeys(("bool_type", "bool_parsing"), _flag),
    **dict.fromkeys(
        ("dict_type", "model_type", "model_attributes_type", "json_invalid", "json_type"),
        _mapping,
    ),
    "union_tag_not_found": _mapping,
    **dict.fromkeys(
        ("int_type", "int_parsing", "int_from_float", "greater_than_equal", "less_than_equal"),
        _number,
    ),
}


def _error_note(error: ErrorDetails, raw: RawStackConfig) -> Note:
    place = _locate(error["loc"], unknown_last=error["type"] == "extra_forbidden")
    if error["type"] == "union_tag_invalid" and place.union is None:
        # The tag itself is wrong: point at the discriminator key (`delivery.mode`).
        variants = sections_in(place.field.annotation) if place.field else {}
        first = next(iter(variants.values()), None)
        if first is not None:
            place = _Place((*place.path, next(iter(first.model_fields))), None, first)
    code, message, fix = _WORDS.get(error["type"], _string)(_Error(place, error, raw))
    return Note(".".join(place.path), message, fix, code)


def _unknown_keys(raw: RawStackConfig) -> list[Note]:
    found = []
    for full_key in raw.values:
        prefix, _, key = full_key.partition(":")
        if prefix == NAMESPACE and key not in TOP_LEVEL_KEYS:
            message = f"unknown configuration key {full_key!r}"
            found.append(Note(key, message, _spelling_fix(key, TOP_LEVEL_KEYS)))
    return found


def _problem(found: Note, raw: RawStackConfig) -> Problem:
    """The finding at its place in the stack file; a declared fix names the stack and its
    file as {stack} and {source}."""
    key = f"{NAMESPACE}:{found.path}"
    fix = found.fix.replace("{stack}", raw.stack).replace("{source}", raw.source)
    severity = Severity.WARNING if found.warning else Severity.ERROR
    where = position_of(raw.positions, key)
    return problem(found.code, raw.source, where, key, found.message, fix, severity)


def check_settings(raw: RawStackConfig) -> tuple[StackSettings | None, list[Problem]]:
    """The typed settings and every problem of `raw`'s `qtap:*` keys (None on any error)."""
    data: dict[str, Any] = {"stack": raw.stack, "source": raw.source}
    for key in TOP_LEVEL_KEYS:
        value = raw.values.get(f"{NAMESPACE}:{key}")
        if value not in (None, ""):
            data[key] = value
    context: dict[str, Any] = {
        "stack": raw.stack,
        "secret_keys": raw.secret_keys,
        "region": raw.values.get("aws:region"),
        "notes": [],
    }
    found = _unknown_keys(raw)
    settings: StackSettings | None
    try:
        # A stack file names settings as documented (camelCase): `retention_days` is unknown.
        settings = StackSettings.model_validate(data, context=context, by_alias=True, by_name=False)
    except ValidationError as error:
        settings = None
        found += [_error_note(e, raw) for e in error.errors(include_url=False)]
    # A validator may run more than once (a union tries its members): each note counts once.
    found += dict.fromkeys(context["notes"])
    problems = [_problem(n, raw) for n in found]
    if any(p.is_error for p in problems):
        return None, problems
    return settings, problems


def parse_settings(raw: RawStackConfig) -> StackSettings:
    """The typed settings, or a `ContractError` naming every wrong key."""
    settings, problems = check_settings(raw)
    raise_if_errors(problems)
    assert settings is not None
    return settings


def kms_region_problems(
    settings: StackSettings, snapshot: Any, positions: Mapping[str, tuple[int, int]]
) -> list[Problem]:
    """SSE-KMS needs the key in the bucket's region: a key elsewhere makes every upload fail.

    `snapshot` is the checked `Snapshot` (typed loosely to keep settings free of the snapshot
    package); each AWS-managed bucket this stack creates must share the key's region.
    """
    kms = settings.object_store.kms_key_id
    region = kms_key_region(kms) if kms else None
    if region is None:
        return []
    key = f"{NAMESPACE}:objectStore.kmsKeyId"
    return [
        problem(
            "kms-region",
            settings.source,
            position_of(positions, key),
            key,
            f"the KMS key is in {region}, but bucket {store.bucket} is in {store.region}; S3 "
            "can only encrypt with a key of the bucket's own region",
            f"use a KMS key in {store.region}",
        )
        for store in snapshot.aws_stores
        if store.region != region
    ]

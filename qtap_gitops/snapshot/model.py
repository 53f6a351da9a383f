"""The snapshot contract's results, and the state the part checkers share while walking."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

from ..homoglyph import non_ascii_key
from ..problems import Problem, problem
from ..qtap_conformance import Finding
from ..yamlsource import View, quote

MAX_SNAPSHOT_BYTES = 1024 * 1024  # a ConfigMap (and the Helm release record) holds at most 1 MiB
# Rule expressions are parsed at a few microseconds a character: a hostile 1 MiB file of them
# must not hold `check` for seconds. A Qplane rule is a few hundred characters.
MAX_RULE_EXPRESSION = 16 * 1024  # the longest expression parsed
RULE_BUDGET = 16 * 1024  # characters of rule expressions parsed per snapshot


class ReferenceRole(StrEnum):
    """What an env reference stands for, which decides where its value comes from."""

    PULSE_TOKEN = "pulse-token"
    AWS_ACCESS_KEY_ID = "aws-access-key-id"
    AWS_SECRET_ACCESS_KEY = "aws-secret-access-key"
    QPOINT_TOKEN = "qpoint-token"
    """The token of another Qpoint service (legacy pulse store, `qpoint` warehouse, qscan): it
    may read the registration token, though nothing makes it do so."""
    OTHER = "other"


@dataclass(frozen=True)
class EnvReference:
    """One `{type: env, value: NAME}` in the snapshot."""

    name: str
    role: ReferenceRole
    yaml_path: str
    line: int | None
    column: int | None
    store_label: str | None = None  # the s3 store an AWS key reference belongs to

    def where(self, file: str) -> str:
        return f"{file}:{self.line}:{self.column} ({self.yaml_path})"


@dataclass(frozen=True)
class S3Store:
    """An `s3` object store. AWS-managed stores get their bucket and key from this stack."""

    index: int
    id: str | None
    bucket: str
    region: str
    endpoint: str
    aws_managed: bool
    access_key_env: str | None
    secret_key_env: str | None
    yaml_path: str
    line: int | None
    column: int | None = None

    @property
    def label(self) -> str:
        return self.id or f"object_stores[{self.index}]"


def mounted_form(raw: bytes) -> bytes:
    """The bytes the agent reads from `/app/tap-config.yaml` for a snapshot file `raw`.

    The chart embeds `config` in a literal block scalar (`tap-config.yaml: |` followed by
    `{{ .Values.config | nindent 4 }}`, qpoint-io/helm-charts charts/qtap/templates), and YAML
    reads a block scalar with its line breaks normalized to LF (YAML 1.2, 5.4) and, with the
    default "clip" chomping, exactly one final line break (8.1.1.2): CRLF becomes LF and missing
    or extra final newlines become one. Every other byte is kept (the contract refuses what the
    block cannot carry: a lone CR, U+0085/U+2028/U+2029, an indented first line).
    """
    return raw.replace(b"\r\n", b"\n").rstrip(b"\n") + b"\n"


def mounted_sha256(raw: bytes) -> str:
    return hashlib.sha256(mounted_form(raw)).hexdigest()


@dataclass(frozen=True)
class Snapshot:
    """A snapshot that passed the contract. `raw` is byte-for-byte the committed file."""

    file: str
    raw: bytes
    env_references: tuple[EnvReference, ...]
    s3_stores: tuple[S3Store, ...]
    has_pulse_store: bool
    warnings: tuple[Problem, ...]

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8")

    @property
    def sha256(self) -> str:
        """The digest of what the agent reads (`mounted_form`), not of the file's bytes: the
        pod annotation made from it rolls the pods exactly when the mounted config changes."""
        return mounted_sha256(self.raw)

    @property
    def aws_stores(self) -> tuple[S3Store, ...]:
        return tuple(store for store in self.s3_stores if store.aws_managed)

    @property
    def env_names(self) -> frozenset[str]:
        return frozenset(ref.name for ref in self.env_references)


@dataclass
class SnapshotReport:
    """Everything `check_snapshot` found. `snapshot` is None when any error was found."""

    file: str
    problems: list[Problem]
    snapshot: Snapshot | None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]


@dataclass
class Context:
    """What the part checkers collect while walking one snapshot."""

    file: str
    problems: list[Problem]
    references: list[EnvReference] = field(default_factory=list)
    s3_stores: list[S3Store] = field(default_factory=list)
    has_pulse_store: bool = False
    event_store_ids: set[str] = field(default_factory=set)
    object_store_ids: set[str] = field(default_factory=set)
    text: str = ""  # the whole snapshot, for positions inside rule expressions
    macros: frozenset[str] = frozenset()  # names under rulekit.macros
    # Characters of rule expressions still to parse: the parser is linear but slow in Python,
    # so a 1 MiB file of expressions must not take seconds (see rules.rule_expression).
    rule_budget: int = RULE_BUDGET
    """Characters of rule expressions still to be parsed in this snapshot."""
    unchecked_rules: int = 0

    @cached_property
    def lines(self) -> list[str]:
        """The snapshot's lines, split once for every position inside a rule expression."""
        return self.text.splitlines()


def report_finding(at: View, found: Finding | None) -> None:
    """A finding of qtap_conformance as a Problem at its own position, with `at`'s path."""
    if found is None:
        return
    at.problems.append(
        problem(
            found.code,
            at.file,
            (found.line, found.column),
            at.rendered_path,
            found.message,
            found.fix,
            found.severity,
        )
    )


def one_of(values: Iterable[str]) -> str:
    return ", ".join(sorted(values))


def unknown_keys(
    at: View, known: Iterable[str], where: str, hint: dict[str, str] | None = None
) -> None:
    """Warn about each key of `at` that the Go struct behind it does not have."""
    known = frozenset(known)
    for key, child in at.items():
        if key in known:
            continue
        lookalike = non_ascii_key(key)
        if lookalike:
            child.warn(
                "non-ascii-key",
                f"{where}: the key {quote(key)} {lookalike}; every key Qtap reads is ASCII, so "
                "this one only looks like a known key",
                f"retype the key in ASCII (known keys: {one_of(known)}), or export the "
                "snapshot from Qplane again",
            )
        fix = (hint or {}).get(key) or (
            f"remove {quote(key)} or correct its spelling (known keys: {one_of(known)})"
        )
        child.warn(
            "unknown-key",
            f"{where} has no key {quote(key)}; Qtap ignores unknown keys silently",
            fix,
        )


def text_of(at: View | None, what: str) -> str | None:
    """A string field's value, "" when absent; None when it has the wrong shape (reported)."""
    if at is None:
        return ""
    return at.string(what)

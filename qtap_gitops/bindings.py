"""Env bindings: where the value of each env variable the snapshot references comes from.

| reference in the snapshot                          | value                                |
|----------------------------------------------------|--------------------------------------|
| `token` of a `pulse` event store                   | stack secret `qtap:registrationToken`|
| `access_key` / `secret_key` of an AWS `s3` store   | the IAM access key this stack creates|
| anything else                                      | `qtap:secretEnv.<NAME>`              |

A name is one env variable in the agent's pod, so every reference to it shares one value: a
name read by a pulse token is the registration token wherever else it appears. A name that two
different sources would fill (two buckets' keys, or a bucket key and the registration token) is
an error, as is a name with no value configured.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from .problems import Problem, Severity, problem
from .settings import set_secret_command
from .snapshot import EnvReference, ReferenceRole, Snapshot


class SourceKind(StrEnum):
    REGISTRATION_TOKEN = "registration-token"
    AWS_ACCESS_KEY_ID = "aws-access-key-id"
    AWS_SECRET_ACCESS_KEY = "aws-secret-access-key"
    SECRET_ENV = "secret-env"


@dataclass(frozen=True)
class EnvSource:
    kind: SourceKind
    store_label: str | None = None  # the AWS store whose key fills the variable
    bucket: str | None = None

    def describe(self) -> str:
        if self.kind is SourceKind.REGISTRATION_TOKEN:
            return "qtap:registrationToken"
        if self.kind is SourceKind.SECRET_ENV:
            return "qtap:secretEnv"
        part = "access key id" if self.kind is SourceKind.AWS_ACCESS_KEY_ID else "secret access key"
        return f"{part} of the IAM key this stack creates for bucket {self.bucket}"


_ROLE_TO_KIND = {
    ReferenceRole.PULSE_TOKEN: SourceKind.REGISTRATION_TOKEN,
    ReferenceRole.AWS_ACCESS_KEY_ID: SourceKind.AWS_ACCESS_KEY_ID,
    ReferenceRole.AWS_SECRET_ACCESS_KEY: SourceKind.AWS_SECRET_ACCESS_KEY,
}


def vault_property(env_name: str) -> str:
    """Vault property for an env name, in lower kebab case: REGISTRATION_TOKEN -> registration-token."""
    return re.sub(r"_+", "-", env_name.strip("_")).lower() or env_name.lower()


@dataclass(frozen=True)
class EnvBinding:
    """One env variable of the agent: its name, its value's source, and where it is read."""

    name: str
    source: EnvSource
    references: tuple[EnvReference, ...]

    @property
    def vault_property(self) -> str:
        return vault_property(self.name)

    @property
    def secret_env_key(self) -> str:
        return f"secretEnv.{self.name}"


def _problem(snapshot: Snapshot, ref: EnvReference, code: str, message: str, fix: str) -> Problem:
    return problem(
        code,
        snapshot.file,
        (ref.line, ref.column),
        ref.yaml_path,
        message,
        fix,
    )


def _source_of(ref: EnvReference, snapshot: Snapshot) -> EnvSource | None:
    kind = _ROLE_TO_KIND.get(ref.role)
    if kind is None:
        return None
    bucket = next(
        (s.bucket for s in snapshot.s3_stores if s.label == ref.store_label and s.aws_managed),
        None,
    )
    return EnvSource(kind, ref.store_label, bucket)


def _foreign_readers(
    snapshot: Snapshot, name: str, source: EnvSource, refs: list[EnvReference]
) -> list[Problem]:
    """References that read a credential the stack binds to another owner: an otel header
    reading the S3 secret key would send it to the collector, and the registration token to
    anyone but Qplane likewise. Only the store that owns a credential may read its variable."""
    if source.kind is SourceKind.SECRET_ENV:
        return []
    return [
        _problem(
            snapshot,
            ref,
            "credential-env-read",
            f"{ref.yaml_path} reads {name}, which this stack fills with the "
            f"{source.describe()}; only the store that owns a credential may read it",
            "give this value its own env variable in Qplane (its value then comes from "
            "qtap:secretEnv)",
        )
        for ref in refs
        if _source_of(ref, snapshot) != source and not _qpoint_token(ref, source)
    ]


def _qpoint_token(ref: EnvReference, source: EnvSource) -> bool:
    """The token of a Qpoint service (a legacy pulse store, the `qpoint` warehouse, qscan) may be
    the registration token: it authenticates to Qpoint, which issued it. An otel store's token or
    header is sent to a third party and may not."""
    return source.kind is SourceKind.REGISTRATION_TOKEN and ref.role is ReferenceRole.QPOINT_TOKEN


def derive_bindings(snapshot: Snapshot) -> tuple[list[EnvBinding], list[Problem]]:
    """One binding per env name, sorted by name; conflicts are reported, not resolved."""
    by_name: dict[str, list[EnvReference]] = {}
    for ref in snapshot.env_references:
        by_name.setdefault(ref.name, []).append(ref)

    bindings: list[EnvBinding] = []
    problems: list[Problem] = []
    for name in sorted(by_name):
        refs = by_name[name]
        sources: dict[EnvSource, EnvReference] = {}
        for ref in refs:
            source = _source_of(ref, snapshot)
            if source is not None:
                sources.setdefault(source, ref)
        if len(sources) > 1:
            described = "; ".join(
                f"{src.describe()} (line {ref.line}, {ref.yaml_path})"
                for src, ref in sources.items()
            )
            second = list(sources.values())[1]
            problems.append(
                _problem(
                    snapshot,
                    second,
                    "env-source-conflict",
                    f"env variable {name} would be filled from two different sources: {described}",
                    "give each credential its own env variable name in Qplane",
                )
            )
            continue
        source = next(iter(sources), EnvSource(SourceKind.SECRET_ENV))
        foreign = _foreign_readers(snapshot, name, source, refs)
        if foreign:
            problems.extend(foreign)
            continue
        bindings.append(EnvBinding(name, source, tuple(refs)))

    by_property: dict[str, EnvBinding] = {}
    for binding in bindings:
        other = by_property.get(binding.vault_property)
        if other is not None:
            problems.append(
                _problem(
                    snapshot,
                    binding.references[0],
                    "vault-property-collision",
                    f"env variables {other.name} and {binding.name} map to the same Vault "
                    f"property {binding.vault_property!r}",
                    "rename one of them in Qplane",
                )
            )
        by_property[binding.vault_property] = binding
    return bindings, problems


@dataclass(frozen=True)
class SecretInventory:
    """Which stack secrets are configured (never their values)."""

    stack: str
    source: str
    registration_token_set: bool
    secret_env_names: frozenset[str]


def unresolved_sources(
    snapshot: Snapshot, bindings: Iterable[EnvBinding], inventory: SecretInventory
) -> list[Problem]:
    """Bindings whose value is not configured, each with the command that configures it."""
    problems = []
    for binding in bindings:
        ref = binding.references[0]
        if (
            binding.source.kind is SourceKind.REGISTRATION_TOKEN
            and not inventory.registration_token_set
        ):
            problems.append(
                _problem(
                    snapshot,
                    ref,
                    "secret-missing",
                    f"{binding.name} is the Qplane registration token, and stack "
                    f"{inventory.stack} has no qtap:registrationToken",
                    "copy it from Qplane (Settings -> Environments -> Manage) and run: "
                    + set_secret_command(inventory.stack, "registrationToken", "<token>"),
                )
            )
        elif (
            binding.source.kind is SourceKind.SECRET_ENV
            and binding.name not in inventory.secret_env_names
        ):
            problems.append(
                _problem(
                    snapshot,
                    ref,
                    "secret-missing",
                    f"{binding.name} has no value: stack {inventory.stack} has no "
                    f"qtap:secretEnv.{binding.name}",
                    "run: " + set_secret_command(inventory.stack, binding.secret_env_key),
                )
            )
    return problems


def conflicting_secret_env(
    bindings: Iterable[EnvBinding], inventory: SecretInventory
) -> list[Problem]:
    """secretEnv entries that would give a second value to a variable this stack already fills."""
    problems = []
    for binding in bindings:
        if (
            binding.source.kind is not SourceKind.SECRET_ENV
            and binding.name in inventory.secret_env_names
        ):
            problems.append(
                problem(
                    "env-source-conflict",
                    inventory.source,
                    (None, None),
                    f"qtap:secretEnv.{binding.name}",
                    f"{binding.name} already comes from {binding.source.describe()}; a "
                    "secretEnv value would be a second source",
                    f"remove it: pulumi config rm --path 'qtap:secretEnv.{binding.name}' "
                    f"--stack {inventory.stack}",
                )
            )
    return problems


def unused_secrets(
    snapshot: Snapshot, bindings: Iterable[EnvBinding], inventory: SecretInventory
) -> list[Problem]:
    """Configured secrets that the snapshot never reads (left over after a snapshot change)."""
    names = {b.name for b in bindings}
    problems = []
    for name in sorted(inventory.secret_env_names - names):
        problems.append(
            problem(
                "secret-unused",
                inventory.source,
                (None, None),
                f"qtap:secretEnv.{name}",
                f"the snapshot {snapshot.file} references no env variable {name}",
                f"remove it: pulumi config rm --path 'qtap:secretEnv.{name}' --stack {inventory.stack}",
                Severity.WARNING,
            )
        )
    if inventory.registration_token_set and not any(
        b.source.kind is SourceKind.REGISTRATION_TOKEN for b in bindings
    ):
        problems.append(
            problem(
                "secret-unused",
                inventory.source,
                (None, None),
                "qtap:registrationToken",
                f"the snapshot {snapshot.file} has no pulse event store, so the registration "
                "token is not used",
                "add the pulse store in Qplane, or remove the token",
                Severity.WARNING,
            )
        )
    return problems

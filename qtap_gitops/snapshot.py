"""The snapshot contract: read a committed Qplane snapshot, prove it safe to deploy, and find
every env reference the agent will need.

The snapshot is never modified: `Snapshot.raw` is the file's exact bytes, and those bytes are
what the chart receives. Checks never stop at the first problem; `check_snapshot` returns all
of them, and `load_snapshot` raises a `ContractError` carrying them when any is an error.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from . import qtap_conformance as qc
from . import qtap_schema as qs
from .aws_names import bucket_name_problems, endpoint_region, is_aws_endpoint
from .problems import ContractError, Problem, Severity
from .qtap_conformance import Finding
from .yamlsource import Located, parse_yaml

MAX_SNAPSHOT_BYTES = 1024 * 1024  # a ConfigMap (and the Helm release record) holds at most 1 MiB

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


class ReferenceRole(StrEnum):
    """What an env reference stands for, which decides where its value comes from."""

    PULSE_TOKEN = "pulse-token"
    AWS_ACCESS_KEY_ID = "aws-access-key-id"
    AWS_SECRET_ACCESS_KEY = "aws-secret-access-key"
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

    @property
    def label(self) -> str:
        return self.id or f"object_stores[{self.index}]"


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
        return hashlib.sha256(self.raw).hexdigest()

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


def check_snapshot(
    path: Path, display: str | None = None, *, strict: bool = False
) -> SnapshotReport:
    """Read and check the snapshot at `path`; `display` is the name used in messages."""
    file = display or str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return _file_error(
            file,
            "snapshot-missing",
            "the snapshot file does not exist",
            f"export the snapshot from Qplane (Settings -> Snapshot) and commit it as {file}, "
            "or point qtap:snapshot at the committed file",
        )
    except IsADirectoryError:
        return _file_error(
            file,
            "snapshot-missing",
            "the snapshot path is a directory",
            "name the YAML file itself",
        )
    except OSError as exc:
        return _file_error(file, "snapshot-unreadable", f"cannot read the file: {exc.strerror}", "")
    return check_snapshot_bytes(raw, file, strict=strict)


def check_snapshot_bytes(raw: bytes, file: str, *, strict: bool = False) -> SnapshotReport:
    if len(raw) > MAX_SNAPSHOT_BYTES:
        return _file_error(
            file,
            "snapshot-too-large",
            f"the snapshot is {len(raw)} bytes; a ConfigMap holds at most {MAX_SNAPSHOT_BYTES}",
            "export a smaller configuration; a snapshot this large is almost certainly not a "
            "Qplane export",
        )
    if not raw.strip():
        return _file_error(
            file,
            "snapshot-empty",
            "the snapshot file is empty",
            "paste the YAML from Qplane (Settings -> Snapshot) into the file",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return SnapshotReport(
            file,
            [
                Problem(
                    Severity.ERROR,
                    "snapshot-not-utf8",
                    file,
                    line,
                    column,
                    "",
                    f"byte 0x{raw[exc.start]:02x} at offset {exc.start} is not UTF-8",
                    "save the file as UTF-8 (a Qplane export always is)",
                )
            ],
            None,
        )

    parsed = parse_yaml(text, file, what="snapshot")
    problems = list(parsed.problems)
    if parsed.root is None:
        return SnapshotReport(file, problems, None)

    checker = _Checker(file, text=text, macros=qc.declared_macros(parsed.root))
    checker.check(Located(parsed.root, (), 1, 1))
    problems.extend(checker.problems)
    if strict:
        problems = [p.as_error() for p in problems]
    if any(p.is_error for p in problems):
        return SnapshotReport(file, problems, None)
    snapshot = Snapshot(
        file=file,
        raw=raw,
        env_references=tuple(checker.references),
        s3_stores=tuple(checker.s3_stores),
        has_pulse_store=checker.has_pulse_store,
        warnings=tuple(problems),
    )
    return SnapshotReport(file, problems, snapshot)


def load_snapshot(path: Path, display: str | None = None, *, strict: bool = False) -> Snapshot:
    """The checked snapshot at `path`, or a `ContractError` with every problem found."""
    report = check_snapshot(path, display, strict=strict)
    if report.snapshot is None:
        raise ContractError(report.problems)
    return report.snapshot


def _file_error(file: str, code: str, message: str, fix: str) -> SnapshotReport:
    return SnapshotReport(
        file, [Problem(Severity.ERROR, code, file, None, None, "", message, fix)], None
    )


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "empty (null)"
    return f"{type(value).__name__} {value!r}"


@dataclass
class _Checker:
    """Walks one parsed snapshot, collecting problems, env references and s3 stores."""

    file: str
    problems: list[Problem] = field(default_factory=list)
    references: list[EnvReference] = field(default_factory=list)
    s3_stores: list[S3Store] = field(default_factory=list)
    has_pulse_store: bool = False
    event_store_ids: set[str] = field(default_factory=set)
    object_store_ids: set[str] = field(default_factory=set)
    text: str = ""
    macros: frozenset[str] = frozenset()

    # -- qtap conformance hooks (issue 9): findings of qtap_conformance, as Problems -------

    def finding(self, at: Located, found: Finding | None) -> None:
        if found is not None:
            self.problems.append(
                Problem(
                    found.severity,
                    found.code,
                    self.file,
                    found.line,
                    found.column,
                    at.rendered_path,
                    found.message,
                    found.fix,
                )
            )

    def rule_expression(self, owner: Located, key: str, role: str) -> None:
        """The rulekit expression at `owner[key]`, checked as Qtap checks it for `role`."""
        if not isinstance(owner.value, dict) or not isinstance(owner.value.get(key), str):
            return
        at = owner.value_at(key)
        for found in qc.rule_expression_findings(
            self.text, at.value, at.line, at.column, role=role, macros=self.macros
        ):
            self.finding(at, found)

    # -- end of qtap conformance hooks ------------------------------------------------------

    # -- reporting -------------------------------------------------------------------------

    def _report(self, severity: Severity, at: Located, code: str, message: str, fix: str) -> None:
        self.problems.append(
            Problem(severity, code, self.file, at.line, at.column, at.rendered_path, message, fix)
        )

    def error(self, at: Located, code: str, message: str, fix: str) -> None:
        self._report(Severity.ERROR, at, code, message, fix)

    def warn(self, at: Located, code: str, message: str, fix: str) -> None:
        self._report(Severity.WARNING, at, code, message, fix)

    # -- shape helpers ----------------------------------------------------------------------

    def mapping(self, at: Located, what: str) -> bool:
        if isinstance(at.value, dict):
            return True
        self.error(
            at,
            "wrong-type",
            f"{what} must be a mapping, found {_describe(at.value)}; Qtap cannot decode it",
            "re-export the snapshot from Qplane; do not edit its structure by hand",
        )
        return False

    def sequence(self, at: Located, what: str) -> bool:
        if isinstance(at.value, list):
            return True
        self.error(
            at,
            "wrong-type",
            f"{what} must be a list, found {_describe(at.value)}; Qtap cannot decode it",
            "re-export the snapshot from Qplane; do not edit its structure by hand",
        )
        return False

    def scalar_string(self, at: Located, what: str) -> str | None:
        """A string field: yaml.v3 decodes any scalar into a Go string, but not a map or list."""
        if at.value is None:
            return ""
        if isinstance(at.value, (dict, list)):
            self.error(
                at,
                "wrong-type",
                f"{what} must be a string, found {_describe(at.value)}",
                "give a single value",
            )
            return None
        if isinstance(at.value, bool):
            return "true" if at.value else "false"
        return str(at.value)

    def boolean(self, at: Located, what: str) -> None:
        value = at.value
        if value is None or isinstance(value, bool):
            return
        if isinstance(value, str) and value in qs.YAML_BOOL_STRINGS:
            return
        self.error(
            at,
            "wrong-type",
            f"{what} must be true or false, found {_describe(value)}; yaml.v3 refuses to decode it "
            "into a boolean and Qtap will not start",
            "write true or false",
        )

    def unknown_keys(
        self, at: Located, known: Iterable[str], where: str, hint: dict[str, str] | None = None
    ) -> None:
        known = frozenset(known)
        for key, child in at.items():
            if key in known:
                continue
            suggestion = (hint or {}).get(key)
            fix = suggestion or (
                f"remove {key!r} or correct its spelling (known keys: {', '.join(sorted(known))})"
            )
            self.warn(
                child,
                "unknown-key",
                f"{where} has no key {key!r}; Qtap ignores unknown keys silently",
                fix,
            )

    # -- root -------------------------------------------------------------------------------

    def check(self, root: Located) -> None:
        if not isinstance(root.value, dict):
            self.error(
                root,
                "root-not-mapping",
                f"the snapshot must be a YAML mapping (version, services, stacks, tap), "
                f"found {_describe(root.value)}",
                "export the snapshot again from Qplane (Settings -> Snapshot)",
            )
            return
        self.check_version(root)
        self.unknown_keys(root, qs.ROOT_KEYS, "the snapshot root")

        services = root.child("services") if "services" in root.value else None
        if services is not None and self.mapping(services, "services"):
            self.check_services(services)
        stack_names: set[str] = set()
        if "stacks" in root.value:
            stack_names = self.check_stacks(root.child("stacks"))
        if "tap" in root.value:
            self.check_tap(root.child("tap"), stack_names)
        if "tags" in root.value:
            self.check_tags(root.child("tags"))
        if "control" in root.value:
            self.check_control(root.child("control"))
        if "rulekit" in root.value:
            self.check_rulekit(root.child("rulekit"))
        if services is not None and isinstance(services.value, dict):
            self.check_store_links(services)

    def check_version(self, root: Located) -> None:
        if "version" not in root.value:
            self.error(
                root,
                "version",
                "the snapshot has no 'version'; this program reads version 2 snapshots only",
                "export the snapshot from Qplane again; it starts with 'version: 2'",
            )
            return
        version = root.value_at("version")
        if version.value != qs.SNAPSHOT_VERSION or isinstance(version.value, bool):
            self.error(
                version,
                "version",
                f"version is {version.value!r}; this program reads version 2 snapshots only",
                "export the snapshot from Qplane again (it writes 'version: 2'); an older "
                "format must be recreated in Qplane",
            )

    # -- services ---------------------------------------------------------------------------

    def check_services(self, services: Located) -> None:
        self.unknown_keys(services, qs.SERVICES_KEYS, "services")
        if "event_stores" in services.value:
            stores = services.child("event_stores")
            if stores.value is not None and self.sequence(stores, "services.event_stores"):
                seen: dict[str, Located] = {}
                for store in stores.elements():
                    self.check_event_store(store, seen)
        if "object_stores" in services.value:
            stores = services.child("object_stores")
            if stores.value is not None and self.sequence(stores, "services.object_stores"):
                seen = {}
                for store in stores.elements():
                    self.check_object_store(store, seen)
        if "qscan" in services.value:
            qscan = services.child("qscan")
            if qscan.value is not None and self.mapping(qscan, "services.qscan"):
                self.check_qscan_service(qscan)

    def store_type(self, store: Located, known: dict[str, frozenset[str]], what: str) -> str | None:
        if "type" not in store.value:
            self.error(
                store,
                "store-type",
                f"the {what} has no 'type'; Qtap requires one",
                f"set type to one of: {', '.join(sorted(known))}",
            )
            return None
        at = store.value_at("type")
        kind = self.scalar_string(at, "type")
        if kind is None:
            return None
        if kind not in known:
            self.error(
                at,
                "store-type",
                f"unknown {what} type {kind!r}; Qtap silently falls back to the console store "
                "and nothing reaches its destination",
                f"use one of: {', '.join(sorted(set(known) - set(qs.LEGACY_EVENT_STORE_KEYS)))}",
            )
            return None
        return kind

    def store_id(self, store: Located, seen: dict[str, Located], what: str) -> str | None:
        if "id" not in store.value:
            return None
        at = store.value_at("id")
        ident = self.scalar_string(at, "id")
        if not ident:
            return None
        if ident in seen:
            first = seen[ident]
            self.error(
                at,
                "duplicate-store-id",
                f"{what} id {ident!r} is already used at line {first.line}; plugins and "
                "selectors could reach the wrong store",
                "give every store a distinct id",
            )
        else:
            seen[ident] = at
        return ident

    def check_event_store(self, store: Located, seen: dict[str, Located]) -> None:
        if not self.mapping(store, "an event store"):
            return
        known_types = {**qs.EVENT_STORE_KEYS, **qs.LEGACY_EVENT_STORE_KEYS}  # issue 9 hook
        kind = self.store_type(store, known_types, "event store")
        ident = self.store_id(store, seen, "event store")
        if ident:
            self.event_store_ids.add(ident)
        if kind is None:
            return
        if kind in qs.LEGACY_EVENT_STORE_TYPES:  # issue 9 hook
            at = store.value_at("type")
            self.finding(at, qc.legacy_event_store_finding(kind, at.line, at.column))
        known = known_types[kind]
        if kind == "pulse":
            known = known | {"endpoint"}  # reported by check_pulse with a precise fix
        self.unknown_keys(store, known, f"a {kind} event store")
        if kind == "pulse":
            self.has_pulse_store = True
            self.check_pulse(store)
        for key in ("token", "dataset"):
            if key in store.value:
                role = ReferenceRole.PULSE_TOKEN if kind == "pulse" and key == "token" else None
                self.check_value_source(store.child(key), secret=key == "token", role=role)
        if "headers" in store.value:
            self.check_headers(store.child("headers"))
        if "tls" in store.value:
            self.check_otel_tls(store.child("tls"))
        for flag in ("allow_insecure",):
            if flag in store.value:
                self.boolean(store.value_at(flag), flag)

    def check_pulse(self, store: Located) -> None:
        if "token" not in store.value or store.value["token"] is None:
            self.error(
                store,
                "pulse-token",
                "the pulse event store has no 'token'; Qtap refuses to start "
                "('eventstore token is empty')",
                "add 'token: {type: env, value: REGISTRATION_TOKEN}'",
            )
        if "endpoint" in store.value:
            goes_to = "its 'url'" if "url" in store.value else "https://api-pulse.qpoint.io"
            self.warn(
                store.child("endpoint"),
                "pulse-endpoint",
                f"the pulse store sets 'endpoint', which pulse ignores (it reads 'url'); events "
                f"go to {goes_to}",
                "rename 'endpoint' to 'url' (Qpoint's storage docs show 'endpoint', but the "
                "pulse store reads 'url')",
            )
        if "url" in store.value:
            at = store.value_at("url")
            url = self.scalar_string(at, "url") or ""
            insecure = store.value.get("allow_insecure") in (True, "true")
            if url and not url.startswith("https://") and not insecure:
                self.error(
                    at,
                    "pulse-url",
                    f"the pulse url {url!r} is not https; Qtap accepts plain HTTP only with "
                    "'allow_insecure: true'",
                    "use the https:// address Qplane exported",
                )

    def check_object_store(self, store: Located, seen: dict[str, Located]) -> None:
        if not self.mapping(store, "an object store"):
            return
        kind = self.store_type(store, qs.OBJECT_STORE_KEYS, "object store")
        ident = self.store_id(store, seen, "object store")
        if ident:
            self.object_store_ids.add(ident)
        if kind is None:
            return
        self.unknown_keys(store, qs.OBJECT_STORE_KEYS[kind], f"a {kind} object store")
        if "event_store" in store.value:
            selector = store.child("event_store")
            if selector.value is not None and self.mapping(selector, "event_store"):
                self.unknown_keys(selector, qs.EVENT_STORE_SELECTOR_KEYS, "event_store")
        if kind == "s3":
            self.check_s3(store, ident)
            return
        if "token" in store.value:
            self.check_value_source(store.child("token"), secret=True, role=None)
        if "headers" in store.value:
            self.check_headers(store.child("headers"))
        if "tls" in store.value:
            self.check_otel_tls(store.child("tls"))

    def check_s3(self, store: Located, ident: str | None) -> None:
        index = store.path[-1] if isinstance(store.path[-1], int) else 0

        def text(key: str) -> str:
            if key not in store.value:
                return ""
            return self.scalar_string(store.value_at(key), key) or ""

        bucket, endpoint, region = text("bucket"), text("endpoint"), text("region")
        if "insecure" in store.value:
            self.boolean(store.value_at("insecure"), "insecure")
        insecure = store.value.get("insecure") in (True, "true")

        if not bucket:
            self.error(
                store,
                "s3-bucket",
                "the s3 store has no 'bucket'; Qtap refuses to start ('bucket is required')",
                "set 'bucket' to the bucket that receives captured payloads",
            )
        else:
            reasons = bucket_name_problems(bucket)
            if reasons:
                self.error(
                    store.value_at("bucket"),
                    "s3-bucket-name",
                    f"{bucket!r} is not a valid S3 bucket name: {'; '.join(reasons)}",
                    "choose a name of 3-63 lowercase letters, digits, dots or hyphens",
                )

        endpoint_ok = True
        if endpoint and _SCHEME.match(endpoint):
            endpoint_ok = False
            self.error(
                store.value_at("endpoint"),
                "s3-endpoint-scheme",
                f"endpoint {endpoint!r} has a scheme; Qtap's S3 client (minio-go) takes host[:port] "
                "only and picks https unless 'insecure: true'",
                f"write endpoint: {_SCHEME.sub('', endpoint).rstrip('/')}",
            )
        elif "/" in endpoint:
            endpoint_ok = False
            self.error(
                store.value_at("endpoint"),
                "s3-endpoint-path",
                f"endpoint {endpoint!r} has a path; minio-go refuses endpoints with paths",
                "write the host[:port] only; the bucket goes in 'bucket'",
            )

        access = self.check_key_pair(store)
        aws_managed = endpoint_ok and is_aws_endpoint(endpoint)
        label = ident or f"object_stores[{index}]"

        self.check_access_url(store)

        effective_region = region or qs.DEFAULT_S3_REGION
        if aws_managed:
            named_region = endpoint_region(endpoint)
            if named_region and region and named_region != region:
                self.error(
                    store.value_at("region"),
                    "s3-region-mismatch",
                    f"region {region!r} disagrees with endpoint {endpoint!r}; requests would be "
                    "signed for the wrong region and refused",
                    f"set region: {named_region}",
                )
            elif named_region and not region:
                effective_region = named_region
            if not region and not named_region:
                self.warn(
                    store,
                    "s3-region-default",
                    f"the s3 store names no 'region'; Qtap signs for {qs.DEFAULT_S3_REGION}, so "
                    f"this stack creates the bucket in {qs.DEFAULT_S3_REGION}",
                    "set 'region' in Qplane to the region the bucket should live in",
                )
            if insecure:
                self.error(
                    store.value_at("insecure"),
                    "s3-insecure",
                    "'insecure: true' sends payloads to Amazon S3 over plain HTTP; the bucket this "
                    "stack creates denies non-TLS requests, so every upload would fail",
                    "set 'insecure: false'",
                )
            if access is None:
                self.error(
                    store,
                    "s3-aws-keys",
                    "this AWS s3 store has no access_key/secret_key; this stack creates a "
                    "PutObject-only key for the bucket and hands it to Qtap through them",
                    "add 'access_key: {type: env, value: S3_ACCESS_KEY}' and "
                    "'secret_key: {type: env, value: S3_SECRET_KEY}' in Qplane",
                )

        access_env, secret_env = access if access else (None, None)
        if aws_managed:
            self.retag_aws_keys(store, label)
        if bucket:
            self.s3_stores.append(
                S3Store(
                    index=index,
                    id=ident,
                    bucket=bucket,
                    region=effective_region,
                    endpoint=endpoint,
                    aws_managed=aws_managed,
                    access_key_env=access_env,
                    secret_key_env=secret_env,
                    yaml_path=store.rendered_path,
                    line=store.line,
                )
            )

    def check_key_pair(self, store: Located) -> tuple[str | None, str | None] | None:
        """Check access_key/secret_key; the env names when both are env references."""
        present = [key for key in ("access_key", "secret_key") if store.value.get(key) is not None]
        if len(present) == 1:
            missing = "secret_key" if present[0] == "access_key" else "access_key"
            self.error(
                store.child(present[0]),
                "s3-key-pair",
                f"the s3 store sets {present[0]} without {missing}; Qtap needs both or neither",
                f"add '{missing}: {{type: env, value: ...}}' or remove {present[0]}",
            )
        names: list[str | None] = []
        for key in ("access_key", "secret_key"):
            if store.value.get(key) is None:
                names.append(None)
                continue
            names.append(self.check_value_source(store.child(key), secret=True, role=None))
        if not present:
            return None
        return names[0], names[1]

    def retag_aws_keys(self, store: Located, label: str) -> None:
        """The key references of an AWS-managed store are sourced from this stack's IAM key."""
        roles = {
            "access_key": ReferenceRole.AWS_ACCESS_KEY_ID,
            "secret_key": ReferenceRole.AWS_SECRET_ACCESS_KEY,
        }
        prefix = store.rendered_path
        for i, ref in enumerate(self.references):
            for key, role in roles.items():
                if ref.yaml_path == f"{prefix}.{key}":
                    self.references[i] = EnvReference(
                        ref.name, role, ref.yaml_path, ref.line, ref.column, label
                    )

    def check_access_url(self, store: Located) -> None:
        if not store.value.get("access_url"):
            self.finding(store, qc.missing_access_url_finding(store.line, store.column))  # issue 9
            return
        at = store.value_at("access_url")
        url = self.scalar_string(at, "access_url") or ""
        names = [name.strip() for name in _PLACEHOLDER.findall(url)]
        unknown = sorted({name for name in names if name not in qs.ACCESS_URL_PLACEHOLDERS})
        if unknown:
            self.error(
                at,
                "s3-access-url",
                f"access_url uses placeholder(s) {', '.join('{{' + n + '}}' for n in unknown)}; Qtap "
                "replaces only {{SCHEME}}, {{ENDPOINT}}, {{BUCKET}} and {{DIGEST}} (case-sensitive) "
                "and leaves anything else in the link",
                "use only those four placeholders",
            )
        if "DIGEST" not in names:
            self.error(
                at,
                "s3-access-url",
                "access_url lacks {{DIGEST}}; every captured object would get the same link",
                "end the URL with /{{DIGEST}} (objects are stored under their digest)",
            )

    def check_qscan_service(self, qscan: Located) -> None:
        self.unknown_keys(qscan, qs.QSCAN_SERVICE_KEYS, "services.qscan")
        if "type" in qscan.value:
            at = qscan.value_at("type")
            kind = self.scalar_string(at, "type")
            if kind is not None and kind not in qs.QSCAN_SERVICE_TYPES:
                self.error(
                    at,
                    "store-type",
                    f"unknown qscan service type {kind!r}; Qtap silently falls back to the console",
                    f"use one of: {', '.join(sorted(qs.QSCAN_SERVICE_TYPES))}",
                )
        if "token" in qscan.value:
            self.check_value_source(qscan.child("token"), secret=True, role=None)

    def check_headers(self, headers: Located) -> None:
        if headers.value is None or not self.mapping(headers, "headers"):
            return
        for _, value in headers.items():
            self.check_value_source(value, secret=True, role=None)

    def check_otel_tls(self, tls: Located) -> None:
        if tls.value is None or not self.mapping(tls, "tls"):
            return
        self.unknown_keys(tls, qs.OTEL_TLS_KEYS, "tls")
        for key, child in tls.items():
            if key in qs.OTEL_TLS_KEYS:
                self.boolean(child, key)

    def check_value_source(
        self, at: Located, *, secret: bool, role: ReferenceRole | None
    ) -> str | None:
        """Check a ValueSource; record and return the env name if it is an env reference."""
        field_name = next((p for p in reversed(at.path) if isinstance(p, str)), "value")
        if at.path[-2:-1] == ("headers",):
            field_name = f"header {at.path[-1]!r}"
        example = "{type: env, value: NAME}"
        if not isinstance(at.value, dict):
            self.error(
                at,
                "value-source",
                f"{field_name} must be a reference like {example}, found {_describe(at.value)}"
                + (
                    "; a literal credential would be readable in the agent's ConfigMap"
                    if secret
                    else ""
                ),
                f"write {field_name} as {example} and provide the value as a secret",
            )
            return None
        self.unknown_keys(at, qs.VALUE_SOURCE_KEYS, field_name)
        kind = at.value.get("type")
        if kind is None:
            self.error(
                at,
                "value-source-type",
                f"{field_name} has no 'type'; Qtap resolves it to an empty string",
                f"write {example}",
            )
            return None
        if kind not in qs.VALUE_SOURCE_TYPES:
            self.error(
                at.value_at("type"),
                "value-source-type",
                f"{field_name} has type {kind!r}; Qtap knows only 'env' and 'text' and resolves "
                "anything else to an empty string",
                f"write {example}",
            )
            return None
        if kind == "text":
            if secret:
                self.error(
                    at.value_at("type"),
                    "secret-as-text",
                    f"{field_name} is a credential given as 'type: text'; the chart renders the "
                    "snapshot into a ConfigMap that anyone who can read the namespace can see",
                    f"in Qplane, change it to {example}; this stack then supplies the value "
                    "from a secret",
                )
            return None
        name = at.value.get("value")
        value_at = at.value_at("value") if "value" in at.value else at
        if not isinstance(name, str) or not qs.ENV_NAME.match(name):
            self.error(
                value_at,
                "env-name",
                f"{field_name} names env variable {name!r}, which is not a valid variable name",
                "use letters, digits and underscores, not starting with a digit (e.g. "
                "REGISTRATION_TOKEN)",
            )
            return None
        if name in qs.CHART_MANAGED_ENV:
            self.error(
                value_at,
                "env-name-reserved",
                f"{field_name} reads {name}, which the qtap chart sets itself; the agent would "
                "get two conflicting definitions",
                "pick another variable name in Qplane",
            )
            return None
        self.references.append(
            EnvReference(
                name,
                role or ReferenceRole.OTHER,
                at.rendered_path,
                value_at.line,
                value_at.column,
            )
        )
        return name

    def check_store_links(self, services: Located) -> None:
        """An object store's event_store selector must name an event store that exists."""
        stores = services.value.get("object_stores")
        if not isinstance(stores, list):
            return
        for store in services.child("object_stores").elements():
            if not isinstance(store.value, dict):
                continue
            selector = store.value.get("event_store")
            if not isinstance(selector, dict) or not selector.get("id"):
                continue
            ident = str(selector["id"])
            if ident not in self.event_store_ids:
                self.error(
                    store.child("event_store").value_at("id"),
                    "unknown-store-id",
                    f"event_store id {ident!r} names no event store",
                    f"use one of: {', '.join(sorted(self.event_store_ids)) or '(no event store has an id)'}",
                )

    # -- stacks and plugins -----------------------------------------------------------------

    def check_stacks(self, stacks: Located) -> set[str]:
        if stacks.value is None:
            return set()
        if not self.mapping(stacks, "stacks"):
            return set()
        for name, stack in stacks.items():
            if stack.value is None:
                continue
            if not self.mapping(stack, f"stack {name!r}"):
                continue
            self.unknown_keys(stack, qs.STACK_KEYS, f"stack {name!r}")
            if "plugins" in stack.value:
                plugins = stack.child("plugins")
                if plugins.value is not None and self.sequence(plugins, "plugins"):
                    for plugin in plugins.elements():
                        self.check_plugin(plugin)
        return {str(name) for name in stacks.value}

    def check_plugin(self, plugin: Located) -> None:
        if not self.mapping(plugin, "a plugin"):
            return
        self.unknown_keys(plugin, qs.PLUGIN_KEYS, "a plugin")
        if "type" not in plugin.value:
            self.error(
                plugin,
                "plugin-type",
                "the plugin has no 'type'; Qtap's validator rejects the config",
                f"set type to one of: {', '.join(sorted(qs.KNOWN_PLUGINS))}",
            )
            return
        kind = self.scalar_string(plugin.value_at("type"), "type")
        if kind is None:
            return
        if kind not in qs.KNOWN_PLUGINS:
            self.warn(
                plugin.value_at("type"),
                "plugin-unknown",
                f"unknown plugin type {kind!r}; this agent version may not provide it",
                f"check the spelling (known: {', '.join(sorted(qs.KNOWN_PLUGINS))})",
            )
            return
        if "config" not in plugin.value or plugin.value["config"] is None:
            return
        config = plugin.child("config")
        if not self.mapping(config, f"the {kind} plugin's config"):
            return
        known = qs.PLUGIN_CONFIG_KEYS.get(kind)
        if known is not None:
            self.unknown_keys(config, known, f"the {kind} plugin's config")
        rule_keys = qs.PLUGIN_RULE_KEYS.get(kind)
        if rule_keys is not None and isinstance(config.value.get("rules"), list):
            for rule in config.child("rules").elements():
                if self.mapping(rule, f"a {kind} rule"):
                    self.unknown_keys(rule, rule_keys, f"a {kind} rule")
                    if kind in qs.PLUGIN_RULE_EXPRESSIONS:  # issue 9 hook
                        self.rule_expression(rule, qs.PLUGIN_RULE_EXPRESSIONS[kind], kind)
                    if kind == "http_capture" and "level" in rule.value:
                        self.check_capture_level(rule.value_at("level"))
        if kind == "http_capture":
            self.check_http_capture(config)
        if kind == "qscan" and config.value.get("object_store_id"):
            self.check_object_store_ref(config.value_at("object_store_id"))

    def check_capture_level(self, at: Located) -> None:
        level = self.scalar_string(at, "level")
        if level is None:
            return
        if level in qs.LEGACY_CAPTURE_LEVELS:
            self.warn(
                at,
                "legacy-capture-level",
                f"capture level {level!r} is the legacy name of "
                f"{qs.LEGACY_CAPTURE_LEVELS[level]!r}",
                f"set the level to {qs.LEGACY_CAPTURE_LEVELS[level]!r} in Qplane",
            )
        elif level not in qs.CAPTURE_LEVELS:
            self.warn(
                at,
                "capture-level",
                f"unknown capture level {level!r}; Qtap captures nothing it does not recognise",
                f"use one of: {', '.join(sorted(qs.CAPTURE_LEVELS))}",
            )

    def check_http_capture(self, config: Located) -> None:
        if "level" in config.value:
            self.check_capture_level(config.value_at("level"))
        selector = config.value.get("object_store")
        if isinstance(selector, dict):
            at = config.child("object_store")
            self.unknown_keys(at, qs.OBJECT_STORE_SELECTOR_KEYS, "object_store")
            if selector.get("id"):
                self.check_object_store_ref(at.value_at("id"))
        elif selector is not None:
            self.mapping(config.child("object_store"), "object_store")

    def check_object_store_ref(self, at: Located) -> None:
        # Object stores are checked before stacks, so every declared id is known here.
        ident = str(at.value)
        if ident not in self.object_store_ids:
            self.error(
                at,
                "unknown-store-id",
                f"object store id {ident!r} names no object store; the plugin would have "
                "nowhere to write captured payloads",
                f"use one of: {', '.join(sorted(self.object_store_ids)) or '(no object store has an id)'}",
            )

    # -- tap --------------------------------------------------------------------------------

    def check_tap(self, tap: Located, stack_names: set[str]) -> None:
        if tap.value is None or not self.mapping(tap, "tap"):
            return
        self.unknown_keys(tap, qs.TAP_KEYS, "tap")
        if "direction" in tap.value:
            at = tap.value_at("direction")
            direction = self.scalar_string(at, "direction")
            if direction is not None and direction not in qs.TAP_DIRECTIONS:
                self.warn(
                    at,
                    "tap-direction",
                    f"unknown direction {direction!r}; Qtap does not validate it and may capture "
                    "nothing",
                    f"use one of: {', '.join(sorted(qs.TAP_DIRECTIONS))}",
                )
        for flag in ("ignore_loopback", "audit_include_dns"):
            if flag in tap.value:
                self.boolean(tap.value_at(flag), flag)
        for protocol in qs.ALL_TAP_PROTOCOLS:
            if protocol in tap.value:
                self.check_protocol(tap.child(protocol), stack_names)
                if protocol in qs.LEGACY_TAP_PROTOCOLS:  # issue 9 hook
                    at = tap.child(protocol)
                    self.finding(at, qc.legacy_protocol_finding(protocol, at.line, at.column))
        if "endpoints" in tap.value:
            endpoints = tap.child("endpoints")
            if endpoints.value is not None and self.sequence(endpoints, "tap.endpoints"):
                for endpoint in endpoints.elements():
                    self.check_endpoint(endpoint, stack_names)
        if "filters" in tap.value:
            self.check_filters(tap.child("filters"))

    def check_protocol(self, block: Located, stack_names: set[str]) -> None:
        if block.value is None or not self.mapping(block, block.rendered_path):
            return
        self.unknown_keys(block, qs.TAP_PROTOCOL_KEYS, block.rendered_path)
        if "stack" not in block.value:
            return
        at = block.value_at("stack")
        name = self.scalar_string(at, "stack")
        if name is None or name in qs.NO_STACK:
            return
        if name not in stack_names:
            self.error(
                at,
                "unknown-stack",
                f"stack {name!r} is not defined under 'stacks'; this traffic would get no plugins",
                f"use one of: {', '.join(sorted(stack_names)) or '(no stacks defined)'}, or 'none'",
            )

    def check_endpoint(self, endpoint: Located, stack_names: set[str]) -> None:
        if not self.mapping(endpoint, "a tap endpoint"):
            return
        self.unknown_keys(endpoint, qs.TAP_ENDPOINT_KEYS, "a tap endpoint")
        domain = endpoint.value.get("domain")
        if not domain:
            self.error(
                endpoint,
                "endpoint-domain",
                "the endpoint has no 'domain'; Qtap's validator rejects the config",
                "set 'domain' to the host name this rule applies to",
            )
        else:  # issue 9 hook: go-playground's `hostname` rule, which Qtap applies
            at = endpoint.value_at("domain")
            self.finding(at, qc.endpoint_domain_finding(str(domain), at.line, at.column))
        for protocol in qs.ALL_TAP_PROTOCOLS:
            if protocol in endpoint.value:
                self.check_protocol(endpoint.child(protocol), stack_names)
                if protocol in qs.LEGACY_TAP_PROTOCOLS:  # issue 9 hook
                    at = endpoint.child(protocol)
                    self.finding(at, qc.legacy_protocol_finding(protocol, at.line, at.column))

    def check_filters(self, filters: Located) -> None:
        if filters.value is None or not self.mapping(filters, "tap.filters"):
            return
        self.unknown_keys(filters, qs.TAP_FILTER_KEYS, "tap.filters")
        groups = filters.value.get("groups")
        if groups is not None and self.sequence(filters.child("groups"), "filters.groups"):
            for group in filters.child("groups").elements():
                if group.value in qs.FILTER_GROUPS:
                    continue
                hint = (
                    "write 'container-runtimes' (Qpoint's docs say 'container', which Qtap does "
                    "not know)"
                    if group.value == "container"
                    else f"use one of: {', '.join(sorted(qs.FILTER_GROUPS))}"
                )
                self.warn(
                    group,
                    "filter-group",
                    f"unknown filter group {group.value!r}; Qtap ignores it silently, so those "
                    "processes are not filtered",
                    hint,
                )
        custom = filters.value.get("custom")
        if custom is not None and self.sequence(filters.child("custom"), "filters.custom"):
            for rule in filters.child("custom").elements():
                self.check_custom_filter(rule)

    def check_custom_filter(self, rule: Located) -> None:
        if not self.mapping(rule, "a custom filter"):
            return
        self.unknown_keys(rule, qs.TAP_CUSTOM_FILTER_KEYS, "a custom filter")
        if not rule.value.get("exe"):
            self.error(
                rule,
                "filter-exe",
                "the custom filter has no 'exe'; Qtap rejects it ('exe must not be empty')",
                "set 'exe' to the executable to filter",
            )
        strategy = rule.value.get("strategy")
        if strategy is not None and strategy not in qs.FILTER_STRATEGIES:
            self.warn(
                rule.value_at("strategy"),
                "filter-strategy",
                f"unknown match strategy {strategy!r}; the filter may never match",
                f"use one of: {', '.join(sorted(qs.FILTER_STRATEGIES))}",
            )
        only = rule.value.get("only")
        if only is not None and self.sequence(rule.child("only"), "only"):
            for level in rule.child("only").elements():
                if level.value not in qs.FILTER_LEVELS:
                    self.error(
                        level,
                        "filter-only",
                        f"unknown filter level {level.value!r}; Qtap rejects the filter "
                        "('invalid filter')",
                        f"use any of: {', '.join(sorted(qs.FILTER_LEVELS))}",
                    )

    # -- tags, control, rulekit ------------------------------------------------------------

    def check_tags(self, tags: Located) -> None:
        if tags.value is None or not self.sequence(tags, "tags"):
            return
        for tag in tags.elements():
            if not self.mapping(tag, "a tag"):
                continue
            self.unknown_keys(tag, qs.TAG_KEYS, "a tag")
            for key in sorted(qs.TAG_KEYS):
                if not tag.value.get(key):
                    self.error(
                        tag,
                        "tag-field",
                        f"the tag has no {key!r}; Qtap's validator rejects the config",
                        f"set {key!r} in Qplane's tag settings",
                    )
            source = tag.value.get("source")
            if source and source not in qs.TAG_SOURCES:
                self.error(
                    tag.value_at("source"),
                    "tag-source",
                    f"tag source {source!r} is not one Qtap accepts",
                    f"use one of: {', '.join(sorted(qs.TAG_SOURCES))}",
                )

    def check_control(self, control: Located) -> None:
        if control.value is None or not self.mapping(control, "control"):
            return
        self.unknown_keys(control, qs.CONTROL_KEYS, "control")
        default = control.value.get("default")
        if default and str(default).lower() not in qs.CONTROL_DEFAULT_ACTIONS:
            self.error(
                control.value_at("default"),
                "control-default",
                f"control default {default!r} is not accepted; Qtap supports only 'allow'",
                "set 'default: allow' and express denials as rules",
            )
        rules = control.value.get("rules")
        if rules is None or not self.sequence(control.child("rules"), "control.rules"):
            return
        for rule in control.child("rules").elements():
            if not self.mapping(rule, "a control rule"):
                continue
            self.unknown_keys(rule, qs.CONTROL_RULE_KEYS, "a control rule")
            for key in ("name", "expr"):
                if not rule.value.get(key):
                    self.error(
                        rule,
                        "control-rule",
                        f"the control rule has no {key!r}; Qtap's validator rejects the config",
                        f"set {key!r}",
                    )
            self.rule_expression(rule, "expr", "control")  # issue 9 hook
            actions = rule.value.get("actions")
            if isinstance(actions, list):
                for action in rule.child("actions").elements():
                    if str(action.value).lower() not in qs.CONTROL_ACTIONS:
                        self.error(
                            action,
                            "control-action",
                            f"control action {action.value!r} is not 'allow' or 'deny'",
                            "use allow or deny",
                        )

    def check_rulekit(self, rulekit: Located) -> None:
        if rulekit.value is None or not self.mapping(rulekit, "rulekit"):
            return
        self.unknown_keys(rulekit, qs.RULEKIT_KEYS, "rulekit")
        macros = rulekit.value.get("macros")
        if macros is None or not self.sequence(rulekit.child("macros"), "rulekit.macros"):
            return
        seen: set[str] = set()
        for macro in rulekit.child("macros").elements():
            if not self.mapping(macro, "a rulekit macro"):
                continue
            self.unknown_keys(macro, qs.RULEKIT_MACRO_KEYS, "a rulekit macro")
            name = macro.value.get("name")
            if not name or not macro.value.get("expr"):
                self.error(
                    macro,
                    "rulekit-macro",
                    "the macro needs both 'name' and 'expr'; Qtap's validator rejects the config",
                    "set both",
                )
            elif name in seen:
                self.error(
                    macro.value_at("name"),
                    "rulekit-macro",
                    f"macro name {name!r} is used twice; Qtap requires unique macro names",
                    "rename one of them in Qplane",
                )
            else:
                seen.add(str(name))
                at = macro.value_at("name")  # issue 9 hooks: name conflicts, expression
                self.finding(at, qc.macro_name_finding(str(name), at.line, at.column))
            self.rule_expression(macro, "expr", "macro")

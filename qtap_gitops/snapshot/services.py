"""`services`: event stores, object stores (s3 above all) and the qscan service."""

from __future__ import annotations

import re
import urllib.parse

from .. import qtap_conformance as qc
from .. import qtap_schema as qs
from ..aws_names import (
    bucket_name_problems,
    endpoint_problem,
    endpoint_region,
    is_aws_endpoint,
    is_region,
)
from ..yamlsource import View, quote
from .model import (
    Context,
    EnvReference,
    ReferenceRole,
    S3Store,
    one_of,
    report_finding,
    text_of,
    unknown_keys,
)
from .references import check_headers, check_value_source

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://", re.ASCII)


def check_services(ctx: Context, services: View) -> None:
    unknown_keys(services, qs.SERVICES_KEYS, "services")
    stores = services.get("event_stores")
    if stores is not None and stores.optional_sequence("services.event_stores"):
        seen: dict[str, View] = {}
        for store in services.child("event_stores").elements():
            check_event_store(ctx, store, seen)
    stores = services.get("object_stores")
    if stores is not None and stores.optional_sequence("services.object_stores"):
        seen = {}
        for store in services.child("object_stores").elements():
            check_object_store(ctx, store, seen)
    qscan = services.get("qscan")
    if qscan is not None and qscan.optional_mapping("services.qscan"):
        check_qscan_service(ctx, services.child("qscan"))


def store_type(
    store: View,
    known: dict[str, frozenset[str]],
    what: str,
    legacy: dict[str, frozenset[str]] | None = None,
) -> str | None:
    """The store's type; `legacy` types are accepted too, but never suggested."""
    legacy = legacy or {}
    at = store.get("type")
    if at is None:
        store.error(
            "store-type",
            f"the {what} has no 'type'; Qtap requires one",
            f"set type to one of: {one_of(known)}",
        )
        return None
    kind = at.string("type")
    if kind is None:
        return None
    if kind not in known and kind not in legacy:
        at.error(
            "store-type",
            f"unknown {what} type {quote(kind)}; Qtap silently falls back to the console store "
            "and nothing reaches its destination",
            f"use one of: {one_of(known)}",
        )
        return None
    return kind


def store_id(store: View, seen: dict[str, View], what: str) -> str | None:
    at = store.get("id")
    if at is None:
        return None
    ident = at.string("id")
    if not ident:
        return None
    if ident in seen:
        at.error(
            "duplicate-store-id",
            f"{what} id {quote(ident)} is already used at line {seen[ident].line}; plugins and "
            "selectors could reach the wrong store",
            "give every store a distinct id",
        )
    else:
        seen[ident] = at
    return ident


def check_event_store(ctx: Context, store: View, seen: dict[str, View]) -> None:
    if not store.mapping("an event store"):
        return
    kind = store_type(store, qs.EVENT_STORE_KEYS, "event store", qs.LEGACY_EVENT_STORE_KEYS)
    ident = store_id(store, seen, "event store")
    if ident:
        ctx.event_store_ids.add(ident)
    if kind is None:
        return
    if kind in qs.LEGACY_EVENT_STORE_TYPES:
        at = store.value_at("type")
        report_finding(at, qc.legacy_event_store_finding(kind, at.line, at.column))
    known = {**qs.EVENT_STORE_KEYS, **qs.LEGACY_EVENT_STORE_KEYS}[kind]
    if kind == "pulse":
        known = known | {"endpoint"}  # reported by check_pulse with a precise fix
    unknown_keys(store, known, f"a {kind} event store")
    if kind == "pulse":
        ctx.has_pulse_store = True
        check_pulse(store)
    for key in ("token", "dataset"):
        if store.has(key):
            role = ReferenceRole.PULSE_TOKEN if kind == "pulse" and key == "token" else None
            if key == "token" and kind in qs.LEGACY_EVENT_STORE_TYPES:
                role = ReferenceRole.QPOINT_TOKEN
            check_value_source(ctx, store.child(key), secret=key == "token", role=role)
    if store.has("headers"):
        check_headers(ctx, store.child("headers"))
    if store.has("tls"):
        check_otel_tls(store.child("tls"))
    flag = store.get("allow_insecure")
    if flag is not None:
        flag.boolean("allow_insecure")


def check_pulse(store: View) -> None:
    if store.present("token") is None:
        store.error(
            "pulse-token",
            "the pulse event store has no 'token'; Qtap refuses to start "
            "('eventstore token is empty')",
            "add 'token: {type: env, value: REGISTRATION_TOKEN}'",
        )
    if store.has("endpoint"):
        goes_to = "its 'url'" if store.has("url") else "https://api-pulse.qpoint.io"
        store.child("endpoint").warn(
            "pulse-endpoint",
            f"the pulse store sets 'endpoint', which pulse ignores (it reads 'url'); events "
            f"go to {goes_to}",
            "rename 'endpoint' to 'url' (Qpoint's storage docs show 'endpoint', but the "
            "pulse store reads 'url')",
        )
    at = store.get("url")
    if at is None:
        return
    url = at.string("url") or ""
    flag = store.get("allow_insecure")
    insecure = bool(flag.boolean("allow_insecure")) if flag is not None else False
    if not url:
        return
    problem = _url_problem(url, allow_http=insecure)
    if problem:
        at.error(
            "pulse-url",
            f"the pulse url {quote(url)} {problem}",
            "use the https:// address Qplane exported",
        )


def _url_problem(url: str, *, allow_http: bool) -> str | None:
    if url != url.strip() or any(c.isspace() for c in url):
        return "contains spaces"
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "is not a valid URL"
    if parts.scheme == "http" and not allow_http:
        return "is not https; Qtap accepts plain HTTP only with 'allow_insecure: true'"
    if parts.scheme not in ("https", "http"):
        return "is not an https:// URL"
    if not parts.hostname:
        return "names no host"
    return None


def check_object_store(ctx: Context, store: View, seen: dict[str, View]) -> None:
    if not store.mapping("an object store"):
        return
    kind = store_type(store, qs.OBJECT_STORE_KEYS, "object store")
    ident = store_id(store, seen, "object store")
    if ident:
        ctx.object_store_ids.add(ident)
    if kind is None:
        return
    unknown_keys(store, qs.OBJECT_STORE_KEYS[kind], f"a {kind} object store")
    selector = store.get("event_store")
    if selector is not None and selector.optional_mapping("event_store"):
        unknown_keys(store.child("event_store"), qs.EVENT_STORE_SELECTOR_KEYS, "event_store")
    if kind == "s3":
        check_s3(ctx, store, ident)
        return
    if store.has("token"):
        role = ReferenceRole.QPOINT_TOKEN if kind == "qpoint" else None
        check_value_source(ctx, store.child("token"), secret=True, role=role)
    if store.has("headers"):
        check_headers(ctx, store.child("headers"))
    if store.has("tls"):
        check_otel_tls(store.child("tls"))


def check_s3(ctx: Context, store: View, ident: str | None) -> None:
    index = store.path[-1] if isinstance(store.path[-1], int) else 0
    bucket = text_of(store.get("bucket"), "bucket") or ""
    endpoint_text = text_of(store.get("endpoint"), "endpoint")
    endpoint = endpoint_text or ""
    region = text_of(store.get("region"), "region") or ""
    insecure_at = store.get("insecure")
    insecure = bool(insecure_at.boolean("insecure")) if insecure_at is not None else False

    _check_bucket(store, bucket)
    endpoint_usable = _check_endpoint(store, endpoint)
    endpoint_ok = endpoint_text is not None and endpoint_usable
    access = check_key_pair(ctx, store)
    aws_managed = endpoint_ok and is_aws_endpoint(endpoint)
    label = ident or f"object_stores[{index}]"

    check_access_url(store)

    effective_region = region or qs.DEFAULT_S3_REGION
    if aws_managed:
        aws_managed, effective_region = _check_aws_region(store, endpoint, region)
        if insecure and insecure_at is not None:
            _refuse_aws_insecure(insecure_at)
        # An AWS store without access_key/secret_key is keyless (Qtap uses the AWS
        # credential chain): valid here, with access_key_env/secret_key_env None. Whether
        # the stack serves it with a workload identity is checked against the settings
        # (qtap_gitops/identity.py check_identity, code s3-aws-keys).

    access_env, secret_env = access if access else (None, None)
    if aws_managed:
        retag_aws_keys(ctx, store, label)
    if bucket:
        ctx.s3_stores.append(
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
                column=store.column,
            )
        )


def _check_bucket(store: View, bucket: str) -> None:
    if not bucket:
        store.error(
            "s3-bucket",
            "the s3 store has no 'bucket'; Qtap refuses to start ('bucket is required')",
            "set 'bucket' to the bucket that receives captured payloads",
        )
        return
    reasons = bucket_name_problems(bucket)
    if reasons:
        store.value_at("bucket").error(
            "s3-bucket-name",
            f"{quote(bucket)} is not a valid S3 bucket name: {'; '.join(reasons)}",
            "choose a name of 3-63 lowercase letters, digits, dots or hyphens",
        )


def _check_endpoint(store: View, endpoint: str) -> bool:
    """Whether `endpoint` is a usable host[:port] (an empty one is: Qtap's default)."""
    if endpoint and _SCHEME.match(endpoint):
        store.value_at("endpoint").error(
            "s3-endpoint-scheme",
            f"endpoint {quote(endpoint)} has a scheme; Qtap's S3 client (minio-go) takes "
            "host[:port] only and picks https unless 'insecure: true'",
            f"write endpoint: {_SCHEME.sub('', endpoint, count=1).rstrip('/')}",
        )
        return False
    if "/" in endpoint:
        store.value_at("endpoint").error(
            "s3-endpoint-path",
            f"endpoint {quote(endpoint)} has a path; minio-go refuses endpoints with paths",
            "write the host[:port] only; the bucket goes in 'bucket'",
        )
        return False
    reason = endpoint_problem(endpoint)
    if reason is not None:
        store.value_at("endpoint").error(
            "s3-endpoint-host",
            f"endpoint {quote(endpoint)} is not a usable S3 endpoint: {reason}",
            "write the exact host[:port] of the S3 service, e.g. s3.eu-west-1.amazonaws.com "
            "for Amazon S3 or minio.example.com:9000 for another S3 service",
        )
        return False
    return True


def _check_aws_region(store: View, endpoint: str, region: str) -> tuple[bool, str]:
    """(still AWS-managed, the region Qtap signs for) of a store on an Amazon S3 endpoint."""
    aws_managed = True
    effective_region = region or qs.DEFAULT_S3_REGION
    named_region = endpoint_region(endpoint)
    if region and not is_region(region):
        aws_managed = False
        store.value_at("region").error(
            "s3-region",
            f"region {quote(region)} is not an AWS region name",
            "write the region the bucket lives in, e.g. eu-west-1",
        )
    elif named_region and region and named_region != region:
        store.value_at("region").error(
            "s3-region-mismatch",
            f"region {quote(region)} disagrees with endpoint {quote(endpoint)}; requests "
            "would be signed for the wrong region and refused",
            f"set region: {named_region}",
        )
    elif named_region and not region:
        effective_region = named_region
    if not region and not named_region:
        store.warn(
            "s3-region-default",
            f"the s3 store names no 'region'; Qtap signs for {qs.DEFAULT_S3_REGION}, so "
            f"this stack creates the bucket in {qs.DEFAULT_S3_REGION}",
            "set 'region' in Qplane to the region the bucket should live in",
        )
    return aws_managed, effective_region


def _refuse_aws_insecure(insecure_at: View) -> None:
    insecure_at.error(
        "s3-insecure",
        f"'insecure: {insecure_at.node.text}' is read by Qtap as true and sends payloads "
        "to Amazon S3 over plain HTTP; the bucket this stack creates denies non-TLS "
        "requests, so every upload would fail",
        "set 'insecure: false'",
    )


def check_key_pair(ctx: Context, store: View) -> tuple[str | None, str | None] | None:
    """Check access_key/secret_key; the env names when both are env references."""
    present = [key for key in ("access_key", "secret_key") if store.present(key) is not None]
    if len(present) == 1:
        missing = "secret_key" if present[0] == "access_key" else "access_key"
        store.child(present[0]).error(
            "s3-key-pair",
            f"the s3 store sets {present[0]} without {missing}; Qtap needs both or neither",
            f"add '{missing}: {{type: env, value: ...}}' or remove {present[0]}",
        )
    names: list[str | None] = []
    for key in ("access_key", "secret_key"):
        if store.present(key) is None:
            names.append(None)
            continue
        names.append(check_value_source(ctx, store.child(key), secret=True, role=None))
    if not present:
        return None
    return names[0], names[1]


def retag_aws_keys(ctx: Context, store: View, label: str) -> None:
    """The key references of an AWS-managed store are sourced from this stack's IAM key."""
    roles = {
        "access_key": ReferenceRole.AWS_ACCESS_KEY_ID,
        "secret_key": ReferenceRole.AWS_SECRET_ACCESS_KEY,
    }
    prefix = store.rendered_path
    for i, ref in enumerate(ctx.references):
        for key, role in roles.items():
            if ref.yaml_path == f"{prefix}.{key}":
                ctx.references[i] = EnvReference(
                    ref.name, role, ref.yaml_path, ref.line, ref.column, label
                )


def check_access_url(store: View) -> None:
    at = store.present("access_url")
    url = at.string("access_url") if at is not None else ""
    if at is None or url == "":
        report_finding(store, qc.missing_access_url_finding(store.line, store.column))
        return
    if url is None:
        return
    names = [name.strip() for name in _PLACEHOLDER.findall(url)]
    unknown = sorted({name for name in names if name not in qs.ACCESS_URL_PLACEHOLDERS})
    if unknown:
        shown = ", ".join(quote("{{" + n + "}}", 40) for n in unknown[:5])
        at.error(
            "s3-access-url",
            f"access_url uses placeholder(s) {shown}; Qtap replaces only {{{{SCHEME}}}}, "
            "{{ENDPOINT}}, {{BUCKET}} and {{DIGEST}} (case-sensitive) and leaves anything else "
            "in the link",
            "use only those four placeholders",
        )
    if "DIGEST" not in names:
        at.error(
            "s3-access-url",
            "access_url lacks {{DIGEST}}; every captured object would get the same link",
            "end the URL with /{{DIGEST}} (objects are stored under their digest)",
        )


def check_qscan_service(ctx: Context, qscan: View) -> None:
    unknown_keys(qscan, qs.QSCAN_SERVICE_KEYS, "services.qscan")
    at = qscan.get("type")
    if at is not None:
        kind = at.string("type")
        if kind is not None and kind not in qs.QSCAN_SERVICE_TYPES:
            at.error(
                "store-type",
                f"unknown qscan service type {quote(kind)}; Qtap silently falls back to the "
                "console",
                f"use one of: {one_of(qs.QSCAN_SERVICE_TYPES)}",
            )
    if qscan.has("token"):
        role = ReferenceRole.QPOINT_TOKEN
        check_value_source(ctx, qscan.child("token"), secret=True, role=role)


def check_otel_tls(tls: View) -> None:
    if not tls.optional_mapping("tls"):
        return
    unknown_keys(tls, qs.OTEL_TLS_KEYS, "tls")
    for key, child in tls.items():
        if key in qs.OTEL_TLS_KEYS:
            tls.value_at(key).boolean(key)
        del child


def check_store_links(ctx: Context, services: View) -> None:
    """An object store's event_store selector must name an event store that exists."""
    stores = services.get("object_stores")
    if stores is None or not stores.is_sequence:
        return
    for store in services.child("object_stores").elements():
        selector = store.get("event_store")
        if selector is None or not selector.is_mapping:
            continue
        at = selector.present("id")
        if at is None or at.node.kind != "scalar":
            continue
        ident = at.node.text
        if ident not in ctx.event_store_ids:
            at.error(
                "unknown-store-id",
                f"event_store id {quote(ident)} names no event store",
                f"use one of: {one_of(ctx.event_store_ids) or '(no event store has an id)'}",
            )

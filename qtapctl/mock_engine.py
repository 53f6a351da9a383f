"""Run the real Pulumi program of a stack under Pulumi's mock engine, and record what it does.

No Pulumi CLI, cloud account or cluster is involved: the program runs in-process against
`pulumi.runtime.MockMonitor`, which this module extends to record every registration with the
facts a reviewer or a test needs (inputs with their secret parts marked, parent, explicit and
implicit dependencies, protection) and to capture the stack outputs and log lines.

Each run happens in a fresh `contextvars.Context`, so runs in one process never share the
program's root stack, configuration or outputs.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import logging
import os
import runpy
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks

from .pulumi_adapter import discard_pending_outputs, resolve, run_under_mocks, stack_exports

PROJECT = "qtap"
# The organization of stacks in the Pulumi Cloud: the DIY backends name it `organization`.
ORGANIZATION = "organization"

_SIG = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

REDACTED = "[secret]"


@dataclass(frozen=True)
class Secret:
    """A value the program marked secret."""

    value: Any


class Unknown:
    def __repr__(self) -> str:
        return "<unknown>"


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        sig = value.get(_SIG)
        if sig == _SECRET_SIG:
            return Secret(_decode(value.get("value")))
        if sig == _RESOURCE_SIG:
            return {"urn": value.get("urn"), "id": value.get("id")}
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value == _UNKNOWN:
        return Unknown()
    return value


def _encode(value: Any) -> Any:
    """`value` as the engine sends it: a `Secret` as the RPC's secret wrapper."""
    if isinstance(value, Secret):
        return {_SIG: _SECRET_SIG, "value": _encode(value.value)}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    return value


def reveal(value: Any) -> Any:
    """`value` with every secret replaced by its plaintext (for tests that prove wiring)."""
    if isinstance(value, Secret):
        return reveal(value.value)
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def redact(value: Any) -> Any:
    """`value` with every secret replaced by `REDACTED` (for anything shown to people)."""
    if isinstance(value, Secret):
        return REDACTED
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


@dataclass(frozen=True)
class Registration:
    """One resource (custom or component) the program registered."""

    type: str
    name: str
    urn: str
    parent: str | None
    custom: bool
    inputs: Mapping[str, Any]
    dependencies: tuple[str, ...]
    property_dependencies: Mapping[str, tuple[str, ...]]
    protect: bool
    retain_on_delete: bool
    additional_secret_outputs: tuple[str, ...]
    provider: str | None = None
    """The provider reference (`urn::id`) the resource names; None means a default provider."""
    delete_before_replace: bool = False
    replacement_trigger: Any = None
    aliases: tuple[str, ...] = ()
    """Former URNs of the resource (alias URNs the program gave)."""


@dataclass
class ProgramRun:
    stack: str
    registrations: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    """Stack outputs; secret ones are wrapped in `Secret`."""
    logs: list[tuple[str, str]] = field(default_factory=list)
    error: BaseException | None = None
    component_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """What each component passed to `register_outputs`, by URN (secret parts as `Secret`)."""

    def of_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_token]

    def one(self, type_token: str) -> Registration:
        found = self.of_type(type_token)
        if len(found) != 1:
            raise AssertionError(f"expected one {type_token}, found {len(found)}")
        return found[0]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.registrations if r.urn == urn)

    def custom_resources(self) -> list[Registration]:
        return [r for r in self.registrations if r.custom]


class FakeCloud(pulumi_mocks.Mocks):
    """Answers the engine as a provider would, with stable fake values.

    `secret_values` lets a test choose the values of generated credentials (sentinels), which
    the hygiene tests then hunt for in everything that should not contain them.

    `stack_outputs` are the outputs of other stacks, by fully qualified name
    (`<org>/<project>/<stack>`), for the program's `pulumi.StackReference`s; a value wrapped
    in `Secret` is a secret output. A reference to a stack not listed fails, as the engine
    fails for a stack that does not exist.
    """

    def __init__(
        self,
        access_key_id: Callable[[str], str] | None = None,
        secret_access_key: Callable[[str], str] | None = None,
        *,
        preview: bool = False,
        stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        # The outputs of other stacks, by full StackReference name `<org>/<project>/<stack>`;
        # a value wrapped in `Secret` is a secret output of that stack.
        self.stack_outputs = dict(stack_outputs or {})
        # In a preview, what a provider only learns on creation (a new key's id and secret)
        # is unknown; leaving it out of the answer makes the engine treat it so.
        self.preview = preview
        self.access_key_id = access_key_id or (
            lambda name: "AKIA" + hashlib.sha256(name.encode()).hexdigest()[:16].upper()
        )
        self.secret_access_key = secret_access_key or (
            lambda name: "mock/" + hashlib.sha256(("secret:" + name).encode()).hexdigest()[:35]
        )
        # Vault KV v2 bumps a secret's version on every write of new data; one FakeCloud used
        # for several runs remembers what it holds, like the real Vault between two `pulumi up`.
        self.kv_secrets: dict[str, tuple[Any, int]] = {}
        self.stack_outputs = dict(stack_outputs or {})

    def new_resource(
        self, args: pulumi_mocks.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        if args.typ == "pulumi:pulumi:StackReference":
            return self._stack_reference(args.resource_id or inputs.get("name") or args.name)
        if args.typ == "aws:s3/bucket:Bucket":
            bucket = inputs.get("bucket", args.name)
            return bucket, {**inputs, "arn": f"arn:aws:s3:::{bucket}", "bucket": bucket}
        if args.typ == "aws:iam/user:User":
            user = inputs.get("name", args.name)
            return user, {
                **inputs,
                "arn": f"arn:aws:iam::123456789012:user{inputs.get('path', '/')}{user}",
                "uniqueId": "AIDA" + hashlib.sha256(user.encode()).hexdigest()[:16].upper(),
            }
        if args.typ == "aws:iam/role:Role":
            role = inputs.get("name", args.name)
            if self.preview:  # the ARN is known once the role exists
                return "", inputs
            return role, {
                **inputs,
                "arn": f"arn:aws:iam::123456789012:role{inputs.get('path', '/')}{role}",
                "uniqueId": "AROA" + hashlib.sha256(role.encode()).hexdigest()[:16].upper(),
            }
        if args.typ == "vault:kv/secretV2:SecretV2":
            path = f"{inputs.get('mount')}/data/{inputs.get('name')}"
            if self.preview:
                # The provider reads the version back after the write: unknown in a preview.
                return path, {**inputs, "path": path}
            data, version = self.kv_secrets.get(path, (None, 0))
            if data != inputs.get("dataJson"):
                version += 1
                self.kv_secrets[path] = (inputs.get("dataJson"), version)
            return path, {**inputs, "path": path, "metadata": {"version": str(version)}}
        if args.typ == "aws:iam/accessKey:AccessKey":
            if self.preview:
                return "", {**inputs, "status": "Active"}
            return self.access_key_id(args.name), {
                **inputs,
                "secret": self.secret_access_key(args.name),
                "status": "Active",
            }
        # -- secrets backends: the sealing key the random provider generates
        if args.typ == "random:index/randomBytes:RandomBytes":
            if self.preview:
                return "", inputs
            key = hashlib.sha256(("sealing-key:" + args.name).encode()).digest()
            return f"{args.name}-id", {
                **inputs,
                "base64": base64.b64encode(key).decode(),
                "hex": key.hex(),
            }
        # -- end secrets backends
        return f"{args.name}-id", inputs

    def _stack_reference(self, name: str) -> tuple[str, dict[str, Any]]:
        """The state the engine's built-in provider reads for a StackReference: the stack's
        `outputs` (secret ones as secrets) and `secretOutputNames` (pulumi/stack_reference.py
        reads these properties; pulumi/pulumi pkg/resource/deploy/builtins.go writes them)."""
        if name not in self.stack_outputs:
            known = ", ".join(sorted(self.stack_outputs)) or "none"
            raise ValueError(f"unknown stack {name!r} (stack outputs given for: {known})")
        outputs = self.stack_outputs[name]
        secret_names = sorted(key for key, value in outputs.items() if isinstance(value, Secret))
        return name, {
            "name": name,
            "outputs": {key: _encode(value) for key, value in outputs.items()},
            "secretOutputNames": secret_names,
        }

    def call(
        self, args: pulumi_mocks.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi_mocks.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []
        self.component_outputs: dict[str, dict[str, Any]] = {}

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 (the engine's RPC name)
        outputs = _decode(json_format.MessageToDict(request.outputs))
        self.component_outputs[request.urn] = outputs
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (the engine's RPC name)
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == "pulumi:pulumi:Stack":
            return response
        inputs = _decode(json_format.MessageToDict(request.object))
        self.registrations.append(
            Registration(
                type=request.type,
                name=request.name,
                urn=response.urn,
                parent=request.parent or None,
                custom=bool(request.custom),
                inputs=inputs,
                dependencies=tuple(request.dependencies),
                property_dependencies={
                    key: tuple(deps.urns) for key, deps in request.propertyDependencies.items()
                },
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                additional_secret_outputs=tuple(request.additionalSecretOutputs),
                provider=request.provider or None,
                delete_before_replace=bool(request.deleteBeforeReplace),
                replacement_trigger=_decode(json_format.MessageToDict(request.replacement_trigger))
                if request.HasField("replacement_trigger")
                else None,
                aliases=tuple(a.urn for a in request.aliases if a.urn) + tuple(request.aliasURNs),
            )
        )
        return response


class _LogCollector(logging.Handler):
    def __init__(self, sink: list[tuple[str, str]]) -> None:
        # The program's own messages (pulumi.log.warn/error); the SDK's debug chatter is noise.
        super().__init__(logging.INFO)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append((record.levelname.lower(), record.getMessage()))


async def _resolve(value: Any) -> Any:
    output = pulumi.Output.from_input(value)
    resolved = await output.future()
    if await output.is_secret():
        return Secret(resolved)
    return resolved


def run_program(
    project_dir: Path,
    stack: str,
    config: Mapping[str, str],
    secret_keys: frozenset[str] | set[str] = frozenset(),
    cloud: pulumi_mocks.Mocks | None = None,
    program: Path | None = None,
    *,
    preview: bool = False,
) -> ProgramRun:
    """Run the Pulumi program for `stack` with `config`, as `pulumi up` would in `project_dir`.

    The program is `project_dir/__main__.py` unless `program` names another file; it runs with
    `project_dir` as working directory, as the Pulumi CLI runs it. Program errors do not raise:
    they land in `ProgramRun.error`.
    """
    main = program or project_dir / "__main__.py"
    code_dir = str(main.resolve().parent)

    def body() -> None:
        if code_dir not in sys.path:
            sys.path.insert(0, code_dir)
        previous = Path.cwd()
        os.chdir(project_dir)
        try:
            runpy.run_path(str(main), run_name="__main__")
        finally:
            os.chdir(previous)

    return run_pulumi(stack, body, config, secret_keys, cloud, preview=preview)


def run_pulumi(
    stack: str,
    body: Callable[[], Mapping[str, Any] | None],
    config: Mapping[str, str] | None = None,
    secret_keys: frozenset[str] | set[str] = frozenset(),
    cloud: pulumi_mocks.Mocks | None = None,
    *,
    preview: bool = False,
) -> ProgramRun:
    """Run `body` (a program, or a test building one component) under the mock engine.

    Every registration and every output is awaited before this returns; outputs returned by
    `body` are resolved into `ProgramRun.outputs` beside the stack's exports.
    """
    return contextvars.Context().run(
        _run, stack, body, dict(config or {}), set(secret_keys), cloud or FakeCloud(), preview
    )


def _run(
    stack: str,
    body: Callable[[], Mapping[str, Any] | None],
    config: dict[str, str],
    secret_keys: set[str],
    cloud: pulumi_mocks.Mocks,
    preview: bool,
) -> ProgramRun:
    run = ProgramRun(stack)
    logger = logging.getLogger(f"qtapctl.mock_engine.{stack}.{id(run)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(_LogCollector(run.logs))

    monitor = RecordingMonitor(cloud)
    # A fresh context (run_pulumi) has no root stack yet: set_mocks makes one, and installs new
    # settings with their own RPC manager, so nothing of an earlier run is shared.
    pulumi.runtime.set_mocks(
        cloud,
        project=PROJECT,
        stack=stack,
        preview=preview,
        logger=logger,
        monitor=monitor,
        organization=ORGANIZATION,
    )
    pulumi.runtime.set_all_config(config, sorted(secret_keys))

    returned: dict[str, Any] = {}

    def program() -> None:
        returned.update(body() or {})

    try:
        run_under_mocks(program)
        for name, value in {**stack_exports(), **returned}.items():
            run.outputs[name] = resolve(_resolve(value))
    except Exception as error:  # noqa: BLE001 (the caller decides how to report it)
        run.error = error
        discard_pending_outputs()
    run.registrations = list(monitor.registrations)
    run.component_outputs = dict(monitor.component_outputs)
    return run

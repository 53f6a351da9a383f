"""`qtapctl plan`: what a stack would deploy, from the real program under the mock engine.

A plan is deterministic (same inputs, same bytes) and never shows a secret: every value the
program marks secret is `[secret]`, and the snapshot appears as its digest and size.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.mocks import Mocks

from qtap_gitops.delivery import CONFIG_VALUE, SNAPSHOT_CONFIGMAP_KEY
from qtap_gitops.problems import ContractError, Problem
from qtap_gitops.snapshot.model import mounted_sha256
from qtap_gitops.stackfile import Project
from qtapctl import yaml_out
from qtapctl.check import check_project, problems_block
from qtapctl.escape import md_code, md_fence, md_text, terminal_block, terminal_line
from qtapctl.inputs import program_inputs
from qtapctl.mock_engine import (
    FakeCloud,
    ProgramRun,
    Registration,
    Secret,
    redact,
    reveal,
    run_program,
)

PROGRAM = Path(__file__).resolve().parent.parent / "__main__.py"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
VAULT_SECRET = "vault:kv/secretV2:SecretV2"
ARGOCD_APPLICATION = "kubernetes:argoproj.io/v1alpha1:Application"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"


@dataclass
class PlannedResource:
    path: str
    """Names from the root component down, joined by '/': unique and stable."""
    type: str
    name: str
    parent: str | None
    """Path of the parent component (None for the root component)."""
    custom: bool
    protect: bool
    retain_on_delete: bool
    depends_on: list[str]
    inputs: dict[str, Any]
    delete_before_replace: bool = False
    replacement_trigger: Any = None
    """A value whose change replaces the resource (the S3 key's keyVersion)."""
    provider: str | None = None
    """Path of the explicit provider the resource uses (None: a default provider)."""
    urn: str = ""
    aliases: list[str] = field(default_factory=list)
    """Former URNs (a `diff` matches the resource with the one that had such a URN)."""


@dataclass
class StackPlan:
    stack: str
    snapshot: dict[str, Any] = field(default_factory=dict)
    resources: list[PlannedResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    error: str | None = None
    sealing_certificate: dict[str, str] | None = None
    """The Sealed Secrets controller's certificate the values are sealed with (fingerprint,
    subject, validity); None without the sealed-secrets backend."""

    def by_path(self) -> dict[str, PlannedResource]:
        return {r.path: r for r in self.resources}

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _snapshot_summary(text: str) -> str:
    raw = text.encode()
    # The digest of the form the agent reads (qtap_gitops/snapshot/model.py mounted_form), the
    # same digest as the pod annotation; the size is that of the committed file.
    return f"<snapshot: {len(raw)} bytes, sha256 {mounted_sha256(raw)}>"


def _review_value(key: str, value: Any) -> Any:
    """A reviewer's view of one input: policies as documents, never a secret."""
    if (
        isinstance(value, str)
        and key in ("policy", "assumeRolePolicy")
        and value.lstrip().startswith("{")
    ):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _summarize_argocd_config(spec: Any) -> Any:
    """The Application's spec with `source.helm.valuesObject.config` as the snapshot's digest."""
    try:
        source = spec["source"]
        helm = source["helm"]
        values = helm["valuesObject"]
        config = values[CONFIG_VALUE]
    except (KeyError, TypeError):
        return spec
    if not isinstance(config, str):
        return spec
    values = {**values, CONFIG_VALUE: _snapshot_summary(config)}
    return {**spec, "source": {**source, "helm": {**helm, "valuesObject": values}}}


def _carried_snapshot(resources: Sequence[PlannedResource]) -> Any:
    """The snapshot summary of whichever object carries it (Helm release, Application, ConfigMap)."""
    for resource in resources:
        if resource.type == HELM_RELEASE:
            return resource.inputs["values"].get("config")
        if resource.type == ARGOCD_APPLICATION:
            return resource.inputs["spec"]["source"]["helm"]["valuesObject"].get(CONFIG_VALUE)
        if resource.type == CONFIG_MAP and SNAPSHOT_CONFIGMAP_KEY in resource.inputs.get(
            "data", {}
        ):
            return resource.inputs["data"][SNAPSHOT_CONFIGMAP_KEY]
    return None


def review_inputs(registration: Registration) -> dict[str, Any]:
    inputs = {k: v for k, v in registration.inputs.items() if not k.startswith("__")}
    if registration.type == HELM_RELEASE:
        inputs.pop("compat", None)  # added by the SDK, not by the program
        values = dict(inputs.get("values") or {})
        if isinstance(values.get("config"), str):
            values["config"] = _snapshot_summary(values["config"])
        inputs["values"] = values
    # -- delivery modes: the snapshot a GitOps object carries is shown as its digest too --
    if registration.type == ARGOCD_APPLICATION:
        inputs["spec"] = _summarize_argocd_config(inputs.get("spec"))
    if registration.type == CONFIG_MAP and isinstance(inputs.get("data"), dict):
        data = dict(inputs["data"])
        if isinstance(data.get(SNAPSHOT_CONFIGMAP_KEY), str):
            data[SNAPSHOT_CONFIGMAP_KEY] = _snapshot_summary(data[SNAPSHOT_CONFIGMAP_KEY])
        inputs["data"] = data
    # -- end delivery modes --
    if registration.type == VAULT_SECRET and isinstance(inputs.get("dataJson"), Secret):
        # Property names are not secret; their values are.
        properties = json.loads(reveal(inputs["dataJson"]) or "{}")
        inputs["dataJson"] = {name: "[secret]" for name in sorted(properties)}
    return {k: _review_value(k, v) for k, v in redact(inputs).items()}


def _tree(run: ProgramRun) -> list[PlannedResource]:
    by_urn = {r.urn: r for r in run.registrations}

    def path_of(registration: Registration) -> str:
        names = [registration.name]
        parent = registration.parent
        while parent in by_urn:
            names.append(by_urn[parent].name)
            parent = by_urn[parent].parent
        return "/".join(reversed(names))

    paths = {r.urn: path_of(r) for r in run.registrations}
    resources = [
        PlannedResource(
            path=paths[r.urn],
            type=r.type,
            name=r.name,
            parent=paths.get(r.parent) if r.parent else None,
            custom=r.custom,
            protect=r.protect,
            retain_on_delete=r.retain_on_delete,
            depends_on=sorted(paths[u] for u in r.dependencies if u in paths),
            inputs=review_inputs(r),
            delete_before_replace=r.delete_before_replace,
            replacement_trigger=r.replacement_trigger,
            provider=paths.get(r.provider.rsplit("::", 1)[0]) if r.provider else None,
            urn=r.urn,
            aliases=sorted(r.aliases),
        )
        for r in run.registrations
    ]
    return sorted(resources, key=lambda r: r.path)


def _sealing_certificate(config: Mapping[str, str]) -> dict[str, str] | None:
    """The sealed-secrets backend's certificate as a reviewer recognises it (the stack passed
    its checks, so the setting is a valid certificate when the backend is sealed-secrets)."""
    try:
        secrets = json.loads(config.get("qtap:secrets") or "{}")
    except ValueError:
        return None
    if not isinstance(secrets, dict) or secrets.get("backend") != "sealed-secrets":
        return None
    sealed = secrets.get("sealedSecrets")
    pem = sealed.get("certificate") if isinstance(sealed, dict) else None
    if not isinstance(pem, str):
        return None
    from qtap_gitops.sealing import describe_certificate  # cryptography: sealed stacks only

    return describe_certificate(pem)


def plan_stack(
    project: Project,
    stack: str,
    *,
    program: Path = PROGRAM,
    registration_token: str | None = None,
    secret_env: Mapping[str, str] | None = None,
    cloud: Mocks | None = None,
    refused: Sequence[Problem] | None = None,
) -> StackPlan:
    """Plan `stack`. Secrets not in the stack file get placeholders (listed as pending); tests
    pass sentinel secrets and a cloud that generates sentinel keys to prove nothing leaks.

    A stack that `check` refuses (`refused`: its errors and the cross-stack conflicts it takes
    part in, computed here when not given) is not run: its plan is those problems.
    """
    plan = StackPlan(stack)
    if refused is None:
        refused = check_project(project, [stack]).errors(stack)
    if refused:
        errors = sum(1 for p in refused if p.is_error)
        plan.error = f"{problems_block(refused)}\n{errors} error(s); nothing would be deployed."
        return plan
    try:
        inputs = program_inputs(
            project, stack, registration_token=registration_token, secret_env=secret_env
        )
    except ContractError as error:
        plan.error = error.render()
        return plan
    plan.pending = [f"{p.message} -> {p.fix}" for p in inputs.pending]
    run = run_program(
        project.directory,
        stack,
        inputs.config,
        inputs.secret_keys,
        cloud or FakeCloud(),
        program=program,
    )
    if isinstance(run.error, (pulumi.RunError, ContractError)):
        plan.error = str(run.error)
        return plan
    if run.error is not None:
        # The checks passed but the program failed: a gap in the contract, shown as such.
        plan.error = (
            f"the program failed although the checks passed ({type(run.error).__name__}: "
            f"{run.error}); please report this as a bug in the qtap:* contract"
        )
        return plan
    plan.resources = _tree(run)
    plan.outputs = redact(run.outputs)
    plan.warnings = [message for level, message in run.logs if level in ("warning", "error")]
    snapshot_sha = run.outputs.get("snapshotSha256")
    plan.snapshot = {"sha256": snapshot_sha, "summary": _carried_snapshot(plan.resources)}
    plan.sealing_certificate = _sealing_certificate(inputs.config)
    return plan


# -- rendering ------------------------------------------------------------------------------


def to_yaml(value: Any) -> str:
    """Deterministic YAML: keys sorted, multi-line strings as literal blocks (qtapctl/yaml_out.py)."""
    return yaml_out.dump(json.loads(json.dumps(value, sort_keys=True, default=str)), width=4096)


def _flags(resource: PlannedResource) -> str:
    flags = [
        f
        for f, on in (
            ("protect", resource.protect),
            ("retainOnDelete", resource.retain_on_delete),
            ("deleteBeforeReplace", resource.delete_before_replace),
        )
        if on
    ]
    if resource.replacement_trigger is not None:
        flags.append(f"replacementTrigger={resource.replacement_trigger}")
    return f"  [{', '.join(flags)}]" if flags else ""


def _counts(plan: StackPlan) -> str:
    custom = sum(r.custom for r in plan.resources)
    protected = [r.name for r in plan.resources if r.protect]
    return (
        f"{len(plan.resources)} resources ({custom} custom, {len(plan.resources) - custom} components); "
        f"protected: {', '.join(protected) or 'none'}"
    )


def _lines(text: str) -> list[str]:
    """Lines of YAML for a terminal, split on line breaks only (str.splitlines also splits on
    characters a value may hold), each with its control characters made visible."""
    lines = text.split("\n")
    if lines and not lines[-1]:
        lines.pop()
    return [terminal_line(line) for line in lines]


def certificate_line(plan: StackPlan) -> str:
    cert = plan.sealing_certificate or {}
    return (
        f"sha256 {cert.get('sha256')}, subject {cert.get('subject')}, valid "
        f"{cert.get('notBefore')} to {cert.get('notAfter')}"
    )


def problem_lines(label: str, problem: str) -> str:
    """A formatted problem for a terminal: one line, then its `fix:` line. Any other line break
    comes from the user's file and is shown as \\x0a."""
    message, separator, fix = problem.partition("\n    fix: ")
    text = f"  {label}: {terminal_line(message)}\n"
    return text + (f"      fix: {terminal_line(fix)}\n" if separator else "")


def render_text(plans: Sequence[StackPlan]) -> str:
    out = io.StringIO()
    for plan in plans:
        out.write(f"=== plan for stack {terminal_line(plan.stack)}\n")
        if plan.error:
            out.write("  cannot plan: the program stops before registering anything:\n")
            out.write("    " + terminal_block(plan.error).replace("\n", "\n    ") + "\n\n")
            continue
        out.write(
            f"  snapshot {terminal_line(plan.snapshot['summary'])}\n"
            f"  {terminal_line(_counts(plan))}\n"
        )
        for warning in plan.warnings:
            out.write(problem_lines("warning", warning))
        for pending in plan.pending:
            out.write(f"  secret to set before deploy: {terminal_line(pending)}\n")
        if plan.sealing_certificate:
            out.write(f"  sealing certificate: {terminal_line(certificate_line(plan))}\n")
        for resource in plan.resources:
            depth = resource.path.count("/")
            indent = "  " * (depth + 1)
            out.write(
                f"{indent}+ {terminal_line(resource.type)}  {terminal_line(resource.name)}"
                f"{_flags(resource)}\n"
            )
            if resource.custom:
                body = to_yaml(resource.inputs)
                if resource.depends_on:
                    body += to_yaml({"waits for": resource.depends_on})
                out.write("".join(f"{indent}    {line}\n" for line in _lines(body)))
        outputs = "".join(f"    {line}\n" for line in _lines(to_yaml(plan.outputs)))
        out.write(f"  outputs:\n{outputs}\n")
    return out.getvalue()


def render_json(plans: Sequence[StackPlan]) -> str:
    return (
        json.dumps({"stacks": [p.to_json() for p in plans]}, indent=2, sort_keys=True, default=str)
        + "\n"
    )


def render_markdown(plans: Sequence[StackPlan]) -> str:
    out = io.StringIO()
    out.write("# Qtap plan\n\n")
    for plan in plans:
        out.write(f"## Stack {md_code(plan.stack)}\n\n")
        if plan.error:
            out.write("**Cannot plan**: the program stops before registering anything.\n\n")
            out.write(md_fence(plan.error) + "\n")
            continue
        out.write(f"Snapshot {md_code(plan.snapshot['summary'])}. {md_text(_counts(plan))}.\n\n")
        for warning in plan.warnings:
            out.write(f"> warning: {md_code(warning)}\n\n")
        for pending in plan.pending:
            out.write(f"- secret to set before deploy: {md_text(pending)}\n")
        if plan.sealing_certificate:
            out.write(f"- sealing certificate: {md_text(certificate_line(plan))}\n")
        out.write("\n| resource | type | flags |\n|---|---|---|\n")
        for resource in plan.resources:
            out.write(
                f"| {md_code(resource.path)} | {md_code(resource.type)} "
                f"| {md_text(_flags(resource).strip(' []'))} |\n"
            )
        out.write("\n")
        for resource in plan.resources:
            if resource.custom:
                out.write(f"<details><summary>{md_code(resource.path)}</summary>\n\n")
                out.write(md_fence(to_yaml(resource.inputs), "yaml"))
                out.write("\n</details>\n\n")
    return out.getvalue()


RENDERERS = {"text": render_text, "json": render_json, "markdown": render_markdown}

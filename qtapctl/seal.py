"""`qtapctl seal`: the stack's SealedSecret as a manifest, for teams who commit it to git and let
Argo CD or Flux apply it (instead of `pulumi up` with `qtap:secrets.backend: sealed-secrets`).

Inputs, none of them in the repository:
- the values: `--values FILE` (or `-` for stdin), a YAML mapping of exactly the env names the
  stack's snapshot references to their values (the registration token, the S3 keys from the
  stack's IAM key, the `qtap:secretEnv` values). Never on the command line (shell history) and
  never printed back; messages name keys only.
- the controller's certificate: `--cert FILE`, else the stack's
  `qtap:secrets.sealedSecrets.certificate`; scope from the stack (`strict` by default).
- the sealing key: `QTAP_SEALING_KEY` (base64 of at least 32 random bytes, kept in the team's
  secret store) makes the output deterministic, so re-running with unchanged values gives the
  same bytes and a clean git diff. Without it, sealing is randomized like kubeseal's.

The output holds only ciphertext, which is safe to commit: only the controller can unseal it.
"""

from __future__ import annotations

import base64
import binascii
import os
import sys
from typing import Any, TextIO

from qtap_gitops.deployment import check_deployment
from qtap_gitops.problems import format_problems
from qtap_gitops.release_values import SECRET_NAME
from qtap_gitops.sealing import (
    STACK_KEY_BYTES,
    SealingError,
    certificate_problems,
    load_certificate,
    seal_values,
    sealed_secret_manifest,
)
from qtap_gitops.settings import SealedSecretsBackendSettings, SealedSecretsScope
from qtap_gitops.stackfile import Project, load_stack_config
from qtap_gitops.yamlsource import parse_yaml

from . import yaml_out
from .escape import terminal_line
from .project_files import WriteRefusedError, relative_inside, write_inside

SEALING_KEY_ENV = "QTAP_SEALING_KEY"
LABELS = {"app.kubernetes.io/part-of": "qtap"}
MAX_VALUES_BYTES = 1 << 20
TEMPORARY_PREFIX = ".qtap-seal-"


class SealError(Exception):
    """A user mistake; the message names what is wrong and how to fix it, never a value."""


def _read(path: str, what: str, stdin: TextIO) -> str:
    if path == "-":
        return stdin.read(MAX_VALUES_BYTES + 1)
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read(MAX_VALUES_BYTES + 1)
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not UTF-8 text"
        raise SealError(f"cannot read the {what} {path}: {reason}") from None


def read_values(path: str, names: frozenset[str], stdin: TextIO) -> dict[str, str]:
    """The values file: exactly `names`, each a non-empty string. Errors never quote a value."""
    display = "<stdin>" if path == "-" else path
    text = _read(path, "values file", stdin)
    if len(text) > MAX_VALUES_BYTES:
        raise SealError(f"{display}: larger than 1 MiB; it should hold a few values")
    parsed = parse_yaml(text, display, what="values file")
    if parsed.problems or parsed.root is None:
        first = parsed.problems[0] if parsed.problems else None
        where = f"{display}:{first.line}:{first.column}" if first and first.line else display
        raise SealError(
            f"{where}: not a YAML mapping of env names to values\n"
            "fix: write one line per env name, e.g. REGISTRATION_TOKEN: '<value>'"
        )
    if parsed.root.kind != "mapping":
        raise SealError(f"{display}: must be a mapping of env names to values")
    view = parsed.view(display, [])
    assert view is not None  # parsed.root is a mapping
    values: dict[str, Any] = {key: item.plain_value() for key, item in view.items()}
    problems = []
    missing = sorted(names - set(values))
    extra = sorted(str(k) for k in values if k not in names)
    if missing:
        problems.append(f"missing: {', '.join(missing)} (the snapshot references them)")
    if extra:
        problems.append(f"not referenced by the snapshot: {', '.join(extra)} (remove them)")
    for key in sorted(set(values) & names):
        if not isinstance(values[key], str) or values[key] == "":
            problems.append(f"{key}: must be a non-empty string (quote it)")
    if problems:
        raise SealError(f"{display}: " + "; ".join(problems))
    return {k: str(values[k]) for k in names}


def sealing_key(environ: dict[str, str]) -> bytes | None:
    text = environ.get(SEALING_KEY_ENV)
    if not text:
        return None
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SealError(
            f"{SEALING_KEY_ENV} is not base64\n"
            f"fix: make one with: head -c {STACK_KEY_BYTES} /dev/urandom | base64"
        ) from None
    if len(key) < STACK_KEY_BYTES:
        raise SealError(
            f"{SEALING_KEY_ENV} holds {len(key)} bytes; at least {STACK_KEY_BYTES} are needed\n"
            f"fix: make one with: head -c {STACK_KEY_BYTES} /dev/urandom | base64"
        )
    return key


def seal_manifest(
    project: Project,
    stack: str,
    *,
    values_path: str,
    cert_path: str | None,
    stdin: TextIO,
    environ: dict[str, str],
) -> tuple[str, bool]:
    """The SealedSecret manifest (YAML) and whether it is deterministic."""
    raw, problems = load_stack_config(project, stack)
    if raw is None:
        raise SealError(format_problems(problems))
    report = check_deployment(raw, project.directory, require_secrets=False)
    deployment = report.deployment
    if deployment is None:
        raise SealError(format_problems(report.problems))
    settings = deployment.settings
    secrets = settings.secrets
    sealed = secrets.sealed_secrets if isinstance(secrets, SealedSecretsBackendSettings) else None
    committed = sealed.certificate if sealed is not None else None
    scope = sealed.scope if sealed is not None else SealedSecretsScope.STRICT
    if cert_path is not None:
        pem = _read(cert_path, "certificate", stdin)
        found = certificate_problems(pem, source=cert_path, setting="")
        if found:
            raise SealError(format_problems(found))
    elif committed is not None:
        pem = committed
    else:
        raise SealError(
            f"stack {stack} has no qtap:secrets.sealedSecrets.certificate\n"
            "fix: pass the controller's certificate: --cert FILE (kubeseal --fetch-cert > FILE)"
        )
    names = frozenset(b.name for b in deployment.bindings)
    values = read_values(values_path, names, stdin)
    key = sealing_key(environ)
    try:
        encrypted = seal_values(
            load_certificate(pem),
            key,
            namespace=settings.namespace,
            name=SECRET_NAME,
            scope=scope,
            values=values,
        )
    except SealingError as error:
        raise SealError(str(error)) from None
    manifest = sealed_secret_manifest(
        name=SECRET_NAME,
        namespace=settings.namespace,
        scope=scope,
        encrypted_data=encrypted,
        labels=LABELS,
    )
    # Keys sorted; one base64 value per line, never folded.
    return yaml_out.dump(manifest, width=1 << 16, sort_keys=True), key is not None


def write_output(project: Project, output: str, text: str) -> str | None:
    """Write the manifest as `import` writes a snapshot (qtapctl/project_files.py): inside the
    project, never through a symlink, atomically. Returns why it was refused, or None."""
    nothing = "nothing written"
    fix = "fix: give --output a path inside the project that is no symlink, or omit it for stdout"
    try:
        relative = relative_inside(project.directory, output)
        write_inside(project.directory, relative, text.encode(), prefix=TEMPORARY_PREFIX)
    except WriteRefusedError as error:
        return terminal_line(f"--output {error}; {nothing}") + "\n" + fix
    except OSError as error:
        return terminal_line(f"cannot write {output}: {error.strerror}; {nothing}")
    return None


def run_seal(
    project: Project,
    stack: str,
    *,
    values_path: str,
    cert_path: str | None,
    output: str | None,
) -> int:
    try:
        text, deterministic = seal_manifest(
            project,
            stack,
            values_path=values_path,
            cert_path=cert_path,
            stdin=sys.stdin,
            environ=dict(os.environ),
        )
    except SealError as error:
        print(f"qtapctl seal: {error}", file=sys.stderr)
        return 1
    if not deterministic:
        print(
            f"qtapctl seal: {SEALING_KEY_ENV} is not set, so the ciphertext differs on every "
            "run (like kubeseal); set it to keep unchanged values byte-identical",
            file=sys.stderr,
        )
    if output is None:
        sys.stdout.write(text)
    else:
        refusal = write_output(project, output, text)
        if refusal is not None:
            print(f"qtapctl seal: {refusal}", file=sys.stderr)
            return 1
        print(
            f"wrote the SealedSecret {SECRET_NAME} for stack {stack} to {output}", file=sys.stderr
        )
    return 0

"""The provider settings a CI job needs before it can log in for one stack, read from that stack's
`Pulumi.<stack>.yaml`, so the workflows never repeat them in GitHub variables that could drift:

    kube_context=<kubernetes:context>     the kubeconfig context `aws eks update-kubeconfig` names
    vault_address=<qtap:vault.address>    where the job logs in to Vault (the program's one address)
    vault_ca_certificate=<base64>         qtap:vault.caBundle, base64-encoded as hashicorp/
                                          vault-action's `caCertificate` input takes it (its
                                          src/action.js decodes it); empty without a caBundle,
                                          when the runner's public CAs verify Vault

Printed as `name=value` lines for $GITHUB_OUTPUT. Every value is checked to be one line of
plain characters, so a stack file cannot smuggle extra outputs into the job; the CA bundle must
parse as PEM certificates (never a key), so a job never logs in with `tlsSkipVerify`.

    .venv/bin/python scripts/ci_stack_settings.py dev >> "$GITHUB_OUTPUT"
"""

from __future__ import annotations

import base64
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from cryptography import x509  # noqa: E402 (after the path set-up)

from qtap_gitops.problems import format_problems  # noqa: E402
from qtap_gitops.stackfile import find_project, load_stack_config  # noqa: E402

_CONTEXT = re.compile(r"^[A-Za-z0-9._:@/+-]{1,253}$")
_ADDRESS = re.compile(r"^https://[A-Za-z0-9.-]+(:\d{1,5})?(/[A-Za-z0-9._~/-]*)?$")


class SettingError(Exception):
    pass


def stack_settings(project_dir: Path, stack: str) -> dict[str, str]:
    project = find_project(project_dir)
    raw, problems = load_stack_config(project, stack)
    if raw is None:
        raise SettingError(format_problems(problems))
    source = raw.source
    context = raw.values.get("kubernetes:context", "")
    if not _CONTEXT.match(context):
        raise SettingError(
            f"{source}: kubernetes:context must be set to the cluster's kubeconfig context "
            f"(one word of letters, digits and ._:@/+-), got {context!r}"
        )
    # qtap:vault.address is the one Vault address (the program refuses a vault:address that
    # differs from it); a sealed-secrets stack has none.
    try:
        vault = json.loads(raw.values.get("qtap:vault") or "{}")
    except ValueError:
        vault = {}
    address = str(vault.get("address", "")) if isinstance(vault, dict) else ""
    address = address or raw.values.get("vault:address", "")
    if not _ADDRESS.match(address):
        raise SettingError(f"{source}: qtap:vault.address must be an https:// URL, got {address!r}")
    ca_bundle = vault.get("caBundle") if isinstance(vault, dict) else None
    return {
        "kube_context": context,
        "vault_address": address,
        "vault_ca_certificate": _ca_certificate(source, ca_bundle),
    }


def _ca_certificate(source: object, bundle: object) -> str:
    """qtap:vault.caBundle as vault-action's `caCertificate` (base64 of the PEM); "" without one."""
    if bundle is None or bundle == "":
        return ""
    fix = "set qtap:vault.caBundle to the PEM certificate(s) of the CA that signed Vault's"
    if not isinstance(bundle, str) or "PRIVATE KEY" in bundle:
        raise SettingError(f"{source}: qtap:vault.caBundle is not a PEM certificate bundle; {fix}")
    try:
        x509.load_pem_x509_certificates(bundle.encode("utf-8"))
    except ValueError as error:
        raise SettingError(
            f"{source}: qtap:vault.caBundle does not parse ({error}); {fix}"
        ) from None
    return base64.b64encode(bundle.encode("utf-8")).decode("ascii")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: ci_stack_settings.py STACK", file=sys.stderr)
        return 2
    try:
        settings = stack_settings(Path.cwd(), args[0])
    except Exception as error:  # noqa: BLE001 (a message, never a traceback)
        print(f"ci_stack_settings: {error}", file=sys.stderr)
        return 1
    for name, value in settings.items():
        print(f"{name}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

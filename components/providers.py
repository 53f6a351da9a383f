"""The explicit providers of one stack, built from its checked settings.

Every stack file sets `pulumi:disable-default-providers: ["*"]`, so a resource that forgets its
provider fails instead of silently using a default one configured from the machine (another
kubeconfig context, another region, another Vault). `__main__.py` builds these once and hands
them to `QtapEnvironment` (Kubernetes, Vault and the default AWS region through `providers=`,
inherited by every child; the AWS provider of each bucket's region through its args).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_vault as vault

if TYPE_CHECKING:
    import pulumi_random as random

from qtap_gitops.provider_settings import ProviderSettings
from qtap_gitops.settings import VaultSettings


@dataclass(frozen=True)
class StackProviders:
    kubernetes: k8s.Provider
    vault_provider: vault.Provider | None
    default_aws: aws.Provider | None
    """The stack's default AWS region (aws:region); None when the snapshot has no AWS store."""
    aws_by_region: dict[str, aws.Provider] = field(default_factory=dict)
    random_provider: random.Provider | None = None
    """Only with the sealed-secrets backend (its sealing key); no other stack has one."""

    def all(self) -> list[pulumi.ProviderResource]:
        found: list[pulumi.ProviderResource] = [self.kubernetes]
        if self.vault_provider is not None:
            found.append(self.vault_provider)
        if self.random_provider is not None:
            found.append(self.random_provider)
        if self.default_aws is not None:
            found.append(self.default_aws)
        return found


class VaultCaFileError(pulumi.RunError):
    """The CA file cannot be written safely; Pulumi prints the message without a traceback."""


def _private_directory() -> tuple[Path, int]:
    """This user's 0700 directory under the temporary directory, and a descriptor of it.

    The temporary directory is shared with every user of the machine: another user could
    plant the CA file's path in advance (a symlink to a file of ours, or a file with another
    CA that the Vault provider would then trust). So the file lives in a directory that only
    this user can write, checked on the opened descriptor (not a symlink, owned by us, mode
    0700), and is never taken over from anyone else."""
    directory = Path(tempfile.gettempdir()) / f"qtap-gitops-{os.getuid()}"
    fix = f"remove {directory} (or set TMPDIR to a directory only you can write) and run again"
    with contextlib.suppress(FileExistsError):
        os.mkdir(directory, 0o700)
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as error:
        raise VaultCaFileError(
            f"cannot use {directory} for the Vault CA file ({error.strerror}: a symlink or not "
            f"a directory); fix: {fix}"
        ) from None
    info = os.fstat(fd)
    if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) != 0o700:
        os.close(fd)
        raise VaultCaFileError(
            f"{directory} is not a directory only this user can write (owner uid "
            f"{info.st_uid}, mode {stat.S_IMODE(info.st_mode):o}); the Vault CA file is not "
            f"written there; fix: {fix}"
        )
    return directory, fd


def _holds(directory: int, name: str, data: bytes) -> bool:
    """True when `name` is a regular file of ours (not a symlink) holding exactly `data`."""
    try:
        fd = os.open(
            name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=directory
        )
    except OSError:
        return False  # missing, or a symlink (ELOOP): written anew
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            return False
        return handle.read(len(data) + 1) == data


def vault_ca_file(ca_bundle: str) -> str:
    """A file holding `ca_bundle`, for the Vault provider.

    pulumi_vault.Provider (7.x, terraform-provider-vault's provider block) takes a CA only as a
    path (`ca_cert_file`/`ca_cert_dir`), not as PEM text. The path is derived from the content,
    so it is the same on every run, and the provider's configuration does not change between
    runs. A CA certificate is public; what matters is that nobody else can choose which CA the
    provider trusts: the file is in this user's 0700 directory (`_private_directory`), reused
    only when it is our own regular file with exactly this content, else written anew with
    `O_CREAT|O_EXCL|O_NOFOLLOW` under a fresh name and renamed over the path.
    """
    data = ca_bundle.encode()
    name = f"qtap-vault-ca-{hashlib.sha256(data).hexdigest()[:16]}.pem"
    directory, fd = _private_directory()
    try:
        if not _holds(fd, name, data):
            temporary = f".{name}.{secrets.token_hex(8)}.tmp"
            out = os.open(
                temporary,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=fd,
            )
            try:
                with os.fdopen(out, "wb") as handle:
                    handle.write(data)
                os.replace(temporary, name, src_dir_fd=fd, dst_dir_fd=fd)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary, dir_fd=fd)
    finally:
        os.close(fd)
    return str(directory / name)


def build_providers(
    name: str,
    settings: ProviderSettings,
    vault_settings: VaultSettings | None,
    *,
    vault_token: pulumi.Input[str] | None = None,
    vault_skip_child_token: bool | None = None,
    sealing_key: bool = False,
) -> StackProviders:
    """`vault_token`/`vault_skip_child_token` are the stack's `vault:token` and
    `vault:skipChildToken`, which configured the default provider before; without a token the
    provider reads VAULT_TOKEN (or ~/.vault-token), as the default one did. Credentials for AWS
    and the kubeconfig come from the environment as before."""
    kubernetes = k8s.Provider(f"{name}-kubernetes", context=settings.kubernetes_context)
    vault_provider = None
    if vault_settings is not None:
        # The same address and CA as ESO's SecretStore: Pulumi writes where the agent reads.
        vault_provider = vault.Provider(
            f"{name}-vault",
            address=vault_settings.address,
            ca_cert_file=vault_ca_file(vault_settings.ca_bundle)
            if vault_settings.ca_bundle
            else None,
            token=pulumi.Output.secret(vault_token) if vault_token is not None else None,
            skip_child_token=vault_skip_child_token,
        )
    default_aws = None
    by_region: dict[str, aws.Provider] = {}
    if settings.aws_region is not None:
        default_aws = aws.Provider(f"{name}-aws", region=settings.aws_region)
        by_region[settings.aws_region] = default_aws
    for region in settings.aws_regions:
        if region not in by_region:
            by_region[region] = aws.Provider(f"{name}-aws-{region}", region=region)
    # -- sealed-secrets: the random provider of the stack's sealing key (components/sealed_secret.py)
    random_provider = None
    if sealing_key:
        import pulumi_random  # only sealed-secrets stacks have a sealing key

        random_provider = pulumi_random.Provider(f"{name}-random")
    return StackProviders(kubernetes, vault_provider, default_aws, by_region, random_provider)

"""The provider settings of a stack: which cluster, which AWS regions, which Vault.

The program builds one explicit provider per concern from these (default providers are
disabled in every stack file), so a stack that names no Kubernetes context is refused here,
before anything is registered, instead of deploying to whatever context the machine has.
Where Pulumi writes Vault secrets and where ESO reads them is one setting, `qtap:vault.address`;
a `vault:address` that says otherwise is an error.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .homoglyph import non_ascii_key
from .problems import Problem, Severity, problem
from .settings import NAMESPACE, TOP_LEVEL_KEYS, RawStackConfig, StackSettings, position_of

KUBERNETES_CONTEXT = "kubernetes:context"
AWS_REGION = "aws:region"
VAULT_ADDRESS = "vault:address"
PROVIDER_KEYS = (KUBERNETES_CONTEXT, AWS_REGION, VAULT_ADDRESS)
DISABLE_DEFAULT_PROVIDERS = "pulumi:disable-default-providers"

# The configuration keys of the providers this program uses, as the installed SDKs read them
# (pulumi_aws and pulumi_vault `config/vars.py`; pulumi_kubernetes `Provider` arguments), and
# the engine's own `pulumi:` keys. A key outside these is most likely misspelled, and unused.
KNOWN_KEYS = {
    "pulumi": ("disable-default-providers", "tags", "template"),
    "aws": (
        "accessKey", "allowedAccountIds", "assumeRoleWithWebIdentity", "assumeRoles",
        "customCaBundle", "defaultTags", "ec2MetadataServiceEndpoint",
        "ec2MetadataServiceEndpointMode", "endpoints", "forbiddenAccountIds", "httpProxy",
        "httpsProxy", "ignoreTags", "insecure", "maxRetries", "noProxy", "profile", "region",
        "retryMode", "s3UsEast1RegionalEndpoint", "s3UsePathStyle", "secretKey",
        "sharedConfigFiles", "sharedCredentialsFiles", "skipCredentialsValidation",
        "skipMetadataApiCheck", "skipRegionValidation", "skipRequestingAccountId", "stsRegion",
        "tagPolicyCompliance", "token", "tokenBucketRateLimiterCapacity", "useDualstackEndpoint",
        "useFipsEndpoint", "userAgents",
    ),
    "kubernetes": (
        "alwaysRender", "cluster", "clusterIdentifier", "context", "deleteUnreachable",
        "enableConfigMapMutable", "enablePatchForce", "enableSecretMutable",
        "enableServerSideApply", "helmReleaseSettings", "kubeClientSettings", "kubeconfig",
        "namespace", "renderYamlToDirectory", "skipUpdateUnreachable",
        "suppressDeprecationWarnings", "suppressHelmHookWarnings", "upsertExistingObjects",
    ),
    "vault": (
        "addAddressToEnv", "address", "authLogin", "authLoginAws", "authLoginAzure",
        "authLoginCert", "authLoginGcp", "authLoginJwt", "authLoginKerberos", "authLoginOci",
        "authLoginOidc", "authLoginRadius", "authLoginTokenFile", "authLoginUserpass",
        "caCertDir", "caCertFile", "clientAuth", "headers", "maxLeaseTtlSeconds", "maxRetries",
        "maxRetriesCcc", "namespace", "setNamespaceFromToken", "skipChildToken",
        "skipGetVaultVersion", "skipTlsVerify", "tlsServerName", "token", "tokenName",
        "vaultVersionOverride",
    ),
    NAMESPACE: TOP_LEVEL_KEYS,
}  # fmt: skip
# Credentials never belong in a repository in plaintext (like qtap:registrationToken).
CREDENTIAL_KEYS = (
    "vault:token",
    "aws:accessKey",
    "aws:secretKey",
    "aws:token",
    "kubernetes:kubeconfig",
)


@dataclass(frozen=True)
class ProviderSettings:
    kubernetes_context: str
    aws_region: str | None
    """The stack's default AWS region (IAM and buckets in it); None when it has no AWS store."""
    aws_regions: tuple[str, ...] = ()
    """Every region a bucket of the snapshot lives in, sorted; one AWS provider each."""


def _problem(
    raw: RawStackConfig, key: str, code: str, message: str, fix: str, severity: Severity
) -> Problem:
    return problem(code, raw.source, position_of(raw.positions, key), key, message, fix, severity)


def _unknown_key(raw: RawStackConfig, key: str) -> Problem | None:
    namespace, _, name = key.partition(":")
    if name in KNOWN_KEYS.get(namespace, ()) or namespace == NAMESPACE:
        return None  # an unknown qtap: key is the settings' error
    known = [f"{ns}:{k}" for ns, keys in KNOWN_KEYS.items() for k in keys]
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
    hint = f"did you mean {close[0]!r}? " if close else ""
    what = "key" if namespace in KNOWN_KEYS else f"namespace {namespace!r}"
    return _problem(
        raw,
        key,
        "config-unknown",
        f"unknown configuration {what}: nothing in this program or its providers reads {key!r}",
        f"{hint}correct the spelling, or remove it from {raw.source}",
        Severity.WARNING,
    )


def check_stack_file(raw: RawStackConfig) -> list[Problem]:
    """What the stack file must hold or must not, whatever its `qtap:*` settings say.

    Only keys the file itself holds are judged (the program's config from elsewhere, an ESC
    environment or CI, is not in the repository)."""
    problems = [p for p in map(lambda k: _unknown_key(raw, k), raw.values) if p is not None]
    for key in raw.values:
        lookalike = non_ascii_key(key)
        if lookalike:
            problems.append(
                _problem(
                    raw,
                    key,
                    "non-ascii-key",
                    f"the key {key!r} {lookalike}; every configuration key Pulumi and this "
                    "program read is ASCII, so this one only looks like a known key",
                    f"retype the key in ASCII in {raw.source}",
                    Severity.WARNING,
                )
            )
    for key in CREDENTIAL_KEYS:
        if raw.values.get(key) and key not in raw.secret_keys:
            problems.append(
                _problem(
                    raw,
                    key,
                    "secret-plaintext",
                    "is stored in plaintext; anyone who can read the repository can read it",
                    f"store it encrypted: pulumi config set --secret {key} '<value>' --stack "
                    f"{raw.stack}, or better take it from the environment of the deploy",
                    Severity.ERROR,
                )
            )
    if DISABLE_DEFAULT_PROVIDERS not in raw.values:
        problems.append(
            _problem(
                raw,
                DISABLE_DEFAULT_PROVIDERS,
                "provider-config-missing",
                "is not set: a resource that forgot its explicit provider would deploy through "
                "a default provider, to whatever cluster, account or Vault the machine points at",
                f'add `{DISABLE_DEFAULT_PROVIDERS}: ["*"]` under config: in {raw.source}',
                Severity.ERROR,
            )
        )
    return problems


def check_provider_settings(
    raw: RawStackConfig, settings: StackSettings, bucket_regions: Iterable[str]
) -> tuple[ProviderSettings | None, list[Problem]]:
    """The explicit providers' settings, or the problems that stop the stack."""
    values: Mapping[str, str] = raw.values
    problems: list[Problem] = []
    context = (values.get(KUBERNETES_CONTEXT) or "").strip()
    if not context:
        problems.append(
            _problem(
                raw,
                KUBERNETES_CONTEXT,
                "provider-config-missing",
                "is required and not set: the stack would deploy to whatever cluster the "
                "machine's current kubeconfig context points at",
                f"pulumi config set kubernetes:context <context> --stack {raw.stack}",
                Severity.ERROR,
            )
        )
    regions = tuple(sorted(set(bucket_regions)))
    region = (values.get(AWS_REGION) or "").strip() or None
    if regions and region is None:
        problems.append(
            _problem(
                raw,
                AWS_REGION,
                "provider-config-missing",
                "is required and not set: the snapshot has AWS s3 stores, and the writer's IAM "
                "user is created through the stack's default AWS region",
                f"pulumi config set aws:region {regions[0]} --stack {raw.stack}",
                Severity.ERROR,
            )
        )
    vault_address = (values.get(VAULT_ADDRESS) or "").strip()
    vault = settings.vault
    if vault_address and vault is not None and vault_address.rstrip("/") != vault.address:
        problems.append(
            _problem(
                raw,
                VAULT_ADDRESS,
                "provider-config-mismatch",
                f"{vault_address!r} differs from qtap:vault.address {vault.address!r}: "
                "Pulumi would write the secret to one Vault and ESO read it from another",
                f"remove vault:address from {raw.source}; the program's Vault provider "
                "uses qtap:vault.address",
                Severity.ERROR,
            )
        )
    if any(p.is_error for p in problems):
        return None, problems
    return ProviderSettings(context, region, regions), problems

"""Pulumi program: the Qtap agent of one environment, from the stack's committed snapshot.

Configuration is read here and only here. The snapshot contract, the stack settings and the env
bindings are checked before any resource is registered; a mistake stops the run with one message
per problem (file, line, what is wrong, how to fix it) and nothing half-applied.
"""

from __future__ import annotations

from pathlib import Path

import pulumi

from components import QtapEnvironment, QtapEnvironmentArgs
from components.fleet import Export, OwnerOutputs, owner_stack_name
from components.providers import build_providers
from components.secret_backends import uses_random_provider
from qtap_gitops.deployment import prepare_deployment
from qtap_gitops.long_lived import freeze_long_lived_objects
from qtap_gitops.problems import ContractError
from qtap_gitops.provider_settings import DISABLE_DEFAULT_PROVIDERS, PROVIDER_KEYS
from qtap_gitops.settings import NAMESPACE, TOP_LEVEL_KEYS, RawStackConfig, StackSettings
from qtap_gitops.stackfile import find_project, load_stack_config

# The Pulumi CLI runs the program from the project directory (where Pulumi.yaml is).
PROJECT_DIR = Path.cwd()


def read_stack_config(stack: str) -> RawStackConfig:
    """The stack's configuration through the public `pulumi.Config` API: every `qtap:*` key of
    the contract and the provider keys, with positions and secrecy from the stack file.

    Misspelled keys are the offline tools' job (`qtapctl check`, which CI runs first): they
    read the stack file itself. A value the stack file holds in plaintext is refused where it
    must be secret; a value that does not come from the stack file (an ESC environment, CI)
    is not in the repository and counts as secret.
    """
    values: dict[str, str] = {}
    project_config = pulumi.Config(NAMESPACE)
    for key in TOP_LEVEL_KEYS:
        value = project_config.get(key)
        if value is not None:
            values[f"{NAMESPACE}:{key}"] = value
    for full_key in PROVIDER_KEYS:
        namespace, key = full_key.split(":", 1)
        value = pulumi.Config(namespace).get(key)
        if value is not None:
            values[full_key] = value
    stack_file, _ = load_stack_config(find_project(PROJECT_DIR), stack)
    in_file = stack_file.values if stack_file else {}
    if DISABLE_DEFAULT_PROVIDERS in in_file:  # the engine's own key; the file is its source
        values[DISABLE_DEFAULT_PROVIDERS] = in_file[DISABLE_DEFAULT_PROVIDERS]
    secret_in_file = stack_file.secret_keys if stack_file else frozenset()
    secret_keys = frozenset(k for k in values if k not in in_file or k in secret_in_file)
    positions = stack_file.positions if stack_file else {}
    return RawStackConfig(stack, f"Pulumi.{stack}.yaml", values, secret_keys, positions)


def owner_of(settings: StackSettings) -> OwnerOutputs | None:
    """A fleet member's owner, read through one StackReference (`<org>/<project>/<owner>`,
    org from `qtap:fleet.organization` or the current one); None for an owner stack."""
    if not settings.is_member:
        return None
    fleet = settings.fleet
    return OwnerOutputs(owner_stack_name(fleet, pulumi.get_organization(), pulumi.get_project()))


def main() -> None:
    freeze_long_lived_objects()
    stack = pulumi.get_stack()
    try:
        deployment = prepare_deployment(read_stack_config(stack), PROJECT_DIR)
    except ContractError as error:
        raise pulumi.RunError(str(error)) from None
    for warning in deployment.warnings:
        pulumi.log.warn(warning.format())

    assert deployment.providers is not None, "checked by prepare_deployment"
    vault_config = pulumi.Config("vault")
    providers = build_providers(
        "qtap",
        deployment.providers,
        deployment.settings.vault,
        vault_token=vault_config.get_secret("token"),
        vault_skip_child_token=vault_config.get_bool("skipChildToken"),
        sealing_key=uses_random_provider(deployment),
    )

    config = pulumi.Config(NAMESPACE)
    secret_env: dict[str, pulumi.Output[str]] = {}
    if deployment.settings.secret_env_names:
        values = config.require_secret_object("secretEnv")
        secret_env = {
            name: values.apply(lambda v, name=name: v[name])
            for name in sorted(deployment.settings.secret_env_names)
        }
    environment = QtapEnvironment(
        "qtap",
        QtapEnvironmentArgs(
            deployment=deployment,
            registration_token=config.get_secret("registrationToken"),
            secret_env=secret_env,
            tags={"app": "qtap", "environment": stack, "managed-by": "pulumi"},
            aws_providers=providers.aws_by_region,
            owner=owner_of(deployment.settings),
        ),
        opts=pulumi.ResourceOptions(providers=providers.all()),
    )

    pulumi.export(Export.BUCKETS.value, environment.bucket_names)
    pulumi.export("iamUsers", environment.iam_user_names)
    pulumi.export("vaultSecretPath", environment.vault_secret_path)
    pulumi.export("kubernetesSecret", environment.kubernetes_secret)
    pulumi.export("namespace", environment.namespace)
    pulumi.export("releaseName", environment.release_name)
    pulumi.export("chartVersion", environment.chart_version)
    pulumi.export(Export.SNAPSHOT_SHA256.value, environment.snapshot_sha256)
    pulumi.export("envBindings", {b.name: b.source.describe() for b in deployment.bindings})
    if environment.agent_role_arn is not None:  # keyless S3 (qtap:objectStore.identity)
        pulumi.export("agentRoleArn", environment.agent_role_arn)
    # For other stacks (StackReference): what exists, and who may write into it.
    pulumi.export(Export.BUCKET_ARNS.value, environment.bucket_arns)
    pulumi.export(Export.WRITER_ARNS.value, environment.writer_arns)
    pulumi.export("vaultRole", environment.vault_role_name)
    pulumi.export("vaultPolicy", environment.vault_policy_name)
    pulumi.export(Export.SECRETS_REVISION.value, environment.secrets_revision_output)
    # What a fleet member reads of its owner (components/fleet.py); a member exports its
    # owner's values, so every stack's outputs have one shape.
    pulumi.export(Export.KMS_KEY_ID.value, environment.kms_key_id)
    pulumi.export(Export.VAULT_KV_MOUNT.value, environment.vault_kv_mount)
    pulumi.export(Export.VAULT_KV_PATH.value, environment.vault_kv_path)
    pulumi.export(Export.WRITER_KEY_VERSION.value, environment.writer_key_version)


main()

"""Pulumi program: the Qtap agent of one environment, from the stack's committed snapshot.

Configuration is read here and only here. The snapshot contract, the stack settings and the env
bindings are checked before any resource is registered; a mistake stops the run with one message
per problem (file, line, what is wrong, how to fix it) and nothing half-applied.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
from pulumi.runtime import config as engine_config

from components import QtapEnvironment, QtapEnvironmentArgs
from qtap_gitops.deployment import prepare_deployment
from qtap_gitops.problems import ContractError
from qtap_gitops.settings import NAMESPACE, RawStackConfig
from qtap_gitops.stackfile import find_project, load_stack_config

# The Pulumi CLI runs the program from the project directory (where Pulumi.yaml is).
PROJECT_DIR = Path.cwd()


def read_stack_config(stack: str) -> RawStackConfig:
    """The `qtap:*` configuration the engine passed in, with positions from the stack file."""
    every_key = {**engine_config.get_config_env(), **engine_config.CONFIG.get()}
    values = {k: str(v) for k, v in every_key.items() if k.startswith(f"{NAMESPACE}:")}
    # Depending on the language host, secrecy arrives with the run request or in the environment.
    env_secret_keys = set(engine_config.get_config_secret_keys_env())
    secret_keys = frozenset(
        k for k in values if engine_config.is_config_secret(k) or k in env_secret_keys
    )
    stack_file, _ = load_stack_config(find_project(PROJECT_DIR), stack)
    positions = stack_file.positions if stack_file else {}
    return RawStackConfig(stack, f"Pulumi.{stack}.yaml", values, secret_keys, positions)


def main() -> None:
    stack = pulumi.get_stack()
    try:
        deployment = prepare_deployment(read_stack_config(stack), PROJECT_DIR)
    except ContractError as error:
        raise pulumi.RunError(str(error)) from None
    for warning in deployment.warnings:
        pulumi.log.warn(warning.format())

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
        ),
    )

    pulumi.export("buckets", environment.bucket_names)
    pulumi.export("iamUsers", environment.iam_user_names)
    pulumi.export("vaultSecretPath", environment.vault_secret_path)
    pulumi.export("kubernetesSecret", environment.kubernetes_secret)
    pulumi.export("namespace", environment.namespace)
    pulumi.export("releaseName", environment.release_name)
    pulumi.export("chartVersion", environment.chart_version)
    pulumi.export("snapshotSha256", environment.snapshot_sha256)
    pulumi.export("envBindings", {b.name: b.source.describe() for b in deployment.bindings})
    if environment.agent_role_arn is not None:  # keyless S3 (qtap:objectStore.identity)
        pulumi.export("agentRoleArn", environment.agent_role_arn)


main()

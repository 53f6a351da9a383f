"""The configuration a stack's program runs with offline: the stack file, plus stand-ins for
secrets that are not stored in it (a plan shows them as `[secret]` and lists them as pending)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from qtap_gitops.bindings import SourceKind
from qtap_gitops.deployment import check_deployment
from qtap_gitops.esc import load_stack_environments, split_pending
from qtap_gitops.problems import ContractError, Problem
from qtap_gitops.settings import NAMESPACE
from qtap_gitops.stackfile import SECRET_PLACEHOLDER, Project, load_stack_config

TOKEN_KEY = f"{NAMESPACE}:registrationToken"
SECRET_ENV_KEY = f"{NAMESPACE}:secretEnv"


def _secret_env_object(text: str | None) -> dict[str, str] | None:
    """`qtap:secretEnv` as the engine passes it (JSON text), or None when it is not an object
    of strings (a user may write it as a plain string or a list)."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        return None
    return {str(k): v for k, v in value.items()}


@dataclass
class ProgramInputs:
    config: dict[str, str]
    secret_keys: set[str]
    pending: list[Problem] = field(default_factory=list)
    """Secrets the snapshot needs that the stack file does not hold."""
    provided_at_deploy: list[Problem] = field(default_factory=list)
    """Of those, the ones an imported Pulumi ESC environment provides at deploy time."""


def program_inputs(
    project: Project,
    stack: str,
    *,
    registration_token: str | None = None,
    secret_env: Mapping[str, str] | None = None,
    fill_missing: bool = True,
) -> ProgramInputs:
    """Config for running `stack`'s program under the mock engine.

    Explicit `registration_token` / `secret_env` values replace what the stack file holds (tests
    pass sentinels). With `fill_missing`, a secret the snapshot needs but nobody provided gets
    the placeholder, so the whole graph can still be planned.
    """
    raw, problems = load_stack_config(project, stack)
    if raw is None:
        raise ContractError(problems)
    config = dict(raw.values)
    secret_keys = set(raw.secret_keys)
    path = project.stack_file(stack)
    environments, env_problems = load_stack_environments(path, project.display(path))
    if env_problems:
        raise ContractError(env_problems)
    report = check_deployment(raw, project.directory, require_secrets=False)

    env_values = _secret_env_object(config.get(SECRET_ENV_KEY))
    if env_values is None:
        # Not an object of strings: the settings check refuses it; leave it for the program to
        # refuse the same way instead of guessing what was meant.
        return ProgramInputs(config, secret_keys, list(report.pending))
    if registration_token is not None:
        config[TOKEN_KEY] = registration_token
        secret_keys.add(TOKEN_KEY)
    env_values.update(secret_env or {})
    if fill_missing and report.deployment is not None:
        for binding in report.deployment.bindings:
            kind = binding.source.kind
            if kind is SourceKind.REGISTRATION_TOKEN and TOKEN_KEY not in config:
                config[TOKEN_KEY] = SECRET_PLACEHOLDER
                secret_keys.add(TOKEN_KEY)
            elif kind is SourceKind.SECRET_ENV:
                env_values.setdefault(binding.name, SECRET_PLACEHOLDER)
    if env_values:
        config[SECRET_ENV_KEY] = json.dumps(env_values, sort_keys=True)
        secret_keys.add(SECRET_ENV_KEY)
    missing, provided = split_pending(report.pending, environments)
    return ProgramInputs(config, secret_keys, missing, provided)

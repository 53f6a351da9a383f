"""Running the program and its components under Pulumi's mock engine, with sentinel secrets.

Sentinels are distinctive values for every secret (registration token, the generated S3 key);
the hygiene tests look for them everywhere a secret must not be.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from qtap_gitops.stackfile import find_project
from qtapctl.inputs import program_inputs
from qtapctl.mock_engine import FakeCloud, ProgramRun, run_program, run_pulumi
from tests.conftest import REPO

SENTINEL_TOKEN = "sentinel-registration-token-5b1e0c"
SENTINEL_KEY_ID = "AKIASENTINEL5B1E0C00"
SENTINEL_SECRET_KEY = "sentinel/secret-access-key/5b1e0c"
SENTINELS = (SENTINEL_TOKEN, SENTINEL_KEY_ID, SENTINEL_SECRET_KEY)


def sentinel_cloud(*, preview: bool = False) -> FakeCloud:
    return FakeCloud(
        access_key_id=lambda name: SENTINEL_KEY_ID,
        secret_access_key=lambda name: SENTINEL_SECRET_KEY,
        preview=preview,
    )


def run_stack(
    stack: str,
    project_dir: Path = REPO,
    *,
    registration_token: str | None = SENTINEL_TOKEN,
    secret_env: Mapping[str, str] | None = None,
    config_overrides: Mapping[str, str] | None = None,
    preview: bool = False,
    cloud: FakeCloud | None = None,
) -> ProgramRun:
    """The real `__main__.py` for `stack`, configured from `project_dir/Pulumi.<stack>.yaml`.

    Pass the same `cloud` to several runs to model one stack's successive updates (the fake
    Vault then bumps a secret's KV version when its data changes)."""
    inputs = program_inputs(
        find_project(project_dir),
        stack,
        registration_token=registration_token,
        secret_env=secret_env,
        fill_missing=False,
    )
    config = {**inputs.config, **(config_overrides or {})}
    return run_program(
        project_dir,
        stack,
        config,
        inputs.secret_keys,
        cloud or sentinel_cloud(preview=preview),
        program=REPO / "__main__.py",
        preview=preview,
    )


def build(body, *, stack: str = "test") -> ProgramRun:
    """Run `body` (which builds components and returns outputs to resolve) under the mock engine.

    Unlike a bare `@pulumi.runtime.test`, every registration and output is awaited before the
    test asserts, so an assertion can never be skipped by an output that did not resolve.
    """
    run = run_pulumi(stack, body, cloud=sentinel_cloud())
    if run.error is not None:
        raise run.error
    return run


def children_of(run: ProgramRun, component_type: str) -> list:
    (component,) = run.of_type(component_type)
    return [r for r in run.registrations if r.parent == component.urn]

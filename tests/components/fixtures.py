"""Typed args and deployments for component tests, built from the contract's own code."""

from __future__ import annotations

from qtap_gitops.deployment import Deployment, prepare_deployment
from qtap_gitops.settings import RawStackConfig
from tests.conftest import REPO


def deployment(stack: str = "dev", **values: str) -> Deployment:
    """A checked deployment of the committed `stack` snapshot with minimal settings."""
    config = {
        "qtap:chart": '{"version": "0.0.38"}',
        "qtap:vault": '{"address": "https://vault.example.com:8200"}',
        "qtap:snapshot": f"snapshots/{stack}/qtap-config.yaml",
        "qtap:registrationToken": "[set]",
        "pulumi:disable-default-providers": '["*"]',
        "kubernetes:context": "test-cluster",
        "aws:region": "us-east-1",
        **{f"qtap:{k}": v for k, v in values.items()},
    }
    raw = RawStackConfig(
        stack,
        f"Pulumi.{stack}.yaml",
        config,
        frozenset({"qtap:registrationToken", "qtap:secretEnv"}),
    )
    return prepare_deployment(raw, REPO)

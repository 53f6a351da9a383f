"""The agent's secret as a Sealed Secrets `SealedSecret` (bitnami.com/v1alpha1): no Vault, no
ESO. The values are sealed here, with the controller's public certificate, and only the
controller's private key in the cluster can unseal them into the Secret the release reads.

Sealing is deterministic (qtap_gitops.sealing): a 32-byte key kept secret in the stack's state
(`random.RandomBytes`) keys the HMAC that derives each value's session key, so an unchanged value
keeps its ciphertext (no perpetual diff) and a changed one is re-sealed and reaches the cluster.
`ignore_changes` would not do: the engine substitutes the old value of an ignored property on
update and replace alike (pulumi/pulumi pkg/resource/deploy/step_generator.go).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from qtap_gitops.release_values import SECRET_NAME
from qtap_gitops.sealing import (
    SCOPE_ANNOTATIONS,
    SEALED_SECRET_API_VERSION,
    STACK_KEY_BYTES,
    load_certificate,
    seal_values,
    sealed_revision,
)
from qtap_gitops.settings import SealedSecretsScope

from .secret_sync import MANAGED_BY

# The controller sets condition Synced once it has unsealed into the Secret (pulumi-kubernetes
# waits for it before dependents proceed, v4.18.0+).
WAIT_FOR_SYNCED = {"pulumi.com/waitFor": "condition=Synced"}
SEALING_KEY = "sealing-key"  # not an env name (a hyphen), so no value can shadow it


@dataclass(frozen=True)
class SealedSecretSyncArgs:
    namespace: pulumi.Input[str]
    """The agent's namespace (an Output of the Namespace, so the SealedSecret waits for it)."""
    namespace_name: str
    """The same namespace as text: part of the strict and namespace-wide scope labels."""
    certificate: str
    """The controller's public certificate (PEM), checked by qtap_gitops.sealing beforehand."""
    scope: SealedSecretsScope
    values: Mapping[str, pulumi.Input[str]]
    """Env name -> secret value."""


def _item(key: str) -> Callable[[Mapping[str, str]], str]:
    return lambda data: data[key]


class SealedSecretSync(pulumi.ComponentResource):
    secret_name: pulumi.Output[str]
    secret_revision: pulumi.Output[str]
    secret_ready: list[pulumi.Resource]

    def __init__(
        self, name: str, args: SealedSecretSyncArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("qtap:kubernetes:SealedSecretSync", name, None, opts)
        certificate = load_certificate(args.certificate)

        self.sealing_key = random.RandomBytes(
            f"{name}-sealing-key", length=STACK_KEY_BYTES, opts=pulumi.ResourceOptions(parent=self)
        )
        names = sorted(args.values)

        def seal(resolved: Mapping[str, Any]) -> dict[str, str]:
            stack_key = base64.b64decode(resolved[SEALING_KEY])
            return seal_values(
                certificate,
                stack_key,
                namespace=args.namespace_name,
                name=SECRET_NAME,
                scope=args.scope,
                values={n: resolved[n] for n in names},
            )

        # Secret, as its inputs are: a ciphertext is safe to show by design, but every value of
        # this object stays `[secret]` in plans and diffs, like the other backends' values.
        encrypted: pulumi.Output[dict[str, str]] = pulumi.Output.secret(
            pulumi.Output.all(**{SEALING_KEY: self.sealing_key.base64, **args.values}).apply(seal)
        )
        self.sealed_secret = k8s.apiextensions.CustomResource(
            f"{name}-sealed-secret",
            api_version=SEALED_SECRET_API_VERSION,
            kind="SealedSecret",
            metadata={
                "name": SECRET_NAME,
                "namespace": args.namespace,
                "labels": MANAGED_BY,
                "annotations": {**WAIT_FOR_SYNCED, **SCOPE_ANNOTATIONS[args.scope]},
            },
            spec={
                "encryptedData": {n: encrypted.apply(_item(n)) for n in names},
                "template": {
                    "metadata": {
                        "name": SECRET_NAME,
                        "namespace": args.namespace,
                        "labels": MANAGED_BY,
                    },
                    "type": "Opaque",
                },
            },
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.secret_name = pulumi.Output.from_input(SECRET_NAME)
        # A digest of the ciphertexts, not of the values: it rolls the pods when a value is
        # re-sealed and tells a reader nothing the SealedSecret does not already show.
        self.secret_revision = pulumi.Output.unsecret(encrypted.apply(sealed_revision))
        self.secret_ready = [self.sealed_secret]
        self.register_outputs(
            {"secret_name": self.secret_name, "secret_revision": self.secret_revision}
        )

"""The agent's IAM role for keyless S3: assumed through IRSA or EKS Pod Identity, allowed only
s3:PutObject into the buckets of the snapshot's keyless stores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from qtap_gitops.identity import ROLE_PATH
from qtap_gitops.policies import (
    irsa_trust_policy,
    pod_identity_trust_policy,
    role_writer_policy,
    to_json,
)
from qtap_gitops.settings import IdentityMode


@dataclass(frozen=True)
class WorkloadIdentityArgs:
    mode: IdentityMode
    role_name: str
    namespace: str
    """Namespace of the agent's ServiceAccount."""
    service_account: str
    """The agent's ServiceAccount: the only one the trust (IRSA) or association admits."""
    buckets: Sequence[tuple[str, str]]
    """(bucket, region) of every keyless store; the role may PutObject into these only."""
    kms_key_id: str | None = None
    """KMS key ARN of the buckets' SSE-KMS; the role may use it through S3 only."""
    oidc_provider_arn: str | None = None
    """IRSA: the cluster's IAM OIDC provider."""
    oidc_issuer: str | None = None
    """IRSA: the provider's issuer (host/path, no scheme), the prefix of the trust's keys."""
    cluster_name: str | None = None
    """Pod Identity: the EKS cluster of the association."""
    tags: Mapping[str, str] = field(default_factory=dict)
    policy: pulumi.Input[str] | None = None
    """The role's policy document (JSON); None: PutObject on `buckets` with `kms_key_id`. A
    fleet member's is built from its owner's exported bucket ARNs and KMS key."""


class WorkloadIdentity(pulumi.ComponentResource):
    """One IAM role for the agent, its trust per mode, its PutObject-only inline policy, and
    with Pod Identity the association of the role with the agent's ServiceAccount."""

    role_arn: pulumi.Output[str]
    role_name: pulumi.Output[str]
    ready: list[pulumi.Resource]
    """What the agent's pods must wait for: they need their permissions (and, with Pod
    Identity, the association, which EKS reads when a pod is admitted) from the start."""

    def __init__(
        self, name: str, args: WorkloadIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("qtap:aws:WorkloadIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        if args.mode is IdentityMode.IRSA:
            if args.oidc_provider_arn is None or args.oidc_issuer is None:
                raise ValueError("IRSA needs the OIDC provider ARN and its issuer")
            trust = irsa_trust_policy(
                args.oidc_provider_arn, args.oidc_issuer, args.namespace, args.service_account
            )
        else:
            if args.cluster_name is None:
                raise ValueError("EKS Pod Identity needs the cluster name")
            trust = pod_identity_trust_policy()

        self.role = aws.iam.Role(
            f"{name}-role",
            name=args.role_name,
            path=ROLE_PATH,
            assume_role_policy=to_json(trust),
            tags=dict(args.tags),
            opts=child,
        )
        self.role_policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=self.role.name,
            name="qtap-put-object",
            policy=args.policy
            if args.policy is not None
            else to_json(role_writer_policy(args.buckets, args.kms_key_id)),
            opts=child,
        )
        self.ready = [self.role_policy]
        self.association: aws.eks.PodIdentityAssociation | None = None
        if args.mode is IdentityMode.POD_IDENTITY:
            self.association = aws.eks.PodIdentityAssociation(
                f"{name}-association",
                cluster_name=args.cluster_name,
                namespace=args.namespace,
                service_account=args.service_account,
                role_arn=self.role.arn,
                tags=dict(args.tags),
                opts=child,
            )
            self.ready.append(self.association)

        self.role_arn = self.role.arn
        self.role_name = self.role.name
        self.register_outputs({"role_arn": self.role_arn, "role_name": self.role_name})

"""The S3 bucket for one AWS s3 store of the snapshot, and the key Qtap writes into it with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from qtap_gitops.aws_names import iam_user_name
from qtap_gitops.policies import tls_only_bucket_policy, to_json, writer_policy

# Multipart uploads only happen for very large payloads; an abandoned one still costs storage.
ABORT_INCOMPLETE_UPLOAD_DAYS = 1


@dataclass(frozen=True)
class ObjectStoreArgs:
    bucket: str
    """Bucket name, exactly as the snapshot's `bucket` (Qtap writes there by name)."""
    region: str
    """Region of the bucket: the snapshot's `region`, which Qtap signs its requests for."""
    retention_days: int
    """Captured payloads (and noncurrent versions) expire after this many days."""
    versioning: bool
    protect: bool
    """Protect the bucket from deletion (every bucket is kept when it leaves the program)."""
    kms_key_id: str | None = None
    """KMS key ARN for SSE-KMS; AES256 (SSE-S3) when None."""
    tags: Mapping[str, str] = field(default_factory=dict)
    writer_key: bool = True
    """Create the writer's IAM user, PutObject-only policy and access key. False for a keyless
    store, which the agent writes to through its workload identity (WorkloadIdentity)."""
    key_version: int = 1
    """`qtap:objectStore.keyVersion`: a new value replaces the writer's access key."""


class ObjectStore(pulumi.ComponentResource):
    """Private, encrypted, TLS-only bucket with retention, and a PutObject-only IAM key."""

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    user_name: pulumi.Output[str] | None
    user_arn: pulumi.Output[str] | None
    access_key_id: pulumi.Output[str] | None
    secret_access_key: pulumi.Output[str] | None
    """The writer's user and key; None without `writer_key`."""

    def __init__(
        self, name: str, args: ObjectStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("qtap:aws:ObjectStore", name, None, opts)
        region = args.region

        # Captured payloads are sensitive: never force_destroy, and no configuration change
        # deletes a bucket. A bucket that leaves the program (a store renamed or removed in
        # Qplane, a stack destroyed) stays in AWS, and so do its protections: its public access
        # block, ownership, encryption, versioning, lifecycle and TLS-only policy are retained
        # with it. Retention is set on each resource directly: Pulumi's mock monitor does not
        # run transforms, so options set that way could not be tested. A protected stack (prod)
        # additionally refuses any deletion of the bucket until `protect` is lifted.
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=args.bucket,
            region=region,
            force_destroy=False,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=True),
        )
        self._block_and_encrypt(name, args)
        self._keep_and_expire(name, args)

        self.bucket_name = self.bucket.bucket
        self.bucket_arn = self.bucket.arn
        if not args.writer_key:
            # Keyless: no IAM user, no key, nothing to store in Vault or to rotate.
            self.user_name = self.user_arn = self.access_key_id = self.secret_access_key = None
            self.register_outputs({"bucket_name": self.bucket_name})
            return

        self._writer(name, args)
        self.user_name = self.user.name
        self.user_arn = self.user.arn
        # Both halves of the key stay secret wherever they flow (Vault secret, outputs, logs).
        self.access_key_id = pulumi.Output.secret(self.access_key.id)
        self.secret_access_key = pulumi.Output.secret(self.access_key.secret)
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "user_name": self.user_name,
                "user_arn": self.user_arn,
            }
        )

    def _block_and_encrypt(self, name: str, args: ObjectStoreArgs) -> None:
        """No public access, bucket-owner objects only, encryption at rest (SSE-S3 or SSE-KMS)."""
        region = args.region
        kept = pulumi.ResourceOptions(parent=self, retain_on_delete=True)
        bucket_id = self.bucket.id

        self.public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=bucket_id,
            region=region,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=kept,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket_id,
            region=region,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=kept,
        )
        self.encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket_id,
            region=region,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms" if args.kms_key_id else "AES256",
                        kms_master_key_id=args.kms_key_id,
                    ),
                    # An S3 Bucket Key cuts KMS requests (and cost) per object written.
                    bucket_key_enabled=bool(args.kms_key_id),
                )
            ],
            opts=kept,
        )

    def _keep_and_expire(self, name: str, args: ObjectStoreArgs) -> None:
        """Versioning, expiry after the stack's retention, and a TLS-only bucket policy."""
        region = args.region
        kept = pulumi.ResourceOptions(parent=self, retain_on_delete=True)
        bucket_id = self.bucket.id
        self.versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket_id,
            region=region,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                # "Suspended", not "Disabled": a bucket that was ever versioned cannot go back.
                status="Enabled" if args.versioning else "Suspended",
            ),
            opts=kept,
        )
        self.lifecycle = aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket_id,
            region=region,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="qtap-retention",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        days=args.retention_days
                    ),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=args.retention_days
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=ABORT_INCOMPLETE_UPLOAD_DAYS
                    ),
                )
            ],
            opts=kept,
        )
        self.policy = aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket_id,
            region=region,
            policy=to_json(tls_only_bucket_policy(args.bucket, region)),
            # S3 evaluates a new bucket policy against the public access block; apply it after.
            opts=pulumi.ResourceOptions(
                parent=self, retain_on_delete=True, depends_on=[self.public_access_block]
            ),
        )

    def _writer(self, name: str, args: ObjectStoreArgs) -> None:
        """The IAM user that may only PutObject into the bucket, and its access key."""
        child = pulumi.ResourceOptions(parent=self)
        region = args.region
        self.user = aws.iam.User(
            f"{name}-writer",
            name=iam_user_name(args.bucket),
            path="/qtap/",
            tags=dict(args.tags),
            opts=child,
        )
        self.user_policy = aws.iam.UserPolicy(
            f"{name}-writer-policy",
            user=self.user.name,
            name="qtap-put-object",
            policy=to_json(writer_policy(args.bucket, region, args.kms_key_id)),
            opts=child,
        )
        # Rotation: a new keyVersion replaces the key under the same name (stable URN). Pulumi
        # creates the replacement first and deletes the old key only after every other step of
        # the update has finished (pulumi/pulumi pkg/resource/deploy/step_generator.go: "the
        # delete step is generated later on, after all creates/updates finish"), that is after
        # the new key is in Vault, the ExternalSecret has synced it and the pods have rolled.
        self.access_key = aws.iam.AccessKey(
            f"{name}-writer-key",
            user=self.user.name,
            opts=pulumi.ResourceOptions(
                parent=self,
                additional_secret_outputs=["secret"],
                replacement_trigger=args.key_version,
                delete_before_replace=False,
            ),
        )

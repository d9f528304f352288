"""The optional CDN (`-c cdn=true`): what is public in the content bucket served through CloudFront.

The distribution reads only the public keys (`public_keys`): the feeds, the MP3s, chapters, transcripts
and the feeds' artwork. Posts (drafts and failed ones among them), includes and the status page stay
private: a guessed key answers 403.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Annotations, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import constants
from infra.acknowledge import acknowledge, skip_checkov
from podcast_pipeline.config import SiteConfig
from podcast_pipeline.feed.readiness import artwork_keys


def public_keys(config: SiteConfig, audio_folder: str) -> list[str]:
    """The keys, and prefixes ending in `*`, the distribution may read; ValueError when a public prefix
    would take in a private one (posts, includes, the status page)."""
    private = (config.posts_prefix, config.includes_prefix, constants.STATUS_PAGE_PREFIX)
    wanted = {audio_folder, config.chapters_prefix, config.transcripts_prefix}
    # A prefix inside another (transcripts beside the MP3s) is granted with it.
    prefixes = sorted(p for p in wanted if not any(p != q and p.startswith(q) for q in wanted))
    for prefix in prefixes:
        overlap = [p for p in private if p.startswith(prefix) or prefix.startswith(p)]
        if overlap:
            raise ValueError(
                f"the CDN would serve {prefix or 'the whole bucket'!r}, which holds private {overlap[0]!r}: "
                "give the audio, chapters and transcripts folders of their own"
            )
    exact = sorted({feed.key for feed in config.feeds.values()} | set(artwork_keys(config)))
    return [*exact, *(f"{prefix}*" for prefix in prefixes)]


class Cdn(Construct):
    """A distribution in front of the private bucket: the bucket admits only it (origin access control).

    Range requests need nothing extra: CloudFront passes `Range` to S3 and caches the parts.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.IBucket,
        log_bucket: s3.IBucket,
        public: Sequence[str],
    ) -> None:
        super().__init__(scope, construct_id)
        # A view of the bucket that CDK cannot add a policy to: the origin's own grant would be the whole
        # bucket. The grant below names the public keys instead.
        origin_bucket = s3.Bucket.from_bucket_attributes(
            self,
            "OriginBucket",
            bucket_arn=bucket.bucket_arn,
            bucket_regional_domain_name=bucket.bucket_regional_domain_name,
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="podcast-pipeline feeds and audio",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(origin_bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                compress=True,
            ),
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            enable_logging=True,
            log_bucket=log_bucket,
            log_file_prefix=constants.CDN_LOG_PREFIX,
        )
        Annotations.of(self).acknowledge_warning(
            "@aws-cdk/aws-cloudfront-origins:updateImportedBucketPolicyOac",
            "the view is imported on purpose: the grant to the distribution is added below, key by key",
        )
        stack = Stack.of(self)
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CdnReadsPublicKeys",
                actions=["s3:GetObject"],
                principals=[iam.ServicePrincipal("cloudfront.amazonaws.com")],
                resources=[bucket.arn_for_objects(key) for key in public],
                conditions={
                    "StringEquals": {
                        "AWS:SourceArn": stack.format_arn(
                            service="cloudfront",
                            region="",
                            resource="distribution",
                            resource_name=self.distribution.distribution_id,
                        )
                    }
                },
            )
        )
        # (cdk-nag rule, the same check in checkov or None, why it does not apply)
        for rule, check, why in (
            ("AwsSolutions-CFR1", None, "a podcast is for listeners anywhere; no geo restriction."),
            (
                "AwsSolutions-CFR2",
                "CKV_AWS_68",
                "serves public static files (GET/HEAD only); a WAF adds cost, not protection.",
            ),
            (
                "AwsSolutions-CFR4",
                "CKV_AWS_174",
                "without a custom domain the default *.cloudfront.net certificate is used and CloudFront "
                "fixes its TLS policy; with a custom domain, set TLSv1.2_2021.",
            ),
        ):
            acknowledge(self.distribution, rule, why)
            if check:
                skip_checkov(self.distribution, check, why)

"""The optional CDN (`-c cdn=true`): feeds and MP3s served from the content bucket through CloudFront."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import constants


class Cdn(Construct):
    """A distribution in front of the private bucket: the bucket admits only it (origin access control).

    Range requests need nothing extra: CloudFront passes `Range` to S3 and caches the parts.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, bucket: s3.IBucket, log_bucket: s3.IBucket
    ) -> None:
        super().__init__(scope, construct_id)
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="podcast-pipeline feeds and audio",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(bucket),
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
        for rule, reason in (
            ("AwsSolutions-CFR1", "Distribution: a podcast is for listeners anywhere; no geo restriction."),
            (
                "AwsSolutions-CFR2",
                "Distribution: serves static public files only (GET/HEAD); a WAF adds cost, no protection.",
            ),
            (
                "AwsSolutions-CFR4",
                "Distribution: no custom domain, so it uses the default *.cloudfront.net certificate, whose "
                "TLS policy CloudFront fixes; a custom domain with TLSv1.2_2021 is the operator's choice.",
            ),
        ):
            Validations.of(self.distribution).acknowledge(Acknowledgment(id=rule, reason=reason))

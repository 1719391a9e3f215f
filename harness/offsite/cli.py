"""``drill posture``, ``drill upload`` and ``drill fetch``; plus s3:// support for validate/dry-run.

Exit codes: 0 passed/verified, 1 posture failed or checksum mismatch, 2 could not run. Outside a
scenario the endpoint defaults to LocalStack when an endpoint URL is configured
(--endpoint-url, LOCALSTACK_ENDPOINT, AWS_ENDPOINT_URL, LOCALSTACK_HOST), else real AWS through
the standard credential chain; ``--aws-provider`` or ``DRILL_AWS_PROVIDER`` choose explicitly.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.aws.oneoff import endpoint_for
from harness.aws.providers import AWS_PROVIDERS
from harness.errors import EXIT_NOT_VERIFIED, EXIT_VERIFIED, ConfigError

if TYPE_CHECKING:
    from harness.commands import AddCommand


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _json(data: dict[str, Any]) -> None:
    import orjson

    from harness.evidence import scrub_secrets

    _out(orjson.dumps(scrub_secrets(data), option=orjson.OPT_INDENT_2).decode())


def _aws_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--aws-provider", choices=list(AWS_PROVIDERS), help="endpoint provider")
    p.add_argument("--region", help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION)")
    p.add_argument("--endpoint-url", help="LocalStack-style endpoint URL (localstack provider)")
    p.add_argument("--json", action="store_true", help="print JSON")


def _policy(args: argparse.Namespace) -> Any:
    from harness.offsite.settings import PosturePolicy, load_policy_file

    policy = load_policy_file(Path(args.policy)) if args.policy else PosturePolicy()
    if args.warn_only:
        from dataclasses import replace

        policy = replace(policy, warn_only=True)
    return policy


def register(add: AddCommand) -> None:
    """Add the offsite commands to ``drill``."""
    post = add("posture", cmd_posture, "check an S3 archive bucket's live posture against a policy")
    post.add_argument("uri", metavar="s3://BUCKET[/PREFIX]")
    post.add_argument("--policy", metavar="FILE", help="posture policy YAML (default: the strict built-in)")
    post.add_argument("--warn-only", action="store_true", help="report failures but exit 0")
    post.add_argument(
        "--provision", action="store_true", help="first create the bucket as production should have it"
    )
    _aws_args(post)

    up = add("upload", cmd_upload, "upload an export archive to S3 after a posture check (prints JSON)")
    up.add_argument("archive", help="a .tar.gz made by `drill export --archive` or `drill archive`")
    up.add_argument("uri", metavar="s3://BUCKET/PREFIX")
    up.add_argument("--environment", required=True, help="environment label for the key (e.g. production)")
    up.add_argument("--name", default="portable-export", help="fixed archive name for the key")
    up.add_argument("--policy", metavar="FILE", help="posture policy YAML (default: the strict built-in)")
    up.add_argument("--warn-only", action="store_true", help="upload even if the posture fails (recorded)")
    up.add_argument("--part-size-mb", type=float, default=16, help="multipart part size (default 16)")
    up.add_argument(
        "--multipart-threshold-mb", type=float, default=64, help="multipart from this size on (default 64)"
    )
    _aws_args(up)

    fe = add("fetch", cmd_fetch, "download an archive from S3, checksum-verified")
    fe.add_argument("uri", metavar="s3://BUCKET/KEY[?versionId=ID]")
    fe.add_argument("-o", "--out", default=".tmp/exports", help="directory (default: .tmp/exports)")
    fe.add_argument("--expect-sha256", metavar="HEX", help="also require this SHA-256")
    _aws_args(fe)


def cmd_posture(args: argparse.Namespace) -> int:
    from harness.offsite.client import s3_client
    from harness.offsite.keys import parse_s3_uri
    from harness.offsite.posture import check_posture
    from harness.offsite.provision import provision_bucket
    from harness.offsite.settings import StorageSpec

    uri = parse_s3_uri(args.uri)
    policy = _policy(args)
    with endpoint_for(args.aws_provider, args.region, args.endpoint_url, ephemeral_ok=args.provision) as ep:
        s3 = s3_client(ep)
        if args.provision:
            if ep.provider == "aws":
                raise ConfigError("--provision: the harness never creates buckets in real AWS")
            provision_bucket(s3, ep.client("kms"), uri.bucket, StorageSpec(), ep.region)
        report = check_posture(s3, uri.bucket, uri.key.strip("/"), policy, ep.region)
    if args.json:
        _json(report.to_dict())
    else:
        for c in report.checks:
            row = c.to_dict()
            _out(f"{row['status'].upper():13} {c.name:40} {c.detail}")
        _out(report.summary() + (" (warn-only)" if report.warn_only and not report.passed else ""))
    return EXIT_VERIFIED if report.allows_upload else EXIT_NOT_VERIFIED


def cmd_upload(args: argparse.Namespace) -> int:
    from harness.offsite.client import s3_client
    from harness.offsite.keys import check_prefix, parse_s3_uri
    from harness.offsite.posture import check_posture
    from harness.offsite.settings import MIB, TransferSettings
    from harness.offsite.upload import upload_archive

    uri = parse_s3_uri(args.uri)
    archive = Path(args.archive)
    if not archive.is_file():
        raise ConfigError(f"{archive}: no such archive")
    if min(args.part_size_mb, args.multipart_threshold_mb) < 5:
        raise ConfigError("--part-size-mb and --multipart-threshold-mb: S3 parts are at least 5 MB")
    transfer = TransferSettings(
        part_size=int(args.part_size_mb * MIB), multipart_threshold=int(args.multipart_threshold_mb * MIB)
    )
    prefix = check_prefix(uri.key or "drills", "the URI's prefix")
    with endpoint_for(args.aws_provider, args.region, args.endpoint_url) as ep:
        s3 = s3_client(ep, transfer)
        report = check_posture(s3, uri.bucket, prefix, _policy(args), ep.region)
        if not report.passed:
            sys.stderr.write(f"drill: posture: {report.summary()}\n")
        result = upload_archive(
            s3,
            archive,
            bucket=uri.bucket,
            prefix=prefix,
            environment=args.environment,
            name=args.name,
            posture=report,
            transfer=transfer,
        )
    _json({**result.to_dict(), "posture": report.to_dict()})
    return EXIT_VERIFIED


def cmd_fetch(args: argparse.Namespace) -> int:
    from harness.offsite.client import s3_client
    from harness.offsite.fetch import fetch_archive
    from harness.offsite.keys import parse_s3_uri

    uri = parse_s3_uri(args.uri)
    with endpoint_for(args.aws_provider, args.region, args.endpoint_url) as ep:
        result = fetch_archive(
            s3_client(ep), uri, Path(args.out), region=ep.region, expected_sha256=args.expect_sha256
        )
    if args.json:
        _json(result.to_dict())
    else:
        _out(f"{result.path}: {result.size_bytes} bytes; verified against {', '.join(result.checks)}")
    return EXIT_VERIFIED

"""``drill pg-restore-check FILE|s3://BUCKET/KEY|s3://BUCKET/PREFIX/``: drill a team's own
``pg_dump -Fc`` file (for a prefix: the newest under it, by the time stamp in its file name).

An ``s3://`` object is first downloaded, checksum-verified, into the work directory (the
endpoint as for ``drill fetch``: ``--aws-provider``, ``DRILL_AWS_PROVIDER``, an endpoint URL
in the environment, else real AWS). Runs the ``pg-restore-check`` lane's steps in order (a
step whose prerequisite did not pass is skipped), writes evidence like ``drill run`` does,
and exits 0 verified, 1 the dump did not verify, 2 the check could not run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.aws.providers import DURABLE_AWS_PROVIDERS

if TYPE_CHECKING:
    from harness.commands import AddCommand

LANE = "pg-restore-check"


def register(add: AddCommand) -> None:
    """Add ``drill pg-restore-check`` to the command line."""
    p = add(
        LANE,
        cmd_pg_restore_check,
        "restore your own pg_dump -Fc file (local or s3://) into a scratch cluster and check it",
    )
    p.add_argument(
        "dump",
        metavar="FILE|s3://BUCKET/KEY|s3://BUCKET/PREFIX/",
        help="a pg_dump custom-format (-Fc) file, an S3 object downloaded checksum-verified first, or an "
        "S3 prefix: the newest dump under it, by the UTC time stamp in its file name (version pinned)",
    )
    p.add_argument(
        "--max-backup-age-seconds",
        type=float,
        metavar="N",
        help="freshness: fail when the dump (its header's creation time) is older than N seconds "
        "(e.g. 90000 = 25 h for a nightly dump)",
    )
    p.add_argument("--scenario", help="a pg-restore-check scenario whose smoke queries and options to use")
    p.add_argument(
        "--min-rows",
        action="append",
        default=[],
        metavar="TABLE=N",
        help="require at least N rows (repeatable)",
    )
    p.add_argument("--canary-sql", metavar="SQL", help="query returning the planted canary token")
    p.add_argument("--canary-env", metavar="VAR", help="NAME of the env variable holding the expected token")
    p.add_argument("--evidence-dir", default="reports", help="where evidence goes (default: reports)")
    p.add_argument(
        "--work-dir", default=".tmp/exports", help="where an s3:// dump is downloaded (default: .tmp/exports)"
    )
    p.add_argument(
        "--aws-provider",
        choices=DURABLE_AWS_PROVIDERS,
        help="endpoint for an s3:// dump (default: DRILL_AWS_PROVIDER, else localstack when an endpoint "
        "URL is set in the environment, else aws)",
    )


def _options(args: argparse.Namespace, base: dict[str, Any]) -> dict[str, Any]:
    from harness.errors import ConfigError

    options = dict(base)
    minimums = dict(options.get("min_rows") or {})
    for item in args.min_rows:
        match = re.fullmatch(r"([A-Za-z_][\w$.]*)=(\d+)", item)
        if not match:
            raise ConfigError(f"--min-rows {item!r}: expected TABLE=N, e.g. users=1")
        minimums[match.group(1)] = int(match.group(2))
    if minimums:
        options["min_rows"] = minimums
    if bool(args.canary_sql) != bool(args.canary_env):
        raise ConfigError("--canary-sql and --canary-env go together")
    if args.canary_sql:
        options["canary"] = {"sql": args.canary_sql, "expect_env": args.canary_env}
    return options


def _scenario(args: argparse.Namespace) -> Any:
    from harness.errors import ConfigError
    from harness.scenario import Scenario, load_scenario

    if args.scenario:
        loaded = load_scenario(args.scenario)
        if loaded.lane != LANE:
            raise ConfigError(
                f"{loaded.path}: --scenario must be a {LANE} scenario (its lane is {loaded.lane})"
            )
        # options are checked by the lane
        data: dict[str, Any] = {**loaded.data, "options": _options(args, loaded.options)}
        if args.max_backup_age_seconds is not None:
            data["objectives"] = {
                **loaded.section("objectives"),
                "max_backup_age_seconds": args.max_backup_age_seconds,
            }
        return Scenario(loaded.path, loaded.name, LANE, data, loaded.sha256)
    options = _options(args, {})
    data = {"scenario_version": 1, "name": LANE, "lane": LANE, "options": options}
    if args.max_backup_age_seconds is not None:
        data["objectives"] = {"max_backup_age_seconds": args.max_backup_age_seconds}
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    where = Path("command line") if args.dump.startswith("s3://") else Path(args.dump).resolve()
    return Scenario(where, LANE, LANE, data, digest)


def cmd_pg_restore_check(args: argparse.Namespace) -> int:
    from harness.evidence import write_evidence
    from harness.lanes.runner import interrupts_deferred, run_lane, start
    from harness.pgdrill.restore_check import RestoreCheckLane
    from harness.scenario import RunOptions

    scenario = _scenario(args)
    options = RunOptions(
        evidence_dir=Path(args.evidence_dir),
        work_dir=Path(args.work_dir),
        aws_provider=args.aws_provider,
        extra={"dump": args.dump},
    )
    doc = run_lane(*start(RestoreCheckLane, scenario, options))
    with interrupts_deferred():
        json_path, _ = write_evidence(doc, Path(args.evidence_dir))
    for step in doc["steps"]:
        sys.stdout.write(f"{step['status']:8} {step['name']}: {step['message']}\n")
    sys.stdout.write(
        f"{doc['verdict'].upper()} (exit {doc['exit_code']}): {doc['reason']}\nevidence: {json_path}\n"
    )
    code: int = doc["exit_code"]
    return code

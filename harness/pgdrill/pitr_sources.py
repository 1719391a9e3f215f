"""The pitr-archive lane's sources, built from its options: a pgBackRest repository (the team's
configuration, or the stand-in's) or a plain base backup with its WAL archive; their scratch
directory (owned by the server account, removed with the lane); the WAL continuity check."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.pgdrill.base_archive import BaseBackupSource
from harness.pgdrill.options import PitrArchiveOptions
from harness.pgdrill.pgbackrest import PgBackRest, PgBackRestSource
from harness.pgdrill.standin import StandIn
from harness.postgres.account import service_account
from harness.postgres.recovery import segment_range
from harness.scenario import Scenario


def first_gap(start: str, present: list[str], size: int) -> tuple[str, int] | None:
    """The first segment missing between ``start`` and the newest ``present`` one on its timeline,
    with how many are missing in all; None when the archive is continuous."""
    names = sorted(n for n in present if n[:8] == start[:8] and n >= start)
    if not names:
        return (start, 1)
    have = set(names)
    missing = [s for s in segment_range(start, names[-1], size) if s not in have]
    return (missing[0], len(missing)) if missing else None


def scratch_dir(stack: contextlib.ExitStack) -> Path:
    """A private temporary directory the server account owns (pgBackRest and restore_command run
    as it): lock, log, spool and fetched files; removed when ``stack`` closes."""
    path = Path(tempfile.mkdtemp(prefix="drill-src-"))
    stack.callback(shutil.rmtree, path, ignore_errors=True)
    account = service_account()
    if account:
        os.chown(path, *account)
    return path


def s3_factory(
    stack: contextlib.ExitStack, aws: dict[str, Any] | None, override: str | None
) -> Callable[[], Any]:
    """An S3 client opened on first use (``options.base_backup.aws``; ``--aws-provider`` wins)."""
    opened: list[Any] = []

    def client() -> Any:
        from harness.aws.providers import aws_endpoint, resolve_provider
        from harness.offsite.client import s3_client

        if not opened:
            raw = aws or {}
            provider = resolve_provider(override, raw.get("provider"))
            endpoint = stack.enter_context(
                aws_endpoint(provider, region=raw.get("region"), url=raw.get("endpoint_url"))
            )
            opened.append(s3_client(endpoint))
        return opened[0]

    return client


def _config_path(scenario: Scenario, text: str | None) -> Path | None:
    if text is None:
        return None
    path = Path(text) if Path(text).is_absolute() else scenario.resolve(text)
    if not path.is_file():
        raise ConfigError(f"{scenario.path}: options.pgbackrest.config: {path} does not exist")
    return path


def open_source(
    opts: PitrArchiveOptions,
    stand_in: StandIn | None,
    scenario: Scenario,
    stack: contextlib.ExitStack,
    aws_override: str | None,
) -> PgBackRestSource | BaseBackupSource:
    """The source the options name (the stand-in's stanza when there is one)."""
    if opts.pgbackrest is not None:
        raw = opts.pgbackrest
        backrest = PgBackRest(
            stand_in.stanza if stand_in else str(raw.get("stanza", "drill")),
            scratch_dir(stack),
            config=stand_in.config if stand_in else _config_path(scenario, raw.get("config")),
            repo=int(raw.get("repo", 1)),
            account=service_account(),
        )
        return PgBackRestSource(backrest)
    raw = dict(opts.base_backup or {})
    return BaseBackupSource(
        str(raw["backup"]),
        str(raw["wal"]),
        base=scenario.path.parent,
        scratch=scratch_dir(stack),
        s3=s3_factory(stack, raw.get("aws"), aws_override),
    )

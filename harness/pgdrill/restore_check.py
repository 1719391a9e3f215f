"""The ``pg-restore-check`` lane: restore a team's own ``pg_dump -Fc`` file (local, or an
``s3://`` object downloaded checksum-verified) into an embedded scratch cluster and run the
scenario's checks on it (row-count minimums, smoke SQL, a canary token, optionally an audit
hash chain). Also behind ``drill pg-restore-check FILE|s3://BUCKET/KEY``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from psycopg import sql

from harness.dataset.chain import ChainCheck, ChainSpec, explain_break, verify_chain
from harness.errors import ConfigError, StepSkipped, VerificationFailed
from harness.lanes.base import Lane, StepSpec
from harness.offsite.freshness import Freshness, freshness
from harness.offsite.locate import Located, with_version_hex
from harness.pgdrill import canary
from harness.pgdrill.dump import DumpInfo, RestoreRun, inspect_dump, restore_measurements, timed_restore
from harness.pgdrill.options import CanarySpec, RestoreCheckOptions
from harness.pgdrill.snapshot import Snapshot, qualified_name, take_snapshot
from harness.postgres.binaries import bindir_for_major, find_bindir, server_major
from harness.postgres.database import Database, create_database
from harness.postgres.embedded import EmbeddedCluster, embedded_postgres
from harness.smoke import SmokeResult, judged, smoke_without_source

if TYPE_CHECKING:
    from harness.offsite.fetch import FetchResult

RESTORE_DB = "restore_check"
_USER_SCHEMAS = (
    "SELECT nspname FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND nspname NOT LIKE 'pg\\_%' ORDER BY 1"
)


class RestoreCheckLane(Lane):
    steps: ClassVar = (
        StepSpec("inspect"),
        StepSpec("freshness", needs=("inspect",)),
        StepSpec("restore", needs=("inspect",)),
        StepSpec("row-counts", data_proving=True, needs=("restore",)),
        StepSpec("smoke", data_proving=True, needs=("restore",)),
        StepSpec("canary", data_proving=True, needs=("restore",)),
        StepSpec("verify-chain", data_proving=True, needs=("restore",)),
    )

    info: DumpInfo
    uri: str | None = None  # the s3:// object the dump was fetched from
    located: Located | None = None  # how it was chosen, for an s3:// prefix (the newest dump)
    fetched: FetchResult | None = None  # and what was fetched (version id, checks)
    fresh: Freshness
    db: Database
    snapshot: Snapshot
    restored: RestoreRun
    counts: dict[str, Any]
    smoke_results: list[SmokeResult]
    chain_check: ChainCheck
    _canary: bool | None = None

    def parse_options(self) -> RestoreCheckOptions:
        return RestoreCheckOptions.parse(self.scenario.options, str(self.scenario.path))

    def _dump_path(self) -> Path:
        """The dump as a local file: as given, relative to the scenario, or fetched from S3."""
        given = self.options.extra.get("dump")
        text = str(given or self.opts.dump or "")
        if not text:
            raise ConfigError(f"{self.scenario.path}: options.dump: name the pg_dump -Fc file to check")
        if text.startswith("s3://"):
            from harness.offsite.fetch import fetch_uri_result  # checksum-verified, atomic download

            if text.endswith("/") or "/" not in text[len("s3://") :]:
                self.located = self._newest_dump(text)
                text = (
                    f"{self.located.uri}?versionId={self.located.uri.version_id}"
                    if (self.located.uri and self.located.uri.version_id)
                    else str(self.located.uri)
                )
            self.uri = text
            self.fetched = fetch_uri_result(text, self.make_work_dir(), provider=self.options.aws_provider)
            return self.fetched.path
        return Path(text).resolve() if given else self.scenario.resolve(text)

    def _newest_dump(self, text: str) -> Located:
        """The newest dump under an ``s3://`` prefix, by the UTC time stamp in its file name."""
        from harness.aws.oneoff import endpoint_for
        from harness.offsite.client import s3_client
        from harness.offsite.keys import parse_s3_uri
        from harness.offsite.locate import locate_newest_named

        with endpoint_for(self.options.aws_provider) as endpoint:
            return locate_newest_named(s3_client(endpoint), parse_s3_uri(text))

    def _bindir(self) -> Path:
        return find_bindir(self.role("source").bindir)

    # -- steps ----------------------------------------------------------------------------------
    def step_inspect(self) -> str:
        self.info = inspect_dump(self._dump_path(), self._bindir())
        i = self.info
        fetched = f"fetched from {self.uri} (checksum-verified); " if self.uri else ""
        return (
            f"{fetched}{i.path.name}: custom-format dump of PostgreSQL {i.dumped_from.split()[0]}, "
            f"{i.toc_entries} TOC entries, {len(i.data_tables)} tables with data, {i.size_bytes} bytes"
        )

    def step_freshness(self) -> str:
        """The dump's own creation time (its header) against ``objectives.max_backup_age_seconds``."""
        created = self.info.created_at
        bound = self.scenario.objectives.max_backup_age_seconds
        if created is None:
            if bound is None:
                raise StepSkipped("the dump's header carries no creation time, and no max age is set")
            raise VerificationFailed(f"{self.info.path.name}: the dump's header carries no creation time")
        name = str(self.located.uri) if self.located and self.located.uri else self.uri or str(self.info.path)
        self.fresh = freshness(name, created, bound, time_means="'Archive created at' in the dump's header")
        return self.fresh.judge()

    def _server(self) -> EmbeddedCluster:
        """A scratch cluster of the dump's own major (the run's embedded one when it matches); none
        installed: ProviderError naming the major and the package, never a mismatched server."""
        found = re.match(r"(\d+)\.", self.info.dumped_from)
        major = found.group(1) if found else None
        cluster = self.cluster()
        if major is None or server_major(cluster.bindir) == major:
            return cluster
        bindir = bindir_for_major(major, self.role("source").bindir)
        server: EmbeddedCluster = self.stack.enter_context(embedded_postgres(bindir))
        return server

    def step_restore(self) -> str:
        server = self._server()
        db = create_database(server.database(), RESTORE_DB).with_environment("scratch")
        with db.connect(autocommit=True) as conn:
            for schema in self.info.schemas:  # a dump taken with -n re-creates its schemas itself
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        self.restored = timed_restore(db, db, server.bindir, self.info.path)
        self.db = db
        with db.connect() as conn:
            schemas = [str(r[0]) for r in conn.execute(_USER_SCHEMAS).fetchall()]
        self.snapshot = take_snapshot(db, schemas, None)
        total = sum(t.rows for t in self.snapshot.tables.values())
        tables, seconds = len(self.snapshot.tables), self.restored.pg_restore_seconds
        return f"restored into embedded {RESTORE_DB} in {seconds:.2f}s: {tables} tables, {total} rows"

    def step_row_counts(self) -> str:
        tables = self.snapshot.tables
        minimums: Mapping[str, int] = self.opts.min_rows
        self.counts = {}
        problems = []
        for name, minimum in sorted(minimums.items()):
            key = qualified_name(name)
            state = tables.get(key)
            got = state.rows if state else None
            self.counts[key] = {"min": minimum, "rows": got, "passed": got is not None and got >= minimum}
            if got is None:
                problems.append(f"{key}: not in the restored dump")
            elif got < minimum:
                problems.append(f"{key}: {got} rows, expected at least {minimum}")
        if problems:
            raise VerificationFailed("; ".join(problems))
        total = sum(t.rows for t in tables.values())
        if not minimums:
            if total == 0:
                raise VerificationFailed(
                    "the dump restored no rows at all (set options.min_rows to expect some)"
                )
            return f"{len(tables)} tables, {total} rows (no minimums configured: only non-empty is checked)"
        return f"{len(minimums)} table minimum(s) met; {total} rows in {len(tables)} tables"

    def step_smoke(self) -> str:
        checks = self.scenario.data.get("smoke") or []
        if not checks:
            raise StepSkipped("the scenario defines no smoke queries")
        self.smoke_results = smoke_without_source(self.db, checks, str(self.scenario.path))
        return judged(self.smoke_results)

    def step_canary(self) -> str:
        spec: CanarySpec | None = self.opts.canary
        if spec is None:
            raise StepSkipped("no canary configured (options.canary)")
        expected = os.environ.get(spec.expect_env)
        if expected is None:
            raise ConfigError(
                f"{self.scenario.path}: options.canary.expect_env: environment variable "
                f"{spec.expect_env} (the expected token) is not set"
            )
        self._canary, message = canary.compare(expected.encode("utf-8"), canary.read_value(self.db, spec.sql))
        if not self._canary:
            raise VerificationFailed(message)
        return message

    def step_verify_chain(self) -> str:
        spec: ChainSpec | None = self.opts.chain
        if spec is None:
            raise StepSkipped("no hash chain configured (options.chain)")
        table = self.snapshot.tables.get(qualified_name(spec.table))
        if table is None:
            raise VerificationFailed(f"chain table {spec.table} is not in the restored dump")
        with self.db.connect() as conn:
            try:
                self.chain_check = verify_chain(conn, spec)
            except ConfigError as exc:
                raise ConfigError(f"{self.scenario.path}: options.{exc}") from None
            c = self.chain_check
            if c.first_broken_id is not None:
                why = explain_break(conn, spec, c.first_broken_id)
                raise VerificationFailed(f"verifier found a break: {why}")
        if c.rows != table.rows:
            raise VerificationFailed(f"verifier walked {c.rows} rows of {spec.table}; it has {table.rows}")
        return f"{spec.table}: {c.rows} rows walked, no break, head {c.head}"

    # -- evidence -------------------------------------------------------------------------------
    def sections(self) -> dict[str, Any]:
        section: dict[str, Any] = {}
        if hasattr(self, "info"):
            section["dump"] = self.info.to_dict()
        if self.fetched is not None:
            section["fetch"] = with_version_hex(self.fetched.to_dict())  # real S3 ids look like tokens
        if hasattr(self, "snapshot"):
            section["restored"] = self.snapshot.to_dict()
        if hasattr(self, "counts"):
            section["min_rows"] = self.counts
        try:
            configured = self.opts.canary is not None
        except ConfigError:
            configured = False
        section["canary"] = {"configured": configured, "returned_byte_exact": self._canary}
        if hasattr(self, "chain_check"):
            c, spec = self.chain_check, self.opts.chain
            section["chain"] = {
                "table": spec.table,
                "row_count": self.snapshot.tables[qualified_name(spec.table)].rows,
                "chain_head_hash": c.head,
                "first_break_id": "" if c.first_broken_id is None else str(c.first_broken_id),
                "verifier_walked": c.rows,
            }
        run = getattr(self, "restored", None)
        created = self.info.created_at if run else None
        out: dict[str, Any] = {
            "extra": {"pg_restore_check": section},
            "measurements": restore_measurements(self.objective, run, created, "its archive creation time"),
        }
        if hasattr(self, "fresh"):
            out["measurements"]["freshness"] = self.fresh.to_dict()
        if self.located is not None:
            section["locate"] = self.located.to_dict()
        if hasattr(self, "info"):
            out["source"] = {
                "archive": {
                    "uri": self.uri or self.info.path.as_uri(),
                    "sha256": f"sha256:{self.info.sha256}",
                    "size_bytes": self.info.size_bytes,
                }
            }
            if self.fetched is not None:
                out["source"]["archive"]["version_id"] = self.fetched.version_id
        if hasattr(self, "db"):
            out["target"] = {"environment": "scratch", "database": self.db.describe()}
        if hasattr(self, "smoke_results"):
            out["smoke"] = [r.to_dict() for r in self.smoke_results]
        return out

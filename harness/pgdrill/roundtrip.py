"""The ``pg-roundtrip`` lane: workload → pre-snapshot → pg_dump -Fc → simulated loss →
pg_restore → post-snapshot → tables, audit chain and canary must come back unchanged.

Runs only on the embedded cluster (it drops schemas or the whole database on purpose).
"""

from __future__ import annotations

from typing import Any, ClassVar

import psycopg
from psycopg import sql

from harness.dataset.chain import ChainSpec, explain_break
from harness.errors import ConfigError, StepSkipped, VerificationFailed, first_line
from harness.files import sha256_file
from harness.lanes.base import Lane, StepSpec
from harness.pgdrill import canary
from harness.pgdrill.dump import DumpInfo, RestoreRun, dump, restore_measurements, timed_restore
from harness.pgdrill.options import RoundTripOptions
from harness.pgdrill.snapshot import (
    Comparison,
    Snapshot,
    list_tables,
    qualified_name,
    require_tables_match,
    take_snapshot,
)
from harness.postgres.database import Database, create_database

ROUNDTRIP_DB = "drill_roundtrip"


class RoundTripLane(Lane):
    steps: ClassVar = (
        StepSpec("workload"),
        StepSpec("pre-snapshot", needs=("workload",)),
        StepSpec("dump", needs=("pre-snapshot",)),
        StepSpec("simulate-loss", needs=("dump",)),
        StepSpec("restore", needs=("simulate-loss",)),
        StepSpec("post-snapshot", needs=("restore",)),
        StepSpec("compare-tables", data_proving=True, needs=("post-snapshot",)),
        StepSpec("verify-chain", data_proving=True, needs=("post-snapshot",)),
        StepSpec("canary", data_proving=True, needs=("restore",)),
    )

    db: Database
    chain: ChainSpec | None
    pre: Snapshot
    post: Snapshot
    dump_info: DumpInfo
    comparison: Comparison
    restored: RestoreRun
    _token: str | None = None
    _canary_ok: bool | None = None
    _workload: dict[str, Any] | None = None

    # -- options --------------------------------------------------------------------------------
    def parse_options(self) -> RoundTripOptions:
        return RoundTripOptions.parse(self.scenario.options, str(self.scenario.path))

    @property
    def schemas(self) -> list[str]:
        return list(self.opts.schemas)

    @property
    def loss(self) -> str:
        return str(self.opts.loss)

    def _require_embedded(self) -> None:
        if self.role("source").provider != "embedded":
            raise ConfigError(
                f"{self.scenario.path}: the pg-roundtrip drill drops and restores data on purpose, so it "
                "runs only on the embedded cluster; drill a dump of another database with "
                "`drill pg-restore-check FILE`"
            )

    # -- steps ----------------------------------------------------------------------------------
    def step_workload(self) -> str:
        opts: RoundTripOptions = self.opts
        self._require_embedded()
        self.chain = opts.chain
        if self.chain is not None and qualified_name(self.chain.table).split(".")[0] not in self.schemas:
            raise ConfigError(
                f"{self.scenario.path}: options.chain.table: {self.chain.table} is not in options.schemas "
                f"({', '.join(self.schemas)}), so the drill would not dump, lose and restore it"
            )
        sql_files = list(opts.workload_sql)
        db = create_database(self.cluster().database(), ROUNDTRIP_DB).with_environment("drill")
        done: list[str] = []
        if opts.workload_dataset:
            from harness.dataset.generator import seed_dataset

            dataset = self.scenario.dataset(self.options, self.default_dataset_rows)
            counts = seed_dataset(db, dataset.rows, seed=dataset.seed)
            done.append(f"reference dataset ({sum(counts.values())} rows)")
        for rel in sql_files:
            path = self.scenario.resolve(rel)
            if not path.is_file():
                raise ConfigError(f"{self.scenario.path}: options.workload.sql: {path} not found")
            try:
                with db.connect() as conn:
                    conn.execute(path.read_bytes())
                    conn.commit()
            except psycopg.Error as exc:
                raise ConfigError(f"{path}: {first_line(exc)}") from None
            done.append(path.name)
        with db.connect() as conn:
            present = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace").fetchall()}
        missing = [s for s in self.schemas if s not in present]
        if missing:
            raise ConfigError(f"{self.scenario.path}: options.schemas: no schema {', '.join(missing)}")
        self._workload = {"dataset": bool(done and done[0].startswith("reference")), "sql": sql_files}
        self.db = db
        if opts.canary:
            self._token = canary.new_token()
            canary.plant(db, self.schemas[0], self._token)
            done.append(f"canary planted in {self.schemas[0]}.{canary.CANARY_TABLE}")
        return "; ".join(done)

    def step_pre_snapshot(self) -> str:
        try:
            self.pre = take_snapshot(self.db, self.schemas, self.chain)
        except ConfigError as exc:
            raise ConfigError(f"{self.scenario.path}: options.{exc}") from None
        if not self.pre.tables:
            raise ConfigError(f"{self.scenario.path}: no tables in schema(s) {', '.join(self.schemas)}")
        chain = self.pre.chain
        if chain is not None and self.chain is not None and not chain.ok:
            assert chain.first_broken_id is not None
            with self.db.connect() as conn:
                why = explain_break(conn, self.chain, chain.first_broken_id)
            raise VerificationFailed(f"the audit chain is already broken before the dump: {why}")
        total = sum(t.rows for t in self.pre.tables.values())
        text = f"{len(self.pre.tables)} tables, {total} rows checksummed in {self.pre.checksum_seconds:.2f}s"
        if chain is not None:
            text += f"; chain of {chain.rows} rows intact, head {chain.head[:16]}…"
        return text

    def step_dump(self) -> str:
        dest = self.make_work_dir() / f"{ROUNDTRIP_DB}.dump"
        schemas = self.schemas if self.loss == "drop-schema" else None
        self.dump_info = dump(self.db, self.cluster().bindir, dest, schemas=schemas)
        d = self.dump_info
        return f"pg_dump -Fc: {d.size_bytes} bytes, {d.toc_entries} TOC entries in {d.seconds:.2f}s"

    def step_simulate_loss(self) -> str:
        admin = self.cluster().database()
        if self.loss == "drop-database":
            with admin.connect(autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(self.db.dbname)))
                gone = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.db.dbname,))
                if gone.fetchone() is not None:
                    raise VerificationFailed(f"database {self.db.dbname} still exists after DROP DATABASE")
            return f"dropped database {self.db.dbname}"
        with self.db.connect(autocommit=True) as conn:
            for schema in self.schemas:
                conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
            left = list_tables(conn, self.schemas)
        if left:
            raise VerificationFailed(f"tables survived the simulated loss: {', '.join(left[:5])}")
        return f"dropped schema(s) {', '.join(self.schemas)} with CASCADE; no tables left"

    def step_restore(self) -> str:
        path = self.dump_info.path
        actual = sha256_file(path) if path.is_file() else "(file missing)"
        if actual != self.dump_info.sha256:
            raise VerificationFailed(
                f"{path}: the dump changed after it was written (sha256 {self.dump_info.sha256[:16]}… "
                f"then, {actual[:16]}… now)"
            )
        jobs = self.opts.restore_jobs
        create = self.loss == "drop-database"
        via = self.cluster().database() if create else self.db  # --create connects to another database
        self.restored = timed_restore(via, self.db, self.cluster().bindir, path, create=create, jobs=jobs)
        return f"pg_restore finished in {self.restored.pg_restore_seconds:.2f}s; the database answers queries"

    def step_post_snapshot(self) -> str:
        try:
            self.post = take_snapshot(self.db, self.schemas, self.chain)
        except ConfigError as exc:
            raise VerificationFailed(f"after the restore: {exc}") from None
        total = sum(t.rows for t in self.post.tables.values())
        return (
            f"{len(self.post.tables)} tables, {total} rows checksummed in {self.post.checksum_seconds:.2f}s"
        )

    def step_compare_tables(self) -> str:
        self.comparison = require_tables_match(self.pre, self.post)
        total = sum(t.rows for t in self.post.tables.values())
        return f"{len(self.comparison.tables)} tables: row counts and content checksums equal ({total} rows)"

    def step_verify_chain(self) -> str:
        spec, pre, post = self.chain, self.pre.chain, self.post.chain
        if spec is None or pre is None or post is None:
            raise StepSkipped("options.chain is false: the workload has no hash chain")
        problems = []
        if post.first_broken_id is not None:
            with self.db.connect() as conn:
                problems.append("verifier found a break: " + explain_break(conn, spec, post.first_broken_id))
        if post.head != pre.head:
            problems.append(f"chain head differs: {pre.head} before the dump, {post.head} after the restore")
        if post.rows != self.pre.row_count:
            problems.append(f"verifier walked {post.rows} rows; {self.pre.row_count} counted before the dump")
        if problems:
            raise VerificationFailed("; ".join(problems))
        return f"{spec.table}: {post.rows} rows walked, no break, head {post.head} byte-identical"

    def step_canary(self) -> str:
        if self._token is None:
            raise StepSkipped("options.canary is false")
        got = canary.read_planted(self.db, self.schemas[0])
        self._canary_ok, message = canary.compare(self._token.encode("utf-8"), got)
        if not self._canary_ok:
            raise VerificationFailed(message)
        return message

    # -- evidence -------------------------------------------------------------------------------
    def _measurements(self) -> dict[str, Any]:
        run = getattr(self, "restored", None)
        dumped = self.dump_info.started_at if run else None
        out = restore_measurements(self.objective, run, dumped, "when pg_dump started")
        rates: dict[str, float] = {}
        if hasattr(self, "pre") and self.pre.checksum_seconds:
            total = sum(t.rows for t in self.pre.tables.values())
            rates["checksum"] = round(total / self.pre.checksum_seconds, 1)
            if hasattr(self, "dump_info") and self.dump_info.seconds:
                rates["dump"] = round(total / self.dump_info.seconds, 1)
            if run is not None and run.pg_restore_seconds:
                rates["restore"] = round(total / run.pg_restore_seconds, 1)
        return {**out, "rows_per_second": rates}

    def sections(self) -> dict[str, Any]:
        section: dict[str, Any] = {"schemas": self.schemas if self._workload else None, "loss": None}
        if self._workload is not None:
            section.update(loss=self.loss, workload=self._workload)
            section["chain"] = self.chain.to_dict() if self.chain else None
            section["canary"] = {
                "planted": self._token is not None,
                "returned_byte_exact": self._canary_ok,
                "bytes": len(self._token.encode("utf-8")) if self._token else None,
            }
        for key in ("pre", "post"):
            if hasattr(self, key):
                section[key] = getattr(self, key).to_dict()
        if hasattr(self, "dump_info"):
            section["dump"] = self.dump_info.to_dict()
        if hasattr(self, "restored"):
            section["restore"] = {
                "seconds": round(self.restored.pg_restore_seconds, 3),
                "seconds_to_first_query": round(self.restored.seconds_to_query, 3),
            }
        if hasattr(self, "comparison"):
            section["comparison"] = self.comparison.to_dict()
        if hasattr(self, "pre") and hasattr(self, "post") and self.pre.chain and self.post.chain:
            pre, post = self.pre.to_dict(), self.post.to_dict()
            section["assertions"] = {
                "row_count_equal": pre["row_count"] == post["row_count"],
                "chain_head_equal": pre["chain_head_hash"] == post["chain_head_hash"],
                "no_break": post["first_break_id"] == "",
                "walked_every_row": post["verifier_walked"] == pre["row_count"],
            }
        out: dict[str, Any] = {"extra": {"pg_roundtrip": section}, "measurements": self._measurements()}
        if hasattr(self, "db"):
            out["source"] = {"database": self.db.describe()}
            out["target"] = {"environment": self.db.environment, "database": self.db.describe()}
        return out

"""A stand-in production for drills of existing PostgreSQL backups: an embedded cluster whose WAL is
archived by a real ``archive_command = pgbackrest archive-push`` into a real stanza, a full backup
taken with ``pgbackrest backup``, and an application committing rows and heartbeats around a
recorded target time. The weekly pgBackRest scenario, the tests and the RTO benchmark drill it
exactly as they would a team's repository; on a real repository there is no stand-in.

The repository is a posix directory under the cluster's base (removed with it), or any repository
the caller describes in ``repo`` (configuration lines, e.g. an S3 bucket on the embedded endpoint).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from harness.dataset.heartbeat import create_heartbeat_table, write_heartbeat
from harness.errors import ProviderError
from harness.pgdrill.pgbackrest import PgBackRest, check_stanza, failure, pgbackrest_binary
from harness.postgres.database import Database
from harness.postgres.embedded import EmbeddedCluster, embedded_postgres
from harness.postgres.recovery import server_now

MARKS = "drill_stand_in_marks"
STAND_IN_DB = "drill_app"


@dataclass
class StandIn:
    """The stand-in production and what it wrote (``target`` once :func:`write_around_target` ran)."""

    cluster: EmbeddedCluster
    stanza: str
    config: Path
    backrest: PgBackRest
    db: Database
    backups: list[str] = field(default_factory=list)
    target: datetime | None = None
    rows_before: int = 0
    rows_after: int = 0
    last_heartbeat_before_target: datetime | None = None
    retried: list[str] = field(default_factory=list)  # commands run again after a query timed out


#: The stand-in's own settings: gzip level 1 and two processes keep its backup and restore short
#: (pgBackRest's default gzip level 6 on one process took about twice as long).
_DEFAULTS = {
    "repo1-retention-full": "9999",
    "start-fast": "y",
    "log-level-file": "off",
    "compress-type": "gz",
    "compress-level": "1",
    "process-max": "2",
}


#: ``db-timeout`` of the stand-in's commands that query its database (stanza-create, backup; the
#: drill's own info, restore, verify and archive-get never do). pgBackRest 2.45 polls for a query's
#: result every db-timeout/10 below one second and every 100 ms from one second up, so each of the
#: twenty-odd queries of a backup costs at least 100 ms at the default (1800 s) and 20 ms at 0.2 s.
#: A query that outlives it (a slow checkpoint on a loaded machine) fails the command with
#: :data:`QUERY_TIMEOUT_EXIT`; the command then runs once more with pgBackRest's default.
QUICK_DB_TIMEOUT = "0.2"
QUERY_TIMEOUT_EXIT = 57  # pgBackRest's DbQueryError


def query_timed_out(out: subprocess.CompletedProcess[str]) -> bool:
    """Whether a pgBackRest command failed because a query outlived db-timeout: exit 57 and its
    ``ERROR: [057]: query '...' timed out after <n>ms`` (the query may span lines)."""
    if out.returncode != QUERY_TIMEOUT_EXIT:
        return False
    text = out.stdout + out.stderr
    if f"[0{QUERY_TIMEOUT_EXIT}]: query '" not in text:
        return False
    for line in text.splitlines():
        _, sep, tail = line.rstrip().rpartition("' timed out after ")
        if sep and tail.endswith("ms") and tail[:-2].isdigit():
            return True
    return False


def run_querying(backrest: PgBackRest, retried: list[str], command: str, *args: str) -> None:
    """A stand-in command that queries the database: with :data:`QUICK_DB_TIMEOUT` first and, only
    if a query timed out, once more with pgBackRest's default db-timeout (appended to ``retried``).
    Any other failure is a ProviderError at once."""
    first = backrest.execute(command, *args, f"--db-timeout={QUICK_DB_TIMEOUT}")
    if first.returncode == 0:
        return
    if not query_timed_out(first):
        raise failure(command, first)
    retried.append(command)
    backrest.run(command, *args)


def _write_config(cluster: EmbeddedCluster, stanza: str, repo: Mapping[str, str]) -> Path:
    home = cluster.base / "pgbackrest"
    home.mkdir(mode=0o700, exist_ok=True)
    options = {**_DEFAULTS, **repo}  # the caller's repository options win (each option once)
    lines = ["[global]", *(f"{k}={v}" for k, v in options.items())]
    lines += ["", f"[{stanza}]", f"pg1-path={cluster.data}", f"pg1-socket-path={cluster.base}"]
    lines += ["pg1-user=postgres"] + ([f"pg1-port={cluster.port}"] if cluster.port else [])
    conf = home / "pgbackrest.conf"
    fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    for path in (home, conf):
        if cluster.account:
            os.chown(path, *cluster.account)
    return conf


@contextlib.contextmanager
def pgbackrest_stand_in(
    bindir: str | os.PathLike[str] | None = None,
    *,
    stanza: str = "drill",
    repo: Mapping[str, str] | None = None,
) -> Iterator[StandIn]:
    """A running cluster archiving into a freshly created stanza; stopped and removed on exit."""
    check_stanza(stanza, "stand-in stanza")
    binary = pgbackrest_binary()
    chosen: dict[str, str] = dict(repo or {})

    def prepare(cluster: EmbeddedCluster) -> None:
        chosen.setdefault("repo1-path", str(cluster.base / "repo"))
        conf = _write_config(cluster, stanza, chosen)
        cluster.settings.update(
            {
                "wal_level": "replica",
                "archive_mode": "on",
                "archive_command": f"{binary} --config={conf} --stanza={stanza} archive-push %p",
                "archive_timeout": "0",
                "max_wal_senders": "4",
                "full_page_writes": "on",
                "log_timezone": "UTC",
            }
        )

    with embedded_postgres(bindir, prepare=prepare) as cluster:
        conf = _write_config(cluster, stanza, chosen)  # again, now with the port
        backrest = PgBackRest(
            stanza,
            cluster.base / "pgbackrest",
            config=conf,
            account=cluster.account,
            env={"PGPASSWORD": cluster.password},
        )
        # No `pgbackrest check` (about a second of 100 ms polls): the full backup proves the same,
        # since it fails unless archive-push delivered its start and stop segments (archive-check).
        retried: list[str] = []
        run_querying(backrest, retried, "stanza-create")
        from harness.postgres.database import create_database

        db = create_database(cluster.database(), STAND_IN_DB).with_environment("drill")
        create_heartbeat_table(db)
        with db.connect() as conn:
            conn.execute(
                f"CREATE TABLE {MARKS} (id bigint PRIMARY KEY, phase text NOT NULL, "
                "committed_at timestamptz NOT NULL DEFAULT clock_timestamp())"
            )
            conn.commit()
        yield StandIn(cluster, stanza, conf, backrest, db, retried=retried)


def full_backup(stand_in: StandIn) -> str:
    """``pgbackrest backup --type=full``; returns the new backup's label. A backup whose query timed
    out left no backup set in ``pgbackrest info`` (pgBackRest records a backup there only once it
    completed), so the retry's is the newest."""
    run_querying(stand_in.backrest, stand_in.retried, "backup", "--type=full")
    label = stand_in.backrest.info().newest().label
    stand_in.backups.append(label)
    return label


def switch_and_wait(stand_in: StandIn, timeout: float = 60) -> str:
    """Close the current WAL segment and wait until archive-push stored it; returns its name."""
    with stand_in.db.connect(autocommit=True) as conn:
        row = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()
        assert row is not None
        segment = str(row[0])
        deadline = time.monotonic() + timeout
        while True:
            stat = conn.execute("SELECT last_archived_wal, failed_count FROM pg_stat_archiver").fetchone()
            if stat is not None and stat[0] is not None and str(stat[0]) >= segment:
                return segment
            if time.monotonic() > deadline:
                failed = f" ({stat[1]} archive-push failures)" if stat and stat[1] else ""
                raise ProviderError(f"WAL segment {segment} was not archived within {timeout:.0f}s{failed}")
            time.sleep(0.01)


def _insert(db: Database, ids: range, phase: str) -> None:
    with db.connect(autocommit=True) as conn:
        for i in ids:  # one transaction per row: each is its own commit record
            conn.execute(f"INSERT INTO {MARKS} (id, phase) VALUES (%s, %s)", (i, phase))


def write_around_target(stand_in: StandIn, before: int, after: int) -> datetime:
    """Rows and a heartbeat before a recorded target time, rows and a heartbeat after it, the WAL
    archived through the last of them; returns the target (server clock)."""
    db = stand_in.db
    _insert(db, range(1, before + 1), "before")
    stand_in.last_heartbeat_before_target = write_heartbeat(db)
    time.sleep(0.01)
    target = server_now(db)
    time.sleep(0.01)  # every later commit is strictly after the target
    _insert(db, range(before + 1, before + after + 1), "after")
    write_heartbeat(db)
    switch_and_wait(stand_in)
    stand_in.target, stand_in.rows_before, stand_in.rows_after = target, before, after
    return target

"""The stand-in's short db-timeout and its one retry, with real faults: the checkpointer stopped
(SIGSTOP) while ``pgbackrest backup`` waits for its immediate checkpoint, and pgBackRest's own
database session stopped after the files were copied, so ``pg_backup_stop`` times out and the
retry finds an aborted backup in the repository. Each time the stand-in runs the command once
more with pgBackRest's default db-timeout, and the backup recorded is a complete one. A failure
that is not a query timeout is never retried, and the classifier reads pgBackRest's real message.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.errors import ProviderError
from harness.pgdrill.standin import (
    StandIn,
    full_backup,
    pgbackrest_stand_in,
    query_timed_out,
    run_querying,
)
from harness.postgres.database import Database
from tests.pgdrill.helpers import require_pgbackrest

#: pgBackRest 2.45's message when pg_backup_start outlived db-timeout (captured from a real run).
REAL_TIMEOUT = (
    "2026-12-01 17:54:53.565 P00  ERROR: [057]: query 'select lsn::text as lsn,\n"
    "                                           pg_catalog.pg_walfile_name(lsn)::text as wal_segment_name\n"
    "                                      from pg_catalog.pg_backup_start('pgBackRest backup started at ' "
    "|| current_timestamp, true) as lsn' timed out after 200ms\n"
)


def completed(code: int, stdout: str, stderr: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess(["pgbackrest"], code, stdout, stderr)


def test_only_pgbackrests_query_timeout_counts_as_one() -> None:
    assert query_timed_out(completed(57, REAL_TIMEOUT))
    assert query_timed_out(completed(57, "", REAL_TIMEOUT))  # the same on stderr
    one_line = "P00  ERROR: [057]: query 'select pg_catalog.pg_is_in_recovery()' timed out after 1800000ms"
    assert query_timed_out(completed(57, one_line))
    assert not query_timed_out(completed(0, REAL_TIMEOUT))  # exit 0 is no failure
    assert not query_timed_out(completed(25, REAL_TIMEOUT))  # another error's exit code
    for other in (
        "P00  ERROR: [057]: unable to execute query 'select 1': ERROR:  canceling statement",
        "P00  ERROR: [057]: query 'select 1' timed out after ms",
        "P00  ERROR: [057]: query 'select 1' timed out after 200s",
        "P00  ERROR: [057]: query 'select 1' timed out after 200ms because",
        "P00  ERROR: [082]: WAL segment 000000010000000000000004 was not archived before the 60000ms timeout",
        "query 'select 1' timed out after 200ms",  # no pgBackRest error code at all
        "",
    ):
        assert not query_timed_out(completed(57, other)), other


def _sets(root: Path) -> list[str]:
    """Backup set directories in the stanza's ``backup/`` (complete or aborted)."""
    return sorted(p.name for p in root.iterdir() if re.fullmatch(r"\d{8}-\d{6}F", p.name) and p.is_dir())


def _backend(admin: Database) -> tuple[int, str] | None:
    with admin.connect(autocommit=True) as conn:
        row = conn.execute(
            "SELECT pid, state FROM pg_stat_activity WHERE application_name = 'pgBackRest [backup]'"
        ).fetchone()
    return (int(row[0]), str(row[1])) if row else None


def _cancel_pending(pid: int) -> bool:
    """Whether a stopped process has a SIGINT pending: a query cancel the postmaster passed on."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True  # gone: nothing left to wait for
    bit = 1 << (signal.SIGINT - 1)
    return any(
        line.split(":", 1)[0] in ("SigPnd", "ShdPnd") and int(line.split(":", 1)[1], 16) & bit
        for line in status.splitlines()
    )


class Stall:
    """Stops a process (SIGSTOP) when ``start`` says so and resumes it when ``end`` does, polling
    every few milliseconds in a thread; resumed at the latest after ``limit`` seconds."""

    def __init__(self, start: Callable[[], int | None], end: Callable[[], bool], limit: float = 120) -> None:
        self.start, self.end, self.limit = start, end, limit
        self.stopped: int | None = None
        self.resumed_by_limit = False
        self.has_stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + self.limit
        try:
            while self.stopped is None and time.monotonic() < deadline:
                pid = self.start()
                if pid is not None:
                    os.kill(pid, signal.SIGSTOP)
                    self.stopped = pid
                    self.has_stopped.set()
                time.sleep(0.002)
            while self.stopped is not None and not self.end():
                if time.monotonic() > deadline:
                    self.resumed_by_limit = True
                    break
                time.sleep(0.002)
        finally:
            self.has_stopped.set()
            if self.stopped is not None:
                os.kill(self.stopped, signal.SIGCONT)

    def __enter__(self) -> Stall:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.join()


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    require_pgbackrest()
    with pgbackrest_stand_in(stanza="retry") as made:
        yield made


def _assert_one_complete_backup(stand_in: StandIn, label: str) -> None:
    info = stand_in.backrest.info()
    assert [b.label for b in info.backups] == [label]
    sets = stand_in.cluster.base / "repo" / "backup" / stand_in.stanza
    assert _sets(sets) == [label]
    assert (sets / label / "backup.manifest").is_file()  # pgBackRest writes it last: complete
    stand_in.backrest.run("verify")  # every file of the set checks out


def test_a_backup_whose_checkpoint_outlives_the_short_db_timeout_is_run_again_and_recorded(
    stand_in: StandIn,
) -> None:
    admin = stand_in.cluster.database()
    with admin.connect(autocommit=True) as conn:
        row = conn.execute("SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'").fetchone()
    assert row is not None
    checkpointer = int(row[0])
    first: list[int] = []

    def second_attempt_connected() -> bool:
        found = _backend(admin)
        if found is None:
            return False
        if not first:
            first.append(found[0])
        return found[0] != first[0]

    # the checkpointer is stopped before the backup; it resumes once the retry has connected
    with Stall(lambda: checkpointer, second_attempt_connected) as stall:
        stall.has_stopped.wait()
        label = full_backup(stand_in)
    assert stall.stopped == checkpointer
    assert not stall.resumed_by_limit
    assert stand_in.retried == ["backup"]
    assert stand_in.backups == [label]
    _assert_one_complete_backup(stand_in, label)


def test_a_backup_aborted_after_its_copy_is_resumed_or_removed_by_the_retry(stand_in: StandIn) -> None:
    admin = stand_in.cluster.database()
    sets = stand_in.cluster.base / "repo" / "backup" / stand_in.stanza

    def idle_session_after_copy_began() -> int | None:
        if not _sets(sets):
            return None  # the backup set's directory appears once the copy has begun
        found = _backend(admin)
        if found is None or found[1] != "idle":  # stopped between queries, it holds no lock
            return None
        return found[0]

    # pgBackRest's next query (a ping or pg_backup_stop) outlives db-timeout; once it asked the
    # server to cancel it, the session resumes, and the command fails with the query timed out
    stall = Stall(idle_session_after_copy_began, lambda: _cancel_pending(stall.stopped or 0))
    with stall:
        label = full_backup(stand_in)
    assert stall.stopped is not None
    assert not stall.resumed_by_limit
    assert stand_in.retried == ["backup"]
    _assert_one_complete_backup(stand_in, label)


def test_a_failure_that_is_no_query_timeout_is_never_retried(stand_in: StandIn) -> None:
    retried: list[str] = []
    with pytest.raises(ProviderError, match=r"pgbackrest backup failed \(exit \d+\)"):
        run_querying(stand_in.backrest, retried, "backup", "--type=weekly")
    assert retried == []

"""The heartbeat measurement on a real database: identifiers quoted, filter values bound (never
SQL), a column that is not timestamptz refused, missing, empty and future heartbeats failing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from harness.dataset.heartbeat import (
    HARNESS_HEARTBEAT,
    create_heartbeat_table,
    measure_heartbeat,
    write_heartbeat,
)
from harness.errors import ConfigError, VerificationFailed
from harness.postgres.database import Database
from harness.scenario import HeartbeatSpec


@pytest.fixture
def beats(scratch_db: Database) -> Database:
    with scratch_db.connect() as conn:
        conn.execute(
            'CREATE TABLE "App Beats" (id serial, at timestamptz NOT NULL, naive timestamp, '
            "source text, ok boolean)"
        )
        conn.execute(
            'INSERT INTO "App Beats" (at, naive, source, ok) VALUES '
            "('2026-12-01 10:00:00+00', '2026-12-01 10:00', 'web', true), "
            "('2026-12-01 10:05:00+00', '2026-12-01 10:05', 'worker', true), "
            "('2026-12-01 10:09:00+00', '2026-12-01 10:09', 'web', false)"
        )
        conn.commit()
    return scratch_db


REFERENCE = datetime(2026, 12, 1, 10, 10, tzinfo=UTC)


def test_the_newest_heartbeat_matching_the_filter_measures_the_rpo(beats: Database) -> None:
    spec = HeartbeatSpec("App Beats", "at", (("ok", True), ("source", "web")))
    result = measure_heartbeat(beats, spec, REFERENCE, "recovery target")
    assert result.newest == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert result.rpo_seconds == 600.0
    assert result.to_dict()["where_columns"] == ["ok", "source"]
    everything = measure_heartbeat(beats, HeartbeatSpec("App Beats", "at"), REFERENCE, "recovery target")
    assert everything.rpo_seconds == 60.0


def test_filter_values_are_bound_never_spliced(beats: Database) -> None:
    spec = HeartbeatSpec("App Beats", "at", (("source", "web' OR '1'='1"),))
    with pytest.raises(VerificationFailed, match=r"holds no row matching heartbeat\.where"):
        measure_heartbeat(beats, spec, REFERENCE, "recovery target")
    with beats.connect() as conn:
        assert conn.execute('SELECT count(*) FROM "App Beats"').fetchone() == (3,)


def test_a_missing_table_an_empty_one_a_naive_column_and_a_future_beat(beats: Database) -> None:
    with pytest.raises(
        VerificationFailed, match=r"heartbeat table no_such\.table is not in the restored data"
    ):
        measure_heartbeat(beats, HeartbeatSpec("no_such.table", "at"), REFERENCE, "recovery target")
    create_heartbeat_table(beats)
    with pytest.raises(
        VerificationFailed, match="heartbeat table drill_heartbeat holds no row in the restored"
    ):
        measure_heartbeat(beats, HARNESS_HEARTBEAT, REFERENCE, "recovery target")
    with pytest.raises(ConfigError, match="is timestamp without time zone; a heartbeat needs a timestamptz"):
        measure_heartbeat(beats, HeartbeatSpec("App Beats", "naive"), REFERENCE, "recovery target")
    with pytest.raises(ConfigError, match=r"App Beats\.nope has no such column"):
        measure_heartbeat(beats, HeartbeatSpec("App Beats", "nope"), REFERENCE, "recovery target")
    written = write_heartbeat(beats)
    assert abs((datetime.now(UTC) - written).total_seconds()) < 60
    with pytest.raises(VerificationFailed, match="is later than the recovery target"):
        measure_heartbeat(beats, HARNESS_HEARTBEAT, written - timedelta(seconds=5), "recovery target")

"""The pg-roundtrip lane end to end on real embedded clusters, with tampering and faults."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ConfigError, VerificationFailed
from harness.evidence import validate_evidence
from harness.pgdrill.roundtrip import ROUNDTRIP_DB, RoundTripLane
from harness.postgres.database import create_database
from harness.postgres.process import kill_server
from tests.pgdrill.helpers import make_lane, run, statuses, write_scenario

CHAIN = {
    "table": "audit_events",
    "columns": ["id", "actor_id", "action", "entity", "entity_id", "detail", "created_at"],
}


def roundtrip_scenario(tmp_path: Path, name: str, rows: int = 3000, **options: Any) -> Path:
    return write_scenario(
        tmp_path,
        name,
        "pg-roundtrip",
        source={"postgres": {"provider": "embedded"}, "dataset": {"rows": rows, "seed": 7}},
        objectives={"rto_seconds": 3600, "rpo_seconds": 3600},
        options={"chain": CHAIN, **options},
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RoundTripLane, dict[str, Any]]]:
    """One verified round trip whose cluster stays up for the tamper tests (closed at module end)."""
    tmp_path = tmp_path_factory.mktemp("roundtrip")
    lane, evidence = make_lane(roundtrip_scenario(tmp_path, "rt-ok"), tmp_path)
    assert isinstance(lane, RoundTripLane)
    for spec in lane.steps:
        with evidence.timed(spec.name) as record:
            record.message, record.status = lane.runner(spec.name)(), "passed"
    evidence.sections.update(lane.sections())
    doc = evidence.finish()
    yield lane, doc
    lane.close("failed")  # keep nothing running; the work dir is in tmp


@contextlib.contextmanager
def changed_after_restore(lane: RoundTripLane, change: str) -> Iterator[None]:
    """Point the finished lane at a copy of its restored database with ``change`` applied (damage
    after the restore); afterwards back at the original, with its post-snapshot taken again."""
    restored = lane.db
    copy = create_database(lane.cluster().database(), "changed", template=ROUNDTRIP_DB)
    with copy.connect() as conn:
        conn.execute(change)
        conn.commit()
    lane.db = copy
    try:
        yield
    finally:
        lane.db = restored
        lane.step_post_snapshot()


def test_round_trip_verifies_and_evidence_mirrors_the_assertions(
    finished: tuple[RoundTripLane, dict[str, Any]],
) -> None:
    lane, doc = finished
    validate_evidence(doc)
    assert doc["verdict"] == "verified"
    section = doc["extra"]["pg_roundtrip"]
    pre, post = section["pre"], section["post"]
    assert pre["row_count"] == post["row_count"] == 600  # 20 % of 3000 rows are audit events
    assert pre["chain_head_hash"] == post["chain_head_hash"] and len(pre["chain_head_hash"]) == 64
    assert post["first_break_id"] == "" and post["verifier_walked"] == pre["row_count"]
    assert pre["tables"] == post["tables"] and len(pre["tables"]) == 11
    assert "public.drill_canary" not in pre["tables"]
    assert section["assertions"] == dict.fromkeys(
        ("row_count_equal", "chain_head_equal", "no_break", "walked_every_row"), True
    )
    assert section["canary"] == {
        "planted": True,
        "returned_byte_exact": True,
        "bytes": len(lane._token.encode()),
    }
    text = json.dumps(doc, ensure_ascii=False)
    assert lane._token not in text and lane._token.split()[1] not in text  # never in evidence
    assert doc["measurements"]["rto"]["met"] is True and doc["measurements"]["rpo"]["met"] is True


@pytest.mark.parametrize(
    ("tamper", "located", "reason"),
    [
        ("UPDATE audit_events SET detail = detail || '!' WHERE id = 250", "id=250", "changed payload"),
        ("DELETE FROM audit_events WHERE id = 300", "id=301", "preceding row id=299"),
        (  # rows 120 and 121 swap places in the chain
            "UPDATE audit_events SET id = -id WHERE id IN (120, 121); "
            "UPDATE audit_events SET id = CASE id WHEN -120 THEN 121 ELSE 120 END WHERE id < 0",
            "id=120",
            "out of order",
        ),
    ],
    ids=["changed-payload", "deleted-middle-row", "reordered-chain"],
)
def test_tampered_rows_after_restore_are_detected_and_located(
    finished: tuple[RoundTripLane, dict[str, Any]], tamper: str, located: str, reason: str
) -> None:
    lane, _ = finished
    with changed_after_restore(lane, tamper):
        lane.step_post_snapshot()
        with pytest.raises(
            VerificationFailed, match=rf"verifier found a break: audit_events row {located}: .*{reason}"
        ):
            lane.step_verify_chain()
        assert lane.post.to_dict()["first_break_id"] == located.split("=")[1]
        with pytest.raises(VerificationFailed, match=r"public\.audit_events"):
            lane.step_compare_tables()


def test_a_lost_last_row_changes_the_head_and_the_walk(
    finished: tuple[RoundTripLane, dict[str, Any]],
) -> None:
    """No link breaks when the newest row is gone, but the head and the rows walked differ."""
    lane, _ = finished
    newest = "DELETE FROM audit_events WHERE id = (SELECT max(id) FROM audit_events)"
    with changed_after_restore(lane, newest):
        lane.step_post_snapshot()
        post = lane.post.to_dict()
        assert post["first_break_id"] == "" and post["verifier_walked"] == post["row_count"] == 599
        with pytest.raises(VerificationFailed) as info:
            lane.step_verify_chain()
        assert str(info.value) == (
            f"chain head differs: {lane.pre.chain.head} before the dump, {post['chain_head_hash']} after "
            "the restore; verifier walked 599 rows; 600 counted before the dump"
        )
        assert lane.sections()["extra"]["pg_roundtrip"]["assertions"] == {
            "row_count_equal": False,
            "chain_head_equal": False,
            "no_break": True,
            "walked_every_row": False,
        }


def test_canary_mismatch_fails_without_revealing_the_token(
    finished: tuple[RoundTripLane, dict[str, Any]],
) -> None:
    lane, _ = finished
    with (
        changed_after_restore(lane, "UPDATE drill_canary SET token = token || ' '"),
        pytest.raises(VerificationFailed, match="canary differs") as info,
    ):
        lane.step_canary()
    assert lane._token not in str(info.value)


def test_a_dump_changed_after_it_was_written_is_refused(
    finished: tuple[RoundTripLane, dict[str, Any]],
) -> None:
    lane, _ = finished
    path = lane.dump_info.path
    original = path.read_bytes()
    try:
        path.write_bytes(original[: len(original) // 2])
        with pytest.raises(VerificationFailed, match="the dump changed after it was written"):
            lane.step_restore()
    finally:
        path.write_bytes(original)


def test_drop_database_with_sql_workload_and_custom_chain(tmp_path: Path) -> None:
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "app.sql").write_text(
        "CREATE SCHEMA ops;\n"
        "CREATE TABLE ops.events (n int PRIMARY KEY, what text, at timestamptz, link text, h text);\n"
        "CREATE TABLE ops.plain (k text, v numeric);\n"
        "INSERT INTO ops.plain SELECT 'k' || g, g / 7.0 FROM generate_series(1, 50) g;\n"
        "DO $$ DECLARE prev text := 'root'; cur text; BEGIN\n"
        "  FOR i IN 1..40 LOOP\n"
        "    cur := encode(sha256(convert_to(prev || '|' || i || '|e' || i || '|' || to_char(("
        "timestamptz '2025-01-01' + i * interval '1 s') AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), 'UTF8')), 'hex');\n"
        "    INSERT INTO ops.events\n"
        "      VALUES (i, 'e' || i, timestamptz '2025-01-01' + i * interval '1 s', prev, cur);\n"
        "    prev := cur;\n"
        "  END LOOP; END $$;\n"
    )
    chain = {
        "table": "ops.events",
        "columns": ["n", "what", "at"],
        "order_by": "n",
        "hash_column": "h",
        "prev_hash_column": "link",
        "genesis": "root",
    }
    path = roundtrip_scenario(
        tmp_path, "rt-sql", workload={"sql": ["app.sql"]}, schemas=["ops"], loss="drop-database", chain=chain
    )
    _, doc = run(path, tmp_path)
    assert doc["verdict"] == "verified", doc["reason"]
    section = doc["extra"]["pg_roundtrip"]
    assert section["pre"]["row_count"] == 40 and section["post"]["verifier_walked"] == 40
    assert set(section["pre"]["tables"]) == {"ops.events", "ops.plain"}
    assert section["workload"] == {"dataset": False, "sql": ["app.sql"]}
    assert (
        "dropped database drill_roundtrip"
        in next(s for s in doc["steps"] if s["name"] == "simulate-loss")["message"]
    )
    validate_evidence(doc)


def test_server_killed_mid_restore_fails_the_restore_step_and_leaves_nothing(tmp_path: Path) -> None:
    lane, evidence = make_lane(roundtrip_scenario(tmp_path, "rt-kill", rows=40_000), tmp_path)
    killed: dict[str, Any] = {}

    def killer() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and "pid" not in killed:
            cluster = lane._cluster
            if cluster is not None and evidence.step("simulate-loss").status == "passed":
                try:
                    with cluster.database().connect(autocommit=True) as conn:
                        while "pid" not in killed and time.monotonic() < deadline:
                            row = conn.execute(
                                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_restore' "
                                "AND query ILIKE 'COPY%'"
                            ).fetchone()
                            if row and row[0]:
                                killed["base"] = cluster.base
                                killed["running"] = _processes_in(cluster.base)
                                killed["pid"] = kill_server(cluster)
                            time.sleep(0.005)
                except Exception as exc:  # the connection dies with the server
                    killed.setdefault("error", repr(exc))
            time.sleep(0.01)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    from harness.lanes.runner import run_lane

    doc = run_lane(lane, evidence)
    thread.join(timeout=10)
    assert "pid" in killed, killed
    assert killed["pid"] in killed["running"]  # the process check sees a live server
    assert doc["verdict"] == "failed"
    assert doc["reason"].startswith("step 'restore' failed: pg_restore lost the server halfway")
    assert statuses(doc)["post-snapshot"] == "skipped" and statuses(doc)["canary"] == "skipped"
    assert not killed["base"].exists()  # no leftover data directory
    assert _processes_in(killed["base"]) == []  # no leftover server: no process runs in its directory


def _processes_in(base: Path) -> list[int]:
    """Live (non-zombie) processes whose working directory is under ``base`` (a postmaster and
    its backends run in their data directory; a deleted directory reads as "… (deleted)")."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cwd = os.readlink(entry / "cwd").removesuffix(" (deleted)")
            state = (entry / "stat").read_text().rsplit(")", 1)[-1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and Path(cwd).is_relative_to(base):
            found.append(int(entry.name))
    return found


def test_bad_options_and_external_provider_are_config_errors(tmp_path: Path) -> None:
    path = roundtrip_scenario(tmp_path, "rt-bad", loss="truncate")
    lane, _ = make_lane(path, tmp_path)
    with pytest.raises(ConfigError, match=r"rt-bad\.yaml: options\.loss: 'truncate' is not one of"):
        lane.step_workload()
    path = write_scenario(
        tmp_path, "rt-ext", "pg-roundtrip", source={"postgres": {"provider": "external", "dsn_env": "X"}}
    )
    lane, _ = make_lane(path, tmp_path)
    with pytest.raises(ConfigError, match="runs only on the embedded cluster"):
        lane.step_workload()
    path = roundtrip_scenario(tmp_path, "rt-outside", schemas=["ops"])
    lane, _ = make_lane(path, tmp_path)
    with pytest.raises(
        ConfigError, match=r"rt-outside\.yaml: options\.chain\.table: audit_events is not in options\.schemas"
    ):
        lane.step_workload()

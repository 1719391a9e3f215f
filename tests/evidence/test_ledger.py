"""The ledger: every kind of tampering and a missed schedule is found by ``drill evidence verify``.

Ledgers are weekly copies of a real drill's evidence written through the real ``write_evidence``
(links and envelopes by the harness); each test then does one thing an adversary or an accident
would do to the files, and checks the command names exactly that.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from harness.aws.embedded import embedded_moto
from harness.aws.endpoint import AwsEndpoint
from harness.cli import main
from harness.clock import utc_iso
from harness.errors import AlreadyExists, ConfigError
from harness.evidence.ledger import DirectoryLedger, head_link
from harness.evidence.ledger_stores import open_ledger
from harness.evidence.ledger_verify import verify_ledger
from harness.evidence.signing import envelope_path, generate_key, load_private_key, sign_evidence
from harness.evidence.sinks import SinkSettings, write_evidence
from tests.evidence.conftest import START, weekly
from tests.evidence.test_signing import raw_public

NOW = START + timedelta(days=7 * 5 + 2)  # two days after the sixth weekly run


def verify(
    capsys: pytest.CaptureFixture[str], ledger: str, pub: Path, *extra: str
) -> tuple[int, dict[str, Any]]:
    code = main(
        [
            "evidence",
            "verify",
            "--ledger",
            ledger,
            "--key",
            str(pub),
            "--expect-every",
            "7d",
            "--now",
            utc_iso(NOW),
            "--format",
            "json",
            *extra,
        ]
    )
    return code, json.loads(capsys.readouterr().out)


def finding(kind: str, file: str, message: str, scenario: str = "snapshot") -> dict[str, str]:
    return {"kind": kind, "scenario": scenario, "file": file, "message": message}


def kinds(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f["kind"], f["file"]) for f in report["findings"]]


@pytest.fixture
def ledger(
    tmp_path: Path, real_docs: dict[str, dict[str, Any]], signing: SinkSettings
) -> tuple[Path, list[Path]]:
    directory = tmp_path / "ledger"
    return directory, weekly(directory, real_docs["snapshot"], 6, signing)


def test_each_run_links_the_previous_one_and_an_intact_ledger_passes(
    ledger: tuple[Path, list[Path]], keypair: tuple[bytes, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    directory, paths = ledger
    docs = [orjson.loads(p.read_bytes()) for p in paths]
    assert docs[0]["previous_evidence"] is None
    for before, doc, path in zip(paths, docs[1:], paths[1:], strict=False):
        assert doc["previous_evidence"]["file"] == before.name
        assert (
            doc["previous_evidence"]["sha256"]
            == "sha256:" + __import__("hashlib").sha256(before.read_bytes()).hexdigest()
        )
        assert envelope_path(path).is_file()
    code, report = verify(capsys, str(directory), keypair[1])
    key_id = __import__("hashlib").sha256(raw_public(keypair[1].read_bytes())).hexdigest()
    assert (code, report) == (
        0,
        {
            "location": str(directory),
            "passed": True,
            "signatures_checked": True,
            "findings": [],
            "scenarios": {
                "snapshot": [
                    {
                        "file": p.name,
                        "finished_at": d["finished_at"],
                        "verdict": "verified",
                        "sha256": "sha256:" + __import__("hashlib").sha256(p.read_bytes()).hexdigest(),
                        "signed_by": key_id,
                    }
                    for p, d in zip(paths, docs, strict=True)
                ]
            },
        },
    )


def test_an_edited_run_is_found(
    ledger: tuple[Path, list[Path]], keypair: tuple[bytes, Path], capsys: Any
) -> None:
    directory, paths = ledger
    doc = orjson.loads(paths[2].read_bytes())
    doc["verdict"], doc["reason"] = "verified", "all good (edited after the fact)"
    paths[2].write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    code, report = verify(capsys, str(directory), keypair[1])
    assert code == 1
    assert kinds(report) == [
        ("edited", paths[2].name),
        ("edited", paths[2].name),
    ]  # the chain and the signature
    assert any("changed after this run recorded its sha256" in f["message"] for f in report["findings"])


def test_a_deleted_run_is_found(
    ledger: tuple[Path, list[Path]], keypair: tuple[bytes, Path], capsys: Any
) -> None:
    directory, paths = ledger
    doc = orjson.loads(paths[3].read_bytes())
    paths[3].unlink()
    envelope_path(paths[3]).unlink()
    code, report = verify(capsys, str(directory), keypair[1], "--expect-every", "14d")
    assert code == 1
    before = f"{paths[3].name}, finished {doc['finished_at']}"
    assert report["findings"] == [
        finding("deleted", paths[4].name, f"the run before this one ({before}) is not in the ledger")
    ]


def test_deleting_the_first_runs_is_found(
    ledger: tuple[Path, list[Path]], keypair: tuple[bytes, Path], capsys: Any
) -> None:
    directory, paths = ledger
    for path in paths[:2]:
        path.unlink()
    code, report = verify(capsys, str(directory), keypair[1])
    assert (code, kinds(report)) == (1, [("deleted", paths[2].name)])
    assert report["findings"][0]["message"].startswith(f"the run before this one ({paths[1].name}, finished ")


def test_a_backdated_run_inserted_out_of_order_is_found(
    ledger: tuple[Path, list[Path]], keypair: tuple[bytes, Path], signing: SinkSettings, capsys: Any
) -> None:
    directory, paths = ledger
    fake = orjson.loads(paths[1].read_bytes())
    fake.update(
        run_id="feedfacefeedface",
        finished_at=utc_iso(START + timedelta(days=10), micro=True),
        previous_evidence=None,
    )
    write_evidence(fake, directory, signing)  # links to the newest run, but claims a time in week 2
    code, report = verify(capsys, str(directory), keypair[1])
    assert code == 1
    fake_name = next(p.name for p in directory.glob("*feedface*.json") if ".dsse" not in p.name)
    not_before = "which is not the run before it in time"
    assert report["findings"] == [
        finding("reordered", fake_name, f"links to {paths[-1].name}, {not_before} ({paths[1].name})"),
        finding("reordered", paths[2].name, f"links to {paths[1].name}, {not_before} ({fake_name})"),
    ]


def test_renamed_files_are_found(
    ledger: tuple[Path, list[Path]], keypair: tuple[bytes, Path], capsys: Any
) -> None:
    directory, paths = ledger
    renamed = paths[1].with_name(paths[1].name.replace("snapshot-", "snapshot-x"))
    paths[1].rename(renamed)
    envelope_path(paths[1]).rename(envelope_path(renamed))
    code, report = verify(capsys, str(directory), keypair[1])
    assert code == 1
    message = "the file name does not match the run it holds (scenario, finish time, run id)"
    assert {"kind": "renamed", "scenario": "snapshot", "file": renamed.name, "message": message} in report[
        "findings"
    ]


def test_a_broken_and_a_foreign_signature_are_found(
    ledger: tuple[Path, list[Path]], keypair: tuple[bytes, Path], capsys: Any
) -> None:
    directory, paths = ledger
    broken = json.loads(envelope_path(paths[1]).read_bytes())
    sig = bytearray(__import__("base64").b64decode(broken["signatures"][0]["sig"]))
    sig[5] ^= 1
    broken["signatures"][0]["sig"] = __import__("base64").b64encode(bytes(sig)).decode()
    envelope_path(paths[1]).write_text(json.dumps(broken))
    other, _ = generate_key()
    envelope_path(paths[4]).unlink()
    envelope_path(paths[4]).write_bytes(
        sign_evidence(paths[4].name, paths[4].read_bytes(), load_private_key(other, "k"))
    )
    envelope_path(paths[5]).unlink()
    code, report = verify(capsys, str(directory), keypair[1])
    assert code == 1
    assert [f["message"] for f in report["findings"]] == [
        "signature: the signature does not verify: envelope or payload changed",
        "signature: not signed by a trusted key (key id not among --key)",
        "no signature envelope",
    ]
    assert kinds(report) == [
        ("signature-broken", paths[1].name),
        ("signature-foreign", paths[4].name),
        ("unsigned", paths[5].name),
    ]


def test_a_missed_week_and_a_stopped_schedule_are_gaps(
    tmp_path: Path,
    real_docs: dict[str, dict[str, Any]],
    signing: SinkSettings,
    keypair: tuple[bytes, Path],
    capsys: Any,
) -> None:
    paths = weekly(tmp_path / "ledger", real_docs["snapshot"], 6, signing, skip=[3])
    code, report = verify(capsys, str(tmp_path / "ledger"), keypair[1])
    assert (code, kinds(report)) == (1, [("gap", paths[2].name)])  # week 3 did not run
    assert "no evidence for 14d 0h after this run" in report["findings"][0]["message"]
    late = utc_iso(NOW + timedelta(days=9))
    code, report = verify(capsys, str(tmp_path / "ledger"), keypair[1], "--now", late)
    assert code == 1 and kinds(report)[-1] == ("gap", paths[-1].name)
    last = orjson.loads(paths[-1].read_bytes())["finished_at"][:19] + "Z"
    assert report["findings"][-1]["message"] == f"no evidence since {last} (10d 23h; expected every 7d 0h)"
    until = orjson.loads(paths[3].read_bytes())["finished_at"][:19] + "Z"
    expected = f"no evidence for 14d 0h after this run (until {until}); expected every 7d 0h + 1d 0h grace"
    assert report["findings"][0]["message"] == expected
    early = utc_iso(START - timedelta(days=20))
    code, report = verify(capsys, str(tmp_path / "ledger"), keypair[1], "--since", early)
    assert ("gap", paths[0].name) in kinds(report)  # nothing in the 20 days before the first run
    code, report = verify(capsys, str(tmp_path / "ledger"), keypair[1], "--expect-every", "14d")
    assert (code, report["findings"]) == (0, [])


def test_an_expected_scenario_without_any_evidence_is_a_gap(
    ledger: Any, keypair: tuple[bytes, Path], capsys: Any
) -> None:
    code, report = verify(capsys, str(ledger[0]), keypair[1], "--scenario", "pitr")
    assert (code, kinds(report)) == (1, [("gap", "")])


def test_hostile_files_in_the_ledger_fail_closed(
    ledger: tuple[Path, list[Path]], keypair: tuple[bytes, Path], capsys: Any
) -> None:
    directory, _ = ledger
    (directory / "snapshot-garbage.json").write_bytes(b"\xff{not json")
    (directory / "snapshot-20260301T000000Z-abcdefabcdef.json").write_text(
        json.dumps(
            {"evidence_format_version": "1", "scenario": {"name": "snapshot"}, "finished_at": "yesterday"}
        )
    )
    (directory / "scorecard.json").write_text("{}")  # not evidence: ignored
    hostile = orjson.loads(ledger[1][0].read_bytes())
    hostile.update(run_id="badbadbadbad", previous_evidence={"sha256": [], "file": {"x": 1}})
    hostile["scenario"]["controls"] = "ISO27001"
    (directory / "snapshot-20260303T000000Z-badbadbadbad.json").write_bytes(orjson.dumps(hostile))
    code, report = verify(capsys, str(directory), keypair[1])
    assert code == 1
    unreadable = sorted(f["file"] for f in report["findings"] if f["kind"] == "unreadable")
    assert unreadable == ["snapshot-20260301T000000Z-abcdefabcdef.json", "snapshot-garbage.json"]
    assert {f["message"] for f in report["findings"] if f["kind"] == "unreadable"} == {
        "not readable as evidence JSON"
    }
    invalid = next(f for f in report["findings"] if f["kind"] == "invalid")
    assert invalid["file"] == "snapshot-20260303T000000Z-badbadbadbad.json"
    assert invalid["message"].startswith("evidence does not match its schema at ")
    assert sorted(k for k, _ in kinds(report)) == [
        "deleted",
        "invalid",
        "reordered",
        "unreadable",
        "unreadable",
        "unsigned",
    ]  # the hostile run: no valid link, not valid evidence, not signed; the run after it links past it


def test_the_head_link_ignores_other_scenarios(ledger: tuple[Path, list[Path]]) -> None:
    directory, paths = ledger
    assert head_link(DirectoryLedger(directory), "snapshot")["file"] == paths[-1].name  # type: ignore[index]
    assert head_link(DirectoryLedger(directory), "snap") is None


# -- the S3 ledger, on the embedded moto server ---------------------------------------------------
@pytest.fixture(scope="module")
def moto() -> Iterator[AwsEndpoint]:
    with embedded_moto() as endpoint:
        yield endpoint


@pytest.fixture
def s3_env(moto: AwsEndpoint, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ENDPOINT_URL", str(moto.endpoint_url))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    return moto.client("s3")


def _bucket(s3: Any, name: str, *, locked: bool) -> str:
    if locked:
        s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
        s3.put_object_lock_configuration(
            Bucket=name,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
            },
        )
    else:
        s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_ledger(tmp_path: Path, s3_env: Any, real_docs: Any, signing: SinkSettings) -> Any:
    """``make(bucket, locked)``: four weekly runs written to ``s3://bucket/drills`` (and reports/)."""

    def make(name: str, *, locked: bool) -> tuple[str, list[Path]]:
        bucket = _bucket(
            s3_env, f"{name}-{secrets.token_hex(4)}", locked=locked
        )  # moto's state is per process
        location = f"s3://{bucket}/drills"
        settings = SinkSettings(
            sign_key_env=signing.sign_key_env, selected={"ledger": {"location": location}}
        )
        return location, weekly(tmp_path / "reports", real_docs["snapshot"], 4, settings)

    return make


def test_s3_ledger_under_object_lock_verifies(
    tmp_path: Path, s3_env: Any, s3_ledger: Any, keypair: tuple[bytes, Path], capsys: Any
) -> None:
    location, paths = s3_ledger("ledger-locked", locked=True)
    bucket = location.removeprefix("s3://").split("/")[0]
    keys = sorted(o["Key"] for o in s3_env.list_objects_v2(Bucket=bucket)["Contents"])
    names = [p.name for p in paths] + [envelope_path(p).name for p in paths]
    assert keys == sorted(f"drills/snapshot/{name}" for name in names)
    assert (
        s3_env.head_object(Bucket=bucket, Key=f"drills/snapshot/{paths[0].name}")["ObjectLockMode"]
        == "GOVERNANCE"
    )
    shutil.rmtree(tmp_path / "reports")  # the local copies are gone: the bucket alone is the ledger
    code, report = verify(capsys, location, keypair[1], "--now", utc_iso(START + timedelta(days=23)))
    assert (code, report["findings"]) == (0, [])


def test_s3_ledger_overwritten_and_deleted_objects_are_found(
    s3_env: Any, s3_ledger: Any, keypair: tuple[bytes, Path], capsys: Any
) -> None:
    location, paths = s3_ledger("ledger-tampered", locked=True)
    bucket = location.removeprefix("s3://").split("/")[0]
    edited = orjson.loads(paths[1].read_bytes())
    edited["reason"] = "nothing to see"
    s3_env.put_object(Bucket=bucket, Key=f"drills/snapshot/{paths[1].name}", Body=orjson.dumps(edited))
    s3_env.delete_object(Bucket=bucket, Key=f"drills/snapshot/{paths[2].name}")  # a delete marker
    code, report = verify(capsys, location, keypair[1], "--now", utc_iso(START + timedelta(days=23)))
    assert code == 1
    found = set(kinds(report))
    assert ("edited", paths[1].name) in found  # two versions of the key, the chain, the signature
    assert ("deleted", paths[2].name) in found  # the delete marker
    assert ("deleted", paths[3].name) in found  # the chain: the run before it is missing


def test_s3_ledger_without_object_lock_is_reported(
    tmp_path: Path, s3_ledger: Any, keypair: tuple[bytes, Path], capsys: Any
) -> None:
    location, paths = s3_ledger("ledger-plain", locked=False)
    when = utc_iso(START + timedelta(days=23))
    code, report = verify(capsys, location, keypair[1], "--now", when, "--scenario", "snapshot")
    assert code == 1
    bucket = location.removeprefix("s3://").split("/")[0]
    assert report["findings"] == [
        {
            "kind": "unlocked",
            "scenario": "",
            "file": bucket,
            "message": "the bucket has no Object Lock: runs can be rewritten",
        }
    ] + [finding("unlocked", p.name, "the object has no Object Lock retention") for p in paths]
    code, report = verify(capsys, location, keypair[1], "--now", when, "--scenario", "pitr")
    assert [f["kind"] for f in report["findings"]] == [
        "unlocked",
        "gap",
    ]  # the bucket note counts for every scenario
    assert verify_ledger(DirectoryLedger(tmp_path / "reports")).passed  # the local copies are intact


def test_s3_ledger_entries_are_written_once_and_errors_name_the_object(
    s3_env: Any, s3_ledger: Any, capsys: Any
) -> None:
    location, paths = s3_ledger("ledger-once", locked=True)
    store = open_ledger(location)
    bucket = location.removeprefix("s3://").split("/")[0]
    key = f"drills/snapshot/{paths[0].name}"
    before = s3_env.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    with pytest.raises(
        AlreadyExists, match=rf"^ledger s3://{bucket}/{key}: already exists; entries are never replaced$"
    ):
        store.append(paths[0].name, b'{"scenario": {"name": "snapshot"}}', None)
    assert s3_env.list_object_versions(Bucket=bucket, Prefix=key)["Versions"] == before
    with pytest.raises(ConfigError) as caught:
        open_ledger("s3://no-such-ledger-bucket/drills").entries()
    assert str(caught.value).startswith("ledger s3://no-such-ledger-bucket/drills/: not found")
    assert "testing" not in str(caught.value)


def test_a_run_without_a_link_in_mid_chain_and_a_run_backdated_before_the_first_are_found(
    ledger: tuple[Path, list[Path]], keypair: tuple[bytes, Path], signing: SinkSettings, capsys: Any
) -> None:
    directory, paths = ledger
    # the link of week 3 removed (as if the ledger could not be read when it was written): re-signed,
    # so only the chain can tell
    doc = orjson.loads(paths[3].read_bytes())
    doc["previous_evidence"] = None
    paths[3].write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    envelope_path(paths[3]).unlink()
    key = load_private_key(keypair[0], "k")
    envelope_path(paths[3]).write_bytes(sign_evidence(paths[3].name, paths[3].read_bytes(), key))
    code, report = verify(capsys, str(directory), keypair[1])
    restart = f"the chain restarts here: no link to the run before it ({paths[2].name})"
    edited = f"{paths[3].name} changed after this run recorded its sha256"
    assert (code, report["findings"]) == (
        1,
        [
            {"kind": "edited", "scenario": "snapshot", "file": paths[3].name, "message": edited},
            {"kind": "deleted", "scenario": "snapshot", "file": paths[3].name, "message": restart},
        ],
    )

    early = orjson.loads(paths[0].read_bytes())
    early.update(
        run_id="0ddba11c0ddba11c",
        finished_at=utc_iso(START - timedelta(days=3), micro=True),
        previous_evidence=None,
    )
    written, _ = write_evidence(early, directory, signing)  # links to the newest run, dated before all
    code, report = verify(capsys, str(directory), keypair[1])
    assert (
        finding(
            "reordered",
            written.name,
            f"links to {paths[-1].name}, which is not the run before it in time (it is later)",
        )
        in report["findings"]
    )


def test_gap_boundaries_since_and_the_real_clock(
    ledger: tuple[Path, list[Path]], keypair: tuple[bytes, Path], capsys: Any
) -> None:
    directory, paths = ledger  # runs 7 days and 1 minute apart
    code, report = verify(capsys, str(directory), keypair[1], "--grace", "1m")
    assert (code, report["findings"]) == (0, [])  # exactly at the limit (7d + 1m) is not a gap
    code, report = verify(capsys, str(directory), keypair[1], "--since", utc_iso(START - timedelta(days=5)))
    assert (code, report["findings"]) == (0, [])
    since = START - timedelta(days=20)
    code, report = verify(capsys, str(directory), keypair[1], "--since", utc_iso(since))
    assert report["findings"] == [
        finding("gap", paths[0].name, f"no evidence from {utc_iso(since)} until {paths[0].name} (20d 0h)")
    ]
    code = main(
        ["evidence", "verify", "--ledger", str(directory), "--key", str(keypair[1]), "--expect-every", "7d"]
    )
    assert code == 1 and "no evidence since" in capsys.readouterr().out  # today is long after March 2026


def test_only_the_scenarios_asked_for_are_checked(
    ledger: tuple[Path, list[Path]],
    real_docs: Any,
    signing: SinkSettings,
    keypair: tuple[bytes, Path],
    capsys: Any,
) -> None:
    directory, _ = ledger
    other = weekly(directory, real_docs["portable-export"], 3, signing)
    other[1].unlink()
    code, report = verify(
        capsys, str(directory), keypair[1], "--scenario", "snapshot", "--expect-every", "30d"
    )
    assert (code, report["findings"], sorted(report["scenarios"])) == (0, [], ["snapshot"])
    code, report = verify(
        capsys, str(directory), keypair[1], "--scenario", "portable-export", "--expect-every", "30d"
    )
    assert (code, kinds(report), sorted(report["scenarios"])) == (
        1,
        [("deleted", other[2].name)],
        ["portable-export"],
    )
    code, report = verify(capsys, str(directory), keypair[1], "--scenario", "pitr")
    assert report["findings"] == [
        {"kind": "gap", "scenario": "pitr", "file": "", "message": "no evidence at all"}
    ]

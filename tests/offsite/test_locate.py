"""Locating the archive a drill reads, on a real moto server: the newest by the generated-at in its
key (never by LastModified, never by content), explicit keys and pinned versions, and freshness."""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.archive import ArchiveInfo, create_archive
from harness.errors import ConfigError, StepSkipped, VerificationFailed
from harness.offsite.freshness import freshness, human
from harness.offsite.keys import S3Uri
from harness.offsite.locate import archive_time, locate, locate_newest, locate_newest_named, name_time
from harness.portable.export import ExportResult
from tests.offsite.conftest import PREFIX, posture, upload


def archive_at(reference_export: ExportResult, tmp_path: Path, generated_at: str) -> ArchiveInfo:
    """A real archive of the reference export whose manifest says ``generated_at``."""
    export = tmp_path / f"export-{generated_at.replace(':', '')}"
    shutil.copytree(reference_export.directory, export)
    manifest = json.loads((export / "manifest.json").read_text())
    manifest["generated_at"] = generated_at
    (export / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return create_archive(export, tmp_path / f"{export.name}.tar.gz")


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_newest_is_chosen_by_the_time_in_the_key_not_by_upload_order(
    s3: Any, bucket: str, reference_export: ExportResult, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    newest = archive_at(reference_export, tmp_path, iso(now - timedelta(hours=1)))
    older = archive_at(reference_export, tmp_path, iso(now - timedelta(days=2)))
    report = posture(s3, bucket)
    kept = upload(s3, bucket, newest, report=report)
    time.sleep(1.1)  # the older archive is uploaded last: LastModified would pick it
    upload(s3, bucket, older, report=report)
    s3.put_object(Bucket=bucket, Key=f"{PREFIX}/README-api_key=AKIAIOSFODNN7EXAMPLE.txt", Body=b"x")
    located = locate_newest(s3, S3Uri(bucket, f"{PREFIX}/"))
    assert located.uri is not None
    assert located.uri.key == kept.uri.key
    assert located.uri.version_id == kept.version_id  # pinned at locate time
    assert located.candidates == 2
    assert located.ignored == 1
    assert located.older == (upload_key(older, now - timedelta(days=2)),)
    assert "AKIA" not in json.dumps(located.to_dict())  # an ignored key is counted, never named


def upload_key(_: ArchiveInfo, moment: datetime) -> str:
    return f"{PREFIX}/drill/{moment:%Y-%m-%d}/portable-export-{moment:%Y%m%dT%H%M%SZ}.tar.gz"


def test_an_empty_prefix_fails_and_says_what_keys_it_expects(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key=f"{PREFIX}/notes.txt", Body=b"not an archive")
    with pytest.raises(VerificationFailed, match=r"no archive under the prefix \(1 other object") as err:
        locate_newest(s3, S3Uri(bucket, f"{PREFIX}/"))
    assert "notes.txt" not in str(err.value)
    with pytest.raises(VerificationFailed, match="no archive under the prefix; expected keys like"):
        locate_newest(s3, S3Uri(bucket, "nothing-here/"))


def test_two_archives_with_the_same_newest_time_are_refused(s3: Any, bucket: str) -> None:
    for environment in ("blue", "green"):
        key = f"{PREFIX}/{environment}/2026-01-31/portable-export-20260131T020000Z.tar.gz"
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    now = datetime(2026, 2, 1, tzinfo=UTC)
    with pytest.raises(ConfigError) as err:
        locate_newest(s3, S3Uri(bucket, f"{PREFIX}/"), now)
    assert str(err.value) == (
        f"s3://{bucket}/{PREFIX}/: 2 archives share the newest time 2026-01-31T02:00:00Z "
        f"({PREFIX}/green/2026-01-31/portable-export-20260131T020000Z.tar.gz, "
        f"{PREFIX}/blue/2026-01-31/portable-export-20260131T020000Z.tar.gz); narrow the prefix"
    )


def test_a_key_dated_in_the_future_is_never_picked(s3: Any, bucket: str) -> None:
    s3.put_object(
        Bucket=bucket, Key=f"{PREFIX}/drill/2099-01-01/portable-export-20990101T000000Z.tar.gz", Body=b"x"
    )
    with pytest.raises(VerificationFailed, match="lies in the future"):
        locate_newest(s3, S3Uri(bucket, f"{PREFIX}/"))


def test_an_explicit_key_and_a_pinned_version(
    s3: Any, bucket: str, archive: ArchiveInfo, tmp_path: Path
) -> None:
    first = upload(s3, bucket, archive)
    located = locate(s3, str(first.uri), first.version_id, tmp_path)
    assert located.how == "explicit key"
    assert located.uri == S3Uri(bucket, first.uri.key, first.version_id)
    s3.delete_object(Bucket=bucket, Key=first.uri.key, VersionId=first.version_id)
    with pytest.raises(
        VerificationFailed, match=f"the pinned version {first.version_id} is not in the bucket"
    ):
        locate(s3, f"{first.uri}?versionId={first.version_id}", None, tmp_path)
    with pytest.raises(VerificationFailed, match="no such archive in the bucket"):
        locate(s3, str(first.uri), None, tmp_path)


def test_bad_archive_uris_are_configuration_errors(s3: Any, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="two different version ids"):
        locate(s3, "s3://some-bucket/a/b.tar.gz?versionId=1", "2", tmp_path)
    with pytest.raises(ConfigError, match="name a key, not a prefix"):
        locate(s3, "s3://some-bucket/prefix/", "1", tmp_path)
    with pytest.raises(ConfigError, match="version_id applies to s3:// keys only"):
        locate(None, "local.tar.gz", "1", tmp_path)
    with pytest.raises(VerificationFailed, match="no such archive file"):
        locate(None, "missing.tar.gz", None, tmp_path)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (
            "portable-export/production/2026-01-31/portable-export-20260131T020000Z.tar.gz",
            "2026-01-31T02:00:00",
        ),
        ("a/b/c/production/2026-01-31/nightly-20260131T235959Z.tar.gz", "2026-01-31T23:59:59"),
        (
            "portable-export/production/2026-02-01/portable-export-20260131T020000Z.tar.gz",
            None,
        ),  # date folder lies
        ("portable-export/production/2026-01-31/portable-export-20260131T020000Z.tar", None),
        ("portable-export/Production/2026-01-31/portable-export-20260131T020000Z.tar.gz", None),
        ("portable-export/production/2026-13-31/portable-export-20261331T020000Z.tar.gz", None),
        ("production/2026-01-31/portable-export-20260131T020000Z.tar.gz", None),  # no prefix label
    ],
)
def test_archive_time_reads_only_the_key_grammar(key: str, expected: str | None) -> None:
    found = archive_time(key)
    assert (found.strftime("%Y-%m-%dT%H:%M:%S") if found else None) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("nightly-20261201T020000Z.dump", "2026-12-01T02:00:00"),
        ("app_2026-12-01T02-30-00Z.dump", "2026-12-01T02:30:00"),
        ("app 2026-12-01T02:30:00Z.dump", "2026-12-01T02:30:00"),
        ("db-2026-12-01.dump", "2026-12-01T00:00:00"),  # midnight: the age is never under-stated
        ("a-20261201T020000Z-20261202T020000Z.dump", None),  # two stamps: ambiguous
        ("2026-12-01-2026-12-02.dump", None),
        ("v1.2.3.dump", None),
        ("120261201T020000Z.dump", None),
        ("db-2026-02-30.dump", None),
    ],
)
def test_name_time_finds_exactly_one_utc_stamp(name: str, expected: str | None) -> None:
    found = name_time(name)
    assert (found.strftime("%Y-%m-%dT%H:%M:%S") if found else None) == expected


def test_the_newest_dump_under_a_prefix(s3: Any, bucket: str) -> None:
    for name in ("db-20261130T020000Z.dump", "db-20261201T020000Z.dump", "db-latest.dump"):
        s3.put_object(Bucket=bucket, Key=f"dumps/{name}", Body=b"PGDMP", ChecksumAlgorithm="SHA256")
    located = locate_newest_named(s3, S3Uri(bucket, "dumps/"), datetime(2026, 12, 2, tzinfo=UTC))
    assert located.uri is not None
    assert located.uri.key == "dumps/db-20261201T020000Z.dump"
    assert located.uri.version_id
    assert (located.candidates, located.ignored) == (2, 1)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_key_and_name_parsers_never_crash_on_any_text(text: str) -> None:
    archive_time(text)
    name_time(text)


def test_key_and_name_parsers_are_linear_on_adversarial_1mb_inputs() -> None:
    for text in ("a/" * 500_000, "2026-12-01" * 100_000, "20261201T" * 110_000, "a-" * 500_000 + ".tar.gz"):
        started = time.perf_counter()
        archive_time(text)
        name_time(text)
        assert time.perf_counter() - started < 5.0  # generous: linear time, RE2


def test_freshness_passes_fails_and_reports() -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    fresh = freshness("backup A", now - timedelta(hours=3), 90000, now=now)
    assert fresh.judge() == "fresh: the newest backup backup A is 3h old (10800s), within 1d 1h (90000s)"
    assert fresh.to_dict()["met"] is True
    stale = freshness("backup B", now - timedelta(hours=26, minutes=5), 90000, now=now)
    with pytest.raises(
        VerificationFailed, match=r"stale: the newest backup backup B is 1d 2h 5m old \(93900s\)"
    ):
        stale.judge()
    assert stale.to_dict()["met"] is False
    with pytest.raises(StepSkipped, match="reported, not judged"):
        freshness("backup C", now, None, now=now).judge()
    with pytest.raises(VerificationFailed, match="lies in the future"):
        freshness("backup D", now + timedelta(hours=1), 90000, now=now).judge()
    assert human(0) == "0s"
    assert human(3661) == "1h 1m 1s"


def test_freshness_evidence_and_boundaries() -> None:
    now = datetime(2026, 12, 1, 12, 0, 0, 500000, tzinfo=UTC)
    taken = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    fresh = freshness("s3://b/k.tar.gz", taken, 36000.5, now=now, time_means="the generated-at in its key")
    assert fresh.to_dict() == {
        "backup": "s3://b/k.tar.gz",
        "backup_time": "2026-12-01T02:00:00Z",
        "backup_time_means": "the generated-at in its key",
        "measured_at": "2026-12-01T12:00:00Z",
        "age_seconds": 36000.5,
        "max_age_seconds": 36000.5,
        "met": True,  # exactly at the bound is still fresh
    }
    assert fresh.judge() == (
        "fresh: the newest backup s3://b/k.tar.gz is 10h old (36000s), within 10h (36000.5s)"
    )
    late = freshness("s3://b/k.tar.gz", taken, 36000.4, now=now)
    assert late.met is False
    with pytest.raises(VerificationFailed) as err:
        late.judge()
    assert str(err.value) == (
        "stale: the newest backup s3://b/k.tar.gz is 10h old (36000s), older than the "
        "10h (36000.4s) allowed (taken 2026-12-01T02:00:00Z)"
    )
    unbounded = freshness("b", taken, None, now=now)
    assert unbounded.met is None and unbounded.to_dict()["max_age_seconds"] is None
    with pytest.raises(StepSkipped) as skipped:
        unbounded.judge()
    assert str(skipped.value) == (
        "b is 10h old (36000s); objectives.max_backup_age_seconds is not set, so freshness is reported, "
        "not judged"
    )
    assert freshness("b", now, 10, now=now).judge() == "fresh: the newest backup b is 0s old, within 10s"
    assert freshness("b", now + timedelta(seconds=300), 10, now=now).judge().startswith("fresh:")  # skew
    with pytest.raises(VerificationFailed) as future:
        freshness("b", now + timedelta(seconds=300, microseconds=1), 10, now=now).judge()
    assert str(future.value) == (
        "b: its time 2026-12-01T12:05:00Z lies in the future; the backup's clock or name is wrong, so "
        "its freshness cannot be judged"
    )
    precise = freshness("b", taken, None, now=now + timedelta(microseconds=123456))
    assert precise.to_dict()["age_seconds"] == 36000.623  # milliseconds, rounded
    before = datetime.now(UTC)
    assert before <= freshness("b", taken, 1).measured_at <= datetime.now(UTC)
    assert freshness("b", taken, 1).time_means == "when the backup was taken"
    assert [human(s) for s in (59, 60, 61, 3599, 3600, 86399, 86400, 90061, -61)] == [
        "59s", "1m", "1m 1s", "59m 59s", "1h", "23h 59m 59s", "1d", "1d 1h 1m 1s", "-1m 1s",
    ]  # fmt: skip


def test_locate_dispatches_and_reports_every_field(
    s3: Any, bucket: str, archive: ArchiveInfo, tmp_path: Path
) -> None:
    stored = upload(s3, bucket, archive)
    newest = locate(s3, f"s3://{bucket}/{PREFIX}/", None, tmp_path)
    assert newest.to_dict() == {
        "how": "newest under prefix",
        "uri": str(stored.uri),
        "version_id": stored.version_id,
        "local_path": None,
        "generated_at": stored.manifest["generated_at"],
        "candidates": 1,
        "ignored_keys": 0,
        "older": [],
        "size_bytes": stored.size_bytes,
    }
    assert newest.where == str(stored.uri)
    (tmp_path / "sub").mkdir()
    local = tmp_path / "sub" / "a.tar.gz"
    local.write_bytes(b"12345")
    found = locate(None, "sub/a.tar.gz", None, tmp_path)
    assert (found.how, found.path, found.size_bytes, found.uri, found.where) == (
        "local file",
        local.resolve(),
        5,
        None,
        str(local.resolve()),
    )
    assert found.to_dict()["local_path"] == str(local.resolve())


def test_a_pinned_older_version_is_read_and_its_deletion_noticed_while_a_newer_one_exists(
    s3: Any, bucket: str, tmp_path: Path
) -> None:
    key = f"{PREFIX}/drill/2026-01-31/portable-export-20260131T020000Z.tar.gz"
    first = s3.put_object(Bucket=bucket, Key=key, Body=b"v1", ChecksumAlgorithm="SHA256")["VersionId"]
    second = s3.put_object(Bucket=bucket, Key=key, Body=b"v2-longer", ChecksumAlgorithm="SHA256")["VersionId"]
    pinned = locate(s3, f"s3://{bucket}/{key}", first, tmp_path)
    assert pinned.uri == S3Uri(bucket, key, first)
    assert pinned.size_bytes == 2
    current = locate(s3, f"s3://{bucket}/{key}", None, tmp_path)
    assert current.to_dict() == {
        "how": "explicit key",
        "uri": f"s3://{bucket}/{key}",
        "version_id": second,
        "local_path": None,
        "generated_at": "2026-01-31T02:00:00Z",
        "candidates": 1,
        "ignored_keys": 0,
        "older": [],
        "size_bytes": 9,
    }
    s3.delete_object(Bucket=bucket, Key=key, VersionId=first)
    with pytest.raises(VerificationFailed) as gone:
        locate(s3, f"s3://{bucket}/{key}?versionId={first}", None, tmp_path)
    assert str(gone.value) == (
        f"s3://{bucket}/{key}: the pinned version {first} is not in the bucket (deleted, or expired by a "
        "lifecycle rule); the archive of record is gone"
    )


def test_dumps_are_dated_by_their_file_name_only(s3: Any, bucket: str) -> None:
    for key in ("dumps/20261130T000000Z/db-2026-12-01.dump", "dumps/20261201T000000Z/db-2026-11-29.dump"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"PGDMP", ChecksumAlgorithm="SHA256")
    located = locate_newest_named(s3, S3Uri(bucket, "dumps/"), datetime(2026, 12, 2, tzinfo=UTC))
    assert located.uri is not None
    assert located.uri.key == "dumps/20261130T000000Z/db-2026-12-01.dump"
    assert located.generated_at == datetime(2026, 12, 1, tzinfo=UTC)
    assert located.older == ("dumps/20261201T000000Z/db-2026-11-29.dump",)
    with pytest.raises(VerificationFailed) as empty:
        locate_newest_named(s3, S3Uri(bucket, "no-dumps/"))
    assert str(empty.value) == (
        f"s3://{bucket}/no-dumps/: no dump under the prefix; expected file names carrying a UTC time, like "
        "nightly-20261201T020000Z.dump or db-2026-12-01.dump"
    )
    s3.put_object(Bucket=bucket, Key="future/db-20991201T000000Z.dump", Body=b"PGDMP")
    with pytest.raises(VerificationFailed, match="refusing to pick it as the newest dump"):
        locate_newest_named(s3, S3Uri(bucket, "future/"), datetime(2026, 12, 2, tzinfo=UTC))


def test_listing_reads_every_page_and_names_the_prefix_it_could_not_list(s3: Any, bucket: str) -> None:
    from harness.offsite.locate import list_objects

    for i in range(5):
        s3.put_object(Bucket=bucket, Key=f"paged/{i}.txt", Body=b"x" * i)
    listed = list_objects(s3, bucket, "paged/", page_size=2)
    assert [(o.key, o.size) for o in listed] == [(f"paged/{i}.txt", i) for i in range(5)]
    with pytest.raises(ConfigError) as err:
        list_objects(s3, "drill-no-such-bucket", "x/")
    assert str(err.value).startswith("listing s3://drill-no-such-bucket/x/: not found (NoSuchBucket)")


def test_the_future_skew_bound_and_what_a_tie_of_dumps_may_name(s3: Any, bucket: str) -> None:
    stamp = datetime(2026, 1, 31, 2, 0, tzinfo=UTC)
    s3.put_object(
        Bucket=bucket, Key=f"{PREFIX}/drill/2026-01-31/portable-export-20260131T020000Z.tar.gz", Body=b"x"
    )
    uri = S3Uri(bucket, f"{PREFIX}/")
    assert locate_newest(s3, uri, stamp - timedelta(minutes=5)).generated_at == stamp  # at the bound
    assert locate_newest(s3, uri, stamp + timedelta(minutes=1)).generated_at == stamp  # a minute old
    with pytest.raises(VerificationFailed) as err:
        locate_newest(s3, uri, stamp - timedelta(minutes=5, seconds=1))
    assert str(err.value) == (
        f"s3://{bucket}/{PREFIX}/drill/2026-01-31/portable-export-20260131T020000Z.tar.gz: its time "
        "2026-01-31T02:00:00Z lies in the future; refusing to pick it as the newest archive (a misnamed "
        "object or a wrong clock)"
    )
    for name in ("a-20261201T020000Z.dump", "b-2026-12-01T02:00:00Z.dump"):
        s3.put_object(Bucket=bucket, Key=f"ties/{name}", Body=b"PGDMP")
    with pytest.raises(ConfigError) as tie:
        locate_newest_named(s3, S3Uri(bucket, "ties/"), datetime(2026, 12, 2, tzinfo=UTC))
    assert str(tie.value) == (
        f"s3://{bucket}/ties/: 2 dumps share the newest time 2026-12-01T02:00:00Z (names withheld); "
        "narrow the prefix"
    )


def test_a_date_that_begins_a_longer_time_is_not_a_date_of_its_own() -> None:
    assert name_time("db-2026-12-01Tlate.dump") is None
    assert name_time("20261201T020000Z.dump") == datetime(2026, 12, 1, 2, tzinfo=UTC)
    assert name_time("db-2026-12-01") == datetime(2026, 12, 1, tzinfo=UTC)


def test_older_archives_shown_stop_at_five_and_a_given_clock_is_used_for_dumps(s3: Any, bucket: str) -> None:
    for day in range(1, 8):
        key = f"{PREFIX}/drill/2026-01-0{day}/portable-export-2026010{day}T020000Z.tar.gz"
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    located = locate_newest(s3, S3Uri(bucket, f"{PREFIX}/"), datetime(2026, 2, 1, tzinfo=UTC))
    assert located.candidates == 7
    assert [k.split("/")[2] for k in located.older] == [f"2026-01-0{d}" for d in (6, 5, 4, 3, 2)]
    s3.put_object(Bucket=bucket, Key="clock/db-20260601T000000Z.dump", Body=b"PGDMP")
    with pytest.raises(VerificationFailed, match="lies in the future"):  # in the future of the clock given
        locate_newest_named(s3, S3Uri(bucket, "clock/"), datetime(2026, 1, 1, tzinfo=UTC))


def test_a_token_like_version_id_keeps_a_hex_copy_the_scrubber_leaves_alone() -> None:
    from harness.evidence import scrub_secrets
    from harness.offsite.locate import with_version_hex

    real_style = "Zq8Xw2Lm9Tn4Rb7Vc1Jk6Hs3Pd0Fg5Ya_8Ue2Io"  # S3 version ids look like tokens
    section = with_version_hex({"version_id": real_style})
    assert section["version_id_hex"] == real_style.encode().hex()
    assert scrub_secrets(section)["version_id_hex"] == real_style.encode().hex()
    assert with_version_hex({"version_id": "f530c842-b38e-49e5-8498-82907fbde752"}) == {
        "version_id": "f530c842-b38e-49e5-8498-82907fbde752"
    }
    assert with_version_hex({"version_id": None}) == {"version_id": None}

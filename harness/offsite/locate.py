"""Find the archive a drill reads: the newest under an ``s3://`` prefix, an explicit key (optionally a
pinned version) or a local file. Read-only: ListObjectsV2 and HeadObject, never a write.

"Newest" is decided by the generated-at time stamp in the key
(``<prefix>/<environment>/<YYYY-MM-DD>/<name>-<YYYYMMDDTHHMMSSZ>.tar.gz``, harness/offsite/keys.py),
never by the store's LastModified (a copy or a restore of an old object would look new) and never
by content: when the newest archive turns out damaged the drill fails naming it; it never falls
back to an older one. Keys that do not follow the grammar are counted, never named (they may hold
anything). Keys are matched with RE2 (linear time on untrusted names).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import re2

from harness.aws.errors import translate
from harness.clock import utc_iso
from harness.errors import ConfigError, VerificationFailed
from harness.objectstore.s3 import S3ObjectStore
from harness.offsite.keys import LABEL, S3Uri, is_s3_uri, parse_s3_uri
from harness.secrets import scan_text

_ARCHIVE_KEY = re2.compile(
    rf"(?:{LABEL}/){{1,8}}(?P<environment>{LABEL})/(?P<date>\d{{4}}-\d{{2}}-\d{{2}})/"
    rf"(?P<name>{LABEL})-(?P<stamp>\d{{8}}T\d{{6}}Z)\.tar\.gz"
)
_STAMP = "%Y%m%dT%H%M%SZ"
#: How far in the future a generated-at may lie (clock skew) before the key is refused.
FUTURE_SKEW = timedelta(minutes=5)
#: Older archives named in the evidence beside the newest.
OLDER_SHOWN = 5


@dataclass(frozen=True)
class ListedObject:
    key: str
    size: int


def list_objects(s3: Any, bucket: str, prefix: str, page_size: int | None = None) -> list[ListedObject]:
    """Every current object under ``prefix`` (ListObjectsV2, every page), in key order."""
    found: list[ListedObject] = []
    pages = {"PaginationConfig": {"PageSize": page_size}} if page_size else {}
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, **pages):
            found += [ListedObject(str(o["Key"]), int(o["Size"])) for o in page.get("Contents", [])]
    except Exception as exc:
        raise translate(exc, f"listing s3://{bucket}/{prefix}") from None
    return sorted(found, key=lambda o: o.key)


def list_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    """Every current object key under ``prefix``, sorted."""
    return [o.key for o in list_objects(s3, bucket, prefix)]


def archive_time(key: str) -> datetime | None:
    """The generated-at of an archive key, or None when the key is not an archive key (or its date
    folder disagrees with its time stamp, or a part looks like a secret)."""
    match = _ARCHIVE_KEY.fullmatch(key)
    if match is None:
        return None
    try:
        moment = datetime.strptime(match.group("stamp"), _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None
    if f"{moment:%Y-%m-%d}" != match.group("date") or any(scan_text(p) for p in key.split("/")):
        return None
    return moment


@dataclass(frozen=True)
class Located:
    """The archive to drill and how it was chosen (evidence ``extra.offsite.locate``)."""

    how: str  # "newest under prefix" | "explicit key" | "local file"
    uri: S3Uri | None = None  # None for a local file
    path: Path | None = None  # a local file
    generated_at: datetime | None = None  # from the key; a local file's comes from its manifest
    candidates: int = 0  # archive keys under the prefix
    ignored: int = 0  # other keys under the prefix (never named)
    older: tuple[str, ...] = ()  # the next-newest archive keys
    size_bytes: int | None = None

    @property
    def where(self) -> str:
        return str(self.uri) if self.uri is not None else str(self.path)

    def to_dict(self) -> dict[str, Any]:
        return with_version_hex(
            {
                "how": self.how,
                "uri": str(self.uri) if self.uri is not None else None,
                "version_id": self.uri.version_id if self.uri is not None else None,
                "local_path": str(self.path.resolve()) if self.path is not None else None,
                "generated_at": utc_iso(self.generated_at) if self.generated_at else None,
                "candidates": self.candidates,
                "ignored_keys": self.ignored,
                "older": list(self.older),
                "size_bytes": self.size_bytes,
            }
        )


def with_version_hex(section: dict[str, Any]) -> dict[str, Any]:
    """``section`` plus ``version_id_hex`` when its version id looks like a token to the evidence
    scrubber (real S3 ids do), so the pinned version survives scrubbing."""
    version = section.get("version_id")
    if isinstance(version, str) and scan_text(version):
        section["version_id_hex"] = version.encode().hex()
    return section


def is_prefix(uri: S3Uri) -> bool:
    return not uri.key or uri.key.endswith("/")


def archive_uri(text: str, version_id: str | None) -> S3Uri:
    """``text`` (``s3://bucket/prefix/`` or ``s3://bucket/key[?versionId=]``) with ``version_id``."""
    uri = parse_s3_uri(text)
    if version_id and uri.version_id and version_id != uri.version_id:
        raise ConfigError(f"{uri}: two different version ids (?versionId= and version_id)")
    version = version_id or uri.version_id
    if version and is_prefix(uri):
        raise ConfigError(f"{uri}: a version id pins one object; name a key, not a prefix")
    return S3Uri(uri.bucket, uri.key, version)


def locate_newest(s3: Any, uri: S3Uri, now: datetime | None = None) -> Located:
    """The newest archive under the prefix ``uri`` (by the generated-at in its key), its version
    pinned; VerificationFailed when there is none."""
    objects = list_objects(s3, uri.bucket, uri.key)
    dated = [(when, o) for o in objects if (when := archive_time(o.key)) is not None]
    hint = "expected keys like <prefix>/<environment>/<YYYY-MM-DD>/<name>-<YYYYMMDDTHHMMSSZ>.tar.gz"
    return _newest(s3, uri, dated, len(objects) - len(dated), now, "archive", hint)


#: Time stamps a dump's file name may carry (UTC): compact, extended, or a date (taken as midnight,
#: so its age is never under-stated). RE2: linear time on untrusted names.
_NAME_STAMPS = (
    (re2.compile(r"\d{8}T\d{6}Z"), "%Y%m%dT%H%M%SZ"),
    (re2.compile(r"\d{4}-\d{2}-\d{2}T\d{2}[:-]\d{2}[:-]\d{2}Z"), "%Y-%m-%dT%H:%M:%SZ"),
    (re2.compile(r"\d{4}-\d{2}-\d{2}"), "%Y-%m-%d"),
)


def _stamps(pattern: Any, name: str) -> list[str]:
    """Matches of ``pattern`` in ``name`` not touching other digits (or a ``T``: a date that begins
    a longer stamp is not a date on its own)."""
    found = []
    for match in pattern.finditer(name):
        before = name[match.start() - 1] if match.start() else ""
        after = name[match.end()] if match.end() < len(name) else ""
        if not before.isdigit() and not after.isdigit() and after != "T":
            found.append(match.group(0))
    return found


def name_time(name: str) -> datetime | None:
    """The UTC time stamp in a file name: the first form found exactly once (a name with two stamps
    of that form is ambiguous: None), or None."""
    for pattern, form in _NAME_STAMPS:
        found = _stamps(pattern, name)
        if len(found) > 1:
            return None
        if found:
            stamp = found[0]
            if "T" in stamp and "-" in stamp.split("T", 1)[1]:  # 02-00-00Z -> 02:00:00Z
                day, clock = stamp.split("T", 1)
                stamp = f"{day}T{clock.replace('-', ':')}"
            try:
                return datetime.strptime(stamp, form).replace(tzinfo=UTC)
            except ValueError:
                return None
    return None


def locate_newest_named(s3: Any, uri: S3Uri, now: datetime | None = None, what: str = "dump") -> Located:
    """The newest object under the prefix ``uri`` by the UTC time stamp in its file name (names
    without one are counted, never named), its version pinned."""
    objects = list_objects(s3, uri.bucket, uri.key)
    dated = [(when, o) for o in objects if (when := name_time(o.key.rsplit("/", 1)[-1])) is not None]
    hint = "expected file names carrying a UTC time, like nightly-20261201T020000Z.dump or db-2026-12-01.dump"
    return _newest(s3, uri, dated, len(objects) - len(dated), now, what, hint)


def _newest(
    s3: Any,
    uri: S3Uri,
    dated: list[tuple[datetime, ListedObject]],
    ignored: int,
    now: datetime | None,
    what: str,
    hint: str,
) -> Located:
    if not dated:
        more = f" ({ignored} other object(s), names withheld)" if ignored else ""
        raise VerificationFailed(f"{uri}: no {what} under the prefix{more}; {hint}")
    dated.sort(key=lambda pair: (pair[0], pair[1].key), reverse=True)
    newest_time, newest = dated[0]
    ties = [o.key for when, o in dated[1:] if when == newest_time]
    if ties:
        shown = (newest.key, ties[0]) if what == "archive" else ("names withheld",)
        raise ConfigError(
            f"{uri}: {len(ties) + 1} {what}s share the newest time {utc_iso(newest_time)} "
            f"({', '.join(shown)}); narrow the prefix"
        )
    if newest_time > (now or datetime.now(UTC)) + FUTURE_SKEW:
        raise VerificationFailed(
            f"s3://{uri.bucket}/{newest.key}: its time {utc_iso(newest_time)} lies in the future; refusing "
            f"to pick it as the newest {what} (a misnamed object or a wrong clock)"
        )
    where = f"s3://{uri.bucket}/{newest.key}"
    head = S3ObjectStore(s3, uri.bucket).head(newest.key, what=f"S3 HeadObject {where}")
    if head is None:
        raise VerificationFailed(f"{where}: listed, then gone before its version could be pinned")
    return Located(
        how="newest under prefix",
        uri=S3Uri(uri.bucket, newest.key, head.version_id),  # pinned: the fetch reads this version
        generated_at=newest_time,
        candidates=len(dated),
        ignored=ignored,
        older=tuple(o.key for _, o in dated[1 : 1 + OLDER_SHOWN]),
        size_bytes=newest.size,
    )


def locate_key(s3: Any, uri: S3Uri) -> Located:
    """An explicit key (and version): it must exist; a pinned version that was deleted fails."""
    head = S3ObjectStore(s3, uri.bucket).head(uri.key, uri.version_id, what=f"S3 HeadObject {uri}")
    if head is None:
        if uri.version_id:
            raise VerificationFailed(
                f"{uri}: the pinned version {uri.version_id} is not in the bucket (deleted, or "
                "expired by a lifecycle rule); the archive of record is gone"
            )
        raise VerificationFailed(f"{uri}: no such archive in the bucket")
    return Located(
        how="explicit key",
        uri=S3Uri(uri.bucket, uri.key, head.version_id or uri.version_id),
        generated_at=archive_time(uri.key),
        candidates=1,
        size_bytes=head.size,
    )


def locate_local(path: Path) -> Located:
    if not path.is_file():
        raise VerificationFailed(f"{path}: no such archive file")
    return Located(how="local file", path=path, size_bytes=path.stat().st_size)


def locate(s3: Any, text: str, version_id: str | None, base: Path, now: datetime | None = None) -> Located:
    """The archive named by ``text``: an ``s3://`` prefix (newest), key, or a path relative to ``base``."""
    if not is_s3_uri(text):
        if version_id:
            raise ConfigError(f"{text}: version_id applies to s3:// keys only")
        return locate_local((base / text).resolve())
    uri = archive_uri(text, version_id)
    return locate_newest(s3, uri, now) if is_prefix(uri) else locate_key(s3, uri)

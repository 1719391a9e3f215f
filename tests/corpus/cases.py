"""The corpus cases, by class. Each builder gets a writable copy of a small valid export the harness
wrote and a scratch directory, plants one hostile change by code, and returns the drill command."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.archive import create_archive
from tests.conftest import REFERENCE_CONTRACT
from tests.corpus.build import (
    GITHUB,
    JWT,
    SECRETS,
    Case,
    archive,
    edit,
    edit_manifest,
    member,
    nested,
    read_lines,
    set_bytes,
    set_line,
    tar_of,
    validate_args,
)

C = REFERENCE_CONTRACT
NO_MANIFEST = frozenset({"manifest.json"})
DANGLING = "relationship.dangling"


def _dir(change: Callable[[Path], object]) -> Callable[[Path, Path], list[str]]:
    """Validate the changed export directory itself."""

    def build(export: Path, tmp: Path) -> list[str]:
        change(export)
        return validate_args(export, C, tmp / "work")

    return build


def _packed(change: Callable[[Path], object]) -> Callable[[Path, Path], list[str]]:
    """Validate a proper archive of the changed export (the path a drill takes)."""

    def build(export: Path, tmp: Path) -> list[str]:
        change(export)
        path = create_archive(export, tmp / "case.tar.gz").path
        return validate_args(path, C, tmp / "work")

    return build


def _raw(make: Callable[[Path, Path], bytes]) -> Callable[[Path, Path], list[str]]:
    """Validate archive bytes made by hand."""

    def build(export: Path, tmp: Path) -> list[str]:
        return validate_args(archive(tmp, make(export, tmp)), C, tmp / "work")

    return build


def _gz(extra: list[Any] | None = None, skip: frozenset[str] = frozenset()) -> Callable[[Path, Path], bytes]:
    return lambda export, tmp: gzip.compress(tar_of(export, extra, skip=skip))


# -- tar -------------------------------------------------------------------------------------------
def _bomb(export: Path, tmp: Path) -> bytes:
    return gzip.compress(tar_of(export, [member("zeros.jsonl", b"\0" * (64 << 20))]), 9)


def _truncated(export: Path, tmp: Path) -> bytes:
    whole = gzip.compress(tar_of(export))
    return whole[: len(whole) // 2]


def _bad_crc(export: Path, tmp: Path) -> bytes:
    whole = bytearray(gzip.compress(tar_of(export)))
    whole[-8] ^= 0xFF
    return bytes(whole)


def _flipped(export: Path, tmp: Path) -> bytes:
    whole = bytearray(gzip.compress(tar_of(export), 1))
    whole[len(whole) // 2] ^= 0x55
    return bytes(whole)


def _trailing(export: Path, tmp: Path) -> bytes:
    return gzip.compress(tar_of(export) + b"garbage after the end of the archive")


def _no_end(export: Path, tmp: Path) -> bytes:
    return gzip.compress(tar_of(export)[: -2 * 512 * 10])


def _deflate_only(export: Path, tmp: Path) -> bytes:
    return zlib.compress(tar_of(export))


def _dot_style(export: Path, tmp: Path) -> bytes:
    """What `tar czf x.tar.gz -C dir .` writes: a `.` directory entry and `./name` members."""
    import io

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.add(export, arcname=".")
    return gzip.compress(buf.getvalue())


def _too_many(export: Path, tmp: Path) -> bytes:
    return gzip.compress(tar_of(export, [member(f"x{i}.jsonl", b"") for i in range(10_001)]))


def tar_cases() -> list[Case]:
    refused = [
        ("traversal", member("../escape.jsonl"), "path traversal"),
        ("absolute", member("/etc/cron.d/x"), "absolute path"),
        ("nested", member("dir/users.jsonl"), "nested path"),
        ("backslash", member("..\\evil.jsonl"), "backslash"),
        ("dot", member("."), "not a file name"),
        ("dotdot-member", member("./../escape.jsonl"), "path traversal"),
        ("symlink", member("link.jsonl", None, tarfile.SYMTYPE, "/etc/passwd"), "symbolic link"),
        ("hardlink", member("hard.jsonl", None, tarfile.LNKTYPE, "manifest.json"), "hard link"),
        ("chardev", member("tty.jsonl", None, tarfile.CHRTYPE), "character device"),
        ("blockdev", member("disk.jsonl", None, tarfile.BLKTYPE), "block device"),
        ("fifo", member("pipe.jsonl", None, tarfile.FIFOTYPE), "FIFO"),
        ("directory", member("sub", None, tarfile.DIRTYPE), "directory"),
        ("duplicate", member("manifest.json", b"{}"), "duplicate member"),
        ("case-duplicate", member("MANIFEST.JSON", b"{}"), "duplicate member"),
        ("odd-name", member("users jsonl"), "must match"),
        ("secret-link", member("l.jsonl", None, tarfile.SYMTYPE, GITHUB), "symbolic link"),
    ]
    cases = [
        Case(
            f"tar-{cid}", "tar", _raw(_gz([entry])), 1, message=msg, secret=GITHUB if "secret" in cid else ""
        )
        for cid, entry, msg in refused
    ]
    cases += [
        Case(
            "tar-no-manifest",
            "tar",
            _raw(_gz(skip=NO_MANIFEST)),
            1,
            message="no manifest.json",
        ),
        Case("tar-bomb", "tar", _raw(_bomb), 1, message="compression bomb"),
        Case("tar-truncated", "tar", _raw(_truncated), 1, message="truncated"),
        Case("tar-bad-crc", "tar", _raw(_bad_crc), 1, message="CRC"),
        Case("tar-flipped-byte", "tar", _raw(_flipped), 1, message="corrupt"),
        Case("tar-trailing-garbage", "tar", _raw(_trailing), 1, message="after the end-of-archive"),
        Case("tar-no-end-marker", "tar", _raw(_no_end), 1, message="end-of-archive marker missing"),
        Case("tar-not-gzip", "tar", _raw(_deflate_only), 1, message="not a valid gzip stream"),
        Case("tar-empty-file", "tar", _raw(lambda e, t: b""), 1, message="empty file"),
        Case("tar-too-many-members", "tar", _raw(_too_many), 1, message="more than 10000 members"),
        # A member named like a secret is extracted (a flat, plain name), reported, never shown.
        Case(
            "tar-secret-name",
            "tar",
            _raw(_gz([member(GITHUB + ".jsonl")])),
            1,
            rules=frozenset({"file.unexpected"}),
            secret=GITHUB,
        ),
        # Accepted: the common `tar -C dir .` layout, extracted safely, validates.
        Case("tar-dot-slash-layout", "tar", _raw(_dot_style), 0),
        Case("tar-harness-archive", "tar", _packed(lambda e: None), 0),
    ]
    return cases


# -- manifest --------------------------------------------------------------------------------------
def _manifest_text(change: Callable[[str], str]) -> Callable[[Path], object]:
    def apply(export: Path) -> None:
        path = export / "manifest.json"
        path.write_text(change(path.read_text()))

    return apply


def _dup_key(key: str, value: Any) -> Callable[[Path], object]:
    """Repeat ``key`` first, with another value; the manifest's own value comes last (and wins)."""
    return _manifest_text(lambda t: "{" + json.dumps(key) + ": " + json.dumps(value) + "," + t.lstrip()[1:])


def _m(change: Callable[[dict[str, Any]], object]) -> Callable[[Path], object]:
    return lambda export: edit_manifest(export, change)


def manifest_cases() -> list[Case]:
    def rules(*r: str) -> frozenset[str]:
        return frozenset(r)

    future = "2999-01-01T00:00:00Z"
    cases = [
        ("missing", None, rules("manifest.missing")),
        ("not-json", _manifest_text(lambda t: t[:-10]), rules("manifest.json")),
        ("not-object", _manifest_text(lambda t: "[" + t + "]"), rules("manifest.schema")),
        (
            "nan",
            _manifest_text(
                lambda t: t.replace('"export_format_version": "1"', '"export_format_version": NaN')
            ),
            rules("manifest.json"),
        ),
        ("dup-checksums", _dup_key("checksums", {}), rules("manifest.duplicate_key")),
        ("dup-schema-version", _dup_key("schema_version", "1999-01"), rules("manifest.duplicate_key")),
        (
            "dup-nested",
            _manifest_text(lambda t: t.replace('"entity_counts": {', '"entity_counts": {"users": 1,', 1)),
            rules("manifest.duplicate_key"),
        ),
        (
            "dup-escaped",
            _manifest_text(lambda t: '{"\\u0061pp_git_sha": "x",' + t.lstrip()[1:]),
            rules("manifest.duplicate_key"),
        ),
        (
            "generated-month-13",
            _m(lambda m: m.update(generated_at="2025-13-01T00:00:00Z")),
            rules("manifest.generated_at"),
        ),
        (
            "generated-feb-30",
            _m(lambda m: m.update(generated_at="2025-02-30T00:00:00Z")),
            rules("manifest.generated_at"),
        ),
        (
            "generated-hour-25",
            _m(lambda m: m.update(generated_at="2025-01-01T25:00:00Z")),
            rules("manifest.generated_at"),
        ),
        ("generated-future", _m(lambda m: m.update(generated_at=future)), rules("manifest.generated_at")),
        (
            "generated-not-rfc3339",
            _m(lambda m: m.update(generated_at="2025-01-01 00:00:00")),
            rules("manifest.schema", "manifest.generated_at"),
        ),
        ("generated-number", _m(lambda m: m.update(generated_at=1735689600)), rules("manifest.schema")),
        ("count-missing", _m(lambda m: m["entity_counts"].pop("users")), rules("manifest.counts")),
        ("count-unknown-entity", _m(lambda m: m["entity_counts"].update(ghosts=3)), rules("manifest.counts")),
        ("count-wrong", _m(lambda m: m["entity_counts"].update(users=1)), rules("count.mismatch")),
        (
            "count-negative",
            _m(lambda m: m["entity_counts"].update(users=-1)),
            rules("manifest.schema", "manifest.counts"),  # a negative count is no count
        ),
        (
            "count-string",
            _m(lambda m: m["entity_counts"].update(users="9")),
            rules("manifest.schema", "manifest.counts"),
        ),
        (
            "checksum-absent-file",
            _m(lambda m: m["checksums"].update({"ghosts.jsonl": "sha256:" + "0" * 64})),
            rules("manifest.checksums"),
        ),
        (
            "checksum-wrong",
            _m(lambda m: m["checksums"].update({"users.jsonl": "sha256:" + "0" * 64})),
            rules("file.checksum"),
        ),
        ("checksum-missing", _m(lambda m: m["checksums"].pop("users.jsonl")), rules("file.checksum")),
        (
            "checksum-bare-hex",
            _m(lambda m: m["checksums"].update({"users.jsonl": "0" * 64})),
            rules("manifest.schema", "file.checksum"),
        ),
        (
            "schema-version",
            _m(lambda m: m.update(schema_version="1999-01")),
            rules("manifest.schema_version"),
        ),
        ("format-version-2", _m(lambda m: m.update(export_format_version="2")), rules("manifest.schema")),
        ("contract-name", _m(lambda m: m["contract"].update(name="another-app")), rules("manifest.contract")),
        (
            "contract-sha",
            _m(lambda m: m["contract"].update(sha256="sha256:" + "0" * 64)),
            rules("manifest.contract_version"),
        ),
        ("extra-field", _m(lambda m: m.update(note="extra")), rules("manifest.schema")),
        (
            "entity-unknown",
            _m(lambda m: m["entity_files"].update(ghosts="ghosts.jsonl")),
            rules("manifest.entities", "manifest.counts"),
        ),
        (
            "entity-missing",
            _m(lambda m: m["entity_files"].pop("users")),
            rules("manifest.entities", "manifest.counts", "manifest.checksums"),
        ),
        ("omitted-missing", _m(lambda m: m.update(omitted_entities=[])), rules("manifest.omitted")),
        ("secret-in-stack", _m(lambda m: m.update(source_stack=GITHUB)), rules("manifest.secret")),
        (
            "secret-in-sha",
            _m(lambda m: m.update(app_git_sha=SECRETS["aws_key_id"])),
            rules("manifest.secret"),
        ),
        ("secret-as-key", _m(lambda m: m["redactions"].update({GITHUB: []})), rules("manifest.secret")),
        (
            "password-field",
            _m(lambda m: m.update(db_password="hunter2")),
            rules("manifest.schema", "manifest.secret"),
        ),
    ]
    out = [
        Case(
            f"manifest-{cid}",
            "manifest",
            _packed(change),
            1,
            rules=r,
            secret=GITHUB if "secret" in cid else "",
        )
        for cid, change, r in cases
        if change is not None
    ]
    # A directory input without a manifest (an archive without one is refused: tar-no-manifest).
    missing = _dir(lambda e: (e / "manifest.json").unlink())
    out.append(Case("manifest-missing", "manifest", missing, 1, rules=rules("manifest.missing")))
    return out


# -- records ---------------------------------------------------------------------------------------
def _line(file: str, index: int, change: Callable[[bytes], bytes]) -> Callable[[Path], object]:
    return lambda export: set_line(export, file, index, change(read_lines(export, file)[index]))


def _raw_line(file: str, line: bytes) -> Callable[[Path], object]:
    def apply(export: Path) -> None:
        set_bytes(export, file, (export / file).read_bytes() + line)

    return apply


def _e(file: str, index: int = 0, **values: Any) -> Callable[[Path], object]:
    return lambda export: edit(export, file, index, **values)


def _json_line(file: str, text: str) -> Callable[[Path], object]:
    """Replace the first record with ``text`` built from its own fields ({field} placeholders)."""

    def apply(export: Path) -> None:
        first = json.loads(read_lines(export, file)[0])
        line = text.format(**{k: json.dumps(v) for k, v in first.items()})
        set_line(export, file, 0, line.encode() + b"\n")

    return apply


USERS_LINE = (
    '{{"created_at":{created_at},"display_name":{display_name},"email":{email},"id":{id},'
    '"last_login_at":{last_login_at},"locale":{locale},"role":{role},"status":{status},"updated_at":{updated_at}}}'
)


def record_cases() -> list[Case]:
    def r(*rules: str) -> frozenset[str]:
        return frozenset(rules)

    raw_crlf = _line("users.jsonl", 0, lambda ln: ln[:-1] + b"\r\n")
    cases: list[tuple[str, Callable[[Path], object], frozenset[str]]] = [
        ("crlf", raw_crlf, r("record.line_ending")),
        ("leading-space", _line("users.jsonl", 0, lambda ln: b" " + ln), r("record.whitespace")),
        ("trailing-space", _line("users.jsonl", 0, lambda ln: ln[:-1] + b"  \n"), r("record.whitespace")),
        ("trailing-tab", _line("users.jsonl", 0, lambda ln: ln[:-1] + b"\t\n"), r("record.whitespace")),
        (
            "no-final-newline",
            lambda e: set_bytes(e, "users.jsonl", (e / "users.jsonl").read_bytes()[:-1]),
            r("file.final_newline"),
        ),
        ("blank-line", _raw_line("users.jsonl", b"\n"), r("record.json")),
        ("bom", _line("users.jsonl", 0, lambda ln: b"\xef\xbb\xbf" + ln), r("record.json")),
        (
            "invalid-utf8",
            _line("users.jsonl", 0, lambda ln: ln.replace(b'"display_name":"', b'"display_name":"\xff', 1)),
            r("record.utf8"),
        ),
        (
            "overlong-utf8",
            _line(
                "users.jsonl", 0, lambda ln: ln.replace(b'"display_name":"', b'"display_name":"\xc1\xa9', 1)
            ),
            r("record.utf8"),
        ),
        ("not-object-array", _raw_line("users.jsonl", b"[1,2]\n"), r("record.json")),
        ("not-object-string", _raw_line("users.jsonl", b'"users"\n'), r("record.json")),
        ("not-object-null", _raw_line("users.jsonl", b"null\n"), r("record.json")),
        # The id itself is unreadable: the records that reference it dangle as well.
        (
            "nan",
            _json_line("users.jsonl", USERS_LINE.replace('"id":{id}', '"id":NaN')),
            r("record.json", "relationship.dangling"),
        ),
        (
            "infinity",
            _json_line("users.jsonl", USERS_LINE.replace('"id":{id}', '"id":1e400')),
            r("record.json", "relationship.dangling"),
        ),
        (
            "lone-surrogate",
            _json_line(
                "users.jsonl", USERS_LINE.replace('"display_name":{display_name}', '"display_name":"\\ud800"')
            ),
            r("record.json"),
        ),
        (
            "dup-key-top",
            _json_line("users.jsonl", '{{"email":"decoy@example.test",' + USERS_LINE[2:]),
            r("record.duplicate_key"),
        ),
        (
            "dup-key-escaped",
            _json_line("users.jsonl", '{{"\\u0065mail":"decoy@example.test",' + USERS_LINE[2:]),
            r("record.duplicate_key"),
        ),
        (
            "dup-key-hides-secret",
            _json_line(
                "users.jsonl",
                '{{"display_name":' + json.dumps(GITHUB).replace("{", "{{") + "," + USERS_LINE[2:],
            ),
            r("record.duplicate_key"),
        ),
        (
            "dup-key-nested",
            _line(
                "notifications.jsonl", 0, lambda ln: ln.replace(b'"payload":{', b'"payload":{"z":1,"z":2,', 1)
            ),
            r("record.duplicate_key"),
        ),
        ("nul-value", _e("cards.jsonl", 0, body="a\x00b"), r("record.nul")),
        ("nul-key", _e("notifications.jsonl", 0, payload={"k\x00": 1}), r("record.nul")),
        ("nul-nested", _e("templates.jsonl", 0, body={"steps": ["\x00"]}), r("record.nul")),
        ("depth-40", _e("notifications.jsonl", 0, payload=nested(40)), r("record.depth")),
        (
            "depth-1000",
            _line(
                "notifications.jsonl",
                0,
                lambda ln: ln.replace(
                    b'"payload":', b'"payload":' + b'{"n":' * 1000 + b"1" + b"}" * 1000 + b',"p_":', 1
                ),
            ),
            r("record.depth"),
        ),
        (
            "depth-2000",
            _line("notifications.jsonl", 0, lambda ln: b'{"x":' + b"[" * 2000 + b"]" * 2000 + b"}\n"),
            r("record.json"),
        ),
        (
            "oversized",
            _raw_line("cards.jsonl", b'{"id":' + b"1" * (8 << 20) + b"}\n"),
            r("record.size"),
        ),  # (directory)
        ("int-2-63", _e("users.jsonl", 0, id=2**63), r("type.integer", "relationship.dangling")),
        (
            "int-below-min",
            _json_line(
                "tasks.jsonl",
                '{{"assignee_id":{assignee_id},"created_at":{created_at},"due_at":{due_at},"id":{id},"owner_id":{owner_id},"priority":{priority},"status":{status},"tags":{tags},"template_id":-9223372036854775809,"title":{title},"updated_at":{updated_at}}}',
            ),
            r("type.integer", "relationship.dangling"),
        ),
        ("float-for-int", _e("tasks.jsonl", 0, priority=2.0), r("type.integer")),
        ("fraction-for-int", _e("tasks.jsonl", 0, priority=1.5), r("record.schema", "type.integer")),
        ("smallint-range", _e("tasks.jsonl", 0, priority=40_000), r("record.schema", "type.integer")),
        ("integer-range", _e("cards.jsonl", 0, position=2**31), r("type.integer")),
        ("bool-for-int", _e("cards.jsonl", 0, position=True), r("record.schema")),
        ("enum-list", _e("cards.jsonl", 0, lane=["backlog"]), r("record.schema", "enum.unknown")),
        ("enum-object", _e("cards.jsonl", 0, lane={"v": "backlog"}), r("record.schema", "enum.unknown")),
        ("enum-unknown", _e("cards.jsonl", 0, lane="limbo"), r("enum.unknown")),
        ("ts-week-date", _e("users.jsonl", 0, created_at="2025-W01-1T00:00:00Z"), r("timestamp.unparseable")),
        ("ts-basic", _e("users.jsonl", 0, created_at="20250101T000000Z"), r("timestamp.unparseable")),
        ("ts-hour-only", _e("users.jsonl", 0, created_at="2025-01-01T00Z"), r("timestamp.unparseable")),
        ("ts-no-zone", _e("users.jsonl", 0, created_at="2025-01-01T00:00:00"), r("timestamp.unparseable")),
        ("ts-month-13", _e("users.jsonl", 0, created_at="2025-13-01T00:00:00Z"), r("timestamp.unparseable")),
        (
            "ts-seven-digits",
            _e("users.jsonl", 0, created_at="2025-01-01T00:00:00.1234567Z"),
            r("timestamp.unparseable"),
        ),
        (
            "ts-offset-16h",
            _e("users.jsonl", 0, created_at="2025-01-01T00:00:00+16:00"),
            r("timestamp.unparseable"),
        ),
        (
            "ts-number",
            _e("users.jsonl", 0, created_at=1735689600),
            r("record.schema", "timestamp.unparseable"),
        ),
        ("pk-missing", _e("audit_events.jsonl", 0, id=None), r("record.primary_key", "record.schema")),
        (
            "pk-float",
            _e("templates.jsonl", 0, id=1.5),
            r("record.primary_key", "record.schema", "type.integer", "relationship.dangling"),
        ),
        (
            "pk-duplicate",
            lambda e: set_bytes(
                e,
                "templates.jsonl",
                (e / "templates.jsonl").read_bytes() + read_lines(e, "templates.jsonl")[0],
            ),
            r("record.duplicate_id"),
        ),
        ("dangling-ref", _e("tasks.jsonl", 0, owner_id=999_999_999), r("relationship.dangling")),
        (
            "redacted-present",
            _e("users.jsonl", 0, session_token=None),
            r("record.schema", "redaction.field_present"),
        ),
        (
            "uuid-bad",
            _e("files.jsonl", 0, id="zzzz"),
            r("record.schema", "type.column", "relationship.dangling"),
        ),
        ("extra-field", _e("users.jsonl", 0, nickname="x"), r("record.schema")),
    ]
    by_dir = {"oversized"}  # 8 MiB of one digit compresses past the bomb ratio: checked as a directory
    return [
        Case(f"record-{cid}", "record", (_dir if cid in by_dir else _packed)(change), 1, rules=rules)
        for cid, change, rules in cases
    ]


# -- secrets ---------------------------------------------------------------------------------------
def secret_cases() -> list[Case]:
    out = [
        Case(
            f"secret-{kind}",
            "secret",
            _packed(_e("cards.jsonl", 0, body=f"note {value} end")),
            1,
            rules=frozenset({"redaction.secret"}),
            secret=value,
        )
        for kind, value in SECRETS.items()
    ]
    escaped = '"\\u0067hp_' + GITHUB[4:] + '"'
    out += [
        Case(
            "secret-escaped-value",
            "secret",
            _packed(
                _line(
                    "cards.jsonl",
                    0,
                    lambda ln: ln.replace(b'"body":"', b'"body":' + escaped.encode() + b',"x_":"', 1),
                )
            ),
            1,
            rules=frozenset({"redaction.secret", "record.schema"}),
            secret=GITHUB,
        ),
        Case(
            "secret-as-key",
            "secret",
            _packed(_e("notifications.jsonl", 0, payload={GITHUB: 1})),
            1,
            rules=frozenset({"redaction.secret"}),
            secret=GITHUB,
        ),
        Case(
            "secret-nested-array",
            "secret",
            _packed(_e("templates.jsonl", 0, body={"steps": [{"t": JWT}]})),
            1,
            rules=frozenset({"redaction.secret"}),
            secret=JWT,
        ),
        Case(
            "secret-as-record-id",
            "secret",
            _packed(_e("files.jsonl", 0, id=JWT)),
            1,
            rules=frozenset({"record.schema", "redaction.secret", "type.column", "relationship.dangling"}),
            secret=JWT,
        ),
        Case(
            "secret-in-tags",
            "secret",
            _packed(_e("tasks.jsonl", 0, tags=["ok", GITHUB])),
            1,
            rules=frozenset({"redaction.secret"}),
            secret=GITHUB,
        ),
    ]
    for name in ("pwd", "passwd", "hashed_password", "pass_hash", "apiKey", "Password", "client-secret"):
        out.append(
            Case(
                f"secret-field-{name}",
                "secret",
                _packed(_e("notifications.jsonl", 0, payload={name: "plain-but-secret"})),
                1,
                rules=frozenset({"redaction.secret"}),
                secret="plain-but-secret",
            )
        )
    out.append(
        Case(
            "secret-hex-under-password",
            "secret",
            _packed(
                _e(
                    "notifications.jsonl",
                    0,
                    payload={"password": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
                )
            ),
            1,
            rules=frozenset({"redaction.secret"}),
            secret="e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        )
    )
    out.append(
        Case(
            "secret-escaped-field-name",
            "secret",
            _packed(
                _line(
                    "notifications.jsonl",
                    0,
                    lambda ln: ln.replace(
                        b'"payload":{', b'"payload":{"\\u0070assword":"plain-but-secret",', 1
                    ),
                )
            ),
            1,
            rules=frozenset({"redaction.secret"}),
            secret="plain-but-secret",
        )
    )
    return out


# -- directory inputs ------------------------------------------------------------------------------
def _outside(tmp: Path) -> Path:
    target = tmp / "outside.jsonl"
    target.write_text('{"id": 1}\n')
    return target


def directory_cases() -> list[Case]:
    def link_entity(export: Path, tmp: Path) -> list[str]:
        users = export / "users.jsonl"
        outside = tmp / "users-outside.jsonl"
        shutil.move(users, outside)
        users.symlink_to(outside)
        return validate_args(export, C, tmp / "work")

    def link_manifest(export: Path, tmp: Path) -> list[str]:
        manifest = export / "manifest.json"
        outside = tmp / "manifest-outside.json"
        shutil.move(manifest, outside)
        manifest.symlink_to(outside)
        return validate_args(export, C, tmp / "work")

    def dangling(export: Path, tmp: Path) -> list[str]:
        (export / "users.jsonl").unlink()
        (export / "users.jsonl").symlink_to(tmp / "never-there.jsonl")
        return validate_args(export, C, tmp / "work")

    def fifo(export: Path, tmp: Path) -> list[str]:
        os.mkfifo(export / "pipe.jsonl")
        return validate_args(export, C, tmp / "work")

    def subdir(export: Path, tmp: Path) -> list[str]:
        (export / "users.jsonl").unlink()
        (export / "users.jsonl").mkdir()
        return validate_args(export, C, tmp / "work")

    def no_work_dir(export: Path, tmp: Path) -> list[str]:
        return validate_args(export, C, tmp / "does" / "not" / "exist")

    def no_such_dir(export: Path, tmp: Path) -> list[str]:
        return validate_args(tmp / "missing-export", C, tmp / "work")

    nf = frozenset
    return [
        # An entity file that is not read leaves every reference to its records dangling.
        Case("dir-entity-symlink", "directory", link_entity, 1, rules=nf({"file.not_regular", DANGLING})),
        Case("dir-manifest-symlink", "directory", link_manifest, 1, rules=nf({"file.not_regular"})),
        Case("dir-dangling-symlink", "directory", dangling, 1, rules=nf({"file.not_regular", DANGLING})),
        Case("dir-fifo", "directory", fifo, 1, rules=nf({"file.not_regular"})),
        Case("dir-directory-entry", "directory", subdir, 1, rules=nf({"file.not_regular", DANGLING})),
        Case(
            "dir-outside-link-extra",
            "directory",
            lambda e, t: ((e / "x.jsonl").symlink_to(_outside(t)), validate_args(e, C, t / "w"))[1],
            1,
            rules=nf({"file.not_regular"}),
        ),
        Case(
            "dir-unexpected-file",
            "directory",
            _dir(lambda e: (e / "notes.txt").write_text("hi")),
            1,
            rules=nf({"file.unexpected"}),
        ),
        Case(
            "dir-hidden-file",
            "directory",
            _dir(lambda e: (e / ".DS_Store").write_bytes(b"\0")),
            1,
            rules=nf({"file.unexpected"}),
        ),
        Case(
            "dir-missing-file",
            "directory",
            _dir(lambda e: (e / "cards.jsonl").unlink()),
            1,
            rules=nf({"file.missing", DANGLING}),
        ),
        Case("dir-work-dir-missing", "directory", no_work_dir, 0),
        Case(
            "dir-no-such-export", "directory", no_such_dir, 2, message="no such export directory or archive"
        ),
        Case("dir-valid", "directory", _dir(lambda e: None), 0),
    ]


# -- configuration ---------------------------------------------------------------------------------
def _contract_copy(tmp: Path, change: Callable[[str], str]) -> Path:
    root = tmp / "contract"
    shutil.copytree(REFERENCE_CONTRACT.parent, root)
    path = root / "contract.yaml"
    path.write_text(change(path.read_text()))
    return path


def _with_contract(change: Callable[[str], str]) -> Callable[[Path, Path], list[str]]:
    def build(export: Path, tmp: Path) -> list[str]:
        return validate_args(export, _contract_copy(tmp, change), tmp / "work")

    return build


def _scenario(text: str) -> Callable[[Path, Path], list[str]]:
    def build(export: Path, tmp: Path) -> list[str]:
        path = tmp / "scenarios" / "case.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return ["run", str(path), "--evidence-dir", str(tmp / "reports"), "--work-dir", str(tmp / "work")]

    return build


LOWER_FORM_RULES = (
    "strictness:\n  severities: {record.line_ending: warning, manifest.contract_version: warning}\n"
)
DSN = "postgresql://app:Sup3rS3cretPw@db.internal:5432/app"


def configuration_cases() -> list[Case]:
    head = "scenario_version: 1\nname: case\nlane: portable-export\n"
    cases = [
        Case(
            "cfg-contract-dup-key",
            "configuration",
            _with_contract(
                lambda t: t.replace("contract_version: 1\n", "contract_version: 1\ncontract_version: 1\n")
            ),
            2,
            message="repeats in one mapping",
        ),
        Case(
            "cfg-contract-typo",
            "configuration",
            _with_contract(
                lambda t: t.replace(
                    "timestamps: [created_at, updated_at, last_login_at]", "timestamp: [created_at]", 1
                )
            ),
            2,
            message="timestamp",
        ),
        Case(
            "cfg-contract-bad-yaml",
            "configuration",
            _with_contract(lambda t: t + "\n\t- broken"),
            2,
            message="not valid YAML",
        ),
        Case(
            "cfg-contract-lower-checksum",
            "configuration",
            _with_contract(lambda t: t + "strictness:\n  severities: {file.checksum: warning}\n"),
            2,
            message="cannot be lowered",
        ),
        Case(
            "cfg-contract-unknown-rule",
            "configuration",
            _with_contract(lambda t: t + "strictness:\n  severities: {record.line_endings: warning}\n"),
            2,
            message="did you mean 'record.line_ending'",
        ),
        Case(
            "cfg-contract-lower-line-ending",
            "configuration",
            lambda e, t: (
                _line("users.jsonl", 0, lambda ln: ln[:-1] + b"\r\n")(e),
                validate_args(
                    e,
                    _contract_copy(
                        t,
                        lambda s: s + LOWER_FORM_RULES,
                    ),
                    t / "w",
                ),
            )[1],
            0,
            rules=frozenset({"record.line_ending", "manifest.contract_version"}),  # warnings only
        ),
        Case(
            "cfg-contract-column-unknown",
            "configuration",
            _with_contract(
                lambda t: t.replace("column_types: {priority: smallint}", "column_types: {prio: smallint}")
            ),
            2,
            message="column_types names fields",
        ),
        Case(
            "cfg-contract-column-type",
            "configuration",
            _with_contract(
                lambda t: t.replace("column_types: {priority: smallint}", "column_types: {priority: tinyint}")
            ),
            2,
            message="column_types",
        ),
        Case(
            "cfg-contract-missing",
            "configuration",
            lambda e, t: validate_args(e, t / "nope.yaml", t / "w"),
            2,
            message="cannot read contract",
        ),
        Case(
            "cfg-contract-schema-missing",
            "configuration",
            _with_contract(lambda t: t.replace("schemas/users.schema.json", "schemas/gone.schema.json")),
            2,
            message="not found",
        ),
        Case(
            "cfg-contract-max-depth",
            "configuration",
            _with_contract(lambda t: t + "strictness: {max_depth: 1}\n"),
            2,
            message="max_depth",
        ),
        Case(
            "cfg-scenario-typo-version",
            "configuration",
            _scenario(head.replace("scenario_version", "scenario_verison")),
            2,
            message="did you mean 'scenario_version'",
        ),
        Case(
            "cfg-scenario-dup-key",
            "configuration",
            _scenario(head + "name: other\n"),
            2,
            message="repeats in one mapping",
        ),
        Case(
            "cfg-scenario-unknown-lane",
            "configuration",
            _scenario(head.replace("portable-export", "portable-exprot")),
            2,
            message="unknown lane 'portable-exprot'",
        ),
        Case(
            "cfg-scenario-dsn-in-dsn-env",
            "configuration",
            _scenario(head + f"source:\n  postgres: {{provider: external, dsn_env: '{DSN}'}}\n"),
            2,
            message="dsn_env",
            secret="Sup3rS3cretPw",
        ),
        Case(
            "cfg-scenario-unknown-key",
            "configuration",
            _scenario(head + "objectivs: {rto_seconds: 10}\n"),
            2,
            message="did you mean 'objectives'",
        ),
        Case(
            "cfg-scenario-bad-yaml",
            "configuration",
            _scenario(head + "smoke: [\n"),
            2,
            message="not valid YAML",
        ),
        Case(
            "cfg-scenario-options-secret",
            "configuration",
            _scenario(head + f"options: {{offsite: {{bucket: '{DSN}'}}}}\n" + "contract: ../c.yaml\n"),
            2,
            message="options.offsite.bucket",
            secret="Sup3rS3cretPw",
        ),
    ]
    return cases


def all_cases() -> list[Case]:
    return (
        tar_cases()
        + manifest_cases()
        + record_cases()
        + secret_cases()
        + directory_cases()
        + configuration_cases()
    )

"""Deterministic export archives and hostile-archive extraction, on real tar files."""

from __future__ import annotations

import gzip
import io
import os
import random
import tarfile
import time
from pathlib import Path

import pytest

from harness.archive import ExtractLimits, create_archive, extract_archive
from harness.errors import ArchiveError, ConfigError
from harness.files import sha256_file

MANIFEST_BYTES = b'{"export_format_version": "1", "entity_files": {}}\n'

Entry = tuple[tarfile.TarInfo, bytes | None]


def make_export(root: Path, files: dict[str, bytes]) -> Path:
    root.mkdir(parents=True)
    for name, data in files.items():
        (root / name).write_bytes(data)
    return root


def sample_files() -> dict[str, bytes]:
    rng = random.Random(7)
    return {
        "manifest.json": MANIFEST_BYTES,
        "orders.jsonl": b"".join(b'{"id": %d}\n' % i for i in range(2000)),
        "Accounts.jsonl": rng.randbytes(150_000),
        "_audit.jsonl": b"",
        "customers.jsonl": b'{"id": 1, "name": "x"}\n',
    }


def reg(name: str, data: bytes = b"{}\n") -> Entry:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def special(name: str, type_: bytes, linkname: str = "") -> Entry:
    info = tarfile.TarInfo(name)
    info.type = type_
    info.linkname = linkname
    if type_ in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 1, 3
    return info, None


def tar_bytes(entries: list[Entry], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def write_archive(path: Path, entries: list[Entry]) -> Path:
    path.write_bytes(gzip.compress(tar_bytes(entries)))
    return path


def assert_refused(
    archive: Path,
    tmp_path: Path,
    match: str,
    *,
    member: str | None = None,
    limits: ExtractLimits | None = None,
    error: type[Exception] = ArchiveError,
) -> str:
    """Extraction fails with ``error``; the message names the archive (and member); nothing is left."""
    dest = tmp_path / "restored"
    with pytest.raises(error, match=match) as caught:
        extract_archive(archive, dest, limits=limits or ExtractLimits())
    message = str(caught.value)
    assert str(archive) in message
    if member is not None:
        assert repr(member) in message
    assert not dest.exists()
    assert not list(tmp_path.glob("*.partial"))
    return message


# --------------------------------------------------------------------------- create


def test_create_is_deterministic_across_time_mtimes_and_permissions(tmp_path: Path) -> None:
    files = sample_files()
    first = make_export(tmp_path / "one", files)
    second = make_export(tmp_path / "two", dict(reversed(list(files.items()))))
    for i, name in enumerate(files):
        os.utime(first / name, (1_000_000 + i, 1_000_000 + i))
        os.utime(second / name, (1_700_000_000 - i, 1_700_000_000 - i))
        (first / name).chmod(0o600)
        (second / name).chmod(0o755)

    a = create_archive(first, tmp_path / "a.tar.gz")
    time.sleep(1.1)  # the wall clock must not reach the archive
    b = create_archive(second, tmp_path / "b.tar.gz")

    assert a.sha256 == b.sha256 == sha256_file(a.path) == sha256_file(b.path)
    assert (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "b.tar.gz").read_bytes()
    assert a.size_bytes == b.size_bytes == a.path.stat().st_size
    assert a.uncompressed_bytes == sum(len(d) for d in files.values())
    assert not list(tmp_path.glob("*.partial"))


def test_create_puts_manifest_first_then_sorted_with_fixed_metadata(tmp_path: Path) -> None:
    export_dir = make_export(tmp_path / "export", sample_files())
    info = create_archive(export_dir, tmp_path / "export.tar.gz")

    expected = ("manifest.json", "Accounts.jsonl", "_audit.jsonl", "customers.jsonl", "orders.jsonl")
    assert info.members == expected
    raw = info.path.read_bytes()
    assert raw[:4] == b"\x1f\x8b\x08\x00"  # gzip, deflate, no flags (so no file name)
    assert raw[4:8] == b"\0\0\0\0"  # gzip header mtime 0
    with tarfile.open(info.path, "r:gz") as tar:
        members = tar.getmembers()
    assert tuple(m.name for m in members) == expected
    for m in members:
        assert m.type == tarfile.REGTYPE
        assert (m.mode, m.uid, m.gid, m.uname, m.gname) == (0o644, 0, 0, "", "")
        assert m.mtime == members[0].mtime
        assert not m.pax_headers


def test_round_trip_extract_equals_input(tmp_path: Path) -> None:
    files = sample_files()
    export_dir = make_export(tmp_path / "export", files)
    info = create_archive(export_dir, tmp_path / "export.tar.gz")

    out = extract_archive(info.path, tmp_path / "restored")

    assert out == tmp_path / "restored"
    assert sorted(p.name for p in out.iterdir()) == sorted(files)
    for name, data in files.items():
        assert (out / name).read_bytes() == data
    assert not list(tmp_path.glob("*.partial"))


def test_create_replaces_existing_dest(tmp_path: Path) -> None:
    export_dir = make_export(tmp_path / "export", sample_files())
    dest = tmp_path / "export.tar.gz"
    dest.write_bytes(b"old")
    info = create_archive(export_dir, dest)
    assert sha256_file(dest) == info.sha256


@pytest.mark.parametrize("kind", ["symlink", "subdir", "no-manifest", "bad-name"])
def test_create_refuses_non_flat_or_incomplete_export(tmp_path: Path, kind: str) -> None:
    export_dir = make_export(tmp_path / "export", sample_files())
    if kind == "symlink":
        (export_dir / "link.jsonl").symlink_to(export_dir / "orders.jsonl")
        match = "symbolic link"
    elif kind == "subdir":
        (export_dir / "nested").mkdir()
        match = "directory"
    elif kind == "no-manifest":
        (export_dir / "manifest.json").unlink()
        match = "manifest.json"
    else:
        (export_dir / "bad name.jsonl").write_bytes(b"")
        match = "must match"
    dest = tmp_path / "export.tar.gz"

    with pytest.raises(ConfigError, match=match) as caught:
        create_archive(export_dir, dest)

    assert str(export_dir) in str(caught.value)
    assert not dest.exists()
    assert not list(tmp_path.glob("*.partial"))


def test_create_refuses_missing_export_dir_and_missing_dest_parent(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        create_archive(tmp_path / "nope", tmp_path / "x.tar.gz")
    export_dir = make_export(tmp_path / "export", sample_files())
    with pytest.raises(ConfigError, match="cannot create"):
        create_archive(export_dir, tmp_path / "missing" / "x.tar.gz")
    assert not (tmp_path / "missing").exists()
    with pytest.raises(ConfigError, match="inside the export directory"):
        create_archive(export_dir, export_dir / "x.tar.gz")
    assert sorted(p.name for p in export_dir.iterdir()) == sorted(sample_files())


# --------------------------------------------------------------------------- extract: damaged files


@pytest.fixture
def good_archive(tmp_path: Path) -> Path:
    export_dir = make_export(tmp_path / "export", sample_files())
    return create_archive(export_dir, tmp_path / "export.tar.gz").path


def test_truncated_archive(tmp_path: Path, good_archive: Path) -> None:
    data = good_archive.read_bytes()
    good_archive.write_bytes(data[: len(data) // 2])
    assert_refused(good_archive, tmp_path, "truncated|unexpected end")


def test_archive_missing_its_gzip_trailer(tmp_path: Path, good_archive: Path) -> None:
    data = good_archive.read_bytes()
    good_archive.write_bytes(data[:-4])
    message = assert_refused(good_archive, tmp_path, "truncated")
    assert message.endswith(": truncated: compressed data ended early"), message


def test_corrupted_bytes_in_the_middle(tmp_path: Path, good_archive: Path) -> None:
    data = bytearray(good_archive.read_bytes())
    middle = len(data) // 2
    for i in range(middle, middle + 16):
        data[i] ^= 0xFF
    good_archive.write_bytes(bytes(data))
    assert_refused(good_archive, tmp_path, "corrupt|CRC|invalid|truncated|unexpected")


@pytest.mark.parametrize(("where", "said"), [(-8, "CRC-32 does not match"), (-1, "length does not match")])
def test_a_member_that_inflates_to_other_bytes_is_corrupt(tmp_path: Path, where: int, said: str) -> None:
    """A changed byte in stored (level 0) data inflates without error and only the member's CRC-32
    (or a changed length) tells: corrupt data, not "not gzip"."""
    data = bytearray(gzip.compress(tar_bytes([reg("manifest.json", MANIFEST_BYTES)]), 0))
    if where == -8:
        data[len(data) // 2] ^= 0x55  # inside the stored block: still inflates
    else:
        data[where] ^= 0x01  # ISIZE
    archive = tmp_path / "changed.tar.gz"
    archive.write_bytes(bytes(data))
    message = assert_refused(archive, tmp_path, "corrupt compressed data")
    assert message.endswith(f": corrupt compressed data: a gzip member's {said}")


def test_deflate_data_that_cannot_inflate_is_corrupt(tmp_path: Path) -> None:
    """A reserved deflate block type right after a valid gzip header: the inflater's own reason."""
    archive = tmp_path / "reserved-block.tar.gz"
    archive.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\x07" + b"\x00" * 11)
    message = assert_refused(archive, tmp_path, "at the start: corrupt compressed data: ")
    assert message.split("corrupt compressed data: ", 1)[1].strip()  # the inflater says why


def test_not_gzip(tmp_path: Path) -> None:
    plain_tar = tmp_path / "plain.tar.gz"
    plain_tar.write_bytes(tar_bytes([reg("manifest.json", MANIFEST_BYTES)]))
    assert_refused(plain_tar, tmp_path, "not a valid gzip stream")

    text = tmp_path / "text.tar.gz"
    text.write_text("hello, this is not an archive\n")
    assert_refused(text, tmp_path, "not a valid gzip stream")

    empty = tmp_path / "empty.tar.gz"
    empty.write_bytes(b"")
    assert_refused(empty, tmp_path, "empty|not a valid gzip")


def test_gzip_but_not_tar(tmp_path: Path) -> None:
    archive = tmp_path / "notar.tar.gz"
    archive.write_bytes(gzip.compress(b"just some text, definitely not a tar header\n" * 40))
    assert_refused(archive, tmp_path, "header|invalid|empty")


def test_tar_cut_at_a_header_boundary_inside_valid_gzip(tmp_path: Path) -> None:
    raw = tar_bytes([reg("manifest.json", MANIFEST_BYTES), reg("a.jsonl", b"x" * 600)])
    end_of_members = 512 + 512 + 512 + 1024  # manifest header+data, a.jsonl header+data
    archive = tmp_path / "cut.tar.gz"
    archive.write_bytes(gzip.compress(raw[:end_of_members]))
    assert_refused(archive, tmp_path, "end-of-archive marker missing", member="a.jsonl")


def test_corrupt_tar_header_inside_valid_gzip(tmp_path: Path) -> None:
    raw = bytearray(tar_bytes([reg("manifest.json", MANIFEST_BYTES), reg("a.jsonl"), reg("b.jsonl")]))
    raw[1024 + 148 : 1024 + 156] = b"0000000\0"  # break a.jsonl's header checksum
    archive = tmp_path / "badheader.tar.gz"
    archive.write_bytes(gzip.compress(bytes(raw)))
    assert_refused(archive, tmp_path, "invalid tar header", member="manifest.json")


def test_data_after_end_of_archive(tmp_path: Path) -> None:
    raw = tar_bytes([reg("manifest.json", MANIFEST_BYTES)]) + b"trailing junk"
    archive = tmp_path / "trailing.tar.gz"
    archive.write_bytes(gzip.compress(raw))
    assert_refused(archive, tmp_path, "after the end-of-archive marker")


# --------------------------------------------------------------------------- extract: unsafe members


BAD_MEMBERS: list[tuple[str, Entry, str]] = [
    ("traversal", reg("../evil"), "path traversal"),
    ("traversal-deep", reg("a/../../evil"), "path traversal"),
    ("absolute", reg("/etc/x"), "absolute path"),
    ("backslash", reg("..\\evil"), "backslash"),
    ("nested", reg("sub/a.jsonl"), "nested path"),
    ("dot", reg("."), "not a file name"),
    ("bad-chars", reg("a b.jsonl"), "must match"),
    ("newline", reg("a.jsonl\n"), "must match"),
    ("symlink", special("link.jsonl", tarfile.SYMTYPE, "/etc/passwd"), "symbolic link"),
    ("hardlink", special("hard.jsonl", tarfile.LNKTYPE, "manifest.json"), "hard link"),
    ("chardev", special("null", tarfile.CHRTYPE), "character device"),
    ("blockdev", special("sda", tarfile.BLKTYPE), "block device"),
    ("fifo", special("pipe", tarfile.FIFOTYPE), "FIFO"),
    ("directory", special("subdir", tarfile.DIRTYPE), "directory"),
]


@pytest.mark.parametrize(
    ("entry", "match"), [case[1:] for case in BAD_MEMBERS], ids=[c[0] for c in BAD_MEMBERS]
)
def test_unsafe_member_refused(tmp_path: Path, entry: Entry, match: str) -> None:
    # A good member first, so the partial directory already holds a file when the bad one arrives.
    archive = write_archive(tmp_path / "bad.tar.gz", [reg("manifest.json", MANIFEST_BYTES), entry])
    assert_refused(archive, tmp_path, match, member=entry[0].name)
    assert not (tmp_path / "evil").exists()


def test_duplicate_member(tmp_path: Path) -> None:
    archive = write_archive(
        tmp_path / "dup.tar.gz",
        [reg("manifest.json", MANIFEST_BYTES), reg("a.jsonl", b"1\n"), reg("a.jsonl", b"2\n")],
    )
    assert_refused(archive, tmp_path, "duplicate", member="a.jsonl")


def test_duplicate_member_differing_only_in_case(tmp_path: Path) -> None:
    archive = write_archive(
        tmp_path / "dup.tar.gz",
        [reg("manifest.json", MANIFEST_BYTES), reg("a.jsonl"), reg("A.jsonl")],
    )
    assert_refused(archive, tmp_path, "duplicate", member="A.jsonl")


def test_missing_manifest(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "nomanifest.tar.gz", [reg("a.jsonl"), reg("b.jsonl")])
    assert_refused(archive, tmp_path, "no manifest.json")


def test_manifest_name_must_match_exactly(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "upper.tar.gz", [reg("MANIFEST.JSON", MANIFEST_BYTES), reg("a.jsonl")])
    assert_refused(archive, tmp_path, "no manifest.json")


def test_empty_tar(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "empty.tar.gz", [])
    assert_refused(archive, tmp_path, "no manifest.json")


# --------------------------------------------------------------------------- extract: limits


def test_too_many_members(tmp_path: Path) -> None:
    entries = [reg("manifest.json", MANIFEST_BYTES)] + [reg(f"f{i}.jsonl") for i in range(5)]
    archive = write_archive(tmp_path / "many.tar.gz", entries)
    assert_refused(
        archive, tmp_path, "more than 3 members", member="f2.jsonl", limits=ExtractLimits(max_members=3)
    )


def test_member_over_size_limit(tmp_path: Path) -> None:
    archive = write_archive(
        tmp_path / "big.tar.gz", [reg("manifest.json", MANIFEST_BYTES), reg("big.jsonl", b"y" * 2000)]
    )
    assert_refused(
        archive, tmp_path, "per-member limit", member="big.jsonl", limits=ExtractLimits(max_member_bytes=1000)
    )


def test_total_over_limit(tmp_path: Path) -> None:
    entries = [reg("manifest.json", MANIFEST_BYTES), reg("a.jsonl", b"a" * 900), reg("b.jsonl", b"b" * 900)]
    archive = write_archive(tmp_path / "total.tar.gz", entries)
    assert_refused(
        archive, tmp_path, "total size", member="b.jsonl", limits=ExtractLimits(max_total_bytes=1500)
    )


def test_ratio_bomb_is_refused_without_inflating_it(tmp_path: Path) -> None:
    zeros = 50 * 2**20
    data = bytearray(
        gzip.compress(tar_bytes([reg("manifest.json", MANIFEST_BYTES), reg("bomb.jsonl", bytes(zeros))]))
    )
    assert len(data) * 100 < zeros
    # Spoil the gzip trailer: inflating the whole stream would end in a CRC/length error instead.
    data[-8:] = bytes(8)
    archive = tmp_path / "bomb.tar.gz"
    archive.write_bytes(bytes(data))
    assert_refused(
        archive, tmp_path, "compression bomb", member="bomb.jsonl", limits=ExtractLimits(max_ratio=50.0)
    )
    # Default limits (ratio 200) refuse it as well.
    assert_refused(archive, tmp_path, "compression bomb", member="bomb.jsonl")


def test_oversized_extended_header_is_bounded(tmp_path: Path) -> None:
    info, data = reg("a.jsonl")
    info.pax_headers = {"comment": "x" * (30 * 2**20)}
    archive = write_archive(tmp_path / "paxbomb.tar.gz", [reg("manifest.json", MANIFEST_BYTES), (info, data)])
    assert_refused(archive, tmp_path, "decompressed stream exceeds", limits=ExtractLimits(max_members=10))


def test_limits_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="max_ratio"):
        ExtractLimits(max_ratio=0)


# --------------------------------------------------------------------------- extract: destination


def test_dest_already_exists(tmp_path: Path, good_archive: Path) -> None:
    dest = tmp_path / "restored"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="already exists") as caught:
        extract_archive(good_archive, dest)
    assert str(dest) in str(caught.value)
    assert str(good_archive) in str(caught.value)
    assert [p.name for p in dest.iterdir()] == ["keep.txt"]
    assert not list(tmp_path.glob("*.partial"))


def test_missing_archive_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        extract_archive(tmp_path / "nope.tar.gz", tmp_path / "restored")
    assert not (tmp_path / "restored").exists()
    assert not list(tmp_path.glob("*.partial"))


def test_stale_partial_from_an_interrupted_run_is_replaced(tmp_path: Path, good_archive: Path) -> None:
    stale = tmp_path / "restored.partial"
    stale.mkdir()
    (stale / "leftover.jsonl").write_text("half")
    out = extract_archive(good_archive, tmp_path / "restored")
    assert "leftover.jsonl" not in {p.name for p in out.iterdir()}
    assert not stale.exists()


def test_archive_from_other_tar_writers_extracts(tmp_path: Path) -> None:
    entries = [reg("manifest.json", MANIFEST_BYTES), reg("a.jsonl", b"1\n" * 1000)]
    for fmt in (tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        archive = tmp_path / f"fmt{fmt}.tar.gz"
        archive.write_bytes(gzip.compress(tar_bytes(entries, fmt)))
        out = extract_archive(archive, tmp_path / f"out{fmt}")
        assert (out / "a.jsonl").read_bytes() == b"1\n" * 1000

"""Extraction limits at their boundaries (exactly at a limit passes, one over fails), members larger
than the copy chunk, the end-of-archive marker, the bounded read-back window, root entries of
``tar -C dir .``, the working files, and refusal messages asserted in full (never a substring the
temporary path could hold). Written against the mutants mutmut found surviving in extract.py."""

from __future__ import annotations

import gzip
import io
import random
import tarfile
from pathlib import Path

import pytest

from harness.archive import ExtractLimits, extract_archive
from harness.archive.codecs import StreamError
from harness.archive.extract import _Inflater
from harness.archive.names import COPY_CHUNK, END_OF_ARCHIVE, MEMBER_MODE
from harness.errors import ArchiveError, ConfigError
from tests.test_archive import MANIFEST_BYTES, Entry, reg, tar_bytes, write_archive


def refusal(archive: Path, tmp_path: Path, limits: ExtractLimits | None = None) -> str:
    """The refusal's message after the archive path, which the test's temporary path cannot fake."""
    dest = tmp_path / "out"
    with pytest.raises(ArchiveError) as caught:
        extract_archive(archive, dest, limits=limits or ExtractLimits())
    message = str(caught.value)
    assert message.startswith(f"{archive}: ") and not dest.exists()
    return message.removeprefix(f"{archive}: ")


def extracts(archive: Path, tmp_path: Path, limits: ExtractLimits | None = None) -> Path:
    return extract_archive(archive, tmp_path / "out", limits=limits or ExtractLimits())


def entries(*sizes: int) -> list[Entry]:
    return [reg("manifest.json", MANIFEST_BYTES)] + [
        reg(f"f{i}.jsonl", b"x" * n) for i, n in enumerate(sizes)
    ]


def test_a_member_larger_than_the_copy_chunk_comes_back_byte_for_byte(tmp_path: Path) -> None:
    data = random.Random(3).randbytes(2 * COPY_CHUNK + 12_345)  # three chunks, the last one partial
    archive = write_archive(
        tmp_path / "big.tar.gz", [reg("manifest.json", MANIFEST_BYTES), reg("big.jsonl", data)]
    )
    assert (extracts(archive, tmp_path) / "big.jsonl").read_bytes() == data


def test_the_duplicate_member_refusal_names_the_member(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "a.tar.gz", [*entries(1), reg("f0.jsonl", b"y\n")])
    assert refusal(archive, tmp_path) == "member 'f0.jsonl': duplicate member"


def test_member_count_exactly_at_the_limit_passes_one_over_fails(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "a.tar.gz", entries(1, 1, 1))  # four members
    assert (
        refusal(archive, tmp_path, ExtractLimits(max_members=3)) == "member 'f2.jsonl': more than 3 members"
    )
    assert sorted(p.name for p in extracts(archive, tmp_path, ExtractLimits(max_members=4)).iterdir()) == [
        "f0.jsonl",
        "f1.jsonl",
        "f2.jsonl",
        "manifest.json",
    ]


def test_member_size_exactly_at_the_limit_passes_one_over_fails(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "a.tar.gz", entries(1000))
    assert refusal(archive, tmp_path, ExtractLimits(max_member_bytes=999)) == (
        "member 'f0.jsonl': size 1000 exceeds the per-member limit 999"
    )
    assert (
        extracts(archive, tmp_path, ExtractLimits(max_member_bytes=1000)) / "f0.jsonl"
    ).stat().st_size == 1000


def test_total_size_exactly_at_the_limit_passes_one_over_fails(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "a.tar.gz", entries(600, 400))
    total = len(MANIFEST_BYTES) + 1000
    assert refusal(archive, tmp_path, ExtractLimits(max_total_bytes=total - 1)) == (
        f"member 'f1.jsonl': total size {total} exceeds the limit {total - 1}"
    )
    extracts(archive, tmp_path, ExtractLimits(max_total_bytes=total))


def test_ratio_exactly_at_the_limit_passes_just_over_fails(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "a.tar.gz", entries(50_000))
    total, compressed = len(MANIFEST_BYTES) + 50_000, archive.stat().st_size
    exact = total / compressed
    assert exact * compressed == total  # the boundary is representable: the test means what it says
    below = ExtractLimits(max_ratio=(total - 1) / compressed)
    assert refusal(archive, tmp_path, below).startswith(
        f"member 'f0.jsonl': total size {total} is more than "
    )
    extracts(archive, tmp_path, ExtractLimits(max_ratio=exact))


def _with_trailer(zero_bytes: int) -> bytes:
    """A tar stream cut right after its last member, then ``zero_bytes`` zeros."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries(3):
            tar.addfile(info, io.BytesIO(data or b""))
        end = tar.offset
    return buf.getvalue()[:end] + bytes(zero_bytes)


@pytest.mark.parametrize("zeros", [END_OF_ARCHIVE, END_OF_ARCHIVE + 512, 10_240, 3 * COPY_CHUNK + 100])
def test_an_end_of_archive_marker_of_two_or_more_zero_blocks_is_accepted(tmp_path: Path, zeros: int) -> None:
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(gzip.compress(_with_trailer(zeros)))
    assert (extracts(archive, tmp_path) / "f0.jsonl").read_bytes() == b"xxx"


@pytest.mark.parametrize("zeros", [0, 512, END_OF_ARCHIVE - 1])
def test_a_short_end_of_archive_marker_is_truncation(tmp_path: Path, zeros: int) -> None:
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(gzip.compress(_with_trailer(zeros)))
    assert refusal(archive, tmp_path).endswith("truncated: end-of-archive marker missing")


@pytest.mark.parametrize(
    ("padding", "says"),
    [
        (5000, "after member 'f0.jsonl': invalid tar header at offset 2048 (corrupt archive)"),
        # past what tarfile read ahead: found by the trailing scan, chunk by chunk
        (
            3 * COPY_CHUNK,
            "after member 'f0.jsonl': unexpected data after the end-of-archive marker at offset 2048",
        ),
    ],
)
def test_one_non_zero_byte_after_the_marker_is_refused(tmp_path: Path, padding: int, says: str) -> None:
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(gzip.compress(_with_trailer(END_OF_ARCHIVE) + bytes(padding) + b"\x01"))
    assert refusal(archive, tmp_path) == says


def test_tar_bytes_helper_writes_a_full_record(tmp_path: Path) -> None:
    # the ordinary writer pads to a 10240-byte record: what the boundary cases above cut away
    assert len(tar_bytes(entries(3))) % tarfile.RECORDSIZE == 0


# -- the bounded read-back window ---------------------------------------------------------------------
class _Blocks:
    """A decoder handing out ``count`` blocks of ``size`` bytes (numbered, so offsets can be told)."""

    compression = "test"

    def __init__(self, size: int, count: int) -> None:
        self.blocks = [bytes([i]) * size for i in range(count)]
        self.asked: list[int] = []

    def read(self, size: int) -> bytes:
        self.asked.append(size)
        return self.blocks.pop(0) if self.blocks else b""


def test_reads_are_capped_at_the_copy_chunk_whatever_is_asked() -> None:
    blocks = _Blocks(10, 5)
    inflater = _Inflater(blocks, cap=10**9, keep=100)
    for size in (-1, 0, 1, COPY_CHUNK, COPY_CHUNK + 1):
        inflater.read(size)
    assert blocks.asked == [COPY_CHUNK, 0, 1, COPY_CHUNK, COPY_CHUNK]


def test_the_decompressed_stream_may_reach_its_cap_but_not_pass_it() -> None:
    at_cap = _Inflater(_Blocks(100, 3), cap=300, keep=100)
    assert [len(at_cap.read(100)) for _ in range(4)] == [100, 100, 100, 0]
    over = _Inflater(_Blocks(100, 3), cap=299, keep=100)
    over.read(100)
    over.read(100)
    with pytest.raises(StreamError, match=r"^decompressed stream exceeds 299 bytes$"):
        over.read(100)


def test_the_window_keeps_exactly_enough_blocks_to_re_read_keep_bytes() -> None:
    inflater = _Inflater(_Blocks(100, 10), cap=10**9, keep=300)
    for _ in range(10):
        inflater.read(100)
    assert inflater.position == 1000
    assert inflater.recent_from(700) == bytes([7]) * 100 + bytes([8]) * 100 + bytes([9]) * 100
    assert inflater.recent_from(1000) == b""
    for offset in (699, 1001):  # older than the window, or not handed out yet
        with pytest.raises(StreamError, match=rf"^cannot re-read stream at offset {offset}$"):
            inflater.recent_from(offset)


def test_limits_must_be_positive_and_a_ratio_below_one_is_allowed() -> None:
    assert ExtractLimits(max_members=1, max_member_bytes=1, max_total_bytes=1, max_ratio=0.5).max_ratio == 0.5
    for name in ("max_members", "max_member_bytes", "max_total_bytes", "max_ratio"):
        with pytest.raises(ConfigError, match=rf"^ExtractLimits.{name} must be positive, got 0$"):
            ExtractLimits(**{name: 0})


# -- members and the root entries of `tar -C dir .` ------------------------------------------------
def _dir(name: str) -> Entry:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    return info, None


@pytest.mark.parametrize("root", [".", "./"])
def test_a_root_entry_then_dot_slash_members_extract_under_their_names(tmp_path: Path, root: str) -> None:
    archive = write_archive(
        tmp_path / "a.tar.gz", [_dir(root), reg("./manifest.json", MANIFEST_BYTES), reg("./f0.jsonl", b"x\n")]
    )
    out = extracts(archive, tmp_path)
    assert sorted(p.name for p in out.iterdir()) == ["f0.jsonl", "manifest.json"]
    assert (out / "f0.jsonl").read_bytes() == b"x\n"


def test_a_dot_slash_name_loses_exactly_its_two_characters(tmp_path: Path) -> None:
    archive = write_archive(
        tmp_path / "a.tar.gz", [reg("./manifest.json", MANIFEST_BYTES), reg("./ab.jsonl")]
    )
    assert sorted(p.name for p in extracts(archive, tmp_path).iterdir()) == ["ab.jsonl", "manifest.json"]


def test_extracted_files_have_the_fixed_member_mode(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "a.tar.gz", entries(3))
    out = extracts(archive, tmp_path)
    assert {p.stat().st_mode & 0o777 for p in out.iterdir()} == {MEMBER_MODE}


def _link(name: str, kind: bytes, target: str) -> Entry:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        (
            _link("l.jsonl", tarfile.SYMTYPE, "elsewhere"),
            "symbolic link -> 'elsewhere'; only regular files allowed",
        ),
        (
            _link("h.jsonl", tarfile.LNKTYPE, "manifest.json"),
            "hard link -> 'manifest.json'; only regular files allowed",
        ),
        (_dir("sub"), "directory; only regular files allowed"),
    ],
)
def test_a_member_that_is_not_a_regular_file_is_named_with_its_kind(
    tmp_path: Path, entry: Entry, says: str
) -> None:
    archive = write_archive(tmp_path / "a.tar.gz", [reg("manifest.json", MANIFEST_BYTES), entry])
    assert refusal(archive, tmp_path) == f"member {entry[0].name!r}: {says}"


def test_a_member_of_an_unknown_type_is_named_by_its_type_byte(tmp_path: Path) -> None:
    info = tarfile.TarInfo("odd.jsonl")
    info.type = b"Q"
    archive = write_archive(tmp_path / "a.tar.gz", [reg("manifest.json", MANIFEST_BYTES), (info, None)])
    assert (
        refusal(archive, tmp_path)
        == "member 'odd.jsonl': unsupported member type b'Q'; only regular files allowed"
    )


def test_a_stream_that_is_not_compressed_is_refused_at_the_start(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(tar_bytes(entries(1)))  # a plain tar under a .tar.gz name
    assert refusal(archive, tmp_path).startswith("at the start: not a valid gzip stream")


# -- the working files ----------------------------------------------------------------------------
def test_a_stale_partial_file_is_replaced(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "a.tar.gz", entries(1))
    (tmp_path / "out.partial").write_bytes(b"left by an interrupted run")
    assert (extracts(archive, tmp_path) / "f0.jsonl").read_bytes() == b"x"


def test_the_destination_s_parents_are_created(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "a.tar.gz", entries(1))
    out = extract_archive(archive, tmp_path / "new" / "dir" / "out")
    assert (out / "f0.jsonl").read_bytes() == b"x"


def test_a_destination_under_a_file_is_a_config_error_naming_the_partial(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "a.tar.gz", entries(1))
    (tmp_path / "file").write_text("")
    partial = tmp_path / "file" / "out.partial"
    with pytest.raises(ConfigError) as caught:
        extract_archive(archive, tmp_path / "file" / "out")
    assert str(caught.value) == f"{partial}: cannot create: Not a directory"


def test_an_archive_that_is_a_directory_or_a_device_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        extract_archive(tmp_path, tmp_path / "out")
    assert str(caught.value) == f"{tmp_path}: cannot open archive: Is a directory"
    with pytest.raises(ConfigError) as caught:
        extract_archive(Path("/dev/null"), tmp_path / "out")
    assert str(caught.value) == "/dev/null: not a regular file"

"""Extraction limits at their boundaries (exactly at a limit passes, one over fails), members larger
than the copy chunk, the end-of-archive marker, and refusal messages asserted in full (never a
substring the temporary path could hold)."""

from __future__ import annotations

import gzip
import io
import random
import tarfile
from pathlib import Path

import pytest

from harness.archive import ExtractLimits, extract_archive
from harness.archive.names import COPY_CHUNK, END_OF_ARCHIVE
from harness.errors import ArchiveError
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


@pytest.mark.parametrize("zeros", [END_OF_ARCHIVE, END_OF_ARCHIVE + 512, 10_240])
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

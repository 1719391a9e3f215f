"""The opt-in ``.tar.zst`` archive format and the gzip writer's compatibility, on real files.

zstd streams here come from the harness and from ``zstandard``'s own writers used in ways the
harness never uses (several frames, skippable frames, level 19, declared content size, no
checksum), plus frames built byte by byte for what no writer emits (dictionaries, reserved bits,
huge windows, RLE bombs). The reader walks frames itself, so each of these is checked against an
independent decoder where it is accepted and by its exact refusal where it is not.
"""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
import tracemalloc
from pathlib import Path

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.archive import ExtractLimits, codecs, create_archive, extract_archive
from harness.archive.codecs import ZstdDecoder, compression_for
from harness.errors import ConfigError
from tests.helpers import extract_hostile
from tests.test_archive import MANIFEST_BYTES, assert_refused, make_export, reg, sample_files, tar_bytes

SKIPPABLE = struct.pack("<I", 0x184D2A53)


def zst(raw: bytes, **kwargs: object) -> bytes:
    params = {"write_checksum": True, **kwargs}
    return zstandard.ZstdCompressor(**params).compress(raw)  # type: ignore[arg-type]


def good_tar() -> bytes:
    return tar_bytes([reg("manifest.json", MANIFEST_BYTES), reg("a.jsonl", b'{"id": 1}\n' * 3000)])


def frame(blocks: list[bytes], *, fhd: int = 0x04, window: int = 0x50, checksum: bytes = b"\0" * 4) -> bytes:
    """A zstd frame by hand: magic, descriptor (checksum flag set), window byte, blocks, checksum."""
    return codecs.ZSTD_MAGIC + bytes([fhd, window]) + b"".join(blocks) + checksum


def rle_block(byte: int, count: int, *, last: bool = False) -> bytes:
    return ((count << 3) | (1 << 1) | int(last)).to_bytes(3, "little") + bytes([byte])


# --------------------------------------------------------------------------- create


def test_zst_archive_is_deterministic_for_any_thread_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export_dir = make_export(tmp_path / "export", sample_files())
    rows = b"".join(b'{"id": %d, "name": "n%d"}\n' % (i, i % 97) for i in range(400_000))
    (export_dir / "big.jsonl").write_bytes(rows)  # several MB: more than one zstd job
    one = create_archive(export_dir, tmp_path / "one.tar.zst")
    monkeypatch.setattr(codecs, "ZSTD_THREADS", 1)
    two = create_archive(export_dir, tmp_path / "two.tar.zst")

    assert one.compression == two.compression == "zstd"
    assert one.sha256 == two.sha256
    assert (tmp_path / "one.tar.zst").read_bytes() == (tmp_path / "two.tar.zst").read_bytes()
    params = zstandard.get_frame_parameters((tmp_path / "one.tar.zst").read_bytes())
    assert params.has_checksum and params.dict_id == 0
    # An independent reader (zstandard's own streaming decoder, then tarfile) sees the same export.
    with (tmp_path / "one.tar.zst").open("rb") as fh:
        raw = zstandard.ZstdDecompressor().stream_reader(fh, read_across_frames=True).read()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        names = tar.getnames()
        assert tar.extractfile("big.jsonl").read() == rows  # type: ignore[union-attr]
    assert names == list(one.members)


def test_zst_round_trip(tmp_path: Path) -> None:
    files = sample_files()
    info = create_archive(make_export(tmp_path / "export", files), tmp_path / "e.tzst")
    assert info.compression == "zstd"
    out = extract_archive(info.path, tmp_path / "restored")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == files


def test_gzip_output_is_standard_gzip_and_deterministic(tmp_path: Path) -> None:
    files = sample_files()
    info = create_archive(make_export(tmp_path / "export", files), tmp_path / "e.tar.gz")
    again = create_archive(tmp_path / "export", tmp_path / "f.tar.gz")
    assert info.compression == "gzip" and info.sha256 == again.sha256
    raw = gzip.decompress(info.path.read_bytes())  # the stdlib (zlib) inflater, CRC checked
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        assert {m.name: tar.extractfile(m).read() for m in tar.getmembers()} == files  # type: ignore[union-attr]


def test_compression_choice_by_name_and_request(tmp_path: Path) -> None:
    assert compression_for(Path("a.tar.gz")) == "gzip"
    assert compression_for(Path("a.tgz")) == "gzip"
    assert compression_for(Path("a.tar.zst")) == "zstd"
    assert compression_for(Path("archive")) == "gzip"
    assert compression_for(Path("archive"), "zstd") == "zstd"
    export_dir = make_export(tmp_path / "export", sample_files())
    with pytest.raises(ConfigError, match="the name says gzip but zstd"):
        create_archive(export_dir, tmp_path / "x.tar.gz", compression="zstd")
    with pytest.raises(ConfigError, match="not one of gzip, zstd"):
        create_archive(export_dir, tmp_path / "x", compression="xz")
    assert not list(tmp_path.glob("x*"))


# --------------------------------------------------------------------------- extract: accepted streams


@pytest.mark.parametrize(
    "kind", ["level-19", "content-size", "two-frames", "skippable-frames", "zstd-in-a-tar.gz-name"]
)
def test_foreign_zstd_streams_extract(tmp_path: Path, kind: str) -> None:
    raw = good_tar()
    name = "in.tar.zst"
    if kind == "level-19":
        blob = zst(raw, level=19)
    elif kind == "content-size":
        blob = zst(raw, write_content_size=True)
    elif kind == "two-frames":
        blob = zst(raw[:3000]) + zst(raw[3000:])
    elif kind == "skippable-frames":  # as pzstd writes: a skippable frame before each frame
        blob = SKIPPABLE + struct.pack("<I", 6) + b"pzstd!" + zst(raw[:777]) + SKIPPABLE + b"\0" * 4
        blob += zst(raw[777:])
    else:
        blob, name = zst(raw), "in.tar.gz"  # the content decides, not the name
    (tmp_path / name).write_bytes(blob)
    out = extract_archive(tmp_path / name, tmp_path / "out")
    assert (out / "a.jsonl").read_bytes() == b'{"id": 1}\n' * 3000


# --------------------------------------------------------------------------- extract: refused streams


def _write(tmp_path: Path, blob: bytes, name: str = "bad.tar.zst") -> Path:
    path = tmp_path / name
    path.write_bytes(blob)
    return path


@pytest.mark.parametrize(
    ("kind", "match"),
    [
        ("truncated", "truncated"),
        ("no-checksum-bytes", "truncated"),
        ("bad-checksum", "checksum mismatch"),
        ("flipped-middle", "corrupt|checksum|truncated"),
        ("no-checksum-flag", "no content checksum"),
        ("trailing-garbage", "unexpected data after the last zstd frame"),
        ("trailing-zeros", "unexpected data after the last zstd frame"),
        ("stray-bytes", "stray byte"),
        ("gzip-named-zst", "not a valid zstd stream"),
        ("text", "not a valid zstd stream"),
        ("empty", "empty file"),
        ("dictionary", "needs a dictionary"),
        ("reserved-bit", "reserved bit"),
        ("reserved-block", "reserved zstd block type"),
        ("oversized-block", "larger than 128 KiB"),
        ("huge-window", "needs a window over 128 MiB"),
        ("huge-single-segment", "needs a window over 128 MiB"),
        ("short-skippable", "truncated"),
    ],
)
def test_damaged_or_refused_zstd_streams(tmp_path: Path, kind: str, match: str) -> None:
    whole = zst(good_tar())
    blob: bytes
    if kind == "truncated":
        blob = whole[: len(whole) // 2]
    elif kind == "no-checksum-bytes":
        blob = whole[:-4]
    elif kind == "bad-checksum":
        blob = whole[:-1] + bytes([whole[-1] ^ 0xFF])
    elif kind == "flipped-middle":
        data = bytearray(whole)
        for i in range(len(data) // 2, len(data) // 2 + 8):
            data[i] ^= 0x5A
        blob = bytes(data)
    elif kind == "no-checksum-flag":
        blob = zst(good_tar(), write_checksum=False)
    elif kind == "trailing-garbage":
        blob = whole + b"junk after the frame"
    elif kind == "trailing-zeros":
        blob = whole + b"\0" * 16
    elif kind == "stray-bytes":
        blob = whole + b"\x28\xb5"
    elif kind == "gzip-named-zst":
        blob = gzip.compress(good_tar())
    elif kind == "text":
        blob = b"hello, not an archive\n"
    elif kind == "empty":
        blob = b""
    elif kind == "dictionary":
        blob = frame([rle_block(0, 10, last=True)], fhd=0x05) + b"\x01"
    elif kind == "reserved-bit":
        blob = frame([rle_block(0, 10, last=True)], fhd=0x0C)
    elif kind == "reserved-block":
        blob = frame([(1 | 3 << 1 | 10 << 3).to_bytes(3, "little") + b"x" * 10])
    elif kind == "oversized-block":
        blob = frame([(1 | 0 << 1 | (200 * 1024) << 3).to_bytes(3, "little") + b"x" * 10])
    elif kind == "huge-window":
        blob = frame([rle_block(0, 10, last=True)], window=0xF8)  # 2^41 bytes of window
    elif kind == "huge-single-segment":  # a single segment's window is its declared content size
        blob = (
            codecs.ZSTD_MAGIC + bytes([0xE4]) + (1 << 30).to_bytes(8, "little") + rle_block(0, 9, last=True)
        )
    else:
        blob = SKIPPABLE + struct.pack("<I", 1000) + b"short"
    archive = _write(tmp_path, blob, "bad.tar.gz" if kind == "gzip-named-zst" else "bad.tar.zst")
    if kind == "gzip-named-zst":
        archive = archive.rename(tmp_path / "bad.tar.zst")
    assert_refused(archive, tmp_path, match)


def test_zstd_member_limits_and_bomb_ratio(tmp_path: Path) -> None:
    entries = [reg("manifest.json", MANIFEST_BYTES)] + [reg(f"f{i}.jsonl") for i in range(5)]
    many = _write(tmp_path, zst(tar_bytes(entries)), "many.tar.zst")
    assert_refused(
        many, tmp_path, "more than 3 members", member="f2.jsonl", limits=ExtractLimits(max_members=3)
    )
    big = _write(
        tmp_path, zst(tar_bytes([reg("manifest.json", MANIFEST_BYTES), reg("b.jsonl", b"y" * 2000)]))
    )
    assert_refused(
        big, tmp_path, "per-member limit", member="b.jsonl", limits=ExtractLimits(max_member_bytes=1000)
    )
    zeros = zst(tar_bytes([reg("manifest.json", MANIFEST_BYTES), reg("bomb.jsonl", bytes(50 * 2**20))]))
    bomb = _write(tmp_path, zeros[:-4] + b"\0\0\0\0", "bomb.tar.zst")  # bad checksum: never reached
    assert_refused(bomb, tmp_path, "compression bomb", member="bomb.jsonl")


def test_oversized_extended_header_is_bounded_in_zstd_too(tmp_path: Path) -> None:
    info, data = reg("a.jsonl")
    info.pax_headers = {"comment": "x" * (30 * 2**20)}
    archive = _write(tmp_path, zst(tar_bytes([reg("manifest.json", MANIFEST_BYTES), (info, data)])))
    assert_refused(archive, tmp_path, "decompressed stream exceeds", limits=ExtractLimits(max_members=10))


def test_rle_bomb_never_inflates_ahead_of_the_reader() -> None:
    """8 GiB of RLE blocks in 256 KiB of input: reading 1 MiB keeps well under 4 MiB in memory."""
    blocks = [rle_block(0, 128 * 1024) for _ in range(65_536)]
    blob = frame(blocks)
    decoder = ZstdDecoder(io.BufferedReader(io.BytesIO(blob)))  # type: ignore[arg-type]
    tracemalloc.start()
    try:
        first = decoder.read(1 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert first == bytes(1 << 20)
    assert peak < 4 * 2**20


# --------------------------------------------------------------------------- fuzz


@pytest.fixture(scope="module")
def zst_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    root = tmp_path_factory.mktemp("fuzz-zst")
    export_dir = make_export(root / "export", sample_files())
    return create_archive(export_dir, root / "a.tar.zst").path.read_bytes()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_zstd_extractor_refuses_or_extracts_safely(zst_bytes: bytes, data: st.DataObject) -> None:
    blob = bytearray(zst_bytes)
    if data.draw(st.booleans()):
        for _ in range(data.draw(st.integers(1, 4))):
            blob[data.draw(st.integers(0, len(blob) - 1))] ^= data.draw(st.integers(1, 255))
    else:
        blob = blob[: data.draw(st.integers(0, len(blob)))]

    def as_written(dest: Path) -> None:  # the checksum caught everything else
        assert {p.name: p.read_bytes() for p in dest.iterdir()} == sample_files()

    extract_hostile(bytes(blob), "in.tar.zst", as_written)


# --------------------------------------------------------------------------- frame headers, exactly


@pytest.mark.parametrize("size", [0, 10, 255, 256, 300, 65_791, 65_792, 70_000, 300_000])
@pytest.mark.parametrize("content_size", [True, False])
def test_every_frame_header_form_decodes_exactly(size: int, content_size: bool) -> None:
    """Single-segment frames with 1-, 2- (+256) and 4-byte content sizes, and windowed frames."""
    data = bytes(i * 7 % 251 for i in range(size))
    blob = zst(data, write_content_size=content_size)
    decoder = ZstdDecoder(io.BufferedReader(io.BytesIO(blob)))  # type: ignore[arg-type]
    out = b""
    while chunk := decoder.read(4096):
        assert len(chunk) <= 4096
        out += chunk
    assert out == data


def _opening(header: bytes) -> bytes:
    """The first bytes of a frame that starts with ``header``: one 10-byte RLE block, not the last."""
    decoder = ZstdDecoder(
        io.BufferedReader(io.BytesIO(header + rle_block(0, 10) + rle_block(0, 5, last=True)))
    )  # type: ignore[arg-type]
    return decoder.read(5)


@pytest.mark.parametrize(
    ("window", "accepted"),
    [(0x87, True), (0x88, True), (0x89, False), (0x90, False)],  # 120 MiB, 128 MiB, 144 MiB, 256 MiB
)
def test_the_window_limit_is_exactly_128_mib(window: int, accepted: bool) -> None:
    header = codecs.ZSTD_MAGIC + bytes([0x04, window])
    if accepted:
        assert _opening(header) == bytes(5)
    else:
        with pytest.raises(codecs.StreamError, match="needs a window over 128 MiB"):
            _opening(header)


@pytest.mark.parametrize(("content", "accepted"), [(1 << 27, True), ((1 << 27) + 1, False)])
def test_a_single_segment_window_is_its_content_size(content: int, accepted: bool) -> None:
    header = codecs.ZSTD_MAGIC + bytes([0xA4]) + content.to_bytes(4, "little")  # 4-byte size, one segment
    if accepted:
        assert _opening(header) == bytes(5)
    else:
        with pytest.raises(codecs.StreamError, match="needs a window over 128 MiB"):
            _opening(header)


# --------------------------------------------------------------------------- exact refusals


def _decode_all(blob: bytes, step: int = 4096) -> bytes:
    decoder = ZstdDecoder(io.BufferedReader(io.BytesIO(blob)))  # type: ignore[arg-type]
    out = b""
    while chunk := decoder.read(step):
        out += chunk
    return out


def _refusal(blob: bytes) -> str:
    with pytest.raises(codecs.StreamError) as caught:
        _decode_all(blob)
    return str(caught.value)


_WHOLE = zst(b"0123456789" * 50)
_RLE_FRAME = frame([rle_block(7, 10, last=True)])


@pytest.mark.parametrize(
    ("blob", "said"),
    [
        (_WHOLE + b"junk", f"unexpected data after the last zstd frame at offset {len(_WHOLE)}"),
        (
            _WHOLE + SKIPPABLE + struct.pack("<I", 3) + b"abc" + b"junk",
            f"unexpected data after the last zstd frame at offset {len(_WHOLE) + 11}",
        ),
        (
            SKIPPABLE + struct.pack("<I", 2) + b"ab" + b"not zstd",
            "not a valid zstd stream: no zstd frame magic at the start",
        ),
        (_WHOLE + b"\x28", "truncated: 1 stray byte(s) after the last zstd frame"),
        (codecs.ZSTD_MAGIC, "truncated: compressed data ended early (in a zstd frame header)"),
        (
            codecs.ZSTD_MAGIC + bytes([0x04]),
            "truncated: compressed data ended early (in a zstd frame header)",
        ),
        (
            codecs.ZSTD_MAGIC + bytes([0x04, 0x50]) + b"\x01",
            "truncated: compressed data ended early (in a zstd block header)",
        ),
        (
            frame([(1 | 0 << 1 | 50 << 3).to_bytes(3, "little") + b"x" * 10], checksum=b""),
            "truncated: compressed data ended early (in a zstd block)",
        ),
        (
            frame([rle_block(7, 10, last=True)], checksum=b"\0\0"),
            "truncated: compressed data ended early (in a zstd content checksum)",
        ),
        (SKIPPABLE + b"\x01", "truncated: compressed data ended early (in a zstd skippable frame)"),
        (
            frame([(1 | 3 << 1 | 10 << 3).to_bytes(3, "little") + b"x" * 10]),
            "corrupt compressed data: reserved zstd block type",
        ),
        (
            frame([(1 | (128 * 1024 + 1) << 3).to_bytes(3, "little")]),
            "corrupt compressed data: zstd block larger than 128 KiB",
        ),
        (_RLE_FRAME, "corrupt compressed data: zstd content checksum mismatch"),
        (
            zst(b"abc", write_checksum=False),
            "zstd frame at offset 0 has no content checksum, so corruption could not be detected; "
            "write archives with checksums (the zstd tool's default, --check)",
        ),
        (
            _WHOLE + frame([rle_block(0, 10, last=True)], window=0x89),
            f"zstd frame at offset {len(_WHOLE)} needs a window over 128 MiB "
            "(more than the zstd tool decodes without --long)",
        ),
        (
            _WHOLE + frame([rle_block(0, 10, last=True)], fhd=0x0C),
            f"corrupt compressed data: reserved bit set in the zstd frame header at offset {len(_WHOLE)}",
        ),
    ],
)
def test_each_refusal_says_exactly_what_and_where(blob: bytes, said: str) -> None:
    """The whole message, offsets included: the frame walker's accounting of consumed bytes."""
    assert _refusal(blob) == said


def test_content_shorter_than_the_frame_declares_is_corrupt() -> None:
    """A frame declaring 20 bytes whose last block brings 10: refused as corrupt, never accepted."""
    header = codecs.ZSTD_MAGIC + bytes([0x64]) + (20).to_bytes(2, "little")  # single segment, 2-byte size
    assert _refusal(header + rle_block(1, 10, last=True) + b"\0\0\0\0").startswith(
        "corrupt compressed data: "
    )


def test_the_decoder_reads_no_block_before_it_is_needed() -> None:
    """Each read walks only as many blocks as its bytes need: the compressed position shows it."""
    blocks = [rle_block(i, 100) for i in range(1, 5)] + [rle_block(9, 100, last=True)]
    handle = io.BufferedReader(io.BytesIO(frame(blocks)))
    decoder = ZstdDecoder(handle)  # type: ignore[arg-type]
    opening = 4 + 2  # magic, descriptor and window byte
    assert decoder.read(100) == bytes([1]) * 100
    assert handle.tell() == opening + 4  # one 4-byte RLE block, not the next
    assert decoder.read(50) == bytes([2]) * 50
    assert handle.tell() == opening + 8
    assert decoder.read(50) == bytes([2]) * 50
    assert handle.tell() == opening + 8  # served from what was decoded
    assert decoder.read(150) == bytes([3]) * 100 + bytes([4]) * 50
    assert handle.tell() == opening + 16


def test_a_long_stream_read_in_small_pieces_is_exact() -> None:
    """More than 128 KiB handed out in small reads (the decoded buffer is compacted on the way)."""
    data = bytes(i * 13 % 256 for i in range(400_000))
    assert _decode_all(zst(data), step=1000) == data
    assert _decode_all(zst(data), step=131_072) == data


def test_a_zst_named_file_without_zstd_magic_says_so(tmp_path: Path) -> None:
    archive = _write(tmp_path, b"plain bytes, no frame", "plain.tar.zst")
    message = assert_refused(archive, tmp_path, "not a valid zstd stream")
    assert message.endswith(": not a valid zstd stream: no zstd frame magic at the start"), message

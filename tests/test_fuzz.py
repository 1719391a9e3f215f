"""Bounded fuzzing (hypothesis) of the two readers of hostile bytes: the JSONL/manifest reader of the
validator and the archive extractor. Whatever the bytes, each ends in findings or a refusal — never
an unexpected exception, never a file outside its destination, never a leftover partial directory."""

from __future__ import annotations

import gzip
import io
import tarfile
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.archive import create_archive
from harness.portable.contract import load_contract
from harness.portable.validate.validator import validate_export
from tests.helpers import extract_hostile, write_items_export

CONTRACT = """\
contract_version: 1
name: fuzz
schema_version: "1"
entities:
  - name: items
    source: {table: items}
    primary_key: id
    schema:
      type: object
      additionalProperties: false
      required: [id]
      properties:
        id: {type: integer}
        name: {type: [string, "null"]}
        tags: {type: array, items: {type: string}}
        meta: {type: object}
        at: {type: [string, "null"]}
        kind: {type: [string, "null"]}
        parent_id: {type: [integer, "null"]}
    enums: {kind: [a, b]}
    timestamps: [at]
    relationships:
      - {field: parent_id, references: items, nullable: true}
"""

VALID_LINES = [
    b'{"id":1,"name":"one","tags":["x"],"meta":{"k":"v"},"at":"2025-01-01T00:00:00Z","kind":"a","parent_id":null}',
    b'{"id":2,"name":"two","tags":[],"meta":{},"at":null,"kind":"b","parent_id":1}',
]

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def contract_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "contract.yaml"
    path.write_text(CONTRACT)
    return path


_JSONISH = st.sampled_from(
    [b"{", b"}", b"[", b"]", b'"', b"\\", b"\\u", b"0000", b"d800", b":", b",", b"id", b"1e999", b"NaN",
     b"\x00", b"\xff", b"\xc0\xaf", b"\r", b"\t", b" ", b"\n", b'"id":', b"null", b"true", b"-", b"9" * 25]
)  # fmt: skip


@st.composite
def _mutated_line(draw: st.DrawFn) -> bytes:
    line = bytearray(draw(st.sampled_from(VALID_LINES)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(line)))
        op = draw(st.integers(0, 2))
        piece = draw(_JSONISH)
        if op == 0:
            line[at:at] = piece
        elif op == 1:
            del line[at : at + draw(st.integers(1, 8))]
        else:
            line[at : at + len(piece)] = piece
    return bytes(line)


@SETTINGS
@given(
    lines=st.lists(
        st.one_of(_mutated_line(), st.sampled_from(VALID_LINES), st.binary(max_size=80)), max_size=6
    )
)
def test_validator_reader_never_crashes(contract_path: Path, lines: list[bytes]) -> None:
    contract = load_contract(contract_path)
    with tempfile.TemporaryDirectory() as tmp:
        export = write_items_export(Path(tmp) / "export", lines)
        report = validate_export(contract, export, scratch_dir=Path(tmp) / "scratch")
        assert report.records_checked >= 0
        for finding in report.findings:
            assert finding.rule and finding.message


@SETTINGS
@given(
    manifest=st.binary(max_size=400)
    | st.builds(lambda b: b'{"export_format_version":"1",' + b, st.binary(max_size=200))
)
def test_manifest_reader_never_crashes(contract_path: Path, manifest: bytes) -> None:
    contract = load_contract(contract_path)
    with tempfile.TemporaryDirectory() as tmp:
        export = write_items_export(Path(tmp) / "export", VALID_LINES)
        (export / "manifest.json").write_bytes(manifest)
        report = validate_export(contract, export, scratch_dir=Path(tmp) / "scratch")
        assert not report.ok


@pytest.fixture(scope="module")
def archive_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    root = tmp_path_factory.mktemp("fuzz-archive")
    export = write_items_export(root / "export", VALID_LINES)
    return create_archive(export, root / "a.tar.gz").path.read_bytes()


@st.composite
def _mutated_archive(draw: st.DrawFn, original: bytes) -> bytes:
    mode = draw(st.integers(0, 3))
    if mode == 0:  # flip bytes of the compressed stream
        data = bytearray(original)
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
        return bytes(data)
    if mode == 1:  # cut it
        return original[: draw(st.integers(0, len(original)))]
    if mode == 2:  # change the tar inside, then compress it again
        raw = bytearray(gzip.decompress(original))
        for _ in range(draw(st.integers(1, 6))):
            raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
        return gzip.compress(bytes(raw))
    buf = io.BytesIO()  # a tar of made-up members
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for _ in range(draw(st.integers(0, 4))):
            info = tarfile.TarInfo(
                draw(st.sampled_from(["manifest.json", "a.jsonl", "../x", "/abs", "d/e", ".", "", "A.jsonl"]))
            )
            info.type = draw(
                st.sampled_from(
                    [tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE, tarfile.FIFOTYPE]
                )
            )
            info.linkname = draw(st.sampled_from(["", "/etc/passwd", "../up", "manifest.json"]))
            data = draw(st.binary(max_size=64))
            info.size = len(data) if info.type == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
    return gzip.compress(buf.getvalue())


@SETTINGS
@given(data=st.data())
def test_extractor_refuses_or_extracts_safely(archive_bytes: bytes, data: st.DataObject) -> None:
    def only_flat_files(dest: Path) -> None:
        for path in dest.rglob("*"):
            assert path.is_file() and not path.is_symlink() and path.parent == dest

    extract_hostile(data.draw(_mutated_archive(archive_bytes)), "in.tar.gz", only_flat_files)

"""Lines read a block at a time (the dry run's batches, the restore's typed COPY) are the file's lines."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.files import complete_blocks, line_blocks
from harness.portable.dryrun import iter_batches


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=60).map(lambda b: b.replace(b"\x00", b"\n")),
    size=st.integers(1, 9),
    batch=st.integers(1, 4),
)
def test_blocks_and_batches_give_the_files_lines(data: bytes, size: int, batch: int) -> None:
    expected = data.split(b"\n")
    if expected and expected[-1] == b"":
        expected.pop()  # a final newline ends the last line; it starts none
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.jsonl"
        path.write_bytes(data)
        blocks = list(line_blocks(path, size))
        assert [line for lines, _ in blocks for line in lines] == expected
        for lines, block in blocks:
            assert b"\n".join(lines) in block  # each line came from its own block's bytes
        batches = list(iter_batches(path, batch))
    assert [line for b in batches for line in b] == expected
    assert all(len(b) == batch for b in batches[:-1]) and all(0 < len(b) <= batch for b in batches)


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=80).map(lambda b: b.replace(b"\x00", b"\n")),
    size=st.integers(1, 9),
)
def test_complete_blocks_hold_whole_lines_once_each(data: bytes, size: int) -> None:
    """Each block's whole lines (``block[:end]``) end in a newline, and they are the file's bytes in
    order, each once (a newline added after a last line without one); what follows ``end`` is the
    unfinished line the next block starts with."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.jsonl"
        path.write_bytes(data)
        blocks = list(complete_blocks(path, size))
    assert all(0 < end <= len(block) and block[end - 1 : end] == b"\n" for block, end in blocks)
    assert b"".join(block[:end] for block, end in blocks) == (
        data + b"\n" if data and not data.endswith(b"\n") else data
    )
    for (block, end), (following, _) in itertools.pairwise(blocks):
        assert following.startswith(block[end:])


def test_a_line_longer_than_the_block_size_is_read_whole() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.jsonl"
        path.write_bytes(b"a" * 50 + b"\nbb\n" + b"c" * 30)
        blocks = list(complete_blocks(path, 8))
        lines = [line for part, _ in line_blocks(path, 8) for line in part]
    assert [block[:end] for block, end in blocks] == [b"a" * 50 + b"\nbb\n", b"c" * 30 + b"\n"]
    assert lines == [b"a" * 50, b"bb", b"c" * 30]

"""Lines read a block at a time (the dry run's batches, the restore's typed COPY) are the file's lines."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.files import line_blocks
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

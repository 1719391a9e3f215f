"""The validator's hash buckets against naive models: repeats and absent keys come out exactly as a
set over everything would give them, with tiny limits that write every bucket out and split
buckets again (keys of one length, repeated keys, integers and strings), and a bucket is the same
in every process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.portable.validate import scratch
from harness.portable.validate.scratch import Buckets, absent, bucket_of, repeats

_KEYS = st.one_of(
    st.integers(-(10**18) + 1, 10**18 - 1),
    st.integers(0, 40),
    st.text(alphabet="0123456789abcdef-", min_size=36, max_size=36),  # one length, as uuids
    st.sampled_from(["a", "b", "é", "\ud800", "", "05", "5"]),
)


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> None:
    """Limits so small that every bucket is written out and split (the same for every example)."""
    monkeypatch.setattr(scratch, "HELD", 2)
    monkeypatch.setattr(scratch, "BUCKETS", 3)


def _buckets(root: Path, name: str, rows: list[tuple[Any, ...]]) -> Buckets:
    spread = Buckets(root, name)
    spread.extend(rows)
    return spread


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=st.lists(_KEYS, max_size=60), repeated=st.lists(st.sampled_from(["x", 7]), max_size=12))
def test_repeats_are_every_row_an_earlier_row_has_the_key_of(
    tmp_path_factory: pytest.TempPathFactory, tiny: None, keys: list[Any], repeated: list[Any]
) -> None:
    rows = [(key, line) for line, key in enumerate([*keys, *repeated, *keys[:5]])]
    seen: set[Any] = set()
    want = []
    for row in rows:
        if row[0] in seen:
            want.append(row)
        seen.add(row[0])
    found = repeats(_buckets(tmp_path_factory.mktemp("r"), "ids", rows))
    assert sorted(found, key=lambda r: r[1]) == want


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=st.lists(_KEYS, max_size=40), among=st.lists(_KEYS, max_size=60))
def test_absent_keys_are_the_set_difference(
    tmp_path_factory: pytest.TempPathFactory, tiny: None, keys: list[Any], among: list[Any]
) -> None:
    root = tmp_path_factory.mktemp("a")
    probe = _buckets(root, "probe", [(k,) for k in keys])
    held = _buckets(root, "ids", [(k, 0, None) for k in [*among, *among[:3]]])
    assert absent(probe, held) == set(keys) - set(among)
    assert absent(probe, held) == set(keys) - set(among)  # asked again: splits are made afresh


def test_a_bucket_of_one_repeated_key_is_read_whole_not_split_forever(tmp_path: Path, tiny: None) -> None:
    rows = [("same", line) for line in range(50)] + [(f"k{n}", 100 + n) for n in range(20)]
    found = repeats(_buckets(tmp_path, "ids", rows))
    assert [line for _, line in sorted(found, key=lambda r: r[1])] == list(range(1, 50))


def test_many_keys_of_one_length_are_spread_by_every_level(tmp_path: Path, tiny: None) -> None:
    """Keys that share a bucket at one level are split at the next: 200 uuid-shaped keys, at most
    two held at a time."""
    keys = [f"{n:08x}-0000-4000-8000-{n:012x}" for n in range(200)]
    held = _buckets(tmp_path, "ids", [(k, 0, None) for k in keys])
    probe = _buckets(tmp_path, "probe", [(k,) for k in [*keys[::3], "ffffffff-0000-4000-8000-ffffffffffff"]])
    assert absent(probe, held) == {"ffffffff-0000-4000-8000-ffffffffffff"}
    assert list(tmp_path.glob("ids.*.*.*.rows")), "buckets were split at least twice"
    for level in range(7):  # the keys one bucket holds at a level are spread over the next level's
        together = [k for k in keys if bucket_of(k, level) == 0]
        assert len({bucket_of(k, level + 1) for k in together}) == 3, level
    assert len(repeats(_buckets(tmp_path, "again", [(k, 0) for k in keys * 2]))) == 200
    assert list(tmp_path.glob("again.*.*.rows")), "repeats split its buckets too"


def test_a_key_has_one_bucket_in_every_process() -> None:
    keys: list[int | str] = [0, 1, 63, 64, -5, 10**17, "a", "é", "0000e86c-b86a-429c-8301-282c577b9391"]
    here = [bucket_of(k, level) for k in keys for level in range(7)]
    code = (
        "from harness.portable.validate.scratch import bucket_of;"
        f"print([bucket_of(k, level) for k in {keys!r} for level in range(7)])"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == str(here)


def test_rows_come_back_in_the_order_added_across_writes(tmp_path: Path, tiny: None) -> None:
    spread = _buckets(tmp_path, "ids", [(n % 2, n) for n in range(30)])
    spread.write()
    assert [row[1] for b in range(scratch.BUCKETS) for row in spread.rows(b) if row[0] == 1] == list(
        range(1, 30, 2)
    )

"""The id/reference index against a naive model: compact keys compare as key texts do, and
duplicates and dangling references come out the same in every tier (ascending runs, the set, the
on-disk table; references held, written out, read back), whatever the limits."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.portable.contract import Contract, key_text
from harness.portable.validate import keys as keys_module
from harness.portable.validate import refs as refs_module
from harness.portable.validate import scratch as scratch_module
from harness.portable.validate.index import RecordIndex
from harness.portable.validate.keys import as_runs, key_of, key_of_text, not_in_runs, runs_not_covered
from harness.portable.validate.validator import validate_export
from tests.helpers import rewrite_lines

_ID_VALUES = st.one_of(
    st.integers(-30, 30),
    st.integers(),
    st.sampled_from([10**18 - 1, 10**18, -(10**18) + 1, -(10**18), 2**63, 2**64 - 1]),
    st.sampled_from(["5", "05", "-0", "0", "-5", "+5", " 5", "5 ", "1_0", "\u0665", "\uff11", "x", "", "-"]),
    st.sampled_from([str(10**18 - 1), str(10**18), "-" + str(10**18 - 1), "9" * 30]),
    st.text(alphabet="0123456789-", max_size=6),
    st.text(max_size=4),
    st.sampled_from([True, False, None, 1.0, 2.5, [1], {"a": 1}]),
)


@settings(max_examples=3000, deadline=None)
@given(a=_ID_VALUES, b=_ID_VALUES)
def test_compact_keys_are_equal_exactly_when_key_texts_are(a: Any, b: Any) -> None:
    assert (key_of(a) is None) == (key_text(a) is None)
    if key_text(a) is not None and key_text(b) is not None:
        assert (key_of(a) == key_of(b)) == (key_text(a) == key_text(b)), (a, b)
        assert key_of_text(key_text(a)) == key_of(a)  # type: ignore[arg-type]


_KEYS = st.lists(st.one_of(st.integers(-3, 40), st.sampled_from(["a", "b", "07", "x1"])), max_size=60)


@pytest.fixture
def tiny_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every tier taken by a handful of keys."""
    monkeypatch.setattr(keys_module, "SET_LIMIT", 4)
    monkeypatch.setattr(keys_module, "MAX_RUNS", 3)
    monkeypatch.setattr(refs_module, "HELD_LIMIT", 5)


def _naive_duplicates(ids: list[Any]) -> list[int]:
    seen: set[Any] = set()
    lines = []
    for line, key in enumerate(ids, 1):
        if key in seen:
            lines.append(line)
        seen.add(key)
    return lines


@settings(max_examples=300, deadline=None)
@given(ids=_KEYS, references=_KEYS, ascending=st.booleans(), tiny=st.booleans())
def test_duplicates_and_dangling_match_a_naive_model(
    tmp_path_factory: pytest.TempPathFactory,
    ids: list[Any],
    references: list[Any],
    ascending: bool,
    tiny: bool,
) -> None:
    if ascending:
        ids = sorted({k for k in ids if isinstance(k, int)}) + [k for k in ids if isinstance(k, str)]
    with pytest.MonkeyPatch.context() as patch:
        if tiny:
            patch.setattr(keys_module, "SET_LIMIT", 4)
            patch.setattr(keys_module, "MAX_RUNS", 3)
            patch.setattr(refs_module, "HELD_LIMIT", 5)
        index = RecordIndex(tmp_path_factory.mktemp("index"))
        try:
            for line, key in enumerate(ids, 1):
                index.add_id("parents", str(key), line)
            for line, key in enumerate(references, 1):
                index.add_ref(
                    "children", "children.jsonl", line, f"c{line}", "parent_id", "parents", str(key)
                )
                index.maybe_flush()
            index.finish("parents")
            index.finish("children")
            duplicates = [line for entity, _rid, line in index.duplicates()]
            dangling = [(row[2], row[6]) for row in index.dangling()]
        finally:
            index.close()
    assert duplicates == _naive_duplicates([key_of_text(str(k)) for k in ids])
    present = {key_of_text(str(k)) for k in ids}
    expected = [(line, str(k)) for line, k in enumerate(references, 1) if key_of_text(str(k)) not in present]
    assert dangling == expected


@settings(max_examples=500, deadline=None)
@given(
    keys=st.sets(st.one_of(st.integers(-20, 60), st.sampled_from(["a", "b"]))),
    cover=st.sets(st.integers(-20, 60)),
)
def test_runs_hold_exactly_their_keys(keys: set[Any], cover: set[int]) -> None:
    starts, ends, others = as_runs(keys)
    assert {k for s, e in zip(starts, ends, strict=True) for k in range(s, e + 1)} | others == keys
    assert all(e + 1 < s for e, s in zip(ends, starts[1:], strict=False))  # separate, in order
    by_starts, by_ends, _ = as_runs(set(cover))
    assert sorted(runs_not_covered(starts, ends, by_starts, by_ends)) == sorted(
        k for k in keys if isinstance(k, int) and k not in cover
    )
    assert sorted(not_in_runs(keys, by_starts, by_ends), key=repr) == sorted(
        (k for k in keys if k not in cover), key=repr
    )


def _plant(export_dir: Path) -> None:
    """A duplicate task id, a card pointing at a task that does not exist, a task id out of order."""
    rewrite_lines(export_dir, "tasks.jsonl", lambda lines: [*lines, lines[3], lines[1]])
    rewrite_lines(
        export_dir,
        "cards.jsonl",
        lambda lines: [lines[0].replace(b'"owner_id":', b'"owner_id":99999999,"x":'), *lines[1:]],
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_findings_do_not_depend_on_the_limits(
    contract: Contract, export_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    _plant(export_copy)
    other = tmp_path / "other"
    shutil.copytree(export_copy, other)
    expected = [str(f) for f in validate_export(contract, export_copy, workers=workers).findings]
    assert any("record.duplicate_id" in f for f in expected) and any(
        "relationship.dangling" in f for f in expected
    )
    monkeypatch.setattr(keys_module, "SET_LIMIT", 3)
    monkeypatch.setattr(keys_module, "MAX_RUNS", 2)
    monkeypatch.setattr(refs_module, "HELD_LIMIT", 5)
    assert [str(f) for f in validate_export(contract, other, workers=workers).findings] == expected


def _two_children(index: RecordIndex) -> None:
    """Parents 1-3 and "p"; children in two files with dangling references (5, "q", 9), and a third
    file whose references, to another entity, all resolve."""
    for line, rid in enumerate(["1", "2", "3", "p"], 1):
        index.add_id("parents", rid, line)
    index.add_id("others", "1", 1)
    index.add_ref("c", "c.jsonl", 1, "c1", "other_id", "others", "1")
    for file, refs in (("b.jsonl", ["9", "1", "5", "q"]), ("a.jsonl", ["5", "2", "p", "5"])):
        for line, ref in enumerate(refs, 1):
            index.add_ref(file[0], file, line, f"{file[0]}{line}", "parent_id", "parents", ref)
    for entity in ("parents", "others", "a", "b", "c"):
        index.finish(entity)


_EXPECTED = [
    ("a", "a.jsonl", 1, "a1", "parent_id", "parents", "5"),
    ("a", "a.jsonl", 4, "a4", "parent_id", "parents", "5"),
    ("b", "b.jsonl", 1, "b1", "parent_id", "parents", "9"),
    ("b", "b.jsonl", 3, "b3", "parent_id", "parents", "5"),
    ("b", "b.jsonl", 4, "b4", "parent_id", "parents", "q"),
]


def test_dangling_rows_by_file_and_line_from_kept_or_rescanned_places(tmp_path: Path) -> None:
    (tmp_path / "kept").mkdir()
    kept = RecordIndex(tmp_path / "kept")
    try:
        _two_children(kept)
        places = {name: list(store.all_places()) for name, store in kept.stores.items()}
        assert list(kept.dangling()) == _EXPECTED
    finally:
        kept.close()
    (tmp_path / "rescanned").mkdir()
    rescanned = RecordIndex(tmp_path / "rescanned")
    rescanned.keep_places = False
    asked: list[str] = []

    def rescan(entity: str) -> list[Any]:
        asked.append(entity)
        return places[entity]

    rescanned.rescan = rescan
    try:
        _two_children(rescanned)
        assert all(not store.places for store in rescanned.stores.values())
        assert list(rescanned.dangling()) == _EXPECTED
        assert sorted(asked) == ["a", "b"]
    finally:
        rescanned.close()


def test_a_missing_key_the_rescan_cannot_place_is_reported_by_the_file_that_made_it(tmp_path: Path) -> None:
    index = RecordIndex(tmp_path)
    index.keep_places = False
    # The rescan of b finds its references to 5 and "q" no more (the file changed); a still has its own.
    index.rescan = lambda entity: {"a": [(1, "a1", "parent_id", "parents", 5)]}.get(entity, [])
    try:
        _two_children(index)
        assert list(index.dangling()) == [
            ("a", "a.jsonl", 1, "a1", "parent_id", "parents", "5"),
            ("b", "b.jsonl", 0, None, "", "parents", "q"),  # unplaced keys in a fixed order
            ("b", "b.jsonl", 0, None, "", "parents", "5"),
            ("b", "b.jsonl", 0, None, "", "parents", "9"),
        ]
    finally:
        index.close()


def test_without_places_or_a_rescan_the_index_refuses_to_guess(tmp_path: Path) -> None:
    index = RecordIndex(tmp_path)
    index.keep_places = False
    try:
        _two_children(index)
        with pytest.raises(RuntimeError, match="no places kept"):
            list(index.dangling())
    finally:
        index.close()


_FRAME_VALUES = st.one_of(st.lists(st.integers(-(10**18), 10**18)), st.sets(st.text(max_size=8)))


@settings(max_examples=200, deadline=None)
@given(values=st.lists(_FRAME_VALUES, max_size=6))
def test_scratch_frames_read_back_every_value_in_order(tmp_path_factory: Any, values: list[Any]) -> None:
    path = tmp_path_factory.mktemp("frames") / "chunks"
    with path.open("wb") as out:
        for value in values:
            scratch_module.write_marshalled(out, value)
    with path.open("rb") as fh:
        assert list(scratch_module.marshalled(fh)) == values


@pytest.mark.parametrize("cut", [3, 8, 12])
def test_a_scratch_frame_cut_short_is_an_error_not_the_end(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "chunks"
    with path.open("wb") as out:
        scratch_module.write_marshalled(out, [1, 2, 3])
        scratch_module.write_marshalled(out, [4, 5, 6])
    whole = path.read_bytes()
    first = len(whole) // 2
    path.write_bytes(whole[: first + cut])
    with path.open("rb") as fh, pytest.raises(OSError, match="chunks: a frame ends early"):
        list(scratch_module.marshalled(fh))

"""Ids and references past the in-memory caps go to disk, and the findings stay exactly those of the
in-memory path: on exports the harness did not write (tests/foreign: string ids, composite keys,
integer ids out of order), with duplicates on both sides of the cap and dangling references of
every key type. The caps are module parameters; the test sets them tiny so every tier is taken."""

from __future__ import annotations

import copy
import random
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from harness.portable.contract import load_contract
from harness.portable.validate import keys as keys_module
from harness.portable.validate import refs as refs_module
from harness.portable.validate import scratch as scratch_module
from harness.portable.validate.index import RecordIndex
from harness.portable.validate.keys import KeySet
from harness.portable.validate.validator import validate_export
from tests.foreign import docstore, kvstore

Data = dict[str, list[dict[str, Any]]]

#: Per kind: each entity whose ids the test duplicates, and the fields of its key.
KEYS: dict[str, dict[str, tuple[str, ...]]] = {
    "docstore": {"users": ("userId",), "documents": ("documentId", "version")},
    "kvstore": {"customers": ("id",), "orders": ("orderId",)},
}


def _docstore() -> tuple[Data, set[tuple[str, int]]]:
    """Users out of order with duplicates before and after the cap, a repeated composite key,
    and dangling references by string id, by integer id and by composite key."""
    data = docstore.records(users=40)
    random.Random(11).shuffle(data["users"])
    users = data["users"]
    users += [copy.deepcopy(users[1]), copy.deepcopy(users[30]), copy.deepcopy(users[33])]
    users.append(copy.deepcopy(users[33]))  # three records with one id, all past the cap
    data["documents"].append(copy.deepcopy(data["documents"][9]))  # a composite key repeated
    data["comments"][2]["authorId"] = "u-gone"
    data["comments"][5]["authorId"] = "u-0001"  # resolves: the id is there, in another position
    data["folders"][1]["ownerId"] = "U-0001"  # ids compare as text: another id
    data["documents"][4]["jobRefs"] = [{"jobId": 999, "role": "render"}]
    data["folders"][2]["coverDocumentId"], data["folders"][2]["coverVersion"] = "doc-2", 7
    dangling = {("comments.jsonl", 3), ("folders.jsonl", 2), ("documents.jsonl", 5), ("folders.jsonl", 3)}
    return data, dangling


def _kvstore() -> tuple[Data, set[tuple[str, int]]]:
    """Integer customer ids out of order with duplicates on both sides of the cap, a repeated string
    order id, and dangling references to an integer id and to a string key."""
    data = kvstore.records(customers=30)
    random.Random(13).shuffle(data["customers"])
    customers = data["customers"]
    customers += [copy.deepcopy(customers[0]), copy.deepcopy(customers[25]), copy.deepcopy(customers[2])]
    data["orders"].append(copy.deepcopy(data["orders"][20]))
    data["orders"][6]["customerId"] = 5
    data["orders"][9]["lines"][0]["sku"] = "SKU-404"
    data["orders"][12]["customerId"] = 99_999_999_999_999_999_999  # past the compact integer keys
    return data, {("orders.jsonl", 7), ("orders.jsonl", 10), ("orders.jsonl", 13)}


BUILDERS = {"docstore": _docstore, "kvstore": _kvstore}


def _expected_duplicates(kind: str, data: Data) -> set[tuple[str, int]]:
    """(file, line) of every record whose key an earlier record of its entity has: a naive model."""
    out = set()
    for entity, fields in KEYS[kind].items():
        seen: set[tuple[str, ...]] = set()
        for line, record in enumerate(data[entity], 1):
            key = tuple(str(record[f]) for f in fields)
            if key in seen:
                out.add((f"{entity}.jsonl", line))
            seen.add(key)
    return out


def _findings(report: Any, rule: str) -> set[tuple[str, int]]:
    return {(f.file, f.line) for f in report.findings if f.rule == rule}


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("module", [docstore, kvstore], ids=["docstore", "kvstore"])
def test_spilled_keys_give_the_findings_of_the_in_memory_path(
    module: ModuleType, workers: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kind = module.__name__.rsplit(".", 1)[-1]
    data, dangling = BUILDERS[kind]()
    export_dir = module.write(tmp_path / "export", data)
    contract = load_contract(module.CONTRACT)
    in_memory = validate_export(contract, export_dir, scratch_dir=tmp_path / "a", workers=workers)
    duplicates = _expected_duplicates(kind, data)
    assert len(duplicates) >= 2
    assert _findings(in_memory, "record.duplicate_id") == duplicates
    assert _findings(in_memory, "relationship.dangling") == dangling

    on_disk: list[tuple[str, int]] = []
    found_on_disk = KeySet.disk_duplicates

    def counted(keyset: KeySet) -> list[tuple[int, str | None]]:
        rows = found_on_disk(keyset)
        entity = keyset.overflow.prefix.split(".")[-2]  # <index>.<n>.<entity>.overflow
        on_disk.extend((entity, line) for line, _ in rows)
        return rows

    monkeypatch.setattr(KeySet, "disk_duplicates", counted)
    monkeypatch.setattr(scratch_module, "HELD", 2)  # buckets written out and split again
    monkeypatch.setattr(scratch_module, "BUCKETS", 3)
    monkeypatch.setattr(keys_module, "SET_LIMIT", 3)
    monkeypatch.setattr(keys_module, "MAX_RUNS", 2)
    monkeypatch.setattr(keys_module, "CHUNK", 2)
    monkeypatch.setattr(refs_module, "HELD_LIMIT", 3)
    spilled = validate_export(contract, export_dir, scratch_dir=tmp_path / "b", workers=workers)
    assert [str(f) for f in spilled.findings] == [str(f) for f in in_memory.findings]
    assert spilled.invalid_ids == in_memory.invalid_ids
    if workers == 1:  # in this process: the duplicates past the cap were found on disk
        found = {(f"{entity}.jsonl", line) for entity, line in on_disk}
        assert found and found < duplicates


def test_a_key_past_the_cap_repeating_one_before_it_is_found_in_memory(tmp_path: Path) -> None:
    """Keys before the cap stay in the set, so a later repeat of one is found as it is read; keys
    after it repeat each other only on disk; an unfinished entity's disk duplicates still count."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(keys_module, "SET_LIMIT", 2)
        index = RecordIndex(tmp_path)
        try:
            for line, rid in enumerate(["b", "a", "c", "a", "d", "c", "c", "e", "b"], 1):
                index.add_id("things", rid, line)
            keyset = index.keysets["things"]
            assert keyset.rest == {"a", "b"} and keyset.on_disk
            assert [line for line, _ in keyset.duplicates] == [4, 9]  # found in memory
            assert [line for _, _, line in index.duplicates()] == [4, 6, 7, 9]  # not finished yet
            index.finish("things")
            assert [line for _, _, line in index.duplicates()] == [4, 6, 7, 9]
            assert keyset.load_rest() == {"a", "b"}
        finally:
            index.close()

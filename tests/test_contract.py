"""Export contracts: the reference contract loads; each kind of mistake is named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from harness.errors import ConfigError
from harness.portable.contract import load_contract
from tests.conftest import REFERENCE_CONTRACT


def test_reference_contract(contract_copy: Path) -> None:
    contract = load_contract(contract_copy)
    assert contract.name == "reference-app"
    assert [o.entity for o in contract.omitted] == ["sessions"]
    order = [e.name for e in contract.load_order()]
    assert order.index("users") < order.index("tasks") < order.index("files") < order.index("assistant_jobs")
    users = contract.entity("users")
    assert users.redact == ("password_hash", "session_token", "api_key")
    assert users.fields == tuple(sorted(users.fields))


@pytest.fixture
def contract_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "reference"
    shutil.copytree(REFERENCE_CONTRACT.parent, dest)
    return dest / "contract.yaml"


def _mutate(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _entity(data: dict, name: str) -> dict:  # type: ignore[type-arg]
    return next(e for e in data["entities"] if e["name"] == name)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: _entity(d, "tasks")["relationships"].append(
                {"field": "owner_id", "references": "owners"}
            ),
            r"entity 'tasks': relationship 'owner_id' references unknown entity 'owners'",
        ),
        (
            lambda d: _entity(d, "tasks")["relationships"].append(
                {"field": "owner_id", "references": "sessions"}
            ),
            r"unknown entity 'sessions' \(it is listed under 'omitted'\)",
        ),
        (
            lambda d: _entity(d, "users").update(schema="schemas/nope.schema.json"),
            r"entity 'users': schema file 'schemas/nope.schema.json' not found",
        ),
        (
            lambda d: _entity(d, "users").update(
                schema={"type": "object", "properties": {"id": {"type": "wat"}}}
            ),
            r"entity 'users': invalid JSON Schema",
        ),
        (
            lambda d: _entity(d, "users").update(
                schema={"type": "object", "properties": {"Id": {}}}, primary_key="Id"
            ),
            r"entities\[0\]\.primary_key",
        ),
        (
            lambda d: _entity(d, "users").update(
                schema={"type": "object", "properties": {"userId": {}, "id": {}}}
            ),
            r"field names must be snake_case: userId",
        ),
        (
            lambda d: _entity(d, "users").pop("primary_key"),
            r"entities\[0\]: 'primary_key' is a required property",
        ),
        (
            lambda d: _entity(d, "users")["enums"].update(colour=["red"]),
            r"enums names fields the schema does not declare",
        ),
        (lambda d: _entity(d, "users").update(redact=["email"]), r"redacted fields must not be declared"),
        (
            lambda d: d["entities"].append(dict(_entity(d, "users"))),
            r"entity names must be unique; repeated: users",
        ),
        (
            lambda d: d["omitted"].append({"entity": "users", "reason": "x"}),
            r"both exported and listed under 'omitted'",
        ),
        (lambda d: d.update(contract_version=2), r"contract_version"),
    ],
)
def test_contract_errors_name_the_problem(contract_copy: Path, change, message: str) -> None:  # type: ignore[no-untyped-def]
    _mutate(contract_copy, change)
    with pytest.raises(ConfigError, match=message) as info:
        load_contract(contract_copy)
    assert str(contract_copy) in str(info.value)


def test_unreadable_and_malformed_contract(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read contract"):
        load_contract(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("entities: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_contract(bad)


def test_relationship_cycle_is_rejected(contract_copy: Path) -> None:
    _mutate(
        contract_copy,
        lambda d: (
            _entity(d, "users").setdefault("relationships", []).append({"field": "id", "references": "tasks"})
        ),
    )
    with pytest.raises(ConfigError, match="cycle"):
        load_contract(contract_copy)


def test_a_schema_checked_once_is_never_trusted_for_other_bytes_or_inline(contract_copy: Path) -> None:
    """The per-process check_schema memo holds only schema files that passed, by their exact bytes:
    an invalid schema fails every load, an edited file is checked again, an inline schema always is."""
    from harness.portable.contract import parts

    load_contract(contract_copy)
    load_contract(contract_copy)  # the memo's path: same result
    users = contract_copy.parent / "schemas" / "users.schema.json"
    good = users.read_bytes()
    assert any(blob == good for _, blob in parts._CHECKED)
    bad = good.replace(b'"type": "object"', b'"type": "wat"', 1)
    assert bad != good
    users.write_bytes(bad)
    for _ in range(2):
        with pytest.raises(ConfigError, match=r"entity 'users': invalid JSON Schema"):
            load_contract(contract_copy)
    users.write_bytes(good)
    load_contract(contract_copy)
    # An inline schema whose canonical JSON equals a passed file's bytes is still checked itself.
    inline = {"type": "wat", "properties": {"id": {}}}
    key = (parts.jsonschema.Draft202012Validator, parts.json.dumps(inline, sort_keys=True).encode())
    parts._CHECKED.add(key)
    try:
        with pytest.raises(ConfigError, match="invalid JSON Schema"):
            parts.load_entity_schema(contract_copy, "users", inline)
    finally:
        parts._CHECKED.discard(key)

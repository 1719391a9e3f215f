"""The bulk load's typed COPY (harness/portable/restore_copy.py) against its staged path, on real
PostgreSQL: both give identical tables (every column's text, ORDER BY) over generated values of
every column type, foreign number and string forms and hostile lines; what one refuses the other
refuses; a refusal names entity, line and field and never the value; and whatever the client
cannot convert exactly steps aside for the staged path, saying why."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from harness.errors import VerificationFailed
from harness.portable import restore_copy, restore_empty
from harness.portable.contract import Contract, load_contract
from harness.portable.restore import apply_schema, restore
from harness.portable.validate.findings import ValidationReport
from harness.portable.validate.validator import validate_export
from harness.postgres.database import Database, create_database
from tests.conftest import REPO
from tests.foreign import docstore, kvstore

COLUMNS = {
    "id": "bigint PRIMARY KEY",
    "t": "text",
    "v": "varchar(12)",
    "c": "char(3)",
    "i2": "smallint",
    "i4": "integer",
    "i8": "bigint",
    "n": "numeric",
    "n2": "numeric(8, 2)",
    "f8": "double precision",
    "r4": "real",
    "b": "boolean",
    "ts": "timestamptz",
    "tsn": "timestamp",
    "d": "date",
    "u": "uuid",
    "j": "jsonb",
    "ta": "text[]",
    "ia": "integer[]",
    "na": "numeric[]",
    "ua": "uuid[]",
}
WIDE_DDL = "CREATE TABLE wide ({})".format(", ".join(f"{c} {t}" for c, t in COLUMNS.items()))
_made = iter(range(100_000))


def wide_contract(contract: Contract, export: Path, columns: dict[str, str] | None = None) -> Contract:
    """The reference contract cut down to one entity importing table ``wide`` from ``wide.jsonl``."""
    base = contract.entity("users")
    ent = dataclasses.replace(
        base,
        name="wide",
        file="wide.jsonl",
        table="wide",
        schema={"type": "object", "properties": {c: {} for c in COLUMNS}},
        redact=(),
        enums={},
        timestamps=(),
        relationships=(),
        at_least_one_of=(),
        column_types={},
        columns=columns or {},
    )
    return dataclasses.replace(contract, entities=(ent,))


def new_target(admin: Database, ddl: str = WIDE_DDL) -> Database:
    db = create_database(admin, f"typed_{next(_made)}").with_environment("scratch")
    with db.connect() as conn:
        conn.execute(ddl.encode())  # test-owned literal SQL
        conn.commit()
    return db


def contents(db: Database, table: str = "wide") -> list[str]:
    with db.connect() as conn:
        return [
            str(r[0])
            for r in conn.execute(f"SELECT whole_row::text FROM {table} whole_row ORDER BY 1").fetchall()
        ]


def empty(db: Database, table: str = "wide") -> None:
    with db.connect() as conn:
        conn.execute(f"TRUNCATE {table}".encode())
        conn.commit()


def force_staged(mp: pytest.MonkeyPatch) -> None:
    """Make every entity take the staged path (the general path the typed COPY must equal)."""
    mp.setattr(restore_copy, "load", lambda cur, ent, path: (None, "staged: forced by the test"))


@dataclasses.dataclass
class Outcome:
    rows: list[str] | None  # None: refused
    message: str
    loaded_by: dict[str, str]


def run(db: Database, contract: Contract, export: Path, *, staged: bool, mp: pytest.MonkeyPatch) -> Outcome:
    with mp.context() as m:
        if staged:
            force_staged(m)
        try:
            result = restore(db, contract, export, ValidationReport(export))
        except VerificationFailed as exc:
            return Outcome(None, str(exc), {})
    assert result.method == restore_empty.METHOD
    rows = contents(db)
    empty(db)
    return Outcome(rows, "", result.loaded_by)


def both(
    dbs: tuple[Database, Database], contract: Contract, export: Path, mp: pytest.MonkeyPatch
) -> tuple[Outcome, Outcome]:
    typed = run(dbs[0], contract, export, staged=False, mp=mp)
    staged = run(dbs[1], contract, export, staged=True, mp=mp)
    assert typed.rows == staged.rows, (typed.message, staged.message)
    return typed, staged


def write_lines(export: Path, lines: list[str]) -> None:
    export.mkdir(parents=True, exist_ok=True)
    (export / "wide.jsonl").write_bytes(
        "".join(f"{line}\n" for line in lines).encode("utf-8", "surrogatepass")
    )


def record(fields: dict[str, str]) -> str:
    """One line from raw JSON tokens (numbers keep their text)."""
    return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in fields.items()) + "}"


@pytest.fixture
def targets(admin: Database) -> tuple[Database, Database]:
    return new_target(admin), new_target(admin)


# -- generated values -------------------------------------------------------------------------------

TEXT = st.text(
    alphabet=st.one_of(
        st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
        st.sampled_from("\t\n\r\\\"'{},\u2028\u0301é\U0001f680 N"),
    ),
    max_size=14,
)
NUMBER = st.one_of(
    st.from_regex(r"-?(0|[1-9][0-9]{0,21})(\.[0-9]{1,14})?([eE][-+]?[0-9]{1,3})?", fullmatch=True),
    st.sampled_from(
        [
            "1.10",
            "1e-7",
            "12345678901234567890.123",
            "-0",
            "-0.0",
            "1E+2",
            "2.50e1",
            "0.000",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "32767",
            "32768",
            "-32768",
            "2147483647",
            "2147483648",
            "1e400",
            "1e-400",
            "3.4028235e38",
        ]
    ),
)
TIMESTAMPS = st.sampled_from(
    [
        "2025-01-01T10:00:00Z", "2025-01-01T10:00:00.5+05:30", "2025-12-31T23:59:59.999999-15:59",
        "2025-01-01 10:00:00-08", "2024-02-29", "infinity", "-infinity", "epoch", "2025-13-01T00:00:00Z",
        "1999-01-08 04:05:06 PST", "2025-01-01T00:00:00.1234567Z", "allballs", "",
    ]
)  # fmt: skip
UUIDS = st.one_of(
    st.uuids().map(str),
    st.sampled_from(["{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", "A0EEBC999C0B4EF8BB6D6BB9BD380A11", "nope"]),
)


def string(text: str, ascii_only: bool) -> str:
    """A JSON string as orjson writes it (raw UTF-8) or as json.dumps does (\\u escapes, surrogate
    pairs): the foreign form."""
    return json.dumps(text, ensure_ascii=True) if ascii_only else orjson.dumps(text).decode()


SCALAR = st.one_of(
    st.builds(string, TEXT, st.booleans()),
    NUMBER,
    st.sampled_from(["true", "false", "null"]),
    st.builds(string, TIMESTAMPS, st.booleans()),
    st.builds(string, UUIDS, st.just(False)),
)
JSON = st.recursive(
    SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.dictionaries(st.builds(string, TEXT, st.booleans()), inner, max_size=4).map(
            lambda d: "{" + ",".join(f"{k}: {v}" for k, v in d.items()) + "}"
        ),
    ),
    max_leaves=8,
)
ELEMENTS = st.one_of(
    st.builds(string, TEXT, st.booleans()),
    NUMBER,
    st.sampled_from(["true", "null"]),
    st.builds(string, UUIDS, st.just(False)),
)
ARRAY = st.one_of(
    st.lists(ELEMENTS, max_size=4).map(lambda xs: "[" + ",".join(xs) + "]"),
    st.builds(
        string, st.sampled_from(["{}", "{a,b}", '{"x y",NULL}', "{1,2}", "{{1},{2}}", "nope"]), st.just(False)
    ),
    st.sampled_from(["null", "[[1,2],[3,4]]", '[{"a":1}]', "5"]),
)


SMALL = st.from_regex(r"-?(0|[1-9][0-9]{0,3})(\.[0-9]{1,3})?([eE]-?[0-9])?", fullmatch=True)
INTEGER = st.one_of(
    st.integers(-(2**15), 2**15 - 1).map(str), st.sampled_from(["1e3", "-0", "12E+1", "32767", "-32768"])
)
VALID_TIMES = st.sampled_from(
    [
        "2025-01-01T10:00:00Z",
        "2025-01-01T10:00:00.5+05:30",
        "2025-12-31T23:59:59.999999-15:59",
        "2025-01-01 10:00:00-08",
        "2024-02-29",
        "infinity",
        "-infinity",
        "epoch",
        "1999-01-08 04:05:06 PST",
        "2025-01-01t10:00:00z",
    ]
)


def by_column(column: str, hostile: bool) -> st.SearchStrategy[str]:
    """Tokens for one column: of its kind and mostly loadable, or in a hostile example anything."""
    usual: dict[str, st.SearchStrategy[str]] = {
        "t": st.builds(string, TEXT, st.booleans()),
        "v": st.builds(string, TEXT.map(lambda s: s[:12]), st.booleans()),
        "c": st.builds(string, TEXT.map(lambda s: s[:3]), st.booleans()),
        "i2": INTEGER,
        "i4": INTEGER,
        "i8": st.one_of(INTEGER, st.sampled_from(["9223372036854775807", "-9223372036854775808"])),
        "n": NUMBER,
        "n2": SMALL,
        "f8": SMALL,
        "r4": SMALL,
        "ts": st.builds(string, VALID_TIMES, st.booleans()),
        "tsn": st.builds(string, VALID_TIMES, st.booleans()),
        "d": st.builds(string, VALID_TIMES, st.booleans()),
        "u": st.builds(string, st.uuids().map(str), st.just(False)),
        "b": st.sampled_from(["true", "false", '"t"', '"no"', "null"]),
        "j": JSON,
        "ta": st.lists(st.builds(string, TEXT, st.booleans()) | st.just("null"), max_size=4).map(
            lambda xs: "[" + ",".join(xs) + "]"
        ),
        "ia": st.lists(INTEGER, max_size=3).map(lambda xs: "[" + ",".join(xs) + "]"),
        "na": st.lists(NUMBER, max_size=3).map(lambda xs: "[" + ",".join(xs) + "]"),
        "ua": st.lists(st.builds(string, st.uuids().map(str), st.just(False)), max_size=3).map(
            lambda xs: "[" + ",".join(xs) + "]"
        ),
    }
    kind = usual[column]
    if not hostile:
        return kind
    strange = {"t": NUMBER, "ta": ARRAY, "ua": ARRAY, "u": st.builds(string, UUIDS, st.just(False))}
    extra = strange.get(column, st.builds(string, TIMESTAMPS, st.booleans()))
    return st.one_of(kind, kind, kind, extra, SCALAR, JSON)


@st.composite
def records(draw: st.DrawFn) -> list[str]:
    count = draw(st.integers(1, 4))
    hostile = draw(st.integers(0, 3)) == 0
    lines = []
    for n in range(count):
        fields = {"id": str(n + 1)}
        for column in COLUMNS:
            if column != "id" and draw(st.integers(0, 9)):  # sometimes absent: NULL
                fields[column] = draw(by_column(column, hostile and draw(st.integers(0, 3)) == 0))
        lines.append(record(fields))
    return lines


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=records())
def test_typed_copy_and_staged_path_give_identical_tables(
    lines: list[str], targets: tuple[Database, Database], contract: Contract, tmp_path: Path
) -> None:
    """Generated values of every column type through both paths: the same rows, or both refuse."""
    export = tmp_path / f"e{next(_made)}"
    write_lines(export, lines)
    with pytest.MonkeyPatch.context() as mp:
        typed, _ = both(targets, wide_contract(contract, export), export, mp)
    event("refused by both" if typed.rows is None else typed.loaded_by["wide"][:60])


# -- fixed cases ------------------------------------------------------------------------------------

FOREIGN = [
    record({"id": "1", "n": "1.10", "t": "1.10", "na": "[1.10, 1e-7, -0]", "j": '{"w": [0.1, 1.10, 1e300]}'}),
    record({"id": "2", "n": "12345678901234567890.123", "i8": "1e3", "t": "-0.0", "f8": "1e-7"}),
    record({"id": "3", "i2": "32767", "i4": "-2147483648", "i8": "9223372036854775807", "n2": "1.005"}),
    record({"id": "4", "t": string('tab\tnew\nline back\\slash "q" \u2028 é \U0001f680', True), "b": "true"}),
    record({"id": "5", "ts": '"2025-01-01T10:00:00.5+05:30"', "tsn": '"2025-01-01T10:00:00+05:30"'}),
    record(
        {
            "id": "6",
            "u": '"A0EEBC999C0B4EF8BB6D6BB9BD380A11"',
            "ua": '["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]',
        }
    ),
    record(
        {"id": "7", "ta": '["NULL", null, "", "a,b", "{x}", " s "]', "ia": "[]", "t": "true", "v": "false"}
    ),
    record({"id": "8", "ta": '"{a,b}"', "j": '"just a string"', "c": '"x"', "d": '"2024-02-29"'}),
    record({"id": "9", "j": "123456789012345678901234567890", "n": "123456789012345678901234567890"}),
    '{"id": 10, "t": "spaces and \\u00e9scapes", "j": {"a": null, "b": [1, {"c": null}]}}',
    '{"id":11,"t":"dup","t":"last wins","j":{"k":1,"k":2}}',
    '{"id":12}',
]


def test_foreign_forms_load_identically_and_by_typed_copy(
    targets: tuple[Database, Database], contract: Contract, tmp_path: Path
) -> None:
    write_lines(tmp_path / "e", FOREIGN)
    with pytest.MonkeyPatch.context() as mp:
        typed, staged = both(targets, wide_contract(contract, tmp_path / "e"), tmp_path / "e", mp)
    assert typed.rows is not None and len(typed.rows) == len(FOREIGN)
    assert typed.loaded_by == {"wide": restore_copy.METHOD}
    assert staged.loaded_by == {"wide": "staged: forced by the test"}


STEPS_ASIDE = {
    "an object into a text column": '{"id":1,"t":{"a":1}}',
    "a nested array into an array column": '{"id":1,"ta":[["a"],["b"]]}',
    "an object inside an array": '{"id":1,"ta":[{"a":1}]}',
    "a number into an array column": '{"id":1,"ta":5}',
    "a field without a column": '{"id":1,"nosuch":1}',
    "a raw tab": '{"id":1,\t"t":"x"}',
    "a carriage return": '{"id":1,"t":"x"}\r',
    "a NUL escape": '{"id":1,"t":"a\\u0000b"}',
    "a lone surrogate": '{"id":1,"t":"\\ud800"}',
    "NaN": '{"id":1,"n":NaN}',
    "a huge exponent": '{"id":1,"n":1e100000}',
    "a byte order mark": '\ufeff{"id":1}',
    "an empty line": "",
    "not an object": "[1,2]",
    "a trailing comma": '{"id":1,}',
}


@pytest.mark.parametrize("line", list(STEPS_ASIDE.values()), ids=list(STEPS_ASIDE))
def test_what_the_client_cannot_convert_steps_aside(
    line: str, targets: tuple[Database, Database], contract: Contract, tmp_path: Path
) -> None:
    """The staged path decides (loads it or refuses it), the typed path says why it stepped aside."""
    write_lines(tmp_path / "e", ['{"id":100,"t":"fine"}', line])
    with pytest.MonkeyPatch.context() as mp:
        typed, staged = both(targets, wide_contract(contract, tmp_path / "e"), tmp_path / "e", mp)
    if typed.rows is None:
        assert staged.rows is None
    else:
        assert typed.loaded_by["wide"].startswith("staged: ")


REFUSED = {
    "i4": ('"not-a-number-7d1"', "integer"),
    "i2": ("40000", "smallint"),
    "i8": ("1.5", "bigint"),
    "u": ('"zz-not-a-uuid-7d1"', "uuid"),
    "ts": ('"2025-99-99T00:00:00Z-7d1"', "timestamp with time zone"),
    "b": ('"maybe-7d1"', "boolean"),
    "v": ('"far-too-long-for-twelve-7d1"', "character varying(12)"),
    "ia": ('["x-7d1"]', "integer[]"),
}


@pytest.mark.parametrize("column", list(REFUSED))
def test_refusals_name_entity_line_and_field_never_the_value(
    column: str, targets: tuple[Database, Database], contract: Contract, tmp_path: Path
) -> None:
    token, type_name = REFUSED[column]
    write_lines(tmp_path / "e", ['{"id":1}', '{"id":2}', record({"id": "3", column: token})])
    with pytest.MonkeyPatch.context() as mp:
        typed, staged = both(targets, wide_contract(contract, tmp_path / "e"), tmp_path / "e", mp)
    assert typed.rows is None and staged.rows is None  # the same rule refuses it on both paths
    assert f"entity 'wide' line 3 field '{column}'" in typed.message
    assert f"not a valid {type_name}" in typed.message and "rolled back" in typed.message
    # the staged bulk load and the per-row upsert (a target that is not empty) withhold it too
    upsert_target = targets[1]
    with upsert_target.connect() as conn:
        conn.execute("INSERT INTO wide (id) VALUES (100)")
    try:
        with pytest.MonkeyPatch.context() as mp:
            upsert = run(
                upsert_target, wide_contract(contract, tmp_path / "e"), tmp_path / "e", staged=True, mp=mp
            )
    finally:
        empty(upsert_target)
    for message in (typed.message, staged.message, upsert.message):
        assert "7d1" not in message and "40000" not in message and "1.5" not in message, message
    for message in (staged.message, upsert.message):
        assert "value withheld" in message and "SQLSTATE 22" in message, message


def test_constraint_failures_name_the_line(
    targets: tuple[Database, Database], contract: Contract, tmp_path: Path
) -> None:
    write_lines(tmp_path / "e", ['{"id":1}', '{"id":2}', '{"id":1}'])
    with pytest.MonkeyPatch.context() as mp:
        typed, staged = both(targets, wide_contract(contract, tmp_path / "e"), tmp_path / "e", mp)
    assert staged.rows is None
    assert "entity 'wide' line 3" in typed.message and "wide_pkey" in typed.message


def test_renamed_fields_go_through_the_mapping(
    targets: tuple[Database, Database], contract: Contract, tmp_path: Path
) -> None:
    """A v2-style column mapping: renamed fields land in their columns, and a renamed field's
    objects keep their null members on both paths."""
    columns = {"jsonDoc": "j", "textField": "t", "tags": "ta"}
    lines = [
        '{"id":1,"jsonDoc":{"a":null,"b":[{"c":null,"d":1.10}]},"textField":"x","tags":["a",null]}',
        '{"id":2,"jsonDoc":null,"textField":null}',
    ]
    write_lines(tmp_path / "e", lines)
    wide = wide_contract(contract, tmp_path / "e", columns)
    ent = wide.entities[0]
    fields: dict[str, Any] = {"id": {}, **{f: {} for f in columns}}
    wide = dataclasses.replace(wide, entities=(dataclasses.replace(ent, schema={"properties": fields}),))
    with pytest.MonkeyPatch.context() as mp:
        typed, _ = both(targets, wide, tmp_path / "e", mp)
    assert typed.loaded_by == {"wide": restore_copy.METHOD}
    assert typed.rows is not None and '{""a"": null, ""b"": [{""c"": null, ""d"": 1.10}]}' in typed.rows[0]
    restore(targets[0], wide, tmp_path / "e", ValidationReport(tmp_path / "e"))
    again = restore(targets[0], wide, tmp_path / "e", ValidationReport(tmp_path / "e"))
    assert again.method == "upsert" and again.updated == {"wide": 2}
    assert contents(targets[0]) == typed.rows  # the upsert's document keeps them too


@pytest.mark.parametrize(
    ("ddl", "reason"),
    [
        ("CREATE DOMAIN small AS integer CHECK (VALUE < 5); ALTER TABLE wide ADD COLUMN dom small", "domain"),
        ("ALTER TABLE wide ADD COLUMN js json", "json"),
        ("ALTER TABLE wide ENABLE ROW LEVEL SECURITY", "row security"),
        ("CREATE RULE noop AS ON INSERT TO wide DO ALSO NOTIFY wide", "rules"),
    ],
)
def test_tables_copy_cannot_load_like_insert_step_aside(
    ddl: str, reason: str, admin: Database, contract: Contract, tmp_path: Path
) -> None:
    dbs = new_target(admin, f"{WIDE_DDL}; {ddl}"), new_target(admin, f"{WIDE_DDL}; {ddl}")
    write_lines(tmp_path / "e", ['{"id":1,"t":"x"}'])
    wide = wide_contract(contract, tmp_path / "e")
    if "js" in ddl or "dom" in ddl:
        ent = wide.entities[0]
        name = "js" if "js" in ddl else "dom"
        props = {**ent.schema["properties"], name: {}}
        wide = dataclasses.replace(wide, entities=(dataclasses.replace(ent, schema={"properties": props}),))
    with pytest.MonkeyPatch.context() as mp:
        typed, _ = both(dbs, wide, tmp_path / "e", mp)
    assert reason in typed.loaded_by["wide"] and typed.loaded_by["wide"].startswith("staged: ")


def test_the_reference_export_loads_by_typed_copy_as_the_upsert_does(
    contract: Contract, export_copy: Path, admin: Database
) -> None:
    """The harness's own export: every entity through the typed COPY, the same rows as staged."""
    dbs = []
    for _ in range(2):
        db = create_database(admin, f"typed_ref_{next(_made)}").with_environment("scratch")
        apply_schema(db, "reference", REPO)
        dbs.append(db)
    report = ValidationReport(export_copy)
    typed = restore(dbs[0], contract, export_copy, report)
    assert set(typed.loaded_by.values()) == {restore_copy.METHOD}
    assert typed.to_dict()["loaded_by"] == typed.loaded_by
    with pytest.MonkeyPatch.context() as mp:
        force_staged(mp)
        staged = restore(dbs[1], contract, export_copy, report)
    assert typed.inserted == staged.inserted
    for ent in contract.entities:
        assert contents(dbs[0], str(ent.table)) == contents(dbs[1], str(ent.table)), ent.name


def test_numeric_text_is_numeric_out() -> None:
    cases = {"1.10": "1.10", "1e-7": "0.0000001", "-0": "0", "-0.00": "0.00", "1E+2": "100", "2.50e1": "25.0"}
    assert {k: restore_copy.numeric_text(k) for k in cases} == cases
    with pytest.raises(restore_copy.StepAside):
        restore_copy.numeric_text("1e1001")


def _lines(n: int) -> Iterator[str]:
    for i in range(n):
        yield record({"id": str(i + 1), "t": string("x" * (i % 50), False), "j": '{"a": [1.5, 2]}'})


def test_many_blocks_keep_line_numbers(
    targets: tuple[Database, Database], contract: Contract, tmp_path: Path
) -> None:
    """Files larger than one read block: rows split across blocks, and a refusal far in names its line."""
    lines = list(_lines(40_000))
    lines[-7] = record({"id": str(40_000 - 6), "i4": '"bad-7d1"'})
    write_lines(tmp_path / "e", lines)
    typed = run(
        targets[0],
        wide_contract(contract, tmp_path / "e"),
        tmp_path / "e",
        staged=False,
        mp=pytest.MonkeyPatch(),
    )
    assert typed.rows is None and f"line {40_000 - 6} field 'i4'" in typed.message
    write_lines(tmp_path / "f", lines[:-7])
    with pytest.MonkeyPatch.context() as mp:
        typed2, _ = both(targets, wide_contract(contract, tmp_path / "f"), tmp_path / "f", mp)
    assert typed2.rows is not None and len(typed2.rows) == 40_000 - 7
    assert typed2.loaded_by == {"wide": restore_copy.METHOD}


def test_rows_a_before_trigger_skips_are_not_counted(
    admin: Database, contract: Contract, tmp_path: Path
) -> None:
    """Row triggers fire on the typed COPY as on the INSERT, and the counts agree."""
    skip = (
        "CREATE FUNCTION skip_odd() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN IF NEW.id % 2 = 1 THEN RETURN NULL; END IF; NEW.t := 'seen'; RETURN NEW; END $$; "
        "CREATE TRIGGER skip_odd BEFORE INSERT ON wide FOR EACH ROW EXECUTE FUNCTION skip_odd()"
    )
    dbs = new_target(admin, f"{WIDE_DDL}; {skip}"), new_target(admin, f"{WIDE_DDL}; {skip}")
    write_lines(tmp_path / "e", [record({"id": str(n)}) for n in range(1, 8)])
    wide = wide_contract(contract, tmp_path / "e")
    report = ValidationReport(tmp_path / "e")
    typed = restore(dbs[0], wide, tmp_path / "e", report)
    with pytest.MonkeyPatch.context() as mp:
        force_staged(mp)
        staged = restore(dbs[1], wide, tmp_path / "e", report)
    assert typed.loaded_by == {"wide": restore_copy.METHOD}
    assert typed.inserted == staged.inserted == {"wide": 3}
    assert contents(dbs[0]) == contents(dbs[1])


@pytest.mark.parametrize("kind", [docstore, kvstore], ids=["docstore", "kvstore"])
def test_foreign_exports_load_by_typed_copy_as_staged(
    kind: ModuleType, admin: Database, tmp_path: Path
) -> None:
    """Exports the harness did not write (camelCase through the column mapping, composite keys,
    absent fields, epoch times, nested objects): typed COPY for every entity, the same rows."""
    contract = load_contract(kind.CONTRACT)
    export = kind.write(tmp_path / "export")
    report = validate_export(contract, export, scratch_dir=tmp_path / "scratch")
    dbs = []
    for _ in range(2):
        db = create_database(admin, f"typed_kind_{next(_made)}").with_environment("scratch")
        apply_schema(db, "contract", REPO, contract)
        dbs.append(db)
    typed = restore(dbs[0], contract, export, report)
    assert set(typed.loaded_by.values()) == {restore_copy.METHOD}
    with pytest.MonkeyPatch.context() as mp:
        force_staged(mp)
        staged = restore(dbs[1], contract, export, report)
    assert typed.inserted == staged.inserted and sum(typed.inserted.values()) > 0
    for ent in contract.entities:
        assert contents(dbs[0], str(ent.table)) == contents(dbs[1], str(ent.table)), ent.name

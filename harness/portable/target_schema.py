"""The target tables a contract describes: ``CREATE TABLE`` statements for a restore.

One table per entity (``table``, default the entity's name in lower case), one column per schema
field (``columns`` renames), typed from ``column_types`` first, then the field's timestamp form, then
its JSON Schema type; keys, unique constraints and every reference that a foreign key can express
(top-level fields, one or several, fixed target, no condition) as ``DEFERRABLE INITIALLY DEFERRED``
constraints, so reference cycles restore in one transaction. References a foreign key cannot hold
(nested, conditional, polymorphic) are the validator's to prove. Names are quoted as written, so
camelCase stays camelCase.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from harness.errors import ConfigError
from harness.portable.contract import Contract, Entity

#: A JSON Schema type -> the column type that holds every value of it exactly.
_JSON_TYPES = {"string": "text", "integer": "bigint", "number": "numeric", "boolean": "boolean"}
_MAX_NAME = 63  # PostgreSQL truncates longer identifiers silently
_FORM_TYPES = {"rfc3339": "timestamptz", "date": "date", "epoch_s": "bigint", "epoch_ms": "bigint"}


def _types(spec: Any) -> set[str]:
    declared = spec.get("type") if isinstance(spec, dict) else None
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {t for t in declared if isinstance(t, str)}
    return set()  # any JSON value


def column_type(ent: Entity, fld: str) -> str:
    """The column type a field restores into."""
    if fld in ent.column_types:
        return ent.column_types[fld]
    types = _types(ent.schema["properties"][fld])
    form = ent.timestamp_forms.get(fld)
    if form in ("epoch_s", "epoch_ms") and "number" in types:
        return "numeric"  # fractions of the unit stay
    if form is not None:
        return _FORM_TYPES[form]
    concrete = types - {"null"}
    if len(concrete) == 1 and (only := next(iter(concrete))) in _JSON_TYPES:
        return _JSON_TYPES[only]
    return "jsonb"  # objects, arrays, several types, or any: kept as JSON, exactly


def _nullable(ent: Entity, fld: str) -> bool:
    required = set(ent.schema.get("required", []))
    types = _types(ent.schema["properties"][fld])
    return fld not in required or not types or "null" in types


def _table(ent: Entity) -> sql.Identifier:
    assert ent.table is not None
    return sql.Identifier(*ent.table.split("."))


def _columns(ent: Entity, fields: tuple[str, ...]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(ent.column(f)) for f in fields)


def _foreign_keys(contract: Contract, ent: Entity) -> list[sql.Composable]:
    out: list[sql.Composable] = []
    for rel in ent.relationships:
        if rel.when is not None or rel.entity_by is not None or rel.array:
            continue
        if not all(p.top_level for p in rel.paths):
            continue
        target = contract.entity(rel.entity)
        fields = tuple(p.head for p in rel.paths) or (rel.field,)
        keys = (rel.target_field,) if rel.target_field else target.key_fields
        out.append(
            sql.SQL("FOREIGN KEY ({}) REFERENCES {} ({}) DEFERRABLE INITIALLY DEFERRED").format(
                _columns(ent, fields), _table(target), _columns(target, keys)
            )
        )
    return out


def table_ddl(contract: Contract, ent: Entity) -> sql.Composed:
    """``CREATE TABLE`` for one entity: columns, primary key and unique constraints (the foreign keys
    follow once every table exists, see ``schema_ddl``)."""
    if not ent.table:
        raise ConfigError(
            f"{contract.path}: entity {ent.name!r} is exported from a query; a restore needs a table"
        )
    parts: list[sql.Composable] = []
    for fld in ent.fields:
        if len(ent.column(fld).encode()) > _MAX_NAME:
            raise ConfigError(
                f"{contract.path}: entity {ent.name!r}: field {fld[:40]!r}…: longer than PostgreSQL's "
                f"{_MAX_NAME}-byte names; give it a shorter column under 'columns'"
            )
        null = sql.SQL("") if _nullable(ent, fld) else sql.SQL(" NOT NULL")
        parts.append(
            sql.SQL("{} {}{}").format(sql.Identifier(ent.column(fld)), sql.SQL(column_type(ent, fld)), null)
        )
    parts.append(sql.SQL("PRIMARY KEY ({})").format(_columns(ent, ent.key_fields)))
    parts.extend(sql.SQL("UNIQUE ({})").format(_columns(ent, group)) for group in ent.unique)
    return sql.SQL("CREATE TABLE {} (\n  {}\n)").format(_table(ent), sql.SQL(",\n  ").join(parts))


def schema_ddl(contract: Contract) -> list[sql.Composed]:
    """Statements creating every entity's table, then the foreign keys (deferrable, so cycles and
    self-references load in one transaction)."""
    statements = [table_ddl(contract, ent) for ent in contract.entities]
    for ent in contract.entities:
        statements.extend(
            sql.SQL("ALTER TABLE {} ADD {}").format(_table(ent), fk) for fk in _foreign_keys(contract, ent)
        )
    return statements

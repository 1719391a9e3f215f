"""Server errors in messages: the first line, except where PostgreSQL's text quotes a value."""

from __future__ import annotations

import psycopg
import pytest

from harness.postgres.database import Database
from harness.postgres.errors import server_error


def _error(db: Database, statement: str) -> psycopg.Error:
    with db.connect() as conn, pytest.raises(psycopg.Error) as caught:
        conn.execute(statement)
    return caught.value


@pytest.mark.parametrize(
    ("statement", "said"),
    [
        ("SELECT 'hunter2-secret'::integer", "invalid text representation (SQLSTATE 22P02"),
        ("SELECT 'hunter2-secret'::timestamptz", "invalid datetime format (SQLSTATE 22007"),
        ("SELECT '99999999999hunter2'::numeric::integer", "invalid text representation"),
        ("SELECT '99999999999'::integer", "numeric value out of range (SQLSTATE 22003"),
        (
            "DO $$ BEGIN RAISE EXCEPTION 'token %', 'hunter2-secret'; END $$",
            "raise exception (SQLSTATE P0001",
        ),
    ],
)
def test_a_message_that_quotes_a_value_gives_the_condition_instead(
    admin: Database, statement: str, said: str
) -> None:
    exc = _error(admin, statement)
    assert "hunter2" in str(exc) or "99999999999" in str(exc)  # what PostgreSQL itself says
    text = server_error(exc)
    assert text.startswith("a value was refused: ") and said in text and text.endswith("value withheld)")
    assert "hunter2" not in text and "99999999999" not in text


def test_other_errors_keep_their_first_line_naming_objects(admin: Database) -> None:
    with admin.connect() as conn:
        conn.execute("CREATE TEMP TABLE t (id int PRIMARY KEY)")
        conn.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(psycopg.Error) as caught:
            conn.execute("INSERT INTO t VALUES (1)")
    assert server_error(caught.value) == 'duplicate key value violates unique constraint "t_pkey"'
    missing = _error(admin, "SELECT * FROM no_such_table")
    assert server_error(missing) == 'relation "no_such_table" does not exist'
    assert server_error(ValueError("plain\nsecond line")) == "plain"

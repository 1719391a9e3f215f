"""Server binaries per major: a backup is restored only with its own major's server."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ProviderError
from harness.postgres.binaries import SERVER_BINARIES, bindir_for_major, server_major
from harness.postgres.foreign import check_major, data_major


def test_server_binaries_are_chosen_by_the_backups_major(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bin directory of another major is passed over; none of the major is exit 2 naming the package."""
    fake = tmp_path / "pg16" / "bin"
    fake.mkdir(parents=True)
    for name in SERVER_BINARIES:
        tool = fake / name
        tool.write_text('#!/bin/sh\necho "postgres (PostgreSQL) 16.4"\n')
        tool.chmod(0o755)
    assert server_major(fake) == "16"
    assert bindir_for_major("16", fake) == fake
    monkeypatch.setenv("DRILL_PG_BINDIR", str(fake))
    real = bindir_for_major("15")  # DRILL_PG_BINDIR holds 16: skipped, never used for a 15 backup
    assert real != fake and server_major(real) == "15"
    with pytest.raises(ProviderError) as err:
        bindir_for_major("17")
    message = str(err.value)
    assert message.startswith(
        "the backup is PostgreSQL 17 and no PostgreSQL 17 server binaries are installed"
    )
    assert "DRILL_PG_BINDIR: PostgreSQL 16" in message and "`postgresql-17`" in message
    with pytest.raises(ProviderError, match="major version is unreadable"):
        bindir_for_major("15; rm -rf /")


def test_a_data_directory_of_another_major_is_refused(tmp_path: Path) -> None:
    (tmp_path / "PG_VERSION").write_text("16\n")
    assert data_major(tmp_path) == "16"
    with pytest.raises(ProviderError, match=r"the backup is PostgreSQL 16 but .* holds PostgreSQL 15"):
        check_major(tmp_path, bindir_for_major("15"))
    (tmp_path / "PG_VERSION").write_text("sixteen")
    with pytest.raises(ProviderError, match="is not a major version number"):
        data_major(tmp_path)
    with pytest.raises(ProviderError, match="no PG_VERSION"):
        data_major(tmp_path / "nothing")

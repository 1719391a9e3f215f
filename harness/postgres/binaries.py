"""PostgreSQL server binaries: where they are, and the environment client tools run in."""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import subprocess
from pathlib import Path

from harness.errors import ProviderError

SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")
APT_HINT = (
    "install the server binaries with `apt-get install postgresql` (Debian/Ubuntu package "
    "`postgresql`, e.g. `postgresql-15`), or point DRILL_PG_BINDIR / the scenario's "
    "`postgres.bindir` at a directory holding initdb, pg_ctl and postgres"
)


def pg_free_env(**extra: str) -> dict[str, str]:
    """This process's environment without any ``PG*`` variable (plus ``extra``), so libpq tools
    only see the connection settings the harness gives them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(extra)
    return env


def pg_config_bindir() -> Path | None:
    """``pg_config --bindir``, or None when pg_config is absent or fails."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10)
            if out.returncode == 0 and out.stdout.strip():
                return Path(out.stdout.strip())
    return None


def find_bindir(configured: str | os.PathLike[str] | None = None) -> Path:
    """Locate PostgreSQL server binaries; raise a ProviderError naming the package if absent."""
    candidates: list[tuple[str, Path]] = []
    if configured:
        candidates.append(("configured postgres.bindir", Path(configured)))
    if os.environ.get("DRILL_PG_BINDIR"):
        candidates.append(("DRILL_PG_BINDIR", Path(os.environ["DRILL_PG_BINDIR"])))
    if configured or os.environ.get("DRILL_PG_BINDIR"):
        source, path = candidates[0]
        if not all((path / b).is_file() for b in SERVER_BINARIES):
            raise ProviderError(f"{source}={path} does not contain {', '.join(SERVER_BINARIES)}; {APT_HINT}")
        return path
    configured_bindir = pg_config_bindir()
    if configured_bindir is not None:
        candidates.append(("pg_config --bindir", configured_bindir))
    versioned = glob.glob("/usr/lib/postgresql/*/bin")
    versioned.sort(key=lambda p: int(re.sub(r"\D", "", Path(p).parent.name) or 0), reverse=True)
    candidates.extend(("/usr/lib/postgresql", Path(p)) for p in versioned)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(("PATH", Path(on_path).parent))
    for _source, path in candidates:
        if all((path / b).is_file() for b in SERVER_BINARIES):
            return path
    looked = ", ".join(str(p) for _, p in candidates) or "pg_config, /usr/lib/postgresql/*/bin, PATH"
    raise ProviderError(f"PostgreSQL server binaries not found (looked in: {looked}); {APT_HINT}")


def server_major(bindir: Path) -> str | None:
    """The major version of the ``postgres`` binary in ``bindir`` (``15``), or None when unreadable."""
    try:
        out = subprocess.run(
            [str(bindir / "postgres"), "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\(PostgreSQL\) (\d+)", out.stdout)
    return match.group(1) if match else None


def major_hint(major: str) -> str:
    return (
        f"install PostgreSQL {major}'s server binaries (Debian/Ubuntu package `postgresql-{major}`, from "
        f"the PGDG apt repository when the distribution lacks it), or point DRILL_PG_BINDIR or the "
        f"scenario's postgres.bindir at a PostgreSQL {major} bin directory"
    )


def bindir_for_major(major: str, configured: str | os.PathLike[str] | None = None) -> Path:
    """Server binaries of PostgreSQL ``major`` exactly: the configured bindir, DRILL_PG_BINDIR,
    ``pg_config --bindir``, ``/usr/lib/postgresql/<major>/bin``, PATH, in that order. A backup is
    never restored with another major's server: no match raises ProviderError naming the major and
    the package to install."""
    if not re.fullmatch(r"\d{1,3}", major or ""):
        raise ProviderError(f"the backup's PostgreSQL major version is unreadable ({len(major or '')} chars)")
    candidates: list[tuple[str, Path]] = []
    if configured:
        candidates.append(("postgres.bindir", Path(configured)))
    if os.environ.get("DRILL_PG_BINDIR"):
        candidates.append(("DRILL_PG_BINDIR", Path(os.environ["DRILL_PG_BINDIR"])))
    from_pg_config = pg_config_bindir()
    if from_pg_config is not None:
        candidates.append(("pg_config --bindir", from_pg_config))
    candidates.append((f"/usr/lib/postgresql/{major}/bin", Path(f"/usr/lib/postgresql/{major}/bin")))
    on_path = shutil.which("postgres")
    if on_path:
        candidates.append(("PATH", Path(on_path).parent))
    seen: list[str] = []
    for source, path in candidates:
        if not all((path / b).is_file() for b in SERVER_BINARIES):
            continue
        found = server_major(path)
        if found == major:
            return path
        seen.append(f"{source}: PostgreSQL {found or '?'}")
    have = f" (found only {'; '.join(seen)})" if seen else ""
    raise ProviderError(
        f"the backup is PostgreSQL {major} and no PostgreSQL {major} server binaries are installed{have}; "
        f"never restoring with another major: {major_hint(major)}"
    )

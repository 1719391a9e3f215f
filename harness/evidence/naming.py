"""The names evidence files share: ``<scenario>-<YYYYMMDDTHHMMSSZ>-<run id>`` (sinks and the ledger)."""

from __future__ import annotations

from typing import Any


def evidence_stem(doc: dict[str, Any]) -> str:
    """``<scenario>-<YYYYMMDDTHHMMSSZ>-<run id>``: the name the evidence files share."""
    stamp = doc["finished_at"][:19].replace("-", "").replace(":", "") + "Z"
    return f"{safe_name(doc['scenario']['name'])}-{stamp}-{doc['run_id']}"


def safe_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip("-.")
    return cleaned[:80] or "drill"

"""Append the evidence (and its envelope) to the ledger named by ``--sink ledger:location=...``.

Without a location the evidence directory is the ledger and there is nothing to copy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.evidence.ledger import DirectoryLedger
from harness.evidence.ledger_stores import open_ledger
from harness.evidence.sinks import SinkContext


class LedgerSink:
    name = "ledger"
    SETTINGS = {"location": "a directory or s3://bucket/prefix (default: the evidence directory)"}
    REQUIRED = ("location",)

    def write(self, doc: dict[str, Any], context: SinkContext) -> Path | None:
        location = context.settings.ledger
        if not location:
            return None
        store = open_ledger(location)
        if isinstance(store, DirectoryLedger) and store.directory.resolve() == context.directory.resolve():
            return None
        evidence = context.written["json"]
        envelope = context.written.get("sign")
        where = store.append(
            evidence.name, evidence.read_bytes(), envelope.read_bytes() if envelope else None
        )
        return None if where.startswith("s3://") else Path(where)

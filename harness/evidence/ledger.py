"""The evidence ledger: per scenario, a hash chain of evidence files in a directory or an S3 prefix.

Every evidence document records, in ``previous_evidence``, the sha256 (of the exact bytes), file
name, run id and finish time of the previous evidence of the same scenario in the ledger (``null``
for the first). Editing a file breaks the link of the run after it, deleting a run leaves a link to
a file that is not there, and a run inserted out of order links to a run that is not the one
before it in time; ``ledger_verify`` reports each of them, and a gap where a scheduled run is
missing. A directory ledger is a flat directory of ``<stem>.json`` files (``<stem>.dsse.json``
envelopes beside them), the evidence directory by default; an S3 ledger (``s3://bucket/prefix``,
see ``ledger_stores``) keeps ``<prefix>/<scenario>/<stem>.json`` under Object Lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import orjson

from harness.errors import ConfigError
from harness.evidence.naming import safe_name
from harness.evidence.signing import ENVELOPE_SUFFIX
from harness.files import write_once

_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_interval(text: str, what: str = "interval") -> timedelta:
    """``30m``, ``12h``, ``7d`` or ``2w`` as a timedelta (a positive whole number and one unit)."""
    number, unit = text[:-1], text[-1:].lower()
    if unit not in _UNITS or not number.isdigit() or int(number) <= 0 or len(number) > 6:
        raise ConfigError(f"{what} {text!r}: expected a positive whole number and m, h, d or w (e.g. 7d)")
    return timedelta(seconds=int(number) * _UNITS[unit])


def parse_time(text: str) -> datetime:
    """An RFC 3339 UTC timestamp as the evidence writes it (``...Z``)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass(frozen=True)
class Entry:
    """One evidence file in a ledger: its name, exact bytes, parsed document and envelope."""

    name: str
    data: bytes
    doc: dict[str, Any] | None  # None: not readable as evidence
    envelope: bytes | None = None
    where: str = ""  # path or s3:// URI, for messages

    @property
    def sha256(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    @property
    def scenario(self) -> str:
        return str((self.doc or {}).get("scenario", {}).get("name", ""))

    @property
    def finished_at(self) -> datetime:
        return parse_time(str((self.doc or {})["finished_at"]))

    def link(self) -> dict[str, Any]:
        """The ``previous_evidence`` value a later run of the same scenario records."""
        doc = self.doc or {}
        return {
            "sha256": self.sha256,
            "file": self.name,
            "run_id": doc.get("run_id"),
            "finished_at": doc.get("finished_at"),
        }


@dataclass(frozen=True)
class StoreNote:
    """Something the store itself shows: an overwritten or deleted object, missing Object Lock."""

    kind: str
    scenario: str
    file: str
    message: str


def parse_entry(name: str, data: bytes, envelope: bytes | None, where: str) -> Entry | None:
    """An entry; None for JSON that is not evidence (no ``evidence_format_version``), such as a scorecard."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return Entry(name, data, None, envelope, where)
    if not isinstance(doc, dict) or "evidence_format_version" not in doc:
        return None
    ok = isinstance(doc.get("scenario"), dict) and isinstance(doc.get("finished_at"), str)
    if ok:
        try:
            parse_time(doc["finished_at"])
        except ValueError:
            ok = False
    return Entry(name, data, doc if ok else None, envelope, where)


class LedgerStore(Protocol):
    """Where a ledger's files live."""

    location: str

    def entries(self, scenario: str | None = None) -> list[Entry]:
        """Every evidence entry (of ``scenario`` when given), in no particular order."""
        ...

    def append(self, name: str, data: bytes, envelope: bytes | None) -> str:
        """Add one evidence file (and its envelope); returns where it went."""
        ...

    def notes(self) -> list[StoreNote]:
        """What the store itself shows about tampering or immutability."""
        ...


class DirectoryLedger:
    """A flat directory of evidence files: the evidence directory itself, or a copy kept elsewhere."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.location = str(self.directory)

    def _files(self, scenario: str | None) -> Iterator[Path]:
        if not self.directory.is_dir():
            return
        prefix = f"{safe_name(scenario)}-" if scenario else ""
        for path in sorted(self.directory.glob(f"{prefix}*.json")):
            if path.is_file() and not path.name.endswith(ENVELOPE_SUFFIX) and not path.name.startswith("."):
                yield path

    def entries(self, scenario: str | None = None) -> list[Entry]:
        found = []
        for path in self._files(scenario):
            try:
                data = path.read_bytes()
                env_path = path.with_name(path.name.removesuffix(".json") + ENVELOPE_SUFFIX)
                envelope = env_path.read_bytes() if env_path.is_file() else None
            except OSError as exc:
                raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
            entry = parse_entry(path.name, data, envelope, str(path))
            if entry is not None and (scenario is None or entry.doc is None or entry.scenario == scenario):
                found.append(entry)
        return found

    def append(self, name: str, data: bytes, envelope: bytes | None) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / name
        if target.exists() and target.read_bytes() == data:
            return str(target)  # the evidence directory is the ledger: already there
        write_once(target, data, refusal="a ledger entry is never replaced")
        if envelope is not None:
            write_once(target.with_name(name.removesuffix(".json") + ENVELOPE_SUFFIX), envelope)
        return str(target)

    def notes(self) -> list[StoreNote]:
        return []


def ordered(entries: Iterable[Entry]) -> list[Entry]:
    """Readable entries of one scenario in time order (finish time, then name)."""
    return sorted((e for e in entries if e.doc is not None), key=lambda e: (e.finished_at, e.name))


def head_link(store: LedgerStore, scenario: str) -> dict[str, Any] | None:
    """The ``previous_evidence`` a new run of ``scenario`` records: a link to the latest run, or None."""
    runs = ordered(store.entries(scenario))
    return runs[-1].link() if runs else None

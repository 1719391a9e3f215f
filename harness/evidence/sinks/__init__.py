"""Where a finished document goes: one module per output, each a ``Sink`` named in ``SINKS``.

Adding an output (metrics, chat) is one module with a ``Sink`` class plus one line in ``SINKS``;
``write_evidence`` runs every registered sink in order, the validated JSON first, so a later
sink that fails never costs the JSON evidence. Other documents use the same protocol without the
registry: the gate lane writes its report through ``gate.sarif.SarifSink`` and ``gate.summary``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

Doc = TypeVar("Doc", contravariant=True)

# sink name -> "module:Class", in the order ``write_evidence`` runs them; imported when first used.
SINKS: dict[str, str] = {
    "json": "harness.evidence.sinks.json_file:JsonFileSink",
    "markdown": "harness.evidence.sinks.markdown:MarkdownSink",
    "github-summary": "harness.evidence.sinks.github_summary:GitHubSummarySink",
}


@dataclass
class SinkContext:
    """Where one write goes, and what the sinks before this one wrote (sink name -> path)."""

    directory: Path
    written: dict[str, Path] = field(default_factory=dict)


class Sink(Protocol[Doc]):
    """One output of a document; returns the file it wrote, if any."""

    name: str

    def write(self, doc: Doc, context: SinkContext) -> Path | None: ...


def sink(name: str) -> Sink[dict[str, Any]]:
    """The registered evidence sink called ``name``."""
    module_name, _, class_name = SINKS[name].partition(":")
    instance: Sink[dict[str, Any]] = getattr(importlib.import_module(module_name), class_name)()
    return instance


def run_sinks(sinks: Iterable[Sink[Doc]], doc: Doc, context: SinkContext) -> dict[str, Path]:
    """Run ``sinks`` in order on ``doc``; what each wrote is recorded for the ones after it."""
    for each in sinks:
        path = each.write(doc, context)
        if path is not None:
            context.written[each.name] = path
    return context.written


def evidence_stem(doc: dict[str, Any]) -> str:
    """``<scenario>-<YYYYMMDDTHHMMSSZ>-<run id>``: the name the evidence files share."""
    stamp = doc["finished_at"][:19].replace("-", "").replace(":", "") + "Z"
    return f"{safe_name(doc['scenario']['name'])}-{stamp}-{doc['run_id']}"


def safe_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip("-.")
    return cleaned[:80] or "drill"


def write_evidence(doc: dict[str, Any], reports_dir: Path) -> tuple[Path, Path]:
    """Validate and write ``<scenario>-<time>-<run>.json`` and ``.md`` (and every other sink); both paths."""
    # Each sink is loaded just before it runs: a later one that cannot even load still finds the JSON written.
    written = run_sinks((sink(name) for name in SINKS), doc, SinkContext(Path(reports_dir)))
    return written["json"], written["markdown"]

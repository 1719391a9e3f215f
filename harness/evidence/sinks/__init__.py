"""Where a finished document goes: one module per output, each a ``Sink`` named in ``SINKS``.

Adding an output is one module with a ``Sink`` class plus one line in ``SINKS``. ``write_evidence``
first links the document to the previous run of its scenario in the ledger (``ledger``), then runs
the registered sinks in order: the validated JSON first, and it alone may fail the write; every
later sink that fails prints a warning and never changes the verdict or costs the JSON. Sinks in
:data:`OPTIONAL` run only when selected (``drill run --sink NAME[:key=value,...]``); each sink
class lists the settings it takes in ``SETTINGS``. Other documents use the same protocol without
the registry: the gate lane writes its report through ``gate.sarif.SarifSink`` and
``gate.summary``, and ``pr_comment`` posts the gate's Markdown.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from harness.errors import ConfigError, first_line
from harness.evidence.naming import evidence_stem, safe_name
from harness.secrets import scan_text

Doc = TypeVar("Doc", contravariant=True)

# sink name -> "module:Class", in the order ``write_evidence`` runs them; imported when first used.
SINKS: dict[str, str] = {
    "json": "harness.evidence.sinks.json_file:JsonFileSink",
    "sign": "harness.evidence.sinks.sign:SignSink",
    "ledger": "harness.evidence.sinks.ledger:LedgerSink",
    "markdown": "harness.evidence.sinks.markdown:MarkdownSink",
    "github-summary": "harness.evidence.sinks.github_summary:GitHubSummarySink",
    "prometheus": "harness.evidence.sinks.prometheus:PrometheusTextfileSink",
    "pushgateway": "harness.evidence.sinks.prometheus:PushgatewaySink",
    "webhook": "harness.evidence.sinks.webhook:WebhookSink",
}
#: sinks that run only when ``--sink`` selects them (the others always run; sign and ledger do
#: nothing unless a key or a ledger location is configured)
OPTIONAL = ("prometheus", "pushgateway", "webhook")
__all__ = ["OPTIONAL", "SINKS", "Sink", "SinkContext", "SinkSettings", "evidence_stem", "safe_name"]


@dataclass(frozen=True)
class SinkSettings:
    """What the command line configured: the signing key's variable and each ``--sink``'s settings."""

    sign_key_env: str | None = None
    selected: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def of(self, name: str) -> Mapping[str, str]:
        return self.selected.get(name, {})

    @property
    def ledger(self) -> str | None:
        return self.of("ledger").get("location")


@dataclass
class SinkContext:
    """Where one write goes, and what the sinks before this one wrote (sink name -> path)."""

    directory: Path
    written: dict[str, Path] = field(default_factory=dict)
    settings: SinkSettings = field(default_factory=SinkSettings)
    warnings: list[str] = field(default_factory=list)


class Sink(Protocol[Doc]):
    """One output of a document; returns the file it wrote, if any."""

    name: str

    def write(self, doc: Doc, context: SinkContext) -> Path | None: ...


def sink_class(name: str) -> Any:
    module_name, _, class_name = SINKS[name].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def sink(name: str) -> Sink[dict[str, Any]]:
    """The registered evidence sink called ``name``."""
    instance: Sink[dict[str, Any]] = sink_class(name)()
    return instance


def parse_sink_specs(specs: Sequence[str]) -> dict[str, dict[str, str]]:
    """``NAME[:key=value,...]`` options as {name: settings}; unknown sinks or settings are errors."""
    selected: dict[str, dict[str, str]] = {}
    for spec in specs:
        name, _, rest = spec.partition(":")
        if name not in SINKS:
            raise ConfigError(f"--sink {name!r}: unknown sink (one of {', '.join(SINKS)})")
        allowed: Mapping[str, str] = getattr(sink_class(name), "SETTINGS", {})
        settings = selected.setdefault(name, {})
        for item in filter(None, rest.split(",")):
            key, eq, value = item.partition("=")
            if key not in allowed or not eq:
                known = ", ".join(f"{k} ({v})" for k, v in allowed.items()) or "none"
                raise ConfigError(f"--sink {name}: unknown setting {key!r} (settings: {known})")
            settings[key] = value
        for key in getattr(sink_class(name), "REQUIRED", ()):
            if key not in settings:
                raise ConfigError(f"--sink {name}: needs {key}= ({allowed[key]})")
    return selected


def warn(name: str, exc: BaseException, into: list[str] | None = None) -> str:
    """A sink failed: say which and why (never a value that looks like a secret); the verdict stands.

    The line goes to stderr and, when given, into ``into`` (the plugin repeats it in its summary)."""
    detail = first_line(exc)
    if scan_text(detail) or "http://" in detail or "https://" in detail:
        detail = f"{type(exc).__name__} (details withheld: they may contain a URL)"
    line = f"sink {name!r} failed: {detail}; the verdict is unchanged"
    sys.stderr.write(f"drill: warning: {line}\n")
    if into is not None:
        into.append(line)
    return line


def run_sinks(
    sinks: Iterable[Sink[Doc]], doc: Doc, context: SinkContext, *, essential: Iterable[str] | None = None
) -> dict[str, Path]:
    """Run ``sinks`` in order on ``doc``; what each wrote is recorded for the ones after it.

    A failing sink stops the write (its exception propagates) when ``essential`` is None or names
    it; any other failing sink, or one that cannot even load, is a warning."""
    required = None if essential is None else set(essential)
    for each in sinks:
        try:
            path = each.write(doc, context)
        except Exception as exc:
            if required is None or each.name in required:
                raise
            warn(each.name, exc, context.warnings)
            continue
        if path is not None:
            context.written[each.name] = path
    return context.written


class _Unloadable:
    """A registered sink whose module or class could not be loaded: it fails when its turn comes."""

    def __init__(self, name: str, error: Exception) -> None:
        self.name, self.error = name, error

    def write(self, doc: Any, context: SinkContext) -> Path | None:
        raise self.error


def _link_previous(
    doc: dict[str, Any], directory: Path, settings: SinkSettings, warnings: list[str]
) -> dict[str, Any]:
    """``doc`` with ``previous_evidence`` naming the latest run of its scenario in the ledger."""
    from harness.evidence.ledger import DirectoryLedger, head_link
    from harness.evidence.ledger_stores import open_ledger

    try:
        store = open_ledger(settings.ledger) if settings.ledger else DirectoryLedger(directory)
        link = head_link(store, doc["scenario"]["name"])
    except Exception as exc:
        warn("ledger", exc, warnings)
        link = None
    return {**doc, "previous_evidence": link}


def _loaded(names: Iterable[str]) -> Iterable[Sink[dict[str, Any]]]:
    """Each sink loaded just before it runs, so one that cannot load still finds the JSON written."""
    for name in names:
        try:
            yield sink(name)
        except Exception as exc:
            yield _Unloadable(name, exc)


def write_evidence(
    doc: dict[str, Any],
    reports_dir: Path,
    settings: SinkSettings | None = None,
    warnings: list[str] | None = None,
) -> tuple[Path, Path | None]:
    """Link, validate and write ``<scenario>-<time>-<run>.json``, then every other sink; the JSON
    and Markdown paths (the Markdown None when that sink failed). Sink warnings also go to ``warnings``."""
    settings = settings or SinkSettings()
    context = SinkContext(
        Path(reports_dir), settings=settings, warnings=warnings if warnings is not None else []
    )
    linked = _link_previous(doc, Path(reports_dir), settings, context.warnings)
    names = [n for n in SINKS if n not in OPTIONAL or n in settings.selected]
    written = run_sinks(_loaded(names), linked, context, essential=("json",))
    return written["json"], written.get("markdown")

"""The evidence JSON: validated against its schema, then written once (complete or absent, never replaced)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from harness.evidence.schema import validate_evidence
from harness.evidence.sinks import SinkContext, evidence_stem
from harness.files import write_once


class JsonFileSink:
    name = "json"

    def write(self, doc: dict[str, Any], context: SinkContext) -> Path:
        validate_evidence(doc)
        context.directory.mkdir(parents=True, exist_ok=True)
        path = context.directory / f"{evidence_stem(doc)}.json"
        write_once(path, orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
        return path

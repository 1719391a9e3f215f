"""The Markdown summary appended to ``$GITHUB_STEP_SUMMARY`` when running under GitHub Actions."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from harness.evidence.sinks import SinkContext
from harness.evidence.sinks.markdown import render_markdown


class GitHubSummarySink:
    name = "github-summary"

    def write(self, doc: dict[str, Any], context: SinkContext) -> Path | None:
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if not summary:
            return None
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(render_markdown(doc, context.written.get("json")) + "\n")
        return Path(summary)

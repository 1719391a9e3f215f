"""The DSSE envelope beside the evidence JSON, when ``drill run --sign-key-env VAR`` names a key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.evidence.signing import envelope_path, private_key_from_env, sign_evidence
from harness.evidence.sinks import SinkContext
from harness.files import write_once


class SignSink:
    name = "sign"

    def write(self, doc: dict[str, Any], context: SinkContext) -> Path | None:
        variable = context.settings.sign_key_env
        if not variable:
            return None
        evidence = context.written["json"]
        envelope = sign_evidence(evidence.name, evidence.read_bytes(), private_key_from_env(variable))
        path = envelope_path(evidence)
        write_once(path, envelope)
        return path

"""Secret scrubbing: evidence must never carry anything the secret scanner recognises."""

from __future__ import annotations

from typing import Any

from harness.secrets import scan_text

REDACTED = "[redacted: looked like a secret]"


def scrub_secrets(value: Any) -> Any:
    """Replace any string the secret scanner recognises. Evidence must never carry a secret."""
    if isinstance(value, dict):
        return {k: scrub_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_secrets(v) for v in value]
    if isinstance(value, str) and scan_text(value):
        return REDACTED
    return value

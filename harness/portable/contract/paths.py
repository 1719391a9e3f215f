"""Field paths into a record: ``approval.decidedBy`` (a nested object), ``jobRefs[].jobId`` (each object
of an array), ``tags[]`` (each item of an array), or a plain top-level field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError

_ITEMS = "[]"


@dataclass(frozen=True)
class FieldPath:
    text: str
    steps: tuple[tuple[str, bool], ...]  # (key, then each item of the array under it)

    @classmethod
    def parse(cls, text: str, where: str) -> FieldPath:
        if not isinstance(text, str) or not text:
            raise ConfigError(f"{where}: a field path must be a non-empty string")
        steps = []
        for part in text.split("."):
            items = part.endswith(_ITEMS)
            key = part[: -len(_ITEMS)] if items else part
            if not key or _ITEMS in key or "[" in key or "]" in key:
                raise ConfigError(
                    f"{where}: field path {text!r}: write nested fields as a.b and arrays of objects as a[].b"
                )
            steps.append((key, items))
        return cls(text, tuple(steps))

    @property
    def top_level(self) -> bool:
        return len(self.steps) == 1 and not self.steps[0][1]

    @property
    def head(self) -> str:
        """The top-level field the path starts at."""
        return self.steps[0][0]

    def values(self, record: Any) -> list[Any]:
        """Every value the path reaches: None where a nested field is missing or null; nothing for a
        missing or empty array (an array of references may be empty)."""
        current: list[Any] = [record]
        for key, items in self.steps:
            reached: list[Any] = []
            for value in current:
                child = value.get(key) if isinstance(value, dict) else None
                if items:
                    if isinstance(child, list):
                        reached.extend(child)
                else:
                    reached.append(child)
            current = reached
        return current

"""The validation rules document lists exactly the catalogue, with the same severity."""

from __future__ import annotations

import re

from harness.portable.validate.rules.catalogue import LOWERABLE, RULES
from tests.conftest import REPO


def test_the_rules_document_matches_the_catalogue() -> None:
    text = (REPO / "docs" / "validation-rules.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z_.0-9*]+)` \| (\w+) \| (\w+) \| (yes|) \|", text, re.M)
    assert {r[0]: (r[1], r[2], r[3] == "yes") for r in rows} == {
        r.id: (r.family, r.severity, r.id in LOWERABLE) for r in RULES.values()
    }

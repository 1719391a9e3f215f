"""The verdict's reason and the Markdown summary, pinned whole: a summary that showed a failed step as
passed, dropped the validation findings or the dry run, or blamed the wrong step fails here (the
mutation survivors of verdict.py and sinks/markdown.py, docs/testing.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.evidence import ERROR, FAILED, PASSED, SKIPPED, Evidence, write_evidence
from harness.evidence.record import StepRecord
from harness.evidence.sinks.markdown import render_markdown
from harness.evidence.verdict import verdict_of


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (
            [StepRecord("a", True, PASSED), StepRecord("b", False, ERROR, message="no server")],
            ("error", "step 'b' could not run: no server"),
        ),
        (
            [
                StepRecord("a", True, FAILED, message="3 rows differ"),
                StepRecord("b", False, ERROR, message="x"),
            ],
            ("error", "step 'b' could not run: x"),  # could not run outranks failed
        ),
        (
            [StepRecord("a", True, PASSED), StepRecord("b", True, FAILED, message="3 rows differ")],
            ("failed", "step 'b' failed: 3 rows differ"),
        ),
        (
            [StepRecord("a", True, PASSED), StepRecord("b", False, PASSED), StepRecord("c", True, PASSED)],
            ("verified", "all steps that ran passed; data-proving checks: a, c"),
        ),
        (
            [StepRecord("a", False, PASSED), StepRecord("b", True, SKIPPED)],
            ("failed", "no data-proving check passed, so nothing was verified"),
        ),
    ],
    ids=["error", "error-first", "failed", "verified", "nothing-proved"],
)
def test_the_reason_names_the_rule_that_decided(steps: list[StepRecord], expected: tuple[str, str]) -> None:
    assert verdict_of(steps) == expected


def _doc() -> dict[str, Any]:
    finding = {"rule": "record.schema", "file": "users.jsonl", "line": 3, "record_id": "u-1"}
    return {
        "scenario": {"name": "unit"},
        "verdict": "failed",
        "exit_code": 1,
        "reason": "step 'restore' failed: 2 rows differ",
        "steps": [
            {"name": "export", "status": PASSED, "data_proving": False, "seconds": 1.234, "message": "ok"},
            {"name": "restore", "status": FAILED, "data_proving": True, "seconds": 2.0, "message": "a|b\nc"},
            {"name": "smoke", "status": SKIPPED, "data_proving": True, "seconds": 0, "message": "x" * 170},
            {"name": "odd", "status": "weird", "data_proving": False, "seconds": 0.5, "message": ""},
            {"name": "boot", "status": ERROR, "data_proving": False, "seconds": 0.25, "message": "no"},
        ],
        "measurements": {
            "rto": {"measured_seconds": 12.04, "objective_seconds": None, "met": None},
            "rpo": {"measured_seconds": 61.0, "objective_seconds": 60, "met": False, "method": "heartbeat"},
        },
        "validation": {
            "records_checked": 40,
            "finding_count": 11,
            "findings": [{**finding, "line": n, "message": f"m{n}"} for n in range(1, 12)],
        },
        "dry_run": {
            "would_insert": 5,
            "would_update": 4,
            "skipped": 3,
            "invalid": 2,
            "zero_write_proof": {"proven": True},
        },
    }


EXPECTED = [
    "## Drill `unit`: **FAILED** (exit 1)",
    "",
    "step 'restore' failed: 2 rows differ",
    "",
    "| step | status | data-proving | seconds | detail |",
    "|---|---|---|---:|---|",
    "| export | ✅ passed | no | 1.23 | ok |",
    "| restore | ❌ failed | yes | 2.00 | a\\|b c |",
    "| smoke | ⏭ skipped | yes | 0.00 | " + "x" * 160 + " |",
    "| odd | weird | no | 0.50 |  |",
    "| boot | ⛔ error | no | 0.25 | no |",
    "",
    "- RTO measured: 12.0s (objective n/a, met: n/a)",
    "- RPO (backup age): 61.0s (objective 60.0s, met: NO)",  # "heartbeat" without its facts
    "- Validation: 40 records, 11 finding(s)",
    *(f"  - `record.schema` users.jsonl:{n} record u-1: m{n}" for n in range(1, 11)),
    "- Dry run: would insert 5, update 4, skip 3, invalid 2; zero writes proven: True",
]


def test_the_summary_shows_every_step_measurement_finding_and_the_dry_run_as_they_are() -> None:
    assert render_markdown(_doc()) == "\n".join(EXPECTED) + "\n"
    assert (
        render_markdown(_doc(), Path("r/e.json")) == "\n".join([*EXPECTED, "", "Evidence: `r/e.json`"]) + "\n"
    )


def test_the_summary_leaves_out_sections_the_document_does_not_have() -> None:
    doc = _doc()
    del doc["validation"], doc["dry_run"]
    doc["measurements"]["rpo"]["heartbeat"] = {"table": "beat", "newest": "2026-12-01T09:59:00Z"}
    text = render_markdown(doc)
    assert text.endswith(
        "- RPO (measured, newest heartbeat in `beat` at 2026-12-01T09:59:00Z): 61.0s "
        "(objective 60.0s, met: NO)\n"
    )
    assert "Validation" not in text and "Dry run" not in text
    doc["measurements"]["rpo"]["method"] = "bound"
    assert "- RPO (backup age): 61.0s" in render_markdown(doc)  # facts without the method


def test_the_written_summary_names_the_json_beside_it(tmp_path: Path) -> None:
    ev = Evidence(scenario={"name": "unit", "file": "unit.yaml", "lane": "portable-export"})
    ev.add_step("validate", data_proving=True).status = PASSED
    json_path, md_path = write_evidence(ev.finish(), tmp_path)
    assert json.loads(json_path.read_text())["verdict"] == "verified"
    assert md_path.read_text().endswith(f"\n\nEvidence: `{json_path}`\n")

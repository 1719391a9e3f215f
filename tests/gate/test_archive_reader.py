"""The minimal read-only policy for drilling archives (fixtures/gate/archive-reader): the good role
passes; each broken variant is caught by exactly one finding on the statement at fault."""

from __future__ import annotations

import pytest

from harness.gate.runner import run_gate
from harness.gate.spec import load_spec
from tests.gate.helpers import FIXTURES, line_of

ARCHIVE_READER = FIXTURES / "archive-reader"
SPEC = ARCHIVE_READER / "spec.yaml"
GOOD = ARCHIVE_READER / "good" / "archive-reader-role.yaml"
BROKEN = ARCHIVE_READER / "broken"

CASES = [
    (
        "archive-reader-can-delete-versions.yaml",
        "IAM002",
        "- Sid: FetchArchivesAndPinnedVersions",
        "Resource:",
        "s3:DeleteObjectVersion",
    ),
    (
        "archive-reader-decrypt-anywhere.yaml",
        "IAM002",
        "- Sid: DecryptThroughS3Only",
        "Resource:",
        "use the key outside S3",
    ),
    (
        "archive-reader-no-pinned-versions.yaml",
        "IAM001",
        "- Sid: ListTheArchivePrefix",
        "Action:",
        "s3:GetObjectVersion",
    ),
    (
        "archive-reader-whole-bucket.yaml",
        "IAM002",
        "- Sid: FetchArchivesAndPinnedVersions",
        "Resource:",
        "read outside the archive prefix",
    ),
]


def test_the_minimal_read_only_policy_passes() -> None:
    report = run_gate(load_spec(SPEC), [GOOD])
    assert report.findings == []
    assert report.passed and report.roles_evaluated == ["ArchiveDrillRole"]


@pytest.mark.parametrize(("variant", "rule", "anchor", "element", "says"), CASES, ids=[c[0] for c in CASES])
def test_a_broader_or_narrower_role_is_caught(
    variant: str, rule: str, anchor: str, element: str, says: str
) -> None:
    path = BROKEN / variant
    (finding,) = run_gate(load_spec(SPEC), [path]).findings
    assert (finding.rule, finding.file) == (rule, str(path))
    # The finding sits on the element at fault, anchored to the statement it is about.
    assert finding.anchor == line_of(path, anchor)
    assert finding.line == line_of(path, element, after=anchor)
    assert says in finding.message


def test_every_broken_archive_reader_has_a_case() -> None:
    assert sorted(p.name for p in BROKEN.iterdir()) == sorted(c[0] for c in CASES)


def test_the_spec_denies_every_write_the_drill_never_makes() -> None:
    spec = load_spec(SPEC)
    denied = {a for probe in spec.roles["ArchiveDrillRole"].must_deny for a in probe.actions}
    assert {"s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectRetention"} <= denied
    assert {
        "s3:PutBucketVersioning",
        "s3:PutLifecycleConfiguration",
        "s3:DeleteBucket",
        "kms:Encrypt",
    } <= denied

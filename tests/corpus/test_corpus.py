"""Every corpus case through the real `drill` command: the exact rules, the exit code, a message that
names the problem, never a traceback, never a secret, and no extracted copy left behind."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from harness.cli import main
from harness.dataset.generator import seed_dataset
from harness.portable.contract import Contract
from harness.portable.export import SourceInfo, export
from harness.postgres.database import Database, create_database
from tests.corpus.build import Case
from tests.corpus.cases import all_cases

CASES = all_cases()


@pytest.fixture(scope="module")
def base_export(admin: Database, contract: Contract, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small export the harness wrote: every case starts from a copy of it."""
    db = create_database(admin, "corpus_base")
    seed_dataset(db, 150, seed=11)
    out = tmp_path_factory.mktemp("corpus") / "export"
    export(db, contract, out, SourceInfo.from_env("drill"))
    return out


def test_the_corpus_is_large_and_covers_every_class() -> None:
    kinds = Counter(c.kind for c in CASES)
    assert len(CASES) >= 150, kinds
    assert set(kinds) == {"tar", "manifest", "record", "secret", "directory", "configuration"}
    assert min(kinds.values()) >= 10, kinds
    assert len({c.id for c in CASES}) == len(CASES)


def _summary(out: str) -> dict[str, object]:
    start = out.find("\n{\n")
    assert start >= 0, out[-2000:]
    summary: dict[str, object] = json.loads(out[start + 1 :])
    return summary


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case, base_export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export_copy = tmp_path / "export"
    shutil.copytree(base_export, export_copy, symlinks=True)
    argv = case.build(export_copy, tmp_path)
    code = main(argv)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert code == case.exit_code, text[-3000:]
    assert "Traceback" not in text and "a bug in drill-harness" not in text, text[-3000:]
    if case.secret:
        assert case.secret not in text
        assert case.secret[4:20] not in text
    if case.message:
        assert case.message in text, text[-3000:]
    if argv[0] == "validate" and code in (0, 1) and not case.message:
        summary = _summary(captured.out)
        assert set(summary["findings_by_rule"]) == set(case.rules), summary["findings"]  # type: ignore[arg-type]
        if case.secret:
            assert case.secret not in json.dumps(summary)
    work = tmp_path / "work"
    if work.exists():  # a validated archive leaves no extracted copy behind, complete-looking or not
        leftovers = [p for p in work.rglob("*") if p.name == "manifest.json"]
        assert leftovers == [], leftovers

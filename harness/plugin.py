"""pytest plugin: scenario YAML files become test collections, one test item per drill step.

A scenario is any ``*.yaml``/``*.yml`` file under a directory named
``scenarios`` whose first lines declare ``scenario_version``. The file node
owns the lane (and so the services it starts) and writes the evidence when
its last item finishes; a failing item names its step. Steps whose
prerequisites did not pass are skipped, never passed. The session's exit
status is the worst drill verdict: 0 verified, 1 not verified, 2 could not run.
"""

from __future__ import annotations

import signal
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.aws.providers import AWS_PROVIDERS
from harness.errors import EXIT_COULD_NOT_RUN, DrillError, VerificationFailed
from harness.evidence import SKIPPED, VERDICT_EXIT, Evidence, write_evidence
from harness.lanes import lane_class
from harness.lanes.base import Lane, StepSpec
from harness.lanes.runner import finish, run_step, start
from harness.postgres.providers import PG_PROVIDERS
from harness.scenario import RunOptions, Scenario, load_scenario, looks_like_scenario

_RESULTS_KEY = pytest.StashKey[list[dict[str, Any]]]()
_OTHER_FAILURES_KEY = pytest.StashKey[int]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("drill", "drill-harness scenarios")
    group.addoption(
        "--evidence-dir", default="reports", help="where evidence JSON/Markdown go (default: reports)"
    )
    group.addoption("--work-dir", default=".tmp/exports", help="drill work files (default: .tmp/exports)")
    group.addoption(
        "--pg-provider",
        choices=list(PG_PROVIDERS),
        default=None,
        help="override every scenario's PostgreSQL provider",
    )
    group.addoption(
        "--aws-provider",
        choices=list(AWS_PROVIDERS),
        default=None,
        help="override every scenario's AWS endpoint provider",
    )
    group.addoption("--dataset-rows", type=int, default=None, help="override the seeded dataset size")
    group.addoption(
        "--keep-workdir", action="store_true", help="keep work files even when the drill verifies"
    )
    group.addoption(
        "--archive",
        default=None,
        metavar="URI",
        help="portable-export scenarios drill this existing archive (s3://BUCKET/PREFIX/ = the newest "
        "under it, s3://BUCKET/KEY[?versionId=], or a local .tar.gz) instead of exporting one",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_RESULTS_KEY] = []
    config.stash[_OTHER_FAILURES_KEY] = 0
    config.addinivalue_line("markers", "drill: a drill step collected from a scenario file")
    if hasattr(signal, "SIGTERM") and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        # CI cancellation sends SIGTERM: turn it into KeyboardInterrupt so teardown stops services.
        signal.signal(signal.SIGTERM, signal.default_int_handler)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if (
        file_path.suffix in (".yaml", ".yml")
        and "scenarios" in file_path.parts
        and looks_like_scenario(file_path)
    ):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


def _options(config: pytest.Config) -> RunOptions:
    return RunOptions(
        evidence_dir=Path(config.getoption("--evidence-dir")),
        work_dir=Path(config.getoption("--work-dir")),
        pg_provider=config.getoption("--pg-provider"),
        aws_provider=config.getoption("--aws-provider"),
        dataset_rows=config.getoption("--dataset-rows"),
        keep_workdir=config.getoption("--keep-workdir"),
        archive=config.getoption("--archive"),
    )


class ScenarioFile(pytest.File):
    scenario: Scenario | None = None
    lane_cls: type[Lane] | None = None
    lane: Lane | None = None
    evidence: Evidence | None = None
    load_error: DrillError | None = None

    def collect(self) -> Iterator[pytest.Item]:
        try:
            self.scenario = load_scenario(self.path)
            cls = lane_class(self.scenario.lane, str(self.path)).for_scenario(
                self.scenario, _options(self.config)
            )
            self.lane_cls = cls
        except DrillError as exc:
            # Still a test item, so a broken scenario is reported (exit 2) instead of vanishing.
            self.load_error = exc
            yield DrillStep.from_parent(self, name="load", spec=StepSpec("load"))
            return
        for spec in cls.steps:
            yield DrillStep.from_parent(self, name=spec.name, spec=spec)

    def setup(self) -> None:
        if self.scenario is None or self.lane_cls is None:
            return
        self.lane, self.evidence = start(self.lane_cls, self.scenario, _options(self.config))

    def teardown(self) -> None:
        if self.lane is None or self.evidence is None:
            return
        doc = finish(self.lane, self.evidence)
        json_path, _ = write_evidence(doc, self.lane.options.evidence_dir)
        self.config.stash[_RESULTS_KEY].append({**doc, "_evidence_path": str(json_path)})
        self.lane = None


class DrillStep(pytest.Item):
    def __init__(self, *, spec: StepSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.add_marker(pytest.mark.drill)

    @property
    def file_node(self) -> ScenarioFile:
        assert isinstance(self.parent, ScenarioFile)
        return self.parent

    def runtest(self) -> None:
        node = self.file_node
        if node.load_error is not None:
            raise node.load_error
        assert node.lane is not None
        assert node.evidence is not None
        error = run_step(node.lane, self.spec, node.evidence)
        record = node.evidence.step(self.spec.name)
        if record.status == SKIPPED:
            pytest.skip(record.message)
        if error is not None:
            raise error

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        exc = excinfo.value
        if isinstance(exc, DrillError | VerificationFailed):
            kind = "could not run" if isinstance(exc, DrillError) else "verification failed"
            return f"[{self.spec.name}] {kind}: {exc}"
        return f"[{self.spec.name}] unexpected error:\n" + "".join(
            traceback.format_exception(type(exc), exc, exc.__traceback__)
        )

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"drill step {self.spec.name}"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    if (
        call.excinfo is not None
        and not isinstance(item, DrillStep)
        and not call.excinfo.errisinstance(pytest.skip.Exception)
    ):
        item.config.stash[_OTHER_FAILURES_KEY] = item.config.stash.get(_OTHER_FAILURES_KEY, 0) + 1


def pytest_collection_finish(session: pytest.Session) -> None:
    """``--archive`` that no collected scenario takes is an error, never silently ignored."""
    if not session.config.getoption("--archive"):
        return
    files = {item.parent for item in session.items if isinstance(item, DrillStep)}
    if not any(isinstance(f, ScenarioFile) and f.lane_cls and f.lane_cls.accepts_archive for f in files):
        raise pytest.UsageError(
            "--archive: none of the selected scenarios drills an archive (portable-export scenarios do); "
            "name one, e.g. scenarios/weekly/portable-archive.yaml"
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    results = session.config.stash.get(_RESULTS_KEY, [])
    load_errors = [
        item
        for item in session.items
        if isinstance(item, DrillStep) and item.file_node.load_error is not None
    ]
    if not results and not load_errors:
        return
    worst = max((VERDICT_EXIT[r["verdict"]] for r in results), default=0)
    if load_errors:
        worst = EXIT_COULD_NOT_RUN
    if int(exitstatus) in (0, 1, 2):
        # pytest's own 1 (some item failed) is refined by the verdicts; 2 (interrupted) stays 2;
        # failures of ordinary tests in the same session still count.
        floor = (
            int(exitstatus)
            if int(exitstatus) == 2
            else min(1, session.config.stash.get(_OTHER_FAILURES_KEY, 0))
        )
        session.exitstatus = max(worst, floor)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    results = config.stash.get(_RESULTS_KEY, [])
    if not results:
        return
    terminalreporter.section("drill verdicts")
    for doc in results:
        terminalreporter.write_line(
            f"{doc['verdict'].upper():9} {doc['scenario']['name']} (exit {doc['exit_code']}): {doc['reason']}"
        )
        terminalreporter.write_line(f"          evidence: {doc['_evidence_path']}")

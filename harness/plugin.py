"""pytest plugin: scenario YAML files become test collections, one test item per drill step.

A scenario is any ``*.yaml``/``*.yml`` file under a directory named
``scenarios`` whose first lines declare ``scenario_version``. The file node
owns the lane (and so the services it starts) and writes the evidence when
its last item finishes; a failing item names its step. Steps whose
prerequisites did not pass are skipped, never passed. The session's exit
status is the worst drill verdict: 0 verified, 1 not verified, 2 could not run.

Under pytest-xdist (``drill run -n auto``: ``--dist loadfile``, so one scenario runs whole on one
worker) each worker sends its verdicts to the controller, which decides the exit status and
prints the verdicts exactly as a serial run does.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.aws.providers import AWS_PROVIDERS
from harness.errors import EXIT_COULD_NOT_RUN, DrillError, VerificationFailed, describe_unexpected
from harness.evidence import SKIPPED, VERDICT_EXIT, Evidence, write_evidence
from harness.evidence.sinks import SinkSettings, parse_sink_specs
from harness.lanes import lane_class
from harness.lanes.base import Lane, StepSpec
from harness.lanes.runner import finish, interrupts_deferred, run_step, start
from harness.postgres.providers import PG_PROVIDERS
from harness.scenario import RunOptions, Scenario, load_scenario

_RESULTS_KEY = pytest.StashKey[list[dict[str, Any]]]()
_OTHER_FAILURES_KEY = pytest.StashKey[int]()
_LOAD_ERRORS_KEY = pytest.StashKey[int]()
_SINKS_KEY = pytest.StashKey[SinkSettings]()


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
        "--prewarm-postgres",
        action="store_true",
        help="start making the embedded PostgreSQL template (initdb) at once, in the background",
    )
    group.addoption(
        "--keep-workdir", action="store_true", help="keep work files even when the drill verifies"
    )
    group.addoption(
        "--sign-key-env",
        metavar="VAR",
        default=None,
        help="sign every evidence file (DSSE envelope beside it) with the Ed25519 PEM key in $VAR",
    )
    group.addoption(
        "--sink",
        action="append",
        default=[],
        metavar="NAME[:key=value,...]",
        help="also write to this sink (prometheus, pushgateway, webhook) or configure one (ledger)",
    )
    group.addoption(
        "--archive",
        default=None,
        metavar="URI",
        help="portable-export scenarios drill this existing archive (s3://BUCKET/PREFIX/ = the newest "
        "under it, s3://BUCKET/KEY[?versionId=], or a local .tar.gz) instead of exporting one",
    )


def pytest_configure(config: pytest.Config) -> None:
    if getattr(config.option, "dist", "no") in ("load", "worksteal"):
        # a scenario's steps share one lane: never split a scenario file across xdist workers
        config.option.dist = "loadfile"
    config.stash[_RESULTS_KEY] = []
    config.stash[_OTHER_FAILURES_KEY] = 0
    config.stash[_LOAD_ERRORS_KEY] = 0
    config.stash[_SINKS_KEY] = _sink_settings(config)
    config.addinivalue_line("markers", "drill: a drill step collected from a scenario file")
    handoff = getattr(config, "workerinput", {}).get("drill_pg_templates")
    if handoff or config.getoption("--prewarm-postgres", False):
        from harness.postgres.embedded import adopt_template, prewarm_template

        # initdb overlaps collection; under xdist the controller makes the one template (it runs
        # no drill) and its workers copy it (pytest_configure_node), making their own only if its
        # initdb failed
        if not (handoff and adopt_template(handoff)):
            prewarm_template()
    if hasattr(signal, "SIGTERM") and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        # CI cancellation sends SIGTERM: turn it into KeyboardInterrupt so teardown stops services.
        signal.signal(signal.SIGTERM, signal.default_int_handler)


def _sink_settings(config: pytest.Config) -> SinkSettings:
    """The sinks ``--sink``/``--sign-key-env`` configure, checked before any drill runs."""
    variable = config.getoption("--sign-key-env", None)
    try:
        selected = parse_sink_specs(config.getoption("--sink", None) or [])
        if variable:
            from harness.evidence.signing import private_key_from_env

            private_key_from_env(variable)
    except DrillError as exc:
        raise pytest.UsageError(str(exc)) from None
    return SinkSettings(sign_key_env=variable, selected=selected)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    # Every YAML file under a `scenarios` directory is a scenario: one that is not (a misspelt
    # `scenario_version`, say) fails its load item instead of silently dropping out of the run.
    if file_path.suffix in (".yaml", ".yml") and "scenarios" in file_path.parts:
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
        for spec in self.lane_cls.steps:
            yield DrillStep.from_parent(self, name=spec.name, spec=spec)

    def setup(self) -> None:
        if self.scenario is None or self.lane_cls is None:
            return
        self.lane, self.evidence = start(self.lane_cls, self.scenario, _options(self.config))

    def teardown(self) -> None:
        if self.lane is None or self.evidence is None:
            return
        doc = finish(self.lane, self.evidence)
        warnings: list[str] = []
        with interrupts_deferred():
            json_path, _ = write_evidence(
                doc, self.lane.options.evidence_dir, self.config.stash[_SINKS_KEY], warnings
            )
        result = {**doc, "_evidence_path": str(json_path), "_sink_warnings": warnings}
        self.config.stash[_RESULTS_KEY].append(result)
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
        return f"[{self.spec.name}] could not run ({self.path}): {describe_unexpected(exc)}"

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


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: tell each worker where the embedded template it is making will be."""
    from harness.postgres.embedded import template_handoff

    handoff = template_handoff()
    if handoff:
        node.workerinput["drill_pg_templates"] = handoff


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: take a finished worker's verdicts, load errors and other failures."""
    output = getattr(node, "workeroutput", {})
    stash = node.config.stash
    stash[_RESULTS_KEY].extend(output.get("drill_results", []))
    stash[_LOAD_ERRORS_KEY] += int(output.get("drill_load_errors", 0))
    stash[_OTHER_FAILURES_KEY] += int(output.get("drill_other_failures", 0))


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
    config = session.config
    results = config.stash.get(_RESULTS_KEY, [])
    results.sort(key=lambda doc: doc["scenario"]["file"])  # collection order, with or without xdist
    load_errors = config.stash.get(_LOAD_ERRORS_KEY, 0) + sum(
        1 for item in session.items if isinstance(item, DrillStep) and item.file_node.load_error is not None
    )
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller decides
        workeroutput["drill_results"] = results
        workeroutput["drill_load_errors"] = load_errors
        workeroutput["drill_other_failures"] = config.stash.get(_OTHER_FAILURES_KEY, 0)
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
        for line in doc.get("_sink_warnings", []):
            terminalreporter.write_line(f"          warning: {line}")

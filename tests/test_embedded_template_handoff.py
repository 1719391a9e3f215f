"""Under pytest-xdist the controller makes the one embedded template and its workers copy it
(harness/postgres/embedded.py ``template_handoff``/``adopt_template``, harness/plugin.py): a worker
runs no initdb, waits for the controller's to finish, makes its own when the controller's failed,
and never removes the controller's template, which the controller removes at its exit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.postgres import embedded
from harness.postgres.binaries import find_bindir
from harness.postgres.embedded import READY_FILE, embedded_postgres
from tests.conftest import REPO


def _state(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh process's template state (as a new controller or worker has)."""
    for name in ("_TEMPLATES", "_MAKING", "_PREWARMED"):
        monkeypatch.setattr(embedded, name, {})


@pytest.fixture
def controller(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[list[dict[str, str]], dict[str, Any]]]:
    """A controller's finished template and its handoff; removed at the end as the controller's exit does."""
    _state(monkeypatch)
    embedded.prewarm_template()
    handoff = embedded.template_handoff()
    for thread in list(embedded._MAKING.values()):
        thread.join()
    state = {name: getattr(embedded, name) for name in ("_TEMPLATES", "_MAKING", "_PREWARMED")}
    yield handoff, state
    for name, value in state.items():
        monkeypatch.setattr(embedded, name, value)
    embedded._remove_templates()
    assert not Path(handoff[0]["base"]).exists()  # the controller's exit removed its template


def _count_initdb(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    runs: list[int] = []
    real = embedded.EmbeddedCluster.run_initdb
    monkeypatch.setattr(embedded.EmbeddedCluster, "run_initdb", lambda self: runs.append(1) or real(self))
    return runs


def _datnames(cluster: embedded.EmbeddedCluster) -> list[str]:
    with cluster.database().connect(autocommit=True) as conn:
        return [r[0] for r in conn.execute("SELECT datname FROM pg_database ORDER BY 1").fetchall()]


def test_the_handoff_names_the_template_directory_private_to_the_server_account(
    controller: tuple[list[dict[str, str]], dict[str, Any]],
) -> None:
    handoff, state = controller
    (made,) = state["_TEMPLATES"].values()
    expected = {"bindir": str(find_bindir()), "base": str(made.data.parent), "password": made.password}
    assert handoff == [expected]
    base = made.data.parent
    for path in (base, made.data):
        assert path.stat().st_mode & 0o777 == 0o700
        if os.geteuid() == 0:
            assert (path.stat().st_uid, path.stat().st_gid) == embedded._service_account()
    assert (base / READY_FILE).stat().st_mode & 0o777 == 0o600
    assert made.password not in (base / READY_FILE).read_text()  # only the server version


def test_a_worker_waits_for_the_controllers_template_copies_it_and_leaves_its_removal(
    controller: tuple[list[dict[str, str]], dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    handoff, _ = controller
    base = Path(handoff[0]["base"])
    held = base / "held"
    os.replace(base / READY_FILE, held)  # the controller's initdb is still running
    _state(monkeypatch)
    runs = _count_initdb(monkeypatch)
    assert embedded.adopt_template(handoff)
    assert len(embedded._MAKING) == 1

    def finish() -> None:
        time.sleep(0.2)
        os.replace(held, base / READY_FILE)

    threading.Thread(target=finish).start()
    with embedded_postgres() as first, embedded_postgres() as second:
        assert "postgres" in _datnames(first) and "postgres" in _datnames(second)
        assert first.password == second.password == handoff[0]["password"]
    assert runs == []
    (adopted,) = embedded._TEMPLATES.values()
    assert adopted.data == base / "data" and not adopted.owned
    embedded._remove_templates()  # the worker's exit
    assert (base / "data" / "PG_VERSION").is_file()  # the controller's to remove


def test_a_worker_makes_its_own_template_when_the_controllers_initdb_failed(
    controller: tuple[list[dict[str, str]], dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    handoff, _ = controller
    gone = [{**handoff[0], "base": tempfile.mkdtemp(prefix="drill-pg-")}]
    shutil.rmtree(gone[0]["base"])  # a failed initdb leaves no directory
    _state(monkeypatch)
    runs = _count_initdb(monkeypatch)
    assert embedded.adopt_template(gone)
    with embedded_postgres() as cluster:
        assert "postgres" in _datnames(cluster)
    assert runs == [1]
    (own,) = embedded._TEMPLATES.values()
    assert own.owned and own.password != handoff[0]["password"]
    embedded._remove_templates()
    assert not own.data.parent.exists()


@pytest.mark.parametrize(
    "handoff",
    [
        None,
        [],
        {"bindir": "/usr/bin", "base": "/tmp/drill-pg-x", "password": "p"},
        [{}],
        [{"bindir": "/usr/bin", "base": "/tmp/drill-pg-x"}],
        [{"bindir": "/usr/bin", "base": "/tmp/drill-pg-x", "password": "p", "more": "x"}],
        [{"bindir": "/usr/bin", "base": "drill-pg-x", "password": "p"}],
        [{"bindir": "/usr/bin", "base": "/etc", "password": "p"}],
        [{"bindir": "/usr/bin", "base": "/tmp/drill-pg-x", "password": ""}],
        [{"bindir": "/usr/bin", "base": "/tmp/drill-pg-x", "password": 7}],
        ["/tmp/drill-pg-x"],
    ],
)
def test_a_handoff_of_another_shape_is_not_adopted(handoff: object, monkeypatch: pytest.MonkeyPatch) -> None:
    _state(monkeypatch)
    assert embedded.adopt_template(handoff) is False
    assert not embedded._MAKING and not embedded._TEMPLATES


def _initdb_logging_bindir(fail_first: bool) -> tuple[Path, Path]:
    """The real server binaries, with an initdb that logs each run (and fails the first one)."""
    real = find_bindir()
    bindir = Path(tempfile.mkdtemp(prefix="drill-test-bin-"))
    bindir.chmod(0o755)
    for tool in real.iterdir():
        if tool.name != "initdb":
            (bindir / tool.name).symlink_to(tool)
    log = bindir / "initdb.log"
    log.touch()
    log.chmod(0o666)  # initdb runs as the server account
    fail = 'if [ "$n" -eq 0 ]; then echo "initdb: disk on fire" >&2; exit 1; fi\n' if fail_first else ""
    (bindir / "initdb").write_text(
        f'#!/bin/sh\nn=$(wc -l < "{log}")\necho run >> "{log}"\n{fail}exec "{real / "initdb"}" "$@"\n'
    )
    (bindir / "initdb").chmod(0o755)
    return bindir, log


@pytest.mark.parametrize("controller_fails", [False, True], ids=["shared", "controller-initdb-fails"])
def test_drill_run_with_two_workers_runs_initdb_once(tmp_path: Path, controller_fails: bool) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    weekly = (REPO / "scenarios" / "weekly" / "pg-roundtrip.yaml").read_text()
    for name in ("first", "second"):
        (scenarios / f"{name}.yaml").write_text(weekly.replace("name: pg-roundtrip", f"name: {name}"))
    bindir, log = _initdb_logging_bindir(controller_fails)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PYTEST_"))}
    env.update(PYTHONPATH=str(REPO), DRILL_PG_BINDIR=str(bindir))
    command = [sys.executable, "-m", "harness.cli", "run", str(scenarios), "-n", "2", "--dataset-rows", "300"]
    command += ["--evidence-dir", str(tmp_path / "reports"), "--work-dir", str(tmp_path / "work")]
    try:
        proc = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=300,
            check=False,
        )
        runs = log.read_text().count("run")
    finally:
        shutil.rmtree(bindir)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("VERIFIED") == 2
    # shared: the controller's initdb only; failed: the controller's, then each worker its own
    assert runs == (3 if controller_fails else 1)

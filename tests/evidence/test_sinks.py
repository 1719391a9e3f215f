"""Metrics and chat sinks against real parsers and real local HTTP servers; a failing sink only warns."""

from __future__ import annotations

import copy
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness.cli import main
from harness.errors import ConfigError
from harness.evidence.sinks import SinkSettings, parse_sink_specs, write_evidence
from tests.evidence.conftest import drill, failed

SECRET_PATH = "/services/T0DRILL00/B0DRILL00/s3cr3tWebhookToken0123456789"


class Recorder(http.server.BaseHTTPRequestHandler):
    """Records every request; answers with ``status`` and ``reply`` (GitHub-like comment API below)."""

    calls: list[tuple[str, str, bytes]]
    status = 200
    comments: list[dict[str, Any]]

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.calls.append((self.command, self.path, body))
        reply: Any = {}
        if self.path.startswith("/repos/") and self.command == "GET":
            reply = self.comments
        elif self.path.startswith("/repos/") and self.command == "POST":
            reply = {"id": 100 + len(self.comments), "body": json.loads(body)["body"]}
            self.comments.append(reply)
        elif self.path.startswith("/repos/") and self.command == "PATCH":
            target = next(c for c in self.comments if str(c["id"]) == self.path.rsplit("/", 1)[-1])
            target["body"] = json.loads(body)["body"]
            reply = target
        data = json.dumps(reply).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = _handle

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[type[Recorder]]:
    handler = type("Handler", (Recorder,), {"calls": [], "comments": [], "status": 200})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{httpd.server_address[1]}"  # type: ignore[attr-defined]
    yield handler
    httpd.shutdown()


def fresh(doc: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    out["run_id"] = "0123456789abcdef"
    out["previous_evidence"] = None
    return out


def families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_prometheus_textfile_parses_with_prometheus_clients_own_parser(
    tmp_path: Path, real_docs: Any
) -> None:
    doc = fresh(real_docs["portable-export"])
    doc["scenario"]["production"] = {"rows": 2_000_000}
    settings = SinkSettings(selected=parse_sink_specs([f"prometheus:path={tmp_path / 'textfile'}"]))
    write_evidence(doc, tmp_path / "reports", settings)
    (prom,) = (tmp_path / "textfile").iterdir()
    assert prom.name == "drill_portable-export.prom"  # no temporary file left behind
    parsed = families(prom.read_text())
    labels = {"scenario": "portable-export", "lane": "portable-export"}
    value = {name: f.samples[0].value for name, f in parsed.items() if name != "drill_check_passed"}
    assert value["drill_verified"] == 1.0 and value["drill_exit_code"] == 0.0
    assert value["drill_rto_seconds"] == pytest.approx(doc["measurements"]["rto"]["measured_seconds"])
    assert value["drill_rpo_objective_seconds"] == 3600.0
    assert value["drill_rto_forecast_seconds"] > value["drill_rto_seconds"]  # 100x the drilled rows
    assert value["drill_backup_age_seconds"] >= 0
    assert all(f.samples[0].labels == labels for n, f in parsed.items() if n != "drill_check_passed")
    checks = {s.labels["check"]: s.value for s in parsed["drill_check_passed"].samples}
    assert checks == {s["name"]: 1.0 for s in doc["steps"]}

    # the next run replaces the file in place: a failed one reads 0 and its failing check 0
    bad = fresh(failed(real_docs["portable-export"]))
    bad["run_id"] = "fedcba9876543210"
    write_evidence(bad, tmp_path / "reports", settings)
    parsed = families(prom.read_text())
    assert parsed["drill_verified"].samples[0].value == 0.0
    assert 0.0 in {s.value for s in parsed["drill_check_passed"].samples}
    assert [p.name for p in (tmp_path / "textfile").iterdir()] == [prom.name]


def test_pushgateway_gets_the_same_metrics(
    tmp_path: Path, real_docs: Any, server: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("DRILL_PUSHGATEWAY", server.url)
    settings = SinkSettings(selected=parse_sink_specs(["pushgateway:url_env=DRILL_PUSHGATEWAY,job=weekly"]))
    write_evidence(fresh(real_docs["snapshot"]), tmp_path, settings)
    ((method, path, body),) = server.calls
    assert (method, path) == ("PUT", "/metrics/job/weekly/scenario/snapshot")
    parsed = families(body.decode())
    assert parsed["drill_verified"].samples[0].value == 1.0
    assert parsed["drill_rto_objective_seconds"].samples[0].value == 900.0


def test_webhook_posts_failures_only_and_never_shows_its_url(
    tmp_path: Path, real_docs: Any, server: Any, monkeypatch: Any, capsys: Any
) -> None:
    monkeypatch.setenv("DRILL_WEBHOOK_URL", server.url + SECRET_PATH)
    settings = SinkSettings(selected=parse_sink_specs(["webhook:only_failures=true"]))
    write_evidence(fresh(real_docs["snapshot"]), tmp_path, settings)
    assert server.calls == []  # verified: quiet
    bad = fresh(failed(real_docs["snapshot"]))
    bad["run_id"] = "fedcba9876543210"
    json_path, md_path = write_evidence(bad, tmp_path, settings)
    ((method, path, body),) = server.calls
    assert (method, path) == ("POST", SECRET_PATH)
    message = json.loads(body)
    assert message["text"].startswith(":x: Drill `snapshot`: *FAILED* (exit 1)")
    assert message["blocks"][0]["text"]["text"] == message["text"]
    assert json_path.name in message["text"]
    everything = capsys.readouterr()
    written = "".join(p.read_text() for p in tmp_path.iterdir() if p.is_file())
    assert "s3cr3t" not in everything.out + everything.err + written + md_path.read_text()


def test_a_failing_webhook_warns_and_the_verdict_stands(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("DRILL_WEBHOOK_URL", "http://127.0.0.1:9" + SECRET_PATH)  # nothing listens on port 9
    proc = drill(
        "run",
        "scenarios/weekly/snapshot.yaml",
        "--evidence-dir",
        str(tmp_path),
        "--work-dir",
        str(tmp_path / "w"),
        "--sink",
        "webhook",
        env={"DRILL_WEBHOOK_URL": "http://127.0.0.1:9" + SECRET_PATH},
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "warning: sink 'webhook' failed: webhook (DRILL_WEBHOOK_URL) unreachable" in proc.stdout
    assert "s3cr3t" not in proc.stdout + proc.stderr
    assert json.loads(next(tmp_path.glob("snapshot-*.json")).read_text())["verdict"] == "verified"


def test_webhook_http_errors_name_only_the_status(
    tmp_path: Path, real_docs: Any, server: Any, monkeypatch: Any, capsys: Any
) -> None:
    server.status = 500
    monkeypatch.setenv("DRILL_WEBHOOK_URL", server.url + SECRET_PATH)
    write_evidence(fresh(real_docs["snapshot"]), tmp_path, SinkSettings(selected={"webhook": {}}))
    err = capsys.readouterr().err
    assert "webhook (DRILL_WEBHOOK_URL) answered HTTP 500" in err and "s3cr3t" not in err


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("telegraph", "'telegraph': unknown sink"),
        ("prometheus", "needs path="),
        ("webhook:url=https://x", "unknown setting 'url'"),
        ("ledger:location", "unknown setting 'location'"),
    ],
)
def test_bad_sink_options_are_refused_before_anything_runs(spec: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_sink_specs([spec])
    proc = drill("run", "scenarios/weekly/snapshot.yaml", "--evidence-dir", str(tmp_path), "--sink", spec)
    assert proc.returncode == 2 and message in proc.stderr + proc.stdout
    assert not list(tmp_path.glob("*.json"))


def test_webhook_refuses_plain_http_to_another_host(monkeypatch: Any) -> None:
    from harness.evidence.sinks.webhook import webhook_url

    monkeypatch.setenv("HOOK", "http://hooks.example.com" + SECRET_PATH)
    with pytest.raises(ConfigError, match="must be https") as caught:
        webhook_url("HOOK")
    assert "s3cr3t" not in str(caught.value)


def test_sticky_pr_comment_is_created_once_then_updated_in_place(
    tmp_path: Path, server: Any, monkeypatch: Any, capsys: Any
) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7}}))
    token = "ghs_" + "T0k3n" * 8
    for key, value in {
        "GITHUB_API_URL": server.url,
        "GITHUB_REPOSITORY": "acme/app",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_TOKEN": token,
    }.items():
        monkeypatch.setenv(key, value)
    server.comments.append({"id": 1, "body": "someone else's comment"})
    report = tmp_path / "gate.md"
    for text in ("gate: 2 findings", "gate: 0 findings"):
        report.write_text(text)
        assert main(["evidence", "comment", str(report)]) == 0
    out = capsys.readouterr()
    assert "created" in out.out and "updated" in out.out and token not in out.out + out.err
    assert [c["body"] for c in server.comments] == [
        "someone else's comment",
        "<!-- drill-harness:gate -->\ngate: 0 findings",
    ]
    assert [(m, p.split("?")[0]) for m, p, _ in server.calls] == [
        ("GET", "/repos/acme/app/issues/7/comments"),
        ("POST", "/repos/acme/app/issues/7/comments"),
        ("GET", "/repos/acme/app/issues/7/comments"),
        ("PATCH", "/repos/acme/app/issues/comments/101"),
    ]


def test_pr_comment_outside_a_pull_request_does_nothing_and_a_failure_can_be_a_warning(
    tmp_path: Path, server: Any, monkeypatch: Any, capsys: Any
) -> None:
    report = tmp_path / "gate.md"
    report.write_text("gate")
    monkeypatch.delenv("GITHUB_EVENT_PATH", raising=False)
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/app")
    assert main(["evidence", "comment", str(report)]) == 0
    assert "skipped" in capsys.readouterr().out and server.calls == []
    server.status = 403
    monkeypatch.setenv("GITHUB_API_URL", server.url)
    monkeypatch.setenv("GITHUB_TOKEN", "x")
    assert main(["evidence", "comment", str(report), "--pr", "3"]) == 2
    assert main(["evidence", "comment", str(report), "--pr", "3", "--never-fail"]) == 0
    assert "GitHub answered HTTP 403" in capsys.readouterr().err

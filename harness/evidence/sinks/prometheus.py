"""Prometheus metrics of a run: a node_exporter textfile (written atomically) or a Pushgateway push.

Gauges, each labelled ``scenario`` and ``lane``: ``drill_verified`` (1/0), ``drill_exit_code``,
``drill_last_run_timestamp_seconds``, ``drill_duration_seconds``, ``drill_rto_seconds`` and
``drill_rto_objective_seconds``, ``drill_rpo_seconds`` and ``drill_rpo_objective_seconds``,
``drill_backup_age_seconds`` (when the run ended), ``drill_rto_forecast_seconds`` (at the declared
production size), and ``drill_check_passed`` per step (label ``check``; 1 passed, 0 otherwise). A
value the run did not measure is left out, never written as 0.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.evidence.facts import backup_taken_at, objective
from harness.evidence.forecast import forecast
from harness.evidence.ledger import parse_time
from harness.evidence.naming import safe_name
from harness.evidence.sinks import SinkContext
from harness.evidence.verdict import PASSED

_GAUGES = {
    "drill_verified": "1 when the last drill run verified, else 0",
    "drill_exit_code": "exit code of the last drill run (0 verified, 1 not verified, 2 could not run)",
    "drill_last_run_timestamp_seconds": "when the last drill run finished (Unix time)",
    "drill_duration_seconds": "wall time of the last drill run",
    "drill_rto_seconds": "measured recovery time of the last run",
    "drill_rto_objective_seconds": "recovery time objective of the scenario",
    "drill_rpo_seconds": "measured recovery point (backup age at recovery) of the last run",
    "drill_rpo_objective_seconds": "recovery point objective of the scenario",
    "drill_backup_age_seconds": "age of the restored backup when the last run finished",
    "drill_rto_forecast_seconds": "recovery time forecast at the declared production size",
}


def registry_for(doc: dict[str, Any]) -> Any:
    """A fresh CollectorRegistry holding the gauges of one evidence document."""
    from prometheus_client import CollectorRegistry, Gauge

    registry = CollectorRegistry()
    labels = {"scenario": doc["scenario"]["name"], "lane": doc["scenario"]["lane"]}
    finished = parse_time(doc["finished_at"])
    values: dict[str, float | None] = {
        "drill_verified": 1.0 if doc["verdict"] == "verified" else 0.0,
        "drill_exit_code": float(doc["exit_code"]),
        "drill_last_run_timestamp_seconds": finished.timestamp(),
        "drill_duration_seconds": (finished - parse_time(doc["started_at"])).total_seconds(),
        "drill_rto_seconds": objective(doc, "rto").get("measured_seconds"),
        "drill_rto_objective_seconds": objective(doc, "rto").get("objective_seconds"),
        "drill_rpo_seconds": objective(doc, "rpo").get("measured_seconds"),
        "drill_rpo_objective_seconds": objective(doc, "rpo").get("objective_seconds"),
    }
    taken = backup_taken_at(doc)
    values["drill_backup_age_seconds"] = (finished - parse_time(taken)).total_seconds() if taken else None
    predicted = forecast(doc)
    values["drill_rto_forecast_seconds"] = predicted.seconds if predicted else None
    for name, value in values.items():
        if value is not None:
            Gauge(name, _GAUGES[name], list(labels), registry=registry).labels(**labels).set(value)
    checks = Gauge("drill_check_passed", "1 when the step passed in the last run, else 0",
                   [*labels, "check"], registry=registry)  # fmt: skip
    for step in doc["steps"]:
        checks.labels(**labels, check=step["name"]).set(1.0 if step["status"] == PASSED else 0.0)
    return registry


class PrometheusTextfileSink:
    """``--sink prometheus:path=DIR_OR_FILE``: one ``drill_<scenario>.prom`` per scenario in a
    directory (node_exporter's textfile collector merges them), or exactly the ``.prom`` file named."""

    name = "prometheus"
    SETTINGS = {"path": "node_exporter textfile directory, or a .prom file"}
    REQUIRED = ("path",)

    def write(self, doc: dict[str, Any], context: SinkContext) -> Path:
        from prometheus_client import write_to_textfile

        target = Path(context.settings.of(self.name)["path"])
        if target.suffix != ".prom":
            target.mkdir(parents=True, exist_ok=True)
            target = target / f"drill_{safe_name(doc['scenario']['name'])}.prom"
        write_to_textfile(str(target), registry_for(doc))  # temporary file renamed into place
        return target


class PushgatewaySink:
    """``--sink pushgateway:url_env=VAR`` (or ``url=``): PUT the gauges to a Pushgateway, grouped
    by job and scenario, so each scenario's last run replaces its previous one."""

    name = "pushgateway"
    SETTINGS = {
        "url": "Pushgateway address (host:port or http(s)://host:port)",
        "url_env": "environment variable holding the Pushgateway address",
        "job": "job label (default drill)",
    }

    def write(self, doc: dict[str, Any], context: SinkContext) -> None:
        from prometheus_client import push_to_gateway

        settings = context.settings.of(self.name)
        url = settings.get("url") or os.environ.get(settings.get("url_env", ""), "")
        if not url:
            raise ConfigError("pushgateway: set url= or url_env= (a variable that is set)")
        push_to_gateway(
            url,
            job=settings.get("job", "drill"),
            registry=registry_for(doc),
            grouping_key={"scenario": doc["scenario"]["name"]},
            timeout=10,
        )

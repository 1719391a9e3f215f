"""A stand-in production for an archive drill: another portable-export scenario (export mode, with
``options.offsite``) run as production's nightly job would run it: seed, the application's
heartbeat, export, archive, posture, upload. It writes to the drilling lane's own endpoint, so
within one ``drill run`` the drill finds exactly what the writer left in the bucket; it never runs
against real AWS (the drilling lane refuses) and its work files go with the drill's.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from harness.aws.endpoint import AwsEndpoint
from harness.errors import ConfigError, ProviderError
from harness.evidence import PASSED
from harness.lanes.runner import run_step, start
from harness.portable.lane import PortableExportLane
from harness.portable.options import StandIn
from harness.scenario import load_scenario

#: The production writer's steps: what a nightly export job does.
WRITER_STEPS = ("seed", "export", "archive", "posture", "upload")


def run_stand_in(drill: PortableExportLane, spec: StandIn, endpoint: AwsEndpoint) -> dict[str, Any]:
    """Run the stand-in scenario's writer steps against ``endpoint``; returns what it wrote."""
    path = drill.scenario.resolve(spec.scenario)
    scenario = load_scenario(path)
    where = f"{drill.scenario.path}: options.stand_in.scenario"
    if scenario.lane != "portable-export" or scenario.source.archive is not None:
        raise ConfigError(f"{where}: {path.name} must be a portable-export scenario in export mode")
    options = replace(
        drill.options,
        archive=None,
        work_dir=drill.make_work_dir() / "stand-in",
        extra={**drill.options.extra, "aws_endpoint": endpoint},
    )
    started, evidence = start(PortableExportLane, scenario, options)
    assert isinstance(started, PortableExportLane)
    lane = started
    if lane.opts.offsite is None:
        raise ConfigError(f"{where}: {path.name} has no options.offsite, so it writes no archive offsite")
    verdict = "error"
    try:
        by_name = {s.name: s for s in lane.steps}
        for name in WRITER_STEPS:
            if name == "export" and spec.heartbeat_sql:
                with lane.source_db.connect() as conn:  # the application's heartbeat, just before the export
                    conn.execute(spec.heartbeat_sql.encode())
                    conn.commit()
            run_step(lane, by_name[name], evidence)
            record = evidence.step(name)
            if record.status != PASSED:
                raise ProviderError(
                    f"stand-in {scenario.name}: step {name} {record.status}: {record.message}"
                )
        verdict = "verified"
    finally:
        lane.close(verdict)
    assert lane.offsite is not None
    assert lane.offsite.uploaded is not None
    uploaded = lane.offsite.uploaded
    return {
        "scenario": scenario.name,
        "file": str(path),
        "archive_uri": str(uploaded.uri),
        "version_id": uploaded.version_id,
        "generated_at": uploaded.manifest.get("generated_at"),
        "heartbeat_sql": bool(spec.heartbeat_sql),
        "steps": {s.name: s.status for s in evidence.steps if s.name in WRITER_STEPS},
    }

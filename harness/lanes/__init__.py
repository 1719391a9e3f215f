"""Drill lanes. Each lane is a sequence of named steps; the pytest plugin turns steps into test items."""

from __future__ import annotations

import importlib

from harness.errors import ConfigError
from harness.lanes.base import Lane

# lane name -> "module:Class"; imported lazily so one lane's dependencies never burden another.
LANES: dict[str, str] = {
    "portable-export": "harness.portable.lane:PortableExportLane",
    "least-privilege-gate": "harness.gate.lane:GateLane",
    "pg-roundtrip": "harness.pgdrill.roundtrip:RoundTripLane",
    "pitr": "harness.pgdrill.pitr:PitrLane",
    "pitr-archive": "harness.pgdrill.pitr_archive:PitrArchiveLane",
    "pg-restore-check": "harness.pgdrill.restore_check:RestoreCheckLane",
    "snapshot": "harness.snapshot.lane:SnapshotLane",
}


def lane_class(name: str, source: str = "scenario") -> type[Lane]:
    try:
        target = LANES[name]
    except KeyError:
        known = ", ".join(sorted(LANES))
        raise ConfigError(f"{source}: unknown lane {name!r} (known lanes: {known})") from None
    module_name, _, class_name = target.partition(":")
    cls: type[Lane] = getattr(importlib.import_module(module_name), class_name)
    return cls

"""``drill plan PATH [--matrix]``: the scenarios a run would execute, or a GitHub Actions matrix of them.

A fleet (many databases or buckets) is many scenario files; ``--matrix`` prints
``{"include": [{"id": ..., "scenario": ..., "name": ..., "lane": ...}]}`` on one line for
``$GITHUB_OUTPUT``, one entry per scenario with a stable id (the scenario's name, which the ledger
also keys on; two scenarios with one name are an error). Each matrix job runs ``drill run
<scenario>``; ``drill evidence merge`` builds the fleet's scorecard from their evidence.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from harness.commands import AddCommand
from harness.errors import EXIT_VERIFIED, ConfigError


def scenario_files(path: Path) -> list[Path]:
    """Scenario files at ``path`` by the plugin's rule (every ``*.yaml``/``*.yml`` under a
    ``scenarios`` directory; one that is not a scenario fails its load), sorted as pytest collects them."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ConfigError(f"{path}: no such scenario file or directory")
    found = [
        p
        for p in sorted(path.rglob("*"))
        if p.suffix in (".yaml", ".yml") and "scenarios" in p.resolve().parts
    ]
    if not found:
        raise ConfigError(f"{path}: no scenario files (scenarios are *.yaml under a 'scenarios' directory)")
    return found


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def cmd_plan(args: argparse.Namespace) -> int:
    from harness.lanes import lane_class
    from harness.scenario import load_scenario

    entries = []
    seen: dict[str, str] = {}
    for raw in args.paths:
        for path in scenario_files(Path(raw)):
            scenario = load_scenario(path)
            if scenario.name in seen and seen[scenario.name] != _shown(path):
                raise ConfigError(
                    f"{path}: scenario name {scenario.name!r} is also used by {seen[scenario.name]}"
                )
            if scenario.name in seen:
                continue
            seen[scenario.name] = _shown(path)
            entries.append((scenario, path, lane_class(scenario.lane, str(path))))
    if args.matrix:
        include = [
            {"id": s.name, "scenario": _shown(p), "name": s.name, "lane": s.lane} for s, p, _ in entries
        ]
        print(json.dumps({"include": include}, separators=(",", ":")))
        return EXIT_VERIFIED
    for scenario, path, cls in entries:
        print(f"{scenario.name} ({scenario.lane}) — {_shown(path)}")
        for spec in cls.steps:
            needs = f"  after {', '.join(spec.needs)}" if spec.needs else ""
            print(f"  {'*' if spec.data_proving else '-'} {spec.name}{needs}")
    print(f"{len(entries)} scenario(s); * marks data-proving steps")
    return EXIT_VERIFIED


def register(add: AddCommand) -> None:
    p = add("plan", cmd_plan, "list the scenarios and steps a run would execute (--matrix: a CI matrix)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="scenario files or directories")
    p.add_argument("--matrix", action="store_true", help="print a GitHub Actions matrix (JSON, one line)")

"""Validation speed on a foreign export against the harness's own format, same data, same size.

Figures, not assertions. One embedded cluster seeds the reference dataset and the harness exports it
(contract version 1). The export is then rewritten the way another application would have written
it: camelCase field names in the store's own key order, ``json.dumps`` spacing, a manifest listing
its files as objects with counts and bare-hex checksums, a numeric format version, an epoch
generated-at, plain names for omitted entities and ``entity.field`` redactions, and arrays of ids as
``field[]`` paths. A version-2 contract describing it is derived from the reference contract. Both
exports are validated alternately (``--repeat`` times each, median reported) in the same run, with
the load average, so the ratio holds on a shared machine.

    python benchmarks/foreign_bench.py [--rows 1000000] [--repeat 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.dataset.generator import seed_dataset
from harness.portable.contract import Contract, load_contract
from harness.portable.export import SourceInfo, export
from harness.portable.validate.validator import validate_export
from harness.postgres.database import create_database
from harness.postgres.embedded import embedded_postgres

REFERENCE = ROOT / "fixtures" / "contracts" / "reference" / "contract.yaml"


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _schema(ent_schema: dict[str, Any]) -> dict[str, Any]:
    out = dict(ent_schema)
    out["properties"] = {camel(k): v for k, v in ent_schema["properties"].items()}
    if "required" in ent_schema:
        out["required"] = [camel(k) for k in ent_schema["required"]]
    out.pop("$id", None)
    return out


def foreign_contract(contract: Contract, raw: dict[str, Any]) -> dict[str, Any]:
    """The reference contract as version 2 for the restyled export."""
    entities = []
    for ent, src in zip(contract.entities, raw["entities"], strict=True):
        refs, groups = [], []
        for rel in src.get("relationships", []):
            if "at_least_one_of" in rel:
                groups.append([camel(f) for f in rel["at_least_one_of"]])
                continue
            path = camel(rel["field"]) + ("[]" if rel.get("array") else "")
            refs.append({"field": path, "entity": rel["references"], "nullable": bool(rel.get("nullable"))})
        entity: dict[str, Any] = {
            "name": ent.name,
            "primary_key": camel(ent.primary_key),
            "schema": _schema(ent.schema),
            "timestamps": {camel(f): "rfc3339" for f in ent.timestamps},
        }
        if ent.redact:
            entity["redact"] = [camel(f) for f in ent.redact]
        if ent.enums:
            entity["enums"] = {camel(k): list(v) for k, v in ent.enums.items()}
        if ent.column_types:
            entity["column_types"] = {camel(k): v for k, v in ent.column_types.items()}
        if refs:
            entity["references"] = refs
        if groups:
            entity["at_least_one_of"] = groups
        if ent.secret_allow_fields:
            entity["secret_scan"] = {"allow_fields": [camel(f) for f in ent.secret_allow_fields]}
        entities.append(entity)
    return {
        "contract_version": 2,
        "name": "reference-foreign",
        "schema_version": int(contract.schema_version.split("-")[0]),  # a number, as the manifest has
        "manifest": {
            "schema_version": {"field": "formatVersion"},
            "generated_at": {"field": "exportedAtMs", "form": "epoch_ms"},
            "files": {"field": "files", "shape": "list", "entity": "kind", "file": "path", "count": "n",
                      "checksum": "digest"},
            "checksum_format": "hex",
            "omitted": {"field": "skipped", "shape": "names"},
            "redactions": {"field": "redacted", "shape": "dotted"},
            "extra_fields": ["producer"],
        },
        "entities": entities,
        "omitted": [{"entity": o.entity, "reason": o.reason} for o in contract.omitted],
    }  # fmt: skip


def restyle(contract: Contract, source: Path, dest: Path) -> int:
    """Rewrite the harness export as a foreign application would have written it; bytes written."""
    dest.mkdir(parents=True)
    files, size = [], 0
    for ent in contract.entities:
        digest, count = hashlib.sha256(), 0
        with (source / ent.file).open("rb") as fh, (dest / ent.file).open("wb") as out:
            for line in fh:
                record = orjson.loads(line)
                keys = sorted(record, key=lambda k: (k != ent.primary_key, len(k), k))  # the store's order
                data = json.dumps({camel(k): record[k] for k in keys}, ensure_ascii=False).encode() + b"\n"
                digest.update(data)
                out.write(data)
                count, size = count + 1, size + len(data)
        files.append({"kind": ent.name, "path": ent.file, "n": count, "digest": digest.hexdigest()})
    manifest = {
        "formatVersion": int(contract.schema_version.split("-")[0]),
        "exportedAtMs": int(time.time() * 1000) - 60_000,
        "files": files,
        "skipped": [o.entity for o in contract.omitted],
        "redacted": [f"{e.name}.{camel(f)}" for e in contract.entities for f in e.redact],
        "producer": {"name": "restyle", "version": "1"},
    }
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return size


def _validate(contract: Contract, export_dir: Path, scratch: Path) -> tuple[float, int, int]:
    started = time.perf_counter()
    report = validate_export(contract, export_dir, scratch_dir=scratch)
    return time.perf_counter() - started, report.records_checked, len(report.findings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the reference dataset")
    parser.add_argument("--repeat", type=int, default=3, help="validations of each export (median)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="foreign-bench-"))
    try:
        v1 = load_contract(REFERENCE)
        with embedded_postgres() as cluster:
            source = create_database(cluster.database(), "bench_source")
            seed_dataset(source, args.rows, seed=7)
            harness_dir = export(source, v1, work / "harness", SourceInfo.from_env("bench")).directory
        raw = yaml.safe_load(REFERENCE.read_text())
        for ent in raw["entities"]:
            ent.pop("source", None)
        contract_path = work / "foreign.yaml"
        contract_path.write_text(yaml.safe_dump(foreign_contract(v1, raw), sort_keys=False))
        v2 = load_contract(contract_path)
        foreign_bytes = restyle(v1, harness_dir, work / "foreign")
        harness_bytes = sum((harness_dir / e.file).stat().st_size for e in v1.entities)

        times: dict[str, list[float]] = {"harness": [], "foreign": []}
        checked: dict[str, tuple[int, int]] = {}
        for _ in range(args.repeat):
            for name, contract, where in (("harness", v1, harness_dir), ("foreign", v2, work / "foreign")):
                seconds, records, findings = _validate(contract, where, work)
                times[name].append(seconds)
                checked[name] = (records, findings)
        load = os.getloadavg()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    result: dict[str, Any] = {"rows_seeded": args.rows, "load_average": [round(x, 2) for x in load]}
    for name, size in (("harness", harness_bytes), ("foreign", foreign_bytes)):
        median = statistics.median(times[name])
        records, findings = checked[name]
        result[name] = {
            "records": records,
            "findings": findings,
            "bytes": size,
            "seconds_median": round(median, 2),
            "seconds_all": [round(t, 2) for t in times[name]],
            "records_per_second": round(records / median),
        }
    result["foreign_over_harness_rate"] = round(
        result["foreign"]["records_per_second"] / result["harness"]["records_per_second"], 3
    )
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0 if result["harness"]["findings"] == result["foreign"]["findings"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())

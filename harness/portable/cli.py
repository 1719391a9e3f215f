"""Commands of the portable-export lane: ``drill export|archive|validate|dry-run|restore|seed|bench``.

Exit codes: 0 verified, 1 ran but not verified, 2 could not run. Databases are named by the
environment variable holding their DSN (``--dsn-env``), never by a DSN on the command line.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from harness.errors import EXIT_NOT_VERIFIED, EXIT_VERIFIED

if TYPE_CHECKING:
    from harness.commands import AddCommand


def _print(message: str) -> None:
    sys.stdout.write(message + "\n")


def _database(var: str | None, environment: str | None, what: str) -> Any:
    from harness.errors import ConfigError
    from harness.postgres.external import external_database

    if not var:
        raise ConfigError(f"--{what}-dsn-env is required: name the environment variable holding the DSN")
    dsn = os.environ.get(var)
    if not dsn:
        raise ConfigError(f"environment variable {var} (the {what} DSN) is not set")
    return external_database(dsn, environment=environment, source=f"${var}")


@contextlib.contextmanager
def _export_dir(path: str | Path, work_dir: Path, *, keep: bool = False) -> Iterator[Path]:
    """An export directory as given, or a safely extracted copy of an archive (local or s3://)
    that is removed afterwards unless ``keep`` (a failed extraction never leaves one). A fetched
    archive stays: it is complete and checksum-verified, and fetching it again costs a download."""
    from harness.archive import extract_archive
    from harness.errors import ConfigError

    made: list[Path] = []
    try:
        if isinstance(path, str) and path.startswith("s3://"):
            from harness.offsite.fetch import fetch_uri  # checksum-verified download into work_dir

            path = fetch_uri(path, work_dir)
        path = Path(path)
        if path.is_dir():
            yield path
            return
        if not path.is_file():
            raise ConfigError(f"{path}: no such export directory or archive")
        dest = work_dir / f"{path.name.split('.')[0]}-{secrets.token_hex(4)}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        made.append(dest)
        yield extract_archive(path, dest)
    finally:
        if not keep:
            for done in made:
                shutil.rmtree(done, ignore_errors=True)


@contextlib.contextmanager
def _validated(args: argparse.Namespace) -> Iterator[tuple[Any, Path, Any]]:
    from harness.portable.contract import load_contract
    from harness.portable.validate.validator import validate_export

    contract = load_contract(args.contract)
    with _export_dir(args.export, Path(args.work_dir), keep=args.keep_extracted) as export_dir:
        report = validate_export(contract, export_dir, scratch_dir=Path(args.work_dir))
        yield contract, export_dir, report


def _emit(args: argparse.Namespace, data: dict[str, Any]) -> None:
    if getattr(args, "json", False):
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def cmd_export(args: argparse.Namespace) -> int:
    from harness.archive import create_archive
    from harness.portable.contract import load_contract
    from harness.portable.export import SourceInfo, export

    contract = load_contract(args.contract)
    db = _database(args.dsn_env, args.environment, "source")
    info = SourceInfo.from_env(
        args.environment or db.environment, stack=args.stack or "", region=args.region or ""
    )
    result = export(db, contract, Path(args.out), info)
    _print(f"exported {result.rows} records into {result.directory} in {result.seconds:.1f}s")
    if args.archive:
        archive = create_archive(result.directory, Path(args.archive))
        _print(f"archive {archive.path} ({archive.size_bytes} bytes, sha256 {archive.sha256})")
    _emit(args, result.manifest)
    return EXIT_VERIFIED


def cmd_archive(args: argparse.Namespace) -> int:
    from harness.archive import create_archive

    src = Path(args.export_dir)
    suffix = ".tar.zst" if args.compression == "zstd" else ".tar.gz"
    dest = Path(args.output or f"{src.name}{suffix}")
    info = create_archive(src, dest, compression=args.compression)
    _print(
        f"{info.path}: {len(info.members)} members, {info.size_bytes} bytes ({info.compression}), "
        f"sha256 {info.sha256}"
    )
    return EXIT_VERIFIED


def cmd_validate(args: argparse.Namespace) -> int:
    with _validated(args) as (_, _export, report):
        pass
    for finding in report.findings[: args.max_findings]:
        _print(str(finding))
    verdict = "valid" if report.ok else f"NOT valid: {report.error_count} error(s)"
    warnings = report.severity_counts["warning"]
    verdict += f", {warnings} warning(s)" if warnings else ""
    _print(f"{args.export}: {report.records_checked} records checked in {report.seconds:.1f}s — {verdict}")
    _emit(args, report.summary(args.max_findings))
    return EXIT_VERIFIED if report.ok else EXIT_NOT_VERIFIED


def cmd_dry_run(args: argparse.Namespace) -> int:
    from harness.portable.dryrun import dry_run

    with _validated(args) as (contract, export_dir, report):
        target = _database(args.target_dsn_env, args.target_environment, "target")
        result = dry_run(target, contract, export_dir, report)
    data = result.to_dict()
    _print(
        f"dry run against {target.label}: would insert {data['would_insert']}, "
        f"update {data['would_update']}, skip {data['skipped']}, invalid {data['invalid']}; "
        f"zero writes proven: {result.zero_writes_proven}"
    )
    _emit(args, {"validation": report.summary(), "dry_run": data})
    return EXIT_VERIFIED if report.ok and result.zero_writes_proven else EXIT_NOT_VERIFIED


def cmd_restore(args: argparse.Namespace) -> int:
    from harness.portable.restore import restore

    with _validated(args) as (contract, export_dir, report):
        target = _database(args.target_dsn_env, args.target_environment, "target")
        if not report.ok:
            for finding in report.findings[:20]:
                _print(str(finding))
        try:
            result = restore(target, contract, export_dir, report, approval_reference=args.approve_production)
        except Exception as exc:
            if args.evidence_dir:
                _restore_evidence(args, report, target, None, exc)
            raise
    data = result.to_dict()
    if args.evidence_dir:
        _print(f"evidence: {_restore_evidence(args, report, target, result, None)}")
    _print(
        f"restored into {target.label}: inserted {data['inserted']}, updated {data['updated']} "
        f"in {result.seconds:.1f}s"
        + (f" (approval {args.approve_production})" if args.approve_production else "")
    )
    _emit(args, data)
    return EXIT_VERIFIED


def cmd_compare(args: argparse.Namespace) -> int:
    from harness.portable.compare import compare_exports, compare_manifests
    from harness.portable.export import SourceInfo, export

    with _validated(args) as (contract, export_dir, report):
        if not report.ok:
            _print(f"{args.export}: NOT valid ({report.error_count} error(s)); run drill validate first")
            return EXIT_NOT_VERIFIED
        target = _database(args.target_dsn_env, args.target_environment, "target")
        again_dir = Path(args.work_dir) / f"reexport-{secrets.token_hex(4)}"
        try:
            again = export(target, contract, again_dir, SourceInfo.from_env(target.environment))
            if contract.version >= 2:
                result = compare_exports(contract, export_dir, again.directory)
            else:
                result = compare_manifests(report.manifest, again.manifest)
        finally:
            shutil.rmtree(again_dir, ignore_errors=True)
    for name, entry in result["entities"].items():
        if not entry["match"]:
            _print(f"{name}: differs ({entry['source_count']} source, {entry['restored_count']} restored)")
    verdict = "the target holds the export's records" if result["passed"] else "NOT equal"
    _print(f"compare {args.export} with {target.label}: {verdict}")
    _emit(args, result)
    return EXIT_VERIFIED if result["passed"] else EXIT_NOT_VERIFIED


def cmd_target_schema(args: argparse.Namespace) -> int:
    from harness.portable.contract import load_contract
    from harness.portable.target_schema import schema_ddl

    for statement in schema_ddl(load_contract(args.contract)):
        _print(statement.as_string(None) + ";")
    return EXIT_VERIFIED


def _restore_evidence(
    args: argparse.Namespace, report: Any, target: Any, result: Any, error: BaseException | None
) -> Path:
    """An evidence document for a restore by hand (``--evidence-dir``): the archive, the validation,
    the target and the restore with its approval reference (``restore.approval_reference``)."""
    from harness.errors import first_line
    from harness.evidence import ERROR, FAILED, PASSED, SKIPPED, Evidence, write_evidence

    name = "production-restore" if args.approve_production else "restore"
    evidence = Evidence(scenario={"name": name, "file": "command line", "lane": "restore"})
    validated = evidence.add_step("validate", data_proving=True)
    validated.status = PASSED if report.ok else FAILED
    validated.message = f"{report.records_checked} records checked, {report.error_count} finding(s)"
    restored = evidence.add_step("restore", data_proving=False)
    if result is not None:
        written = (sum(result.inserted.values()), sum(result.updated.values()))
        restored.status, restored.message = PASSED, f"inserted {written[0]}, updated {written[1]}"
    elif error is not None:
        restored.status, restored.message = ERROR, first_line(error)
    else:
        restored.status = SKIPPED
    evidence.sections.update(
        source={"archive": {"uri": str(args.export)}},
        target={"environment": target.environment, "database": target.describe()},
        validation=report.summary(),
        restore=result.to_dict()
        if result is not None
        else {"inserted": 0, "updated": 0, "approval_reference": args.approve_production},
    )
    json_path, _ = write_evidence(evidence.finish(), Path(args.evidence_dir))
    return json_path


def cmd_seed(args: argparse.Namespace) -> int:
    from harness.dataset.generator import seed_dataset
    from harness.portable.restore import check_write_allowed

    db = _database(args.dsn_env, args.environment, "target")
    check_write_allowed(db, None)
    counts = seed_dataset(db, args.rows, seed=args.seed)
    _print(f"seeded {sum(counts.values())} rows into {db.label}: {counts}")
    return EXIT_VERIFIED


def cmd_bench(args: argparse.Namespace) -> int:
    from harness.portable.bench import run_benchmark

    results = run_benchmark(args.rows, work_dir=Path(args.work_dir), compare=args.compare)
    _emit(args, results)
    return EXIT_VERIFIED


def contract_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "export",
        help="an export directory, a .tar.gz or .tar.zst archive or an s3:// archive URI (fetched, verified, "
        "extracted safely)",
    )
    p.add_argument("--contract", required=True, help="export contract YAML")
    p.add_argument("--work-dir", default=".tmp/exports", help="where archives are extracted")
    p.add_argument(
        "--keep-extracted",
        action="store_true",
        help="keep the extracted copy of an archive (removed by default, also on failure)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON summary")


def target_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--target-dsn-env", required=True, metavar="VAR", help="env variable holding the target DSN"
    )
    p.add_argument("--target-environment", help="declare the target's environment (undeclared = production)")


def register(add: AddCommand) -> None:
    """Add the portable lane's commands to the command line."""
    exp = add("export", cmd_export, "export a database to JSONL + manifest.json per an export contract")
    exp.add_argument("--contract", required=True)
    exp.add_argument("--dsn-env", required=True, metavar="VAR", help="env variable holding the source DSN")
    exp.add_argument("--environment", help="source environment recorded in the manifest")
    exp.add_argument("--stack")
    exp.add_argument("--region")
    exp.add_argument("--out", required=True, help="export directory to create (never overwritten)")
    exp.add_argument(
        "--archive",
        metavar="FILE",
        help="also pack the export into this archive (.tar.gz; .tar.zst for zstd, docs/archive-format.md)",
    )
    exp.add_argument("--json", action="store_true", help="print the manifest")

    arc = add("archive", cmd_archive, "pack an export directory into a deterministic .tar.gz (or .tar.zst)")
    arc.add_argument("export_dir")
    arc.add_argument(
        "-o", "--output", help="archive path (default: <dir>.tar.gz; a .tar.zst/.tzst name means zstd)"
    )
    arc.add_argument(
        "--compression",
        choices=["gzip", "zstd"],
        help="gzip (default; any gunzip reads it) or zstd (opt-in; needs zstd >= 1.0 to read); "
        "by default the output name decides",
    )

    val = add("validate", cmd_validate, "validate an export against its contract (every R3 rule)")
    contract_args(val)
    val.add_argument("--max-findings", type=int, default=50, help="findings to print (default 50)")

    dry = add("dry-run", cmd_dry_run, "what an import would do to a target, proven to write nothing")
    contract_args(dry)
    target_args(dry)

    res = add(
        "restore", cmd_restore, "import a validated export into a target (explicit; production is gated)"
    )
    contract_args(res)
    target_args(res)
    res.add_argument(
        "--approve-production", metavar="REF", help="human approval reference for a production target"
    )
    res.add_argument(
        "--evidence-dir",
        metavar="DIR",
        help="also write an evidence document (JSON + Markdown) here, the approval reference included",
    )

    cmp = add(
        "compare",
        cmd_compare,
        "re-export a restored target and compare it with the export (byte for byte for the harness's "
        "own format, record for record for a version-2 contract)",
    )
    contract_args(cmp)
    target_args(cmp)

    ddl = add(
        "target-schema",
        cmd_target_schema,
        "print the CREATE TABLE statements a contract describes (what target.schema_sql: contract runs)",
    )
    ddl.add_argument("--contract", required=True, help="export contract YAML")

    seed = add("seed", cmd_seed, "fill a (non-production) database with the reference dataset")
    seed.add_argument("--dsn-env", required=True, metavar="VAR")
    seed.add_argument("--environment", help="declare the database's environment (undeclared = production)")
    seed.add_argument("--rows", type=int, default=10_000)
    seed.add_argument("--seed", type=int, default=42)

    bench = add(
        "bench",
        cmd_bench,
        "measure export/archive/validate/dry-run/restore throughput on embedded PostgreSQL "
        "(targets live here, never in tests; quote ratios from one run with its load average)",
    )
    bench.add_argument(
        "--rows", type=int, default=1_000_000, help="reference dataset rows to seed (default 1000000)"
    )
    bench.add_argument(
        "--work-dir",
        default=".tmp/bench",
        help="scratch directory for the cluster and exports (default .tmp/bench)",
    )
    bench.add_argument(
        "--compare",
        action="store_true",
        help="also time each stage's raw limit on the same data (COPY out, COPY into jsonb, orjson "
        "parse, sha256, zlib/gzip/pigz/zstd where installed) and print the ratios",
    )
    bench.add_argument("--json", action="store_true", help="print the figures as one JSON object")

"""The ``drill`` command. Exit codes: 0 verified, 1 ran but not verified, 2 could not run."""

from __future__ import annotations

import argparse
import importlib
import os
import secrets
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from harness import __version__
from harness.errors import (
    EXIT_COULD_NOT_RUN,
    EXIT_NOT_VERIFIED,
    EXIT_VERIFIED,
    DrillError,
    VerificationFailed,
)

DEFAULT_SCENARIOS = "scenarios/weekly"

#: Modules that contribute subcommands. Each defines ``register(add: AddCommand) -> None`` and
#: keeps its top-level imports light (heavy imports go inside the command function).
COMMAND_MODULES: tuple[str, ...] = (
    "harness.gate.cli",
    "harness.offsite.cli",
    "harness.pgdrill.cli",
    "harness.snapshot.cli",
)

#: ``add(name, func, help)`` creates a subcommand parser whose ``func(args)`` returns an exit code.
AddCommand = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]
EPILOG = """\
exit codes: 0 verified, 1 the drill ran and verification failed, 2 the drill could not run.

examples:
  drill run                                   # every scenario in scenarios/weekly on embedded PostgreSQL
  drill run scenarios/weekly -k validate      # only the validate steps (earlier steps are skipped)
  drill export --contract fixtures/contracts/reference/contract.yaml --dsn-env APP_DSN --out ./export
  drill archive ./export -o export.tar.gz
  drill validate export.tar.gz --contract fixtures/contracts/reference/contract.yaml
  drill dry-run export.tar.gz --contract ... --target-dsn-env SCRATCH_DSN
  drill restore export.tar.gz --contract ... --target-dsn-env SCRATCH_DSN --target-environment scratch
  drill run --aws-provider localstack          # the same drills against a LocalStack endpoint
  drill posture s3://my-backups/portable-export   # is the archive bucket as production needs it?
  drill validate s3://my-backups/path/to/export.tar.gz --contract ...   # fetched, verified first
  drill pg-restore-check nightly.dump --min-rows users=1000             # drill your own pg_dump -Fc
  drill snapshot verify SNAPSHOT_ID --config snap.yaml --sample 50 --seed 7
  drill gate infra/deploy-role.yaml .github/workflows/deploy.yml        # least-privilege PR gate

Databases are given by the *name* of an environment variable holding the DSN (--dsn-env), so
passwords never appear on the command line or in shell history.
"""


def _print(message: str) -> None:
    sys.stdout.write(message + "\n")


def _error(message: str) -> None:
    sys.stderr.write(f"drill: {message}\n")


# -- helpers --------------------------------------------------------------------------------------
def _database(var: str | None, environment: str | None, what: str) -> Any:
    from harness.errors import ConfigError
    from harness.postgres.embedded import external_database

    if not var:
        raise ConfigError(f"--{what}-dsn-env is required: name the environment variable holding the DSN")
    dsn = os.environ.get(var)
    if not dsn:
        raise ConfigError(f"environment variable {var} (the {what} DSN) is not set")
    return external_database(dsn, environment=environment, source=f"${var}")


def _export_dir(path: str | Path, work_dir: Path) -> Path:
    """An export directory as given, or a safely extracted copy of an archive (local or s3://)."""
    from harness.archive import extract_archive
    from harness.errors import ConfigError

    if isinstance(path, str) and path.startswith("s3://"):
        from harness.offsite.cli import fetch_uri  # checksum-verified download into work_dir

        path = fetch_uri(path, work_dir)
    path = Path(path)
    if path.is_dir():
        return path
    if not path.is_file():
        raise ConfigError(f"{path}: no such export directory or archive")
    dest = work_dir / f"{path.name.split('.')[0]}-{secrets.token_hex(4)}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    return extract_archive(path, dest)


def _validated(args: argparse.Namespace) -> tuple[Any, Path, Any]:
    from harness.portable.contract import load_contract
    from harness.portable.validate.validator import validate_export

    contract = load_contract(args.contract)
    export_dir = _export_dir(args.export, Path(args.work_dir))
    report = validate_export(contract, export_dir, scratch_dir=Path(args.work_dir))
    return contract, export_dir, report


def _emit(args: argparse.Namespace, data: dict[str, Any]) -> None:
    if getattr(args, "json", False):
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


# -- commands -------------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    import pytest

    paths = args.paths or [DEFAULT_SCENARIOS]
    for p in paths:
        if not Path(p.split("::")[0]).exists():
            _error(f"{p}: no such scenario file or directory")
            return EXIT_COULD_NOT_RUN
    argv = [*paths, "-p", "no:cacheprovider", "-o", "python_files=__no_python_tests__"]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        argv += ["-p", "harness.plugin"]
    if args.k:
        argv += ["-k", args.k]
    for opt in ("evidence_dir", "work_dir", "pg_provider", "aws_provider", "dataset_rows", "junitxml"):
        value = getattr(args, opt)
        if value is not None:
            argv += [f"--{opt.replace('_', '-')}", str(value)]
    if args.keep_workdir:
        argv.append("--keep-workdir")
    argv += ["-v"] if args.verbose else []
    argv += args.pytest_args
    code = int(pytest.main(argv))
    if code == 5:
        _error(
            f"no scenario files found under {', '.join(paths)} (scenarios are *.yaml under a 'scenarios' dir)"
        )
        return EXIT_COULD_NOT_RUN
    return code if code in (0, 1, 2) else EXIT_COULD_NOT_RUN


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
    dest = Path(args.output or f"{src.name}.tar.gz")
    info = create_archive(src, dest)
    _print(f"{info.path}: {len(info.members)} members, {info.size_bytes} bytes, sha256 {info.sha256}")
    return EXIT_VERIFIED


def cmd_validate(args: argparse.Namespace) -> int:
    _, export_dir, report = _validated(args)
    for finding in report.findings[: args.max_findings]:
        _print(str(finding))
    verdict = "valid" if report.ok else f"NOT valid: {report.error_count} finding(s)"
    _print(f"{export_dir}: {report.records_checked} records checked in {report.seconds:.1f}s — {verdict}")
    _emit(args, report.summary(args.max_findings))
    return EXIT_VERIFIED if report.ok else EXIT_NOT_VERIFIED


def cmd_dry_run(args: argparse.Namespace) -> int:
    from harness.portable.dryrun import dry_run

    contract, export_dir, report = _validated(args)
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

    contract, export_dir, report = _validated(args)
    target = _database(args.target_dsn_env, args.target_environment, "target")
    if not report.ok:
        for finding in report.findings[:20]:
            _print(str(finding))
    result = restore(target, contract, export_dir, report, approval_reference=args.approve_production)
    data = result.to_dict()
    _print(
        f"restored into {target.label}: inserted {data['inserted']}, updated {data['updated']} "
        f"in {result.seconds:.1f}s"
        + (f" (approval {args.approve_production})" if args.approve_production else "")
    )
    _emit(args, data)
    return EXIT_VERIFIED


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

    results = run_benchmark(args.rows, work_dir=Path(args.work_dir))
    _emit(args, results)
    return EXIT_VERIFIED


# -- parser ---------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drill",
        description="Prove that backups really restore: run drills, validate exports, dry-run and restore.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"drill-harness {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, func: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    run = add("run", cmd_run, "run drill scenarios (pytest underneath) and write evidence to reports/")
    run.add_argument("paths", nargs="*", help=f"scenario files or directories (default: {DEFAULT_SCENARIOS})")
    run.add_argument("-k", metavar="EXPR", help="only steps matching the pytest -k expression")
    run.add_argument("--evidence-dir", help="where evidence goes (default: reports)")
    run.add_argument("--work-dir", help="drill work files (default: .tmp/exports)")
    run.add_argument(
        "--pg-provider", choices=["embedded", "external", "docker"], help="override the PostgreSQL provider"
    )
    run.add_argument(
        "--aws-provider",
        choices=["embedded", "localstack", "aws"],
        help="override every scenario's AWS endpoint provider (offsite archive)",
    )
    run.add_argument("--dataset-rows", type=int, help="override the seeded dataset size")
    run.add_argument("--junitxml", help="also write JUnit XML here")
    run.add_argument("--keep-workdir", action="store_true", help="keep work files even when verified")
    run.add_argument("-v", "--verbose", action="store_true", help="list every step")
    run.add_argument("pytest_args", nargs=argparse.REMAINDER, help="after --: passed to pytest unchanged")

    def contract_args(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "export",
            help="an export directory, a .tar.gz archive or an s3:// archive URI (fetched, verified, "
            "extracted safely)",
        )
        p.add_argument("--contract", required=True, help="export contract YAML")
        p.add_argument("--work-dir", default=".tmp/exports", help="where archives are extracted")
        p.add_argument("--json", action="store_true", help="print a JSON summary")

    def target_args(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--target-dsn-env", required=True, metavar="VAR", help="env variable holding the target DSN"
        )
        p.add_argument(
            "--target-environment", help="declare the target's environment (undeclared = production)"
        )

    exp = add("export", cmd_export, "export a database to JSONL + manifest.json per an export contract")
    exp.add_argument("--contract", required=True)
    exp.add_argument("--dsn-env", required=True, metavar="VAR", help="env variable holding the source DSN")
    exp.add_argument("--environment", help="source environment recorded in the manifest")
    exp.add_argument("--stack")
    exp.add_argument("--region")
    exp.add_argument("--out", required=True, help="export directory to create (never overwritten)")
    exp.add_argument("--archive", metavar="FILE", help="also pack the export into this .tar.gz")
    exp.add_argument("--json", action="store_true", help="print the manifest")

    arc = add("archive", cmd_archive, "pack an export directory into a deterministic .tar.gz")
    arc.add_argument("export_dir")
    arc.add_argument("-o", "--output", help="archive path (default: <dir>.tar.gz)")

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

    seed = add("seed", cmd_seed, "fill a (non-production) database with the reference dataset")
    seed.add_argument("--dsn-env", required=True, metavar="VAR")
    seed.add_argument("--environment", help="declare the database's environment (undeclared = production)")
    seed.add_argument("--rows", type=int, default=10_000)
    seed.add_argument("--seed", type=int, default=42)

    bench = add(
        "bench", cmd_bench, "measure export/archive/validate/dry-run throughput on embedded PostgreSQL"
    )
    bench.add_argument("--rows", type=int, default=1_000_000)
    bench.add_argument("--work-dir", default=".tmp/bench")
    bench.add_argument("--json", action="store_true")

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "pytest_args", None) and args.pytest_args[0] == "--":
        args.pytest_args = args.pytest_args[1:]
    try:
        code: int = args.func(args)
    except DrillError as exc:
        _error(str(exc))
        return exc.exit_code
    except VerificationFailed as exc:
        _error(f"verification failed: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_COULD_NOT_RUN
    return code


if __name__ == "__main__":
    sys.exit(main())

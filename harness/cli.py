"""The ``drill`` command. Exit codes: 0 verified, 1 ran but not verified, 2 could not run."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from harness import __version__
from harness.aws.providers import AWS_PROVIDERS
from harness.commands import COMMAND_MODULES
from harness.errors import (
    EXIT_COULD_NOT_RUN,
    DrillError,
    VerificationFailed,
    describe_unexpected,
)
from harness.postgres.providers import PG_PROVIDERS

DEFAULT_SCENARIOS = "scenarios/weekly"

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
  drill run scenarios/weekly/portable-archive.yaml --archive s3://prod-backups/portable-export/ \
      --aws-provider aws                      # drill the newest archive production wrote
  drill posture s3://my-backups/portable-export   # is the archive bucket as production needs it?
  drill validate s3://my-backups/path/to/export.tar.gz --contract ...   # fetched, verified first
  drill pg-restore-check nightly.dump --min-rows users=1000             # drill your own pg_dump -Fc
  drill snapshot verify SNAPSHOT_ID --config snap.yaml --sample 50 --seed 7
  drill gate infra/deploy-role.yaml .github/workflows/deploy.yml        # least-privilege PR gate
  drill run -n auto --sign-key-env DRILL_SIGNING_KEY --sink prometheus:path=/var/lib/node_exporter
  drill evidence verify --ledger reports --key drill-signing.pub --expect-every 7d
  drill evidence controls --ledger reports --key drill-signing.pub --format markdown

Databases are given by the *name* of an environment variable holding the DSN (--dsn-env), so
passwords never appear on the command line or in shell history.
"""


def _error(message: str) -> None:
    sys.stderr.write(f"drill: {message}\n")


# -- commands -------------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    paths = args.paths or [DEFAULT_SCENARIOS]
    for p in paths:
        if not Path(p.split("::")[0]).exists():
            _error(f"{p}: no such scenario file or directory")
            return EXIT_COULD_NOT_RUN
    argv = [*paths, "-p", "no:cacheprovider", "-o", "python_files=__no_python_tests__"]
    if args.pg_provider in (None, "embedded") and _may_use_postgres(paths):
        # initdb of the embedded template (about a second) runs while pytest loads and collects;
        # with -n this process is the xdist controller and hands the template to its workers
        argv.append("--prewarm-postgres")
        from harness.postgres.embedded import prewarm_template

        prewarm_template()
    import pytest

    # Scenario steps need neither assertion rewriting of the harness (pytest would compile every
    # harness module again) nor hypothesis's report hook (it imports hypothesis at the end): ~1 s.
    argv += ["--assert=plain", "-p", "no:hypothesispytest"]
    # Nor pytest-benchmark, platformdirs' fixtures or xdist's looponfail, when installed (~0.15 s a
    # process, and -n starts one per worker), nor pytest's unraisable-exception warnings, whose five
    # gc.collect() at the end of each process cost ~0.35 s there (drill steps raise their errors).
    argv += ["-p", "no:benchmark", "-p", "no:platformdirs", "-p", "no:xdist.looponfail"]
    argv += ["-p", "no:unraisableexception"]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        argv += ["-p", "harness.plugin"]
    if args.k:
        argv += ["-k", args.k]
    for opt in (
        "evidence_dir",
        "work_dir",
        "pg_provider",
        "aws_provider",
        "dataset_rows",
        "junitxml",
        "archive",
    ):
        value = getattr(args, opt)
        if value is not None:
            argv += [f"--{opt.replace('_', '-')}", str(value)]
    if args.keep_workdir:
        argv.append("--keep-workdir")
    if args.sign_key_env:
        argv += ["--sign-key-env", args.sign_key_env]
    for spec in args.sink or []:
        argv += ["--sink", spec]
    if args.workers is not None:
        workers = _workers(args.workers)
        if workers is None:
            return EXIT_COULD_NOT_RUN
        argv += workers
    argv += ["-v"] if args.verbose else []
    argv += args.pytest_args
    code = int(pytest.main(argv))
    if code == 5:
        _error(
            f"no scenario files found under {', '.join(paths)} (scenarios are *.yaml under a 'scenarios' dir)"
        )
        return EXIT_COULD_NOT_RUN
    return code if code in (0, 1, 2) else EXIT_COULD_NOT_RUN


#: Lanes that never start a PostgreSQL cluster (a run of only these needs no embedded template).
_LANES_WITHOUT_POSTGRES = frozenset({"snapshot", "least-privilege-gate"})


def _may_use_postgres(paths: Sequence[str]) -> bool:
    """Whether any scenario under ``paths`` names a lane that may start a cluster (or names none
    this can tell): a hint for starting initdb early, so a wrong guess costs only time."""
    for given in paths:
        root = Path(given.split("::")[0])
        files = [root] if root.is_file() else sorted(root.rglob("*.y*ml"))
        for file in files:
            try:
                with file.open("rb") as fh:
                    head = fh.read(65536).decode("utf-8", "replace")
            except OSError:
                continue
            lanes = [line[5:].split("#")[0].strip() for line in head.splitlines() if line.startswith("lane:")]
            if not lanes or lanes[0].strip("'\"") not in _LANES_WITHOUT_POSTGRES:
                return True
    return False


def _workers(value: str) -> list[str] | None:
    """pytest-xdist arguments for ``-n``: whole scenario files per worker (``--dist loadfile``)."""
    if value != "auto" and not (value.isdigit() and 0 < int(value) <= 256):
        _error(f"-n {value!r}: expected a number of workers or 'auto'")
        return None
    try:
        import xdist  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        _error("-n needs pytest-xdist: python -m pip install pytest-xdist")
        return None
    return ["-n", value, "--dist", "loadfile"]


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
    run.add_argument("--pg-provider", choices=list(PG_PROVIDERS), help="override the PostgreSQL provider")
    run.add_argument(
        "--aws-provider",
        choices=list(AWS_PROVIDERS),
        help="override every scenario's AWS endpoint provider (offsite archive)",
    )
    run.add_argument("--dataset-rows", type=int, help="override the seeded dataset size")
    run.add_argument(
        "--archive",
        metavar="URI",
        help="portable-export scenarios drill this existing archive instead of exporting one: "
        "s3://BUCKET/PREFIX/ (the newest under it, by the generated-at in its key), "
        "s3://BUCKET/KEY[?versionId=ID], or a local .tar.gz (read-only on the source)",
    )
    run.add_argument("--junitxml", help="also write JUnit XML here")
    run.add_argument("--keep-workdir", action="store_true", help="keep work files even when verified")
    run.add_argument(
        "-n",
        "--workers",
        metavar="N|auto",
        help="run scenarios in parallel, one scenario per worker (pytest-xdist); same verdicts and evidence",
    )
    run.add_argument(
        "--sign-key-env",
        metavar="VAR",
        help="sign each evidence file with the Ed25519 PEM key held in $VAR (see drill evidence keygen)",
    )
    run.add_argument(
        "--sink",
        action="append",
        metavar="NAME[:key=value,...]",
        help="extra evidence output, repeatable: prometheus:path=DIR, pushgateway:url_env=VAR, "
        "webhook[:url_env=VAR,only_failures=true], ledger:location=DIR|s3://BUCKET/PREFIX",
    )
    run.add_argument("-v", "--verbose", action="store_true", help="list every step")
    run.add_argument("pytest_args", nargs=argparse.REMAINDER, help="after --: passed to pytest unchanged")

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
    except Exception as exc:  # a crash is never an answer: exit 2, one line, no value
        _error(f"{args.command}{_subject(args)}: {describe_unexpected(exc)}")
        return EXIT_COULD_NOT_RUN
    return code


def _subject(args: argparse.Namespace) -> str:
    """The file or URI the command was working on, for the one-line crash report."""
    for name in ("export", "dump", "archive", "export_dir", "uri", "source", "inputs", "paths"):
        value = getattr(args, name, None)
        if value:
            return f" {value if isinstance(value, str) else ' '.join(map(str, value))}"
    return ""


if __name__ == "__main__":
    sys.exit(main())

"""``drill evidence keygen|sign|verify|controls|history|merge|comment``: signed, chained, audited evidence.

Exit codes as everywhere: 0 everything checked out, 1 a check failed (a tampered or missing run,
an unmet obligation, a fleet scenario not verified), 2 the command could not run.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.commands import AddCommand
from harness.errors import EXIT_COULD_NOT_RUN, EXIT_NOT_VERIFIED, EXIT_VERIFIED, ConfigError

EPILOG = """\
examples:
  drill evidence keygen --out keys/            # then store keys/drill-signing.key as a CI secret
  drill run --sign-key-env DRILL_SIGNING_KEY   # every evidence file gets <stem>.dsse.json beside it
  drill evidence verify --ledger reports --key keys/drill-signing.pub --expect-every 7d
  drill evidence verify --ledger s3://audit-bucket/drills --key drill-signing.pub --expect-every 7d
  drill evidence controls --ledger reports --key keys/drill-signing.pub --format markdown
  drill evidence history --ledger reports --out reports/history
  drill evidence merge shards/ --out reports/scorecard
"""


def _time(text: str | None, what: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{what} {text!r}: expected an ISO 8601 date or time (2026-01-31T12:00:00Z)"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _keys(paths: list[str] | None) -> list[Any]:
    from harness.evidence.signing import load_public_key

    return [load_public_key(Path(p)) for p in paths or []]


def _emit(text: str, out: str | None) -> None:
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def cmd_keygen(args: argparse.Namespace) -> int:
    from harness.evidence.signing import generate_key, key_id, load_public_key
    from harness.files import write_once

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    private, public = generate_key()
    key_file, pub_file = out / f"{args.name}.key", out / f"{args.name}.pub"
    write_once(key_file, private, mode=0o600, refusal="choose another --name or directory")
    write_once(pub_file, public, refusal="choose another --name or directory")
    print(f"private key: {key_file} (mode 0600; store its content as a CI secret, then delete it here)")
    print(f"public key:  {pub_file} (publish it; verifiers pass it with --key)")
    print(f"key id:      {key_id(load_public_key(pub_file))}")
    return EXIT_VERIFIED


def cmd_sign(args: argparse.Namespace) -> int:
    from harness.evidence.signing import envelope_path, private_key_from_env, sign_evidence
    from harness.files import write_once

    key = private_key_from_env(args.key_env)
    for name in args.files:
        path = Path(name)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
        write_once(envelope_path(path), sign_evidence(path.name, data, key))
        print(f"signed {path} -> {envelope_path(path)}")
    return EXIT_VERIFIED


def _verify_files(args: argparse.Namespace) -> int:
    from harness.evidence.signing import SignatureProblem, envelope_path, verify_envelope

    keys = _keys(args.key)
    if not keys:
        raise ConfigError("verify FILE...: give the trusted public key(s) with --key")
    from harness.evidence.signing import ENVELOPE_SUFFIX

    bad = 0
    names = dict.fromkeys(
        n.removesuffix(ENVELOPE_SUFFIX) + ".json" if n.endswith(ENVELOPE_SUFFIX) else n for n in args.files
    )
    for name in names:
        path = Path(name)
        envelope = envelope_path(path)
        try:
            verified = verify_envelope(envelope.read_bytes(), path.name, path.read_bytes(), keys)
        except FileNotFoundError as exc:
            print(f"FAIL {path}: {exc.filename} is missing")
            bad += 1
        except SignatureProblem as exc:
            print(f"FAIL {path}: {exc.kind}: {exc}")
            bad += 1
        else:
            print(f"ok   {path}: signed by key {verified.key_id[:16]}…")
    return EXIT_NOT_VERIFIED if bad else EXIT_VERIFIED


def _ledger_report(args: argparse.Namespace, expect_every: Any = None) -> Any:
    from harness.evidence.ledger import parse_interval
    from harness.evidence.ledger_stores import open_ledger
    from harness.evidence.ledger_verify import verify_ledger

    return verify_ledger(
        open_ledger(args.ledger),
        keys=_keys(args.key),
        expect_every=expect_every,
        grace=parse_interval(args.grace, "--grace"),
        now=_time(args.now, "--now"),
        since=_time(args.since, "--since"),
        scenarios=args.scenario or (),
    )


def cmd_verify(args: argparse.Namespace) -> int:
    from harness.evidence.ledger import parse_interval

    if args.files and args.ledger:
        raise ConfigError("verify: give evidence files or --ledger, not both")
    if not args.ledger:
        if not args.files:
            raise ConfigError("verify: give evidence files (with --key) or --ledger LOCATION")
        return _verify_files(args)
    every = parse_interval(args.expect_every, "--expect-every") if args.expect_every else None
    report = _ledger_report(args, every)
    if args.format == "json":
        import orjson

        _emit(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n", None)
    else:
        runs = sum(len(r) for r in report.runs.values())
        signed = f", {len(report.signed_by)} signature(s) verified" if report.signatures_checked else ""
        print(f"ledger {report.location}: {len(report.runs)} scenario(s), {runs} run(s){signed}")
        for f in report.findings:
            print(f"  {f.kind.upper():18} [{f.scenario or '-'}] {f.file or '-'}: {f.message}")
        if not report.signatures_checked:
            print("  (signatures not checked: give --key PUBLIC_KEY)")
        print("PASSED" if report.passed else f"FAILED: {len(report.findings)} finding(s)")
    return EXIT_VERIFIED if report.passed else EXIT_NOT_VERIFIED


def cmd_controls(args: argparse.Namespace) -> int:
    import orjson

    from harness.evidence.controls import evaluate, load_catalogue, render_markdown

    catalogue = load_catalogue([Path(p) for p in args.catalogue or []], built_in=not args.no_built_in)
    if args.control:
        unknown = set(args.control) - {c["id"] for c in catalogue}
        if unknown:
            raise ConfigError(f"--control: no such control {sorted(unknown)[0]!r} in the catalogue")
        catalogue = [c for c in catalogue if c["id"] in args.control]
    report = _ledger_report(args)
    now = _time(args.now, "--now") or datetime.now(UTC)
    results = evaluate(catalogue, report, now, _time(args.since, "--since"))
    if args.format == "json":
        doc = {
            "ledger": report.location,
            "evaluated_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "controls": results,
        }
        _emit(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n", args.output)
    else:
        _emit(render_markdown(results, report.location, now), args.output)
    return EXIT_VERIFIED if all(r["met"] for r in results) else EXIT_NOT_VERIFIED


def cmd_history(args: argparse.Namespace) -> int:
    from harness.evidence.history import write_history

    report = _ledger_report(args)
    if not report.runs:
        raise ConfigError(f"ledger {report.location}: no evidence found")
    written = write_history(report.runs, Path(args.out), chart=not args.no_chart)
    text = written["markdown"].read_text(encoding="utf-8")
    sys.stdout.write(text)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if args.summary and summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(text + "\n")
    for kind, path in written.items():
        sys.stderr.write(f"drill: history {kind}: {path}\n")
    return EXIT_VERIFIED


def cmd_merge(args: argparse.Namespace) -> int:
    from harness.evidence.scorecard import collect, render_markdown, scorecard, write_scorecard

    runs, unreadable = collect([Path(d) for d in args.directories])
    card = scorecard(runs, unreadable)
    md, js = write_scorecard(card, Path(args.out))
    sys.stdout.write(js.read_text(encoding="utf-8") if args.format == "json" else render_markdown(card))
    sys.stderr.write(f"drill: scorecard: {md}, {js}\n")
    if not runs:
        sys.stderr.write("drill: no evidence found under " + ", ".join(args.directories) + "\n")
    return int(card["exit_code"])


def cmd_comment(args: argparse.Namespace) -> int:
    from harness.evidence.sinks.pr_comment import PullRequestCommentSink

    text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    sink = PullRequestCommentSink(marker=args.marker, token_env=args.token_env, pull_request=args.pr)
    try:
        sink.write(text)
    except Exception as exc:  # a failing sink warns; the gate's verdict is its own exit code
        from harness.evidence.sinks import warn

        warn(sink.name, exc)
        return EXIT_VERIFIED if args.never_fail else EXIT_COULD_NOT_RUN
    print(f"pull-request comment {sink.outcome or 'skipped'} (marker {args.marker})")
    return EXIT_VERIFIED


def _ledger_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument(
        "--ledger", required=required, metavar="LOCATION", help="a directory or s3://bucket/prefix"
    )
    p.add_argument("--key", action="append", metavar="PUB", help="trusted public key (PEM), repeatable")
    p.add_argument("--scenario", action="append", metavar="NAME", help="only this scenario (repeatable)")
    p.add_argument("--since", metavar="TIME", help="start of the period (default: each scenario's first run)")
    p.add_argument("--now", metavar="TIME", help="evaluate as of this time (default: now)")
    p.add_argument("--grace", default="1d", metavar="DURATION", help="slack on --expect-every (default 1d)")


def register(add: AddCommand) -> None:
    parser = add("evidence", lambda a: a.evidence_func(a), "sign, verify, audit and chart restore evidence")
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="evidence_command", metavar="SUBCOMMAND", required=True)

    def sub_add(name: str, func: Any, text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text, description=text)
        p.set_defaults(evidence_func=func)
        return p

    p = sub_add("keygen", cmd_keygen, "create an Ed25519 signing key pair (PEM)")
    p.add_argument("--out", default=".", help="directory for <name>.key and <name>.pub (default .)")
    p.add_argument("--name", default="drill-signing", help="file name stem (default drill-signing)")
    p = sub_add("sign", cmd_sign, "write a DSSE envelope (in-toto statement) beside each evidence file")
    p.add_argument("files", nargs="+", metavar="EVIDENCE.json")
    p.add_argument("--key-env", required=True, metavar="VAR", help="variable holding the private key PEM")
    p = sub_add("verify", cmd_verify, "check envelopes, or a whole ledger: edits, deletions, order, gaps")
    p.add_argument("files", nargs="*", metavar="EVIDENCE.json")
    _ledger_options(p, required=False)
    p.add_argument("--expect-every", metavar="DURATION", help="schedule interval (7d): report gaps")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p = sub_add("controls", cmd_controls, "evaluate the controls catalogue's obligations against a ledger")
    _ledger_options(p, required=True)
    p.add_argument("--catalogue", action="append", metavar="YAML", help="extra controls (same format)")
    p.add_argument("--no-built-in", action="store_true", help="only the --catalogue files")
    p.add_argument("--control", action="append", metavar="ID", help="only this control (repeatable)")
    p.add_argument("--format", choices=["markdown", "json"], default="markdown")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    p = sub_add("history", cmd_history, "table, chart and RTO forecast per scenario over time")
    _ledger_options(p, required=True)
    p.add_argument("--out", default="reports/history", help="directory for history.md/.json/.svg/.png/.html")
    p.add_argument("--no-chart", action="store_true", help="skip the SVG/PNG chart")
    p.add_argument("--summary", action="store_true", help="also append the table to $GITHUB_STEP_SUMMARY")
    p = sub_add("merge", cmd_merge, "fleet scorecard (Markdown + JSON) from many shards' evidence")
    p.add_argument("directories", nargs="+", metavar="DIR")
    p.add_argument("--out", default="reports/scorecard", help="directory for scorecard.md and .json")
    p.add_argument("--format", choices=["markdown", "json"], default="markdown")
    p = sub_add("comment", cmd_comment, "post Markdown as one sticky pull-request comment (updated in place)")
    p.add_argument("file", metavar="FILE.md", help="the Markdown (- for stdin), e.g. the gate's summary")
    p.add_argument("--marker", default="gate", help="which sticky comment (default gate)")
    p.add_argument("--token-env", default="GITHUB_TOKEN", metavar="VAR", help="variable holding the token")
    p.add_argument("--pr", type=int, help="pull request number (default: from GITHUB_EVENT_PATH)")
    p.add_argument("--never-fail", action="store_true", help="exit 0 when posting fails (a warning only)")

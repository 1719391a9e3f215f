"""``drill snapshot …``: create, list, show, verify, restore, prune, keys init/status.

Settings come from ``--config FILE`` (or ``$DRILL_SNAPSHOT_CONFIG``; schema
``harness/schemas/snapshot-config.schema.json``) with ``--store``/``--key-file``/``--kms-key-id``
overrides. Exit codes: 0 verified/done, 1 verification failed, 2 could not run or refused.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.aws.providers import DURABLE_AWS_PROVIDERS
from harness.clock import utc_compact, utc_iso
from harness.errors import EXIT_VERIFIED, ConfigError
from harness.files import write_once

if TYPE_CHECKING:
    from harness.commands import AddCommand
    from harness.snapshot.config import SnapshotConfig


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _json(data: Any) -> None:
    _out(json.dumps(data, indent=2, sort_keys=True))


def _store_spec(uri: str) -> dict[str, Any]:
    if uri.startswith("s3://"):
        bucket, _, prefix = uri[5:].partition("/")
        return {"type": "s3", "bucket": bucket, **({"prefix": prefix.rstrip("/") + "/"} if prefix else {})}
    kind, sep, path = uri.partition(":")
    if sep and kind in ("dir", "local", "targz"):
        return {"type": "targz" if kind == "targz" else "local", "path": str(Path(path).resolve())}
    return {"type": "local", "path": str(Path(uri).resolve())}


def _config(args: argparse.Namespace) -> SnapshotConfig:
    from harness.snapshot.config import load_config

    over: dict[str, Any] = {}
    if args.store:
        over["store"] = _store_spec(args.store)
    if args.key_file and args.kms_key_id:
        raise ConfigError("give --key-file or --kms-key-id, not both")
    if args.key_file:
        over["key"] = {"type": "keyfile", "path": str(Path(args.key_file).resolve())}
    if args.kms_key_id:
        over["key"] = {"type": "kms", "key_id": args.kms_key_id}
    cfg = load_config(args.config, over)
    aws = dict(cfg.section("aws"))
    for flag, field in (("aws_provider", "provider"), ("endpoint_url", "endpoint_url"), ("region", "region")):
        if getattr(args, flag):
            aws[field] = getattr(args, flag)
    if aws:
        cfg.data["aws"] = aws
    if cfg.needs_aws() and cfg.aws_provider() == "embedded":
        raise ConfigError(
            f"{cfg.where}: aws.provider embedded only lives as long as one process; the CLI needs "
            "localstack (with --endpoint-url) or aws. Use a scenario for embedded drills."
        )
    return cfg


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="snapshot config YAML (default: $DRILL_SNAPSHOT_CONFIG)")
    p.add_argument("--store", help="override the store: DIR, dir:DIR, targz:DIR or s3://BUCKET/PREFIX")
    p.add_argument("--key-file", help="override the key: a key file (see `keys init`)")
    p.add_argument("--kms-key-id", help="override the key: a KMS key id, ARN or alias/…")
    p.add_argument("--aws-provider", choices=DURABLE_AWS_PROVIDERS, help="AWS endpoint for S3/KMS")
    p.add_argument("--endpoint-url", help="endpoint URL for --aws-provider localstack")
    p.add_argument("--region", help="AWS region")
    p.add_argument("--json", action="store_true", help="print JSON")


def register(add: AddCommand) -> None:
    """Add ``drill snapshot`` and its subcommands."""
    snap = add(
        "snapshot", lambda a: 2, "encrypted snapshots of directory trees: create, verify, restore, prune"
    )
    sub = snap.add_subparsers(dest="snapshot_command", metavar="SUBCOMMAND", required=True)

    def sub_add(name: str, func: Any, text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text, description=text)
        p.set_defaults(func=func)
        _common(p)
        return p

    p = sub_add(
        "create", cmd_create, "snapshot a directory tree (links and special files recorded, not followed)"
    )
    p.add_argument("path")
    p.add_argument("--tag", required=True, help="label, e.g. weekly (letters, digits, . _ -)")
    p.add_argument(
        "--created-at", help="inject the clock (UTC, 2026-01-31T12:00:00Z) for a reproducible manifest"
    )
    p.add_argument("--chunk-size", type=int, help="bytes per chunk (default 4 MiB)")
    p.add_argument("--lock-mode", choices=["GOVERNANCE", "COMPLIANCE"], help="S3 Object Lock retention mode")
    p.add_argument("--lock-days", type=int, help="S3 Object Lock retention in days")

    sub_add("list", cmd_list, "snapshots with id, tag, time, size, file count and lock state")
    p = sub_add("show", cmd_show, "the redacted manifest view of a snapshot (safe for logs)")
    p.add_argument("id")

    p = sub_add(
        "verify", cmd_verify, "authenticate, decrypt and hash-check chunks, then a restore smoke test"
    )
    p.add_argument("id")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--full", action="store_true", help="every chunk (the default)")
    mode.add_argument("--sample", type=int, metavar="N", help="N chunks chosen by --seed")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work-dir", default=".tmp/snapshot", help="where the smoke-test restore goes")

    p = sub_add("restore", cmd_restore, "restore a snapshot into an allowlisted directory (idempotent)")
    p.add_argument("id", nargs="?", help="snapshot id (or --tag for the newest with that tag)")
    p.add_argument("--tag")
    p.add_argument("--target", required=True, help="directory inside restore.allow")
    p.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    p.add_argument("--work-dir", default=".tmp/snapshot", help="temporary files (tar.gz stores)")

    p = sub_add("prune", cmd_prune, "apply the retention policy (never the newest or a locked snapshot)")
    p.add_argument("--dry-run", action="store_true", help="list what would be deleted and why")
    for rule in ("last", "daily", "weekly", "monthly"):
        p.add_argument(f"--keep-{rule}", type=int, metavar="N", help=f"override retention.keep_{rule}")
    p.add_argument("--tag", help="only snapshots with this tag")
    p.add_argument("--evidence-dir", default="reports", help="where the prune record goes (default: reports)")

    keys = sub.add_parser("keys", help="key file / KMS key management", description="key management")
    ksub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    for name, func, text in (
        ("init", cmd_keys_init, "create the configured key file (0600, never overwritten) or KMS alias"),
        ("status", cmd_keys_status, "key id, state and a wrap/unwrap round trip (never key material)"),
    ):
        kp = ksub.add_parser(name, help=text, description=text)
        kp.set_defaults(func=func)
        _common(kp)


def cmd_create(args: argparse.Namespace) -> int:
    from harness.snapshot.create import DEFAULT_PACK_SIZE, create_snapshot
    from harness.snapshot.manifest import DEFAULT_CHUNK_SIZE, parse_utc
    from harness.snapshot.store_base import LockSpec

    cfg = _config(args)
    when = parse_utc(args.created_at, "--created-at") if args.created_at else datetime.now(UTC)
    lock = cfg.lock()
    if args.lock_mode or args.lock_days:
        if not (args.lock_mode and args.lock_days):
            raise ConfigError("--lock-mode and --lock-days go together")
        lock = LockSpec(args.lock_mode, args.lock_days)
    with cfg.endpoint() as endpoint:
        store = cfg.store(endpoint)
        store.check()
        result = create_snapshot(
            Path(args.path),
            store,
            cfg.keys(endpoint),
            tag=args.tag,
            created_at=when,
            chunk_size=args.chunk_size or cfg.data.get("chunk_size", DEFAULT_CHUNK_SIZE),
            pack_size=cfg.data.get("pack_size", DEFAULT_PACK_SIZE),
            lock=lock,
        )
    if args.json:
        _json(result.to_dict())
    else:
        s = result.header["summary"]
        _out(
            f"snapshot {result.id} (tag {args.tag}): {s['files']} files, {s['bytes']} bytes, {s['chunks']} "
            f"chunks in {s['packs']} pack(s), {result.seconds:.1f}s"
            + (f", {lock.mode} {lock.days}d" if lock else "")
        )
    return EXIT_VERIFIED


def _size(n: Any) -> str:
    if not isinstance(n, int):
        return "?"
    value, unit = float(n), "B"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            break
        value /= 1024
    return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"


def cmd_list(args: argparse.Namespace) -> int:
    from harness.snapshot.catalog import list_snapshots

    cfg = _config(args)
    with cfg.endpoint() as endpoint:
        store = cfg.store(endpoint)
        rows = list_snapshots(store)
        partial = store.incomplete()
    if args.json:
        _json({"snapshots": rows, "incomplete": partial})
        return EXIT_VERIFIED
    _out(f"{'id':27} {'tag':16} {'created (UTC)':21} {'size':>10} {'files':>6}  lock")
    for r in rows:
        if "error" in r:
            _out(f"{r['id']:27} unreadable: {r['error']}")
            continue
        state = r["lock"]["state"]
        _out(
            f"{r['id']:27} {r['tag'] or '':16} {r['created_at'] or '':21} {_size(r['bytes']):>10} "
            f"{r['files'] if r['files'] is not None else '?':>6}  {state}"
        )
    for p in partial:
        _out(f"{p:27} INCOMPLETE (interrupted write; no manifest)")
    _out(f"{len(rows)} snapshot(s)")
    return EXIT_VERIFIED


def cmd_show(args: argparse.Namespace) -> int:
    from harness.snapshot.catalog import read_header
    from harness.snapshot.manifest import redacted_view

    cfg = _config(args)
    with cfg.endpoint() as endpoint:
        store = cfg.store(endpoint)
        view = redacted_view(read_header(store, args.id), store.lock_state(args.id).to_dict())
    view["authenticated"] = False  # `verify` authenticates; `show` needs no key
    _json(view)
    return EXIT_VERIFIED


def cmd_verify(args: argparse.Namespace) -> int:
    from harness.snapshot.verify import verify_snapshot

    cfg = _config(args)
    with cfg.endpoint() as endpoint:
        store = cfg.store(endpoint, Path(args.work_dir))
        result = verify_snapshot(
            store,
            cfg.keys(endpoint),
            args.id,
            sample=args.sample,
            seed=args.seed,
            work_dir=Path(args.work_dir),
        )
    _json(result.to_dict()) if args.json else _out(result.message())
    return EXIT_VERIFIED


def cmd_restore(args: argparse.Namespace) -> int:
    from harness.errors import VerificationFailed
    from harness.snapshot.catalog import open_snapshot, resolve
    from harness.snapshot.restore import restore_snapshot

    if bool(args.id) == bool(args.tag):
        raise ConfigError("name exactly one of a snapshot id or --tag")
    cfg = _config(args)
    with cfg.endpoint() as endpoint:
        store = cfg.store(endpoint, Path(args.work_dir))
        snapshot = resolve(store, args.id, args.tag)
        opened = open_snapshot(store, cfg.keys(endpoint), snapshot)
        if args.tag and opened.header["tag"] != args.tag:
            raise VerificationFailed(f"snapshot {snapshot}: authenticated tag is not {args.tag!r}")
        with store.reader(snapshot) as reader:
            result = restore_snapshot(opened, reader, Path(args.target), cfg.allow(), dry_run=args.dry_run)
    if args.json:
        _json({**result.to_dict(), "actions": [a.__dict__ for a in result.actions if a.do != "unchanged"]})
        return EXIT_VERIFIED
    shown = [a for a in result.actions if a.do != "unchanged"]
    for action in shown[:50]:
        _out(f"  {action.do:9} {action.type:8} {action.path}")
    if len(shown) > 50:
        _out(f"  … {len(shown) - 50} more")
    _out(result.message())
    return EXIT_VERIFIED


def _write_record(directory: Path, record: dict[str, Any]) -> Path:
    """Write a prune record atomically, never replacing an existing file."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"snapshot-prune-{utc_compact()}-{secrets.token_hex(4)}.json"
    write_once(path, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())
    return path


def cmd_prune(args: argparse.Namespace) -> int:
    from harness.snapshot.retention import RULES, RetentionPolicy, prune

    cfg = _config(args)
    policy = cfg.retention() or RetentionPolicy()
    flags = {rule: getattr(args, rule) for rule in RULES if getattr(args, rule) is not None}
    policy = RetentionPolicy.from_dict({**policy.to_dict(), **flags}, "command line")
    with cfg.endpoint() as endpoint:
        store = cfg.store(endpoint)
        decisions = prune(store, cfg.keys(endpoint), policy, dry_run=args.dry_run, tag=args.tag)
    record = {
        "kind": "drill-snapshot-prune",
        "at": utc_iso(),
        "store": store.describe(),
        "policy": policy.to_dict(),
        "dry_run": args.dry_run,
        "tag": args.tag,
        "decisions": [d.to_dict() for d in decisions],
    }
    path = _write_record(Path(args.evidence_dir), record)
    if args.json:
        _json({**record, "record": str(path)})
    else:
        for d in decisions:
            outcome = f" → {d.outcome}" if d.outcome else ""
            _out(f"{d.action:6} {d.id} {d.tag or '':16} {'; '.join(d.reasons)}{outcome}")
        doomed = sum(d.action == "delete" for d in decisions)
        verb = "would delete" if args.dry_run else "deleted"
        done = doomed if args.dry_run else sum(d.outcome == "deleted" for d in decisions)
        _out(f"{verb} {done} of {len(decisions)} snapshot(s); record: {path}")
    return _prune_verdict(decisions, path)


def _prune_verdict(decisions: list[Any], record: Path) -> int:
    """0 when every decision was carried out and every snapshot authenticated; else raise naming them."""
    from harness.errors import RefusedError, VerificationFailed

    refused = [d.id for d in decisions if d.refused]
    if refused:
        raise RefusedError(
            f"the store refused to delete {len(refused)} snapshot(s) (retention-locked): "
            f"{', '.join(refused)}; record: {record}"
        )
    untrusted = [d.id for d in decisions if not d.trusted]
    if untrusted:
        raise VerificationFailed(
            f"{len(untrusted)} snapshot(s) did not authenticate and were kept: {', '.join(untrusted)}; "
            f"investigate (record: {record})"
        )
    return EXIT_VERIFIED


def cmd_keys_init(args: argparse.Namespace) -> int:
    from harness.snapshot.keys import ensure_kms_key, init_keyfile

    cfg = _config(args)
    spec = cfg.required("key", "{type: keyfile, path: FILE}, or --key-file / --kms-key-id")
    if spec["type"] == "keyfile":
        path = cfg.path(spec["path"])
        kid = init_keyfile(path)
        _out(f"created key file {path} (key id {kid}); back it up: without it no snapshot decrypts")
        return EXIT_VERIFIED
    with cfg.endpoint() as endpoint:
        _out(f"KMS key {spec['key_id']} ready: {ensure_kms_key(endpoint, spec['key_id'])}")
    return EXIT_VERIFIED


def cmd_keys_status(args: argparse.Namespace) -> int:
    cfg = _config(args)
    with cfg.endpoint() as endpoint:
        status = cfg.keys(endpoint).status()
    if args.json:
        _json(status)
    else:
        for key, value in status.items():
            _out(f"{key:15} {value}")
    return EXIT_VERIFIED

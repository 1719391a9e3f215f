"""Offsite upload/fetch throughput to the embedded (moto) endpoint, and the uploader's peak memory.

Not a test. The issue's figures are the 200 MB row: upload and fetch MB/s, and peak RSS during
upload. moto runs in its own process (it keeps objects in memory), and every upload or fetch
runs in a fresh child process so its peak RSS (``ru_maxrss``) is the transfer's own, next to the
child's baseline after imports. Upload time covers hashing, the transfer and the read-back
check, not the posture check before it. Archives are incompressible (random payload in a real
export-shaped ``.tar.gz``), so sizes are what goes over the wire.

    python benchmarks/offsite_bench.py [--sizes-mb 100 200 1024] [--part-size-mb 16] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MIB = 1024 * 1024
BUCKET = "drill-bench-archive"


def make_archive(path: Path, size_mb: int) -> None:
    """An export-shaped archive: manifest.json + an incompressible ``size_mb`` payload."""
    manifest = {
        "schema_version": "bench",
        "generated_at": "2026-01-31T02:00:00Z",
        "export_format_version": "1",
        "entity_counts": {"blobs": 1},
        "checksums": {},
        "entity_files": {"blobs": "blobs.jsonl"},
    }
    work = path.parent / "payload"
    work.mkdir(exist_ok=True)
    (work / "manifest.json").write_text(json.dumps(manifest))
    with (work / "blobs.jsonl").open("wb") as fh:
        for _ in range(size_mb):
            fh.write(os.urandom(MIB))
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        tar.add(work / "manifest.json", "manifest.json")
        tar.add(work / "blobs.jsonl", "blobs.jsonl")
    (work / "blobs.jsonl").unlink()


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode: str, endpoint_url: str, path: str, part_mb: float, concurrency: int, uri: str | None) -> None:
    """One transfer in this (fresh) process; prints a JSON line."""
    from harness.aws.localstack import localstack_endpoint
    from harness.offsite.fetch import fetch_archive
    from harness.offsite.keys import parse_s3_uri
    from harness.offsite.posture import check_posture
    from harness.offsite.session import s3_client
    from harness.offsite.settings import PosturePolicy, TransferSettings
    from harness.offsite.upload import upload_archive

    transfer = TransferSettings(part_size=int(part_mb * MIB), max_concurrency=concurrency)
    s3 = s3_client(localstack_endpoint(endpoint_url), transfer)
    s3.list_buckets()
    # The posture check runs before every upload, but it is not part of the transfer being timed.
    report = check_posture(s3, BUCKET, "bench", PosturePolicy(), "us-east-1") if mode == "upload" else None
    baseline = _rss_mb()
    started = time.perf_counter()
    if report is not None:
        result = upload_archive(
            s3,
            Path(path),
            bucket=BUCKET,
            prefix="bench",
            environment="bench",
            name=f"size-{Path(path).stat().st_size // MIB}",
            posture=report,
            transfer=transfer,
        )
        out: dict[str, Any] = {"uri": str(result.uri), "parts": result.parts, "bytes": result.size_bytes}
    else:
        assert uri is not None
        fetched = fetch_archive(s3, parse_s3_uri(uri), Path(path), region="us-east-1")
        out = {"bytes": fetched.size_bytes, "checks": fetched.checks}
        fetched.path.unlink()
    seconds = time.perf_counter() - started
    out.update(
        seconds=seconds, mb_s=out["bytes"] / 1e6 / seconds, baseline_rss_mb=baseline, peak_rss_mb=_rss_mb()
    )
    print(json.dumps(out))


def run_child(*args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"child failed: {proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", type=int, nargs="+", default=[100, 200, 1024])
    parser.add_argument("--part-size-mb", type=float, default=16)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--child", nargs=6, metavar=("MODE", "URL", "PATH", "PART", "CONC", "URI"))
    args = parser.parse_args()
    if args.child:
        mode, url, path, part, conc, uri = args.child
        child(mode, url, path, float(part), int(conc), None if uri == "-" else uri)
        return

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        from harness.aws.localstack import localstack_endpoint
        from harness.offsite.provision import provision_bucket
        from harness.offsite.session import s3_client
        from harness.offsite.settings import StorageSpec

        endpoint = localstack_endpoint(url)
        for _ in range(100):
            try:
                s3_client(endpoint).list_buckets()
                break
            except Exception:
                time.sleep(0.1)
        provision_bucket(s3_client(endpoint), endpoint.client("kms"), BUCKET, StorageSpec(), "us-east-1")
        rows = []
        with tempfile.TemporaryDirectory(prefix="offsite-bench-") as tmp:
            for size in args.sizes_mb:
                archive = Path(tmp) / f"bench-{size}.tar.gz"
                make_archive(archive, size)
                common = [str(args.part_size_mb), str(args.concurrency)]
                up = run_child("upload", url, str(archive), *common, "-")
                down = run_child("fetch", url, str(Path(tmp) / "fetched"), *common, up["uri"])
                archive.unlink()
                rows.append({"size_mb": size, "upload": up, "fetch": down})
                print(
                    f"{size:>6} MB  parts {up['parts']:>3}  upload {up['mb_s']:7.1f} MB/s "
                    f"(peak RSS {up['peak_rss_mb']:.0f} MB, baseline {up['baseline_rss_mb']:.0f} MB)  "
                    f"fetch {down['mb_s']:7.1f} MB/s (peak RSS {down['peak_rss_mb']:.0f} MB)",
                    flush=True,
                )
        print(json.dumps({"part_size_mb": args.part_size_mb, "concurrency": args.concurrency, "runs": rows}))
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()

"""A pgBackRest repository on S3: the embedded endpoint (moto) served over TLS with a self-signed
certificate, which pgBackRest requires. pgBackRest 2.45 checks the host name against the
certificate's DNS names only (an IP address SAN is not accepted), so the endpoint is ``localhost``
with the certificate as ``repo1-s3-ca-file``; moto's own ThreadedMotoServer takes no TLS context,
so the same moto application is served by werkzeug with one. The stand-in archives into the bucket
with archive-push, the drill restores from it and never writes to it."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import ssl
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3

from harness.net import free_port
from harness.pgdrill.standin import full_backup, pgbackrest_stand_in, write_around_target
from tests.pgdrill.helpers import require_pgbackrest, run, statuses, write_scenario

BUCKET = "drill-pgbackrest-repo"


@contextlib.contextmanager
def tls_moto() -> Iterator[tuple[int, Path]]:
    """moto's S3 over HTTPS on localhost with a fresh self-signed certificate; (port, cert file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import WSGIRequestHandler, make_server

    class KeepAlive(WSGIRequestHandler):
        protocol_version = "HTTP/1.1"  # pgBackRest reuses connections; HTTP/1.0 closes them under it

    home = Path(tempfile.mkdtemp(prefix="drill-tls-"))
    home.chmod(0o755)  # archive-push runs as the server account and reads the certificate
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = home / "cert.pem", home / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    cert_file.chmod(0o644)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    port = free_port()
    server = make_server(
        "127.0.0.1", port, DomainDispatcherApplication(create_backend_app), threaded=True, ssl_context=context
    )
    plain_shutdown = server.shutdown_request

    def close_cleanly(request: Any) -> None:
        # Send TLS close_notify before closing: OpenSSL 3 (pgBackRest) reports a bare TCP close
        # as "unexpected eof while reading".
        with contextlib.suppress(OSError, ValueError):
            request.unwrap()
        plain_shutdown(request)

    server.shutdown_request = close_cleanly  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port, cert_file
    finally:
        server.shutdown()
        thread.join(10)
        for path in home.iterdir():
            path.unlink()
        home.rmdir()


def objects(s3: Any) -> list[tuple[str, str, str]]:
    listing = s3.list_object_versions(Bucket=BUCKET)
    return sorted((v["Key"], v["VersionId"], v["ETag"]) for v in listing.get("Versions", []))


def test_a_pgbackrest_s3_repository_over_tls_on_the_embedded_endpoint(tmp_path: Path) -> None:
    require_pgbackrest()
    with tls_moto() as (port, cert):
        s3 = boto3.client(
            "s3",
            endpoint_url=f"https://localhost:{port}",
            verify=str(cert),
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        s3.create_bucket(Bucket=BUCKET)
        repo = {
            "repo1-type": "s3",
            "repo1-path": "/pgbackrest",
            "repo1-s3-bucket": BUCKET,
            "repo1-s3-endpoint": "localhost",
            "repo1-s3-port": str(port),
            "repo1-s3-region": "us-east-1",
            "repo1-s3-uri-style": "path",
            "repo1-s3-ca-file": str(cert),
            "repo1-s3-key": "testing",
            "repo1-s3-key-secret": "testing",
            "process-max": "4",  # one request per file: parallel transfers keep backup and restore short
        }
        with pgbackrest_stand_in(stanza="ons3", repo=repo) as stand_in:
            label = full_backup(stand_in)
            target = write_around_target(stand_in, 7, 4)
            stand_in.cluster.stop()
            before = objects(s3)
            assert any(k.startswith("pgbackrest/archive/ons3/15-1/") for k, _, _ in before)
            path = write_scenario(
                tmp_path,
                "s3-repo",
                "pitr-archive",
                options={
                    "pgbackrest": {"stanza": "ons3", "config": str(stand_in.config)},
                    "target": target.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    "restore": {"database": "drill_app"},
                },
                heartbeat={"table": "drill_heartbeat", "column": "beat_at", "database": "drill_app"},
                smoke=[
                    {
                        "name": "rows",
                        "sql": "SELECT count(*) FROM drill_stand_in_marks",
                        "expect": {"equals": 7},
                    }
                ],
                objectives={"max_backup_age_seconds": 3600},
            )
            _, doc = run(path, tmp_path)
            assert doc["verdict"] == "verified", doc["reason"]
            assert objects(s3) == before  # restore, verify, repo-ls and archive-get only read
    status = statuses(doc)
    assert status["restore-files"] == status["recover"] == status["wal-archive"] == "passed"
    assert doc["extra"]["pitr_archive"]["source"]["chosen"]["label"] == label
    assert doc["measurements"]["rpo"]["method"] == "heartbeat"
    assert "testing" not in str(doc)  # the repository's credentials stay in its configuration file
    assert os.environ.get("PGBACKREST_REPO1_S3_KEY") is None

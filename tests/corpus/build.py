"""The corpus generator: every case is built from a small valid export the harness wrote, changed by
code (never a kept blob), and carries the exact rules, exit code and message it must produce.

Classes: ``tar`` (the archive), ``manifest``, ``record``, ``secret``, ``directory`` (an export
directory as input), ``configuration`` (contract and scenario files).
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

# Built by concatenation so the repository never holds a scanner-shaped literal.
GITHUB = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
JWT = "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0" + ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
SECRETS = {
    "aws_key_id": "AKIA" + "IOSFODNN7EXAMPLE",
    "aws_secret": "aws_secret_access_key = " + "wJalrXUtnFEMI/K7MDENG/bPxRfi" + "CYEXAMPLEKEY",
    "jwt": JWT,
    "bcrypt": "$2b$12$" + "R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
    "argon2": "$argon2id$" + "v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
    "pbkdf2": "pbkdf2_sha256$" + "600000$abcdefgh$Zm9vYmFyYmF6cXV4",
    "scrypt": "scrypt:32768:8:1$" + "abcdEFGH12345678$9f86d081884c7d659a2feaa0c55ad015",
    "crypt6": "$6$" + "saltsalt$" + "qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc",
    "presigned": "https://b.s3.amazonaws.com/k?X-Amz-Signature=" + "ab" * 32,
    "gcs_signed": "https://storage.googleapis.com/b/o?X-Goog-Signature=" + "cd" * 20,
    "azure_sas": "https://a.blob.core.windows.net/c/b?se=2026-12-01&sig=" + "AbCdEf0123456789%2BxyZ",
    "pem": "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
    "github": GITHUB,
    "github_pat": "github_pat_" + "11ABCDEFG0123456789_abcdefghijKLMNOP",
    "slack": "xoxb-" + "123456789012-abcdefABCDEF",
    "stripe": "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "google": "AIza" + "SyA-1234567890abcdefghijklmnopqrstu",
    "entropy": "dk_live_" + "Q7fK2mZp9LxV4bNc8RtY3wHs6JdG1eUa",
}

Builder = Callable[[Path, Path], list[str]]


@dataclass(frozen=True)
class Case:
    """One hostile input: how to build it, and exactly what the harness must say about it."""

    id: str
    kind: str  # tar | manifest | record | secret | directory | configuration
    build: Builder  # (writable copy of the base export, scratch dir) -> drill arguments
    exit_code: int
    rules: frozenset[str] = frozenset()  # exact findings_by_rule of `drill validate --json`
    message: str = ""  # must appear in the output (exit-2 and archive cases)
    secret: str = ""  # must appear nowhere in the output
    fields: dict[str, Any] = field(default_factory=dict)


# -- writing helpers ------------------------------------------------------------------------------
def read_lines(export: Path, file: str) -> list[bytes]:
    return (export / file).read_bytes().splitlines(keepends=True)


def fix_manifest(export: Path, file: str) -> None:
    """Make checksum and count of ``file`` match its bytes, so only the planted rule fires."""
    data = (export / file).read_bytes()
    manifest_path = export / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["checksums"][file] = "sha256:" + hashlib.sha256(data).hexdigest()
    entity = next(n for n, f in manifest["entity_files"].items() if f == file)
    manifest["entity_counts"][entity] = len(data.splitlines(keepends=True))
    manifest_path.write_text(json.dumps(manifest, indent=2))


def set_bytes(export: Path, file: str, data: bytes) -> None:
    (export / file).write_bytes(data)
    fix_manifest(export, file)


def set_line(export: Path, file: str, index: int, line: bytes) -> None:
    lines = read_lines(export, file)
    lines[index] = line
    set_bytes(export, file, b"".join(lines))


def edit(export: Path, file: str, index: int, **values: Any) -> None:
    record = orjson.loads(read_lines(export, file)[index])
    record.update(values)
    set_line(export, file, index, orjson.dumps(record) + b"\n")


def edit_manifest(export: Path, change: Callable[[dict[str, Any]], object]) -> None:
    path = export / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest, indent=2))


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"n": value}
    return value


# -- archives ---------------------------------------------------------------------------------------
def tar_of(
    export: Path,
    extra: list[tuple[tarfile.TarInfo, bytes | None]] | None = None,
    *,
    skip: frozenset[str] = frozenset(),
) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(export.iterdir()):
            if path.name in skip:
                continue
            data = path.read_bytes()
            info = tarfile.TarInfo(path.name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info, data in extra or []:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def member(
    name: str, data: bytes | None = b"{}\n", kind: bytes = tarfile.REGTYPE, link: str = ""
) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    if data is not None and kind in (tarfile.REGTYPE, tarfile.AREGTYPE):
        info.size = len(data)
    else:
        data = None
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 1, 3
    return info, data


def archive(tmp: Path, raw: bytes, name: str = "case.tar.gz") -> Path:
    path = tmp / name
    path.write_bytes(raw)
    return path


def validate_args(target: Path | str, contract: Path, work: Path) -> list[str]:
    return ["validate", str(target), "--contract", str(contract), "--json", "--work-dir", str(work)]

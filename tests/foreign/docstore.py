"""A document-store application's own exporter, imitated: camelCase fields written in insertion order
by a JSON.stringify-like writer, string ids, composite keys (documentId, version), nested references
(approval.decidedBy, jobRefs[].jobId), a polymorphic comment target, a conditional approver, a
reference cycle (folders <-> documents), RFC 3339 times with offsets, epoch milliseconds and dates,
and a manifest that lists its files as objects carrying each file's record count and checksum."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

from tests.conftest import REPO

CONTRACT = REPO / "fixtures" / "contracts" / "docstore" / "contract.yaml"
ENTITIES = ("users", "folders", "documents", "jobs", "approvals", "comments")


def _stringify(record: dict[str, Any]) -> bytes:
    """JSON.stringify: insertion order, no spaces, non-ASCII as is."""
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode()


def records(seed: int = 3, users: int = 8) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(seed)
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in ENTITIES}
    user_ids = [f"u-{i:04x}" for i in range(users)]
    for i, uid in enumerate(user_ids):
        user: dict[str, Any] = {
            "userId": uid,
            "email": f"user{i}@docstore.example",
            "displayName": f"User {i} \u00e9\u00e8",
            "role": rng.choice(["admin", "editor", "viewer"]),
            "createdAt": f"2025-0{1 + i % 9}-1{i % 10}T0{i % 10}:30:00.{i:03d}+02:00",
        }
        if i % 3 == 0:
            user["lastSeenMs"] = 1_735_689_600_000 + i * 61_000  # optional: absent otherwise
        out["users"].append(user)
    jobs = []
    for j in range(6):
        status = ["queued", "approved", "rejected"][j % 3]
        job: dict[str, Any] = {"jobId": 100 + j, "kind": "render", "status": status}
        if status == "approved":
            job["approverId"] = user_ids[j % users]
        jobs.append(job)
    out["jobs"] = jobs
    out["approvals"] = [
        {"approvalId": f"ap-{j}", "jobId": job["jobId"], "decidedAt": "2025-03-01T10:00:00Z"}
        for j, job in enumerate(jobs)
        if job["status"] == "approved"
    ]
    folders = [
        {"folderId": f"f-{k}", "ownerId": user_ids[k % users], "name": f"Folder {k}"} for k in range(4)
    ]
    documents = []
    for d in range(10):
        folder = folders[d % len(folders)]
        for version in (1, 2) if d % 2 == 0 else (1,):
            doc: dict[str, Any] = {
                "documentId": f"doc-{d}",
                "version": version,
                "folderId": folder["folderId"],
                "title": f"Document {d} v{version}",
                "status": "approved" if version == 2 else "draft",
                "tags": rng.sample(["a", "b", "c", "d"], 2),
                "jobRefs": [
                    {"jobId": jobs[(d + k) % len(jobs)]["jobId"], "role": "render"} for k in range(d % 3)
                ],
                "updatedAtMs": 1_735_689_600_000 + d * 3_600_000 + version,
                "publishedOn": f"2025-02-{10 + d:02d}",
                "source": "mail" if d % 2 else "upload",
                "sourceMessageId": f"m-{d}-{version}",
                "meta": {"pages": d + 1, "lang": "en", "nested": {"ok": True}},
            }
            if version == 2:
                doc["approval"] = {"decidedBy": user_ids[d % users], "note": "looks good"}
                doc["previousVersion"] = 1
            documents.append(doc)
    out["documents"] = documents
    for k, folder in enumerate(folders):
        folder["childCount"] = sum(1 for doc in documents if doc["folderId"] == folder["folderId"])
        if k % 2 == 0:  # the cover is a document of the folder (the cycle)
            cover = next(doc for doc in documents if doc["folderId"] == folder["folderId"])
            folder["coverDocumentId"], folder["coverVersion"] = cover["documentId"], cover["version"]
    out["folders"] = folders
    out["comments"] = [
        {
            "commentId": f"c-{n}",
            "targetType": "folder" if n % 2 else "user",
            "targetId": folders[n % len(folders)]["folderId"] if n % 2 else user_ids[n % users],
            "body": f"comment {n} \U0001f4c4",
            "authorId": user_ids[(n + 1) % users],
        }
        for n in range(7)
    ]
    return out


def write(
    dest: Path,
    data: dict[str, list[dict[str, Any]]] | None = None,
    generated_at: str = "2025-11-30T23:00:00Z",
) -> Path:
    """Write the export the way the application does: files first, then the manifest."""
    data = data if data is not None else records()
    dest.mkdir(parents=True)
    files = []
    for name in ENTITIES:
        body = b"".join(_stringify(r) + b"\n" for r in data[name])
        (dest / f"{name}.jsonl").write_bytes(body)
        files.append(
            {
                "entity": name,
                "path": f"{name}.jsonl",
                "records": len(data[name]),
                "sha256": "sha256:" + hashlib.sha256(body).hexdigest(),
            }
        )
    manifest = {
        "formatVersion": 3,
        "exportedAt": generated_at,
        "files": files,
        "redacted": ["users.passwordHash", "users.sessionToken"],
        "skipped": ["sessions"],
        "producer": {"name": "docstore-exporter", "version": "4.2.0"},
    }
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=4))
    return dest


def refresh_manifest(dest: Path) -> None:
    """After a broken variant edits a file: the application's manifest describes the files as they are."""
    manifest = json.loads((dest / "manifest.json").read_text())
    for item in manifest["files"]:
        body = (dest / item["path"]).read_bytes()
        item["records"] = body.count(b"\n")
        item["sha256"] = "sha256:" + hashlib.sha256(body).hexdigest()
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=4))

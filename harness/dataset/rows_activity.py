"""Row generators for the activity tables: files, notifications, assistant jobs, artifacts
and the hash-chained audit log. Each yields COPY text-format chunks of up to CHUNK_ROWS lines."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator

from harness.dataset.chain import GENESIS, canonical_text
from harness.dataset.plan import DAY_US, Plan, file_uuid, timestamp_formatter
from harness.dataset.words import (
    ARTIFACT_KINDS,
    AUDIT_EVENTS,
    FILE_KINDS,
    FILE_STEMS,
    JOB_STATUSES,
    MENTION_TEXTS,
    MODELS,
    NOTIFICATION_KINDS,
    NULL,
    SYSTEM_TEXTS,
    copy_escape,
)

_PNG_MAGIC = "89504e470d0a1a0a"


def files_rows(plan: Plan) -> Iterator[str]:
    rng = plan.rng("files")
    r = rng.random
    bits = rng.getrandbits
    fmt = timestamp_formatter()
    seed = plan.seed
    step = plan.step("files")
    to_user = plan.ratio("files", "users")
    to_task = plan.ratio("files", "tasks")
    has_cards = plan.counts["cards"] > 0
    to_card = plan.ratio("files", "cards") if has_cards else 0.0
    n_kinds, n_stems = len(FILE_KINDS), len(FILE_STEMS)
    # The application's (fake) signing key id: one per dataset, like a real deployment.
    access_key = "AKIA" + base64.b32encode(bits(80).to_bytes(10, "big")).decode()
    for ids in plan.spans("files"):
        buf: list[str] = []
        add = buf.append
        for i in ids:
            uid = file_uuid(seed, i)
            owner = 1 + int(r() * i * to_user)
            link = r()
            if not has_cards or link < 0.45:
                task, card = str(1 + int(r() * i * to_task)), NULL
            elif link < 0.8:
                task, card = NULL, str(1 + int(r() * i * to_card))
            else:
                task, card = str(1 + int(r() * i * to_task)), str(1 + int(r() * i * to_card))
            ext, content_type = FILE_KINDS[int(r() * n_kinds)]
            filename = f"{FILE_STEMS[int(r() * n_stems)]}-{1 + int(r() * 99)}.{ext}"
            key = f"u/{owner}/{uid}/{filename}"
            created_text = fmt((i - 1) * step + int(r() * step))
            size = 1 + int(r() ** 3 * 50_000_000)
            checksum = bits(256).to_bytes(32, "big").hex()
            if r() < 0.7:
                day = created_text[:10].replace("-", "")
                url = (
                    f"https://files.example.test/{key}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                    f"&X-Amz-Credential={access_key}%2F{day}%2Fus-east-1%2Fs3%2Faws4_request"
                    f"&X-Amz-Date={day}T{created_text[11:19].replace(':', '')}Z&X-Amz-Expires=3600"
                    f"&X-Amz-SignedHeaders=host&X-Amz-Signature={bits(256).to_bytes(32, 'big').hex()}"
                )
            else:
                url = NULL
            if ext in ("png", "jpg") and r() < 0.8:
                k = 8 + int(r() * 24)
                thumb = "\\\\x" + _PNG_MAGIC + bits(8 * k).to_bytes(k, "big").hex()
            else:
                thumb = NULL
            add(
                f"{uid}\t{owner}\t{task}\t{card}\t{filename}\t{content_type}\ts3://drill-app-files/{key}\t"
                f"sha256:{checksum}\t{size}\t{url}\t{thumb}\t{created_text}\n"
            )
        yield "".join(buf)


def notifications_rows(plan: Plan) -> Iterator[str]:
    rng = plan.rng("notifications")
    r = rng.random
    fmt = timestamp_formatter()
    step = plan.step("notifications")
    to_user = plan.ratio("notifications", "users")
    to_task = plan.ratio("notifications", "tasks")
    n_kinds = len(NOTIFICATION_KINDS)
    for ids in plan.spans("notifications"):
        buf: list[str] = []
        add = buf.append
        for i in ids:
            users = i * to_user
            kind = NOTIFICATION_KINDS[int(r() * n_kinds)]
            if kind == "mention":
                text = MENTION_TEXTS[int(r() * len(MENTION_TEXTS))]
                payload = f'{{"by": {1 + int(r() * users)}, "text": "{text}"'
            elif kind == "assigned":
                payload = f'{{"by": {1 + int(r() * users)}'
            elif kind == "due_soon":
                payload = f'{{"hours_left": {1 + int(r() * 48)}'
            elif kind == "digest":
                payload = f'{{"open_tasks": {int(r() * 40)}, "period": "weekly"'
            else:
                payload = f'{{"text": "{SYSTEM_TEXTS[int(r() * len(SYSTEM_TEXTS))]}"'
            if kind != "system" and r() < 0.85:
                task = str(1 + int(r() * i * to_task))
                payload += f', "task_id": {task}}}'
            else:
                task = NULL
                payload += "}"
            created = (i - 1) * step + int(r() * step)
            read_at = fmt(created + int(r() * 3 * DAY_US)) if r() < 0.6 else NULL
            add(f"{i}\t{1 + int(r() * users)}\t{task}\t{kind}\t{payload}\t{read_at}\t{fmt(created)}\n")
        yield "".join(buf)


def assistant_jobs_rows(plan: Plan) -> Iterator[str]:
    rng = plan.rng("assistant_jobs")
    r = rng.random
    fmt = timestamp_formatter()
    seed = plan.seed
    step = plan.step("assistant_jobs")
    to_user = plan.ratio("assistant_jobs", "users")
    to_task = plan.ratio("assistant_jobs", "tasks")
    has_files = plan.counts["files"] > 0
    to_file = plan.ratio("assistant_jobs", "files") if has_files else 0.0
    n_status, n_models = len(JOB_STATUSES), len(MODELS)
    for ids in plan.spans("assistant_jobs"):
        buf: list[str] = []
        add = buf.append
        for i in ids:
            user = 1 + int(r() * i * to_user)
            task = 1 + int(r() * i * to_task) if r() < 0.6 else NULL
            inputs = "{}"
            if has_files:
                files = i * to_file
                picked = sorted({1 + int(r() * files) for _ in range(int(r() * 4))})
                if picked:
                    inputs = "{" + ",".join([file_uuid(seed, f) for f in picked]) + "}"
            retry_of = i - 1 - int(r() * min(i - 1, 20)) if i > 1 and r() < 0.08 else NULL
            status = JOB_STATUSES[int(r() * n_status)]
            model = MODELS[int(r() * n_models)]
            prompt = 50 + int(r() * 8000)
            created = (i - 1) * step + int(r() * step)
            if status in ("succeeded", "failed", "cancelled"):
                finished = fmt(created + 1_000_000 + int(r() * 120_000_000))
                completion = 1 + int(r() * 2000) if status == "succeeded" else NULL
            else:
                finished = completion = NULL
            add(
                f"{i}\t{user}\t{task}\t{inputs}\t{retry_of}\t{status}\t{model}\t{prompt}\t"
                f"{completion}\t{fmt(created)}\t{finished}\n"
            )
        yield "".join(buf)


def artifacts_rows(plan: Plan) -> Iterator[str]:
    rng = plan.rng("artifacts")
    r = rng.random
    bits = rng.getrandbits
    fmt = timestamp_formatter()
    step = plan.step("artifacts")
    has_jobs = plan.counts["assistant_jobs"] > 0
    to_job = plan.ratio("artifacts", "assistant_jobs") if has_jobs else 0.0
    to_task = plan.ratio("artifacts", "tasks")
    n_kinds = len(ARTIFACT_KINDS)
    for ids in plan.spans("artifacts"):
        buf: list[str] = []
        add = buf.append
        for i in ids:
            job = 1 + int(r() * i * to_job) if has_jobs and r() < 0.7 else NULL
            task = 1 + int(r() * i * to_task) if job == NULL or r() < 0.4 else NULL
            kind, ext = ARTIFACT_KINDS[int(r() * n_kinds)]
            size = 200 + int(r() ** 2 * 5_000_000)
            created = (i - 1) * step + int(r() * step)
            checksum = bits(256).to_bytes(32, "big").hex()
            add(
                f"{i}\t{job}\t{task}\t{kind}\ts3://drill-app-artifacts/{kind}/{i}.{ext}\t"
                f"sha256:{checksum}\t{size}\t{fmt(created)}\n"
            )
        yield "".join(buf)


def audit_events_rows(plan: Plan) -> Iterator[str]:
    rng = plan.rng("audit_events")
    r = rng.random
    fmt = timestamp_formatter()
    seed = plan.seed
    step = plan.step("audit_events")
    to_user = plan.ratio("audit_events", "users")
    events = [
        (entity, action, details, plan.ratio("audit_events", entity))
        for entity, action, details in AUDIT_EVENTS
        if plan.counts[entity] > 0
    ]
    n_events = len(events)
    sha256 = hashlib.sha256
    prev = GENESIS
    for ids in plan.spans("audit_events"):
        buf: list[str] = []
        add = buf.append
        for i in ids:
            actor = 1 + int(r() * i * to_user) if r() < 0.88 else None
            entity, action, details, to_entity = events[int(r() * n_events)]
            ref = 1 + int(r() * i * to_entity)
            entity_id = file_uuid(seed, ref) if entity == "files" else str(ref)
            detail = details[int(r() * len(details))]
            if "{n}" in detail:
                detail = detail.replace("{n}", str(2 + int(r() * 30)))
            created = fmt((i - 1) * step + int(r() * step))
            digest = sha256(
                canonical_text(prev, i, actor, action, entity, entity_id, detail, created).encode()
            ).hexdigest()
            add(
                f"{i}\t{NULL if actor is None else actor}\t{action}\t{entity}\t{entity_id}\t"
                f"{copy_escape(detail)}\t{created}\t{prev}\t{digest}\n"
            )
            prev = digest
        yield "".join(buf)

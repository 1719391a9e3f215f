"""Deterministic, seeded generator for the reference dataset (``schema.sql``).

``seed_dataset(db, total_rows, seed=...)`` creates the schema and fills all eleven tables
with COPY in one transaction. The same ``(seed, total_rows)`` always produces
byte-identical table contents: every table draws from its own ``random.Random(f"{seed}:{table}")``,
timestamps are offsets from a fixed epoch (2025-01-01T00:00:00Z, microsecond precision,
UTC), and file uuids are a seeded bijection of the file number (see :func:`file_uuid`),
never the clock or ``uuid4``.

Rows are streamed in chunks: nothing per row is kept, so memory stays flat from 100 to
10M rows (about 55 MB peak RSS at 10M). Foreign keys are valid by construction and are
re-validated by PostgreSQL when they are re-added after the load. Row ``i`` of every
table is created at ``i * span / n`` plus jitter, so ``created_at`` rises with ``id``; a
child row only references parent ids up to the proportional position of its own id,
which keeps parents (nearly always) older than their children. Values in exported
columns are deliberately plain (dictionary words, ``sha256:`` checksums, ``s3://`` URIs)
so a secret scanner has nothing to find; only the columns the contract redacts or omits
(password hashes, tokens, API keys, presigned URLs, thumbnails, sessions) carry
credential-shaped values.
"""

from __future__ import annotations

import base64
import hashlib
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from itertools import combinations
from random import Random

from harness.dataset.chain import GENESIS, canonical_text
from harness.errors import ConfigError
from harness.providers.postgres import Database

# (table, percent of total_rows, minimum) in foreign-key-safe load order. audit_events
# also receives the rounding remainder so the counts always sum to total_rows.
_SHARES: tuple[tuple[str, int, int], ...] = (
    ("users", 2, 3),
    ("sessions", 1, 0),
    ("templates", 1, 1),
    ("tasks", 18, 1),
    ("cards", 15, 0),
    ("recurring_configs", 1, 0),
    ("files", 10, 0),
    ("notifications", 22, 0),
    ("assistant_jobs", 5, 0),
    ("artifacts", 5, 0),
    ("audit_events", 20, 0),
)
TABLES: tuple[str, ...] = tuple(name for name, _, _ in _SHARES)
MIN_TOTAL_ROWS = 10

EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
SPAN_US = 365 * 86_400_000_000  # created_at values spread over one year from EPOCH
_HORIZON_HOURS = 4 * 366 * 24  # due dates, expiries and next runs may reach past the span
_HOUR_US = 3_600_000_000
_DAY_US = 86_400_000_000
CHUNK_ROWS = 5_000

COLUMNS: dict[str, tuple[str, ...]] = {
    "users": (
        "id",
        "email",
        "display_name",
        "role",
        "status",
        "locale",
        "password_hash",
        "session_token",
        "api_key",
        "created_at",
        "updated_at",
        "last_login_at",
    ),
    "sessions": ("id", "user_id", "token", "user_agent", "created_at", "expires_at"),
    "templates": ("id", "owner_id", "name", "body", "is_shared", "created_at", "updated_at"),
    "tasks": (
        "id",
        "owner_id",
        "assignee_id",
        "template_id",
        "title",
        "status",
        "priority",
        "tags",
        "due_at",
        "created_at",
        "updated_at",
    ),
    "cards": ("id", "task_id", "owner_id", "title", "body", "lane", "position", "created_at", "updated_at"),
    "recurring_configs": (
        "id",
        "template_id",
        "owner_id",
        "cron",
        "timezone",
        "enabled",
        "next_run_at",
        "created_at",
    ),
    "files": (
        "id",
        "owner_id",
        "task_id",
        "card_id",
        "filename",
        "content_type",
        "storage_uri",
        "checksum",
        "size_bytes",
        "download_url",
        "thumbnail",
        "created_at",
    ),
    "notifications": ("id", "user_id", "task_id", "kind", "payload", "read_at", "created_at"),
    "assistant_jobs": (
        "id",
        "user_id",
        "task_id",
        "input_file_ids",
        "retry_of",
        "status",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "created_at",
        "finished_at",
    ),
    "artifacts": ("id", "job_id", "task_id", "kind", "storage_uri", "checksum", "size_bytes", "created_at"),
    "audit_events": (
        "id",
        "actor_id",
        "action",
        "entity",
        "entity_id",
        "detail",
        "created_at",
        "prev_hash",
        "hash",
    ),
}

NULL = "\\N"  # COPY text-format NULL
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_escape(value: str) -> str:
    """Escape a value for COPY text format (backslash, tab, newline, carriage return)."""
    return value.translate(_COPY_ESCAPES)


# --------------------------------------------------------------------------- vocabulary
# Every word below is free of quotes, backslashes and separators unless it is escaped
# where it is used; JSON values are assembled from these words directly.

FIRST_NAMES = (
    "Ada", "Ben", "Chloé", "Dmitri", "Elena", "Farah", "Gus", "Hana", "Ivan", "Jun", "Kofi", "Lena",
    "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Viktor", "Wen",
    "Ximena", "Yusuf", "Zoë",
)  # fmt: skip
LAST_NAMES = (
    "Abbott", "Brennan", "Castillo", "Dubois", "Eriksen", "Fischer", "García", "Haddad", "Ito",
    "Jensen", "Kowalski", "Larsen", "Müller", "Nakamura", "O'Neil", "Petrov", "Quist", "Rossi",
    "Singh", "Tanaka", "Úlfarsson", "Varga", "Weber", "Xu", "Yilmaz", "Zhou",
)  # fmt: skip
ROLES = ("owner",) + ("admin",) * 2 + ("member",) * 14 + ("viewer",) * 3
USER_STATUSES = ("active",) * 17 + ("invited", "suspended", "deleted")
LOCALES = ("en", "en", "en", "en", "de", "fr", "es", "ja", "pt-BR", "nl")
USER_AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Safari/17.5",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0",
    "DrillApp/3.4.1 (iPhone; iOS 17.5)",
    "DrillApp/3.4.0 (Android 14; Pixel 8)",
    "drill-cli/1.9.2 python-requests/2.32",
)
TEMPLATE_NAMES = (
    "Sprint planning", "Bug triage", "Release checklist", "Onboarding", "Weekly review",
    "Incident retro", "Design review", "Quarterly goals", "Vendor intake", "Content calendar",
)  # fmt: skip
SECTIONS = ("Goals", "Scope", "Risks", "Owners", "Timeline", "Checklist", "Notes", "Decisions")
VERBS = (
    "Draft", "Review", "Update", "Fix", "Plan", "Migrate", "Document", "Test", "Ship", "Refactor",
    "Schedule", "Audit", "Design", "Prepare", "Clean up", "Follow up on",
)  # fmt: skip
ADJECTIVES = (
    "quarterly", "onboarding", "billing", "mobile", "search", "release", "customer", "internal",
    "legacy", "weekly", "pricing", "security", "café", "partner",
)  # fmt: skip
NOUNS = (
    "report", "checklist", "roadmap", "dashboard", "invoice flow", "landing page", "notes",
    "retro", "backlog", "survey", "newsletter", "API docs", "budget", "handbook", "workshop",
    "export job", "migration plan", "style guide",
)  # fmt: skip
TAGS = ("urgent", "backend", "frontend", "design", "ops", "q3", "bug", "docs", "research", "customer")
TASK_STATUSES = ("todo",) * 4 + ("in_progress",) * 3 + ("blocked", "done", "done", "done", "archived")
LANES = ("backlog", "doing", "review", "done")
CARD_LINES = (
    "Agreed in standup.",
    "Needs sign-off from design.",
    "See the thread in #product for context.",
    "Waiting on the vendor's reply.",
    'Customer said: "works for us".',
    "Résumé of the discussion below.",
    "Blocked until the release branch is cut.",
    "Keep it small; ship behind a flag.",
    "Numbers\tQ1\tQ2 (tab separated)",
    "Path on the share: C:\\Projects\\drill\\notes.txt",
    "Done ✅ — moving on.",
)
CHECK_ITEMS = ("write tests", "update docs", "ping QA", "demo on Friday", "close tickets", "tag release")
CRONS = ("0 9 * * 1", "0 9 * * 1-5", "30 17 * * 5", "0 8 1 * *", "0 */6 * * *", "15 10 * * 2,4")
TIMEZONES = (
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Tokyo",
    "America/Sao_Paulo",
    "Australia/Sydney",
)
FILE_KINDS = (
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("pdf", "application/pdf"),
    ("pdf", "application/pdf"),
    ("csv", "text/csv"),
    ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("txt", "text/plain"),
    ("zip", "application/zip"),
)
FILE_STEMS = (
    "design-spec", "meeting-notes", "screenshot", "invoice", "contract-draft", "roadmap",
    "export", "diagram", "budget", "photo", "brief", "wireframe",
)  # fmt: skip
NOTIFICATION_KINDS = ("mention",) * 4 + ("assigned",) * 3 + ("due_soon",) * 2 + ("digest", "system")
MENTION_TEXTS = ("can you take a look?", "thoughts on this?", "updated the estimate", "see my comment")
SYSTEM_TEXTS = ("scheduled maintenance on Sunday", "new feature: recurring tasks", "your export is ready")
JOB_STATUSES = ("succeeded",) * 12 + ("failed",) * 2 + ("queued", "running", "cancelled")
MODELS = ("assistant-small-2025-01", "assistant-large-2025-01", "assistant-vision-2024-11")
ARTIFACT_KINDS = (("summary", "md"), ("plan", "json"), ("image", "png"), ("report", "pdf"))
# (entity table, action, detail texts). ``{n}`` in a detail is replaced by a small number.
AUDIT_EVENTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("users", "login", ("signed in", "signed in with SSO", "signed in from the mobile app")),
    ("users", "update", ("changed display name", "changed locale", "enabled two-factor sign-in")),
    ("tasks", "create", ("created task", "created task from template")),
    ("tasks", "update", ("status changed to done", "priority raised to {n}", "renamed to «Roadmap»")),
    ("tasks", "delete", ("moved to trash",)),
    ("cards", "update", ("moved to review", "moved to done", "position changed to {n}")),
    ("files", "create", ("uploaded file", "uploaded {n} pages")),
    ("files", "share", ("shared with workspace", "link shared with {n} people")),
    ("templates", "update", ("template edited", "template shared")),
    ("assistant_jobs", "create", ("assistant job queued", "assistant job retried")),
    ("tasks", "export", ("exported {n} rows to CSV",)),
)


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_text.lower() if ch.isalnum())


@cache
def _hour_prefixes() -> tuple[str, ...]:
    return tuple((EPOCH + timedelta(hours=h)).strftime("%Y-%m-%dT%H:") for h in range(_HORIZON_HOURS))


_MINUTE_SECONDS = tuple(f"{m:02d}:{s:02d}." for m in range(60) for s in range(60))


def _formatter() -> Callable[[int], str]:
    """Microseconds after EPOCH → ISO 8601 UTC text with microseconds (``...T12:34:56.123456Z``).

    Hour prefixes are precomputed; ``%`` formatting is markedly faster than an f-string
    with a format spec here, and this runs two or three times per generated row.
    """
    hours = _hour_prefixes()
    minsec = _MINUTE_SECONDS

    def fmt(t: int) -> str:
        s, f = divmod(t, 1_000_000)
        return "%s%s%06dZ" % (hours[s // 3600], minsec[s % 3600], f)  # noqa: UP031

    return fmt


_M122 = (1 << 122) - 1
_MIX1 = 0x9E3779B97F4A7C15F39CC0605CEDC835 & _M122 | 1
_MIX2 = 0xBF58476D1CE4E5B94D2A3B1C9E7F0A63 & _M122 | 1


@cache
def _file_offset(seed: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:files".encode()).digest()[:16], "big") & _M122


def file_uuid(seed: int, index: int) -> str:
    """The uuid (version 4 layout) of file number ``index`` (1-based) for ``seed``.

    A seeded bijection of the index (add, multiply by odd constants, xor-shift; all modulo
    2**122) fills the 122 free bits, so uuids look random, never collide, and references
    to files can be recomputed from the file number without a lookup table.
    """
    x = (index + _file_offset(seed)) & _M122
    x = (x * _MIX1) & _M122
    x ^= x >> 61
    x = (x * _MIX2) & _M122
    x ^= x >> 59
    u = (x >> 74) << 80 | 0x4 << 76 | ((x >> 62) & 0xFFF) << 64 | 0x2 << 62 | (x & 0x3FFFFFFFFFFFFFFF)
    h = "%032x" % u  # noqa: UP031
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def plan_counts(total_rows: int) -> dict[str, int]:
    """Rows per table (in load order) for ``total_rows``; the values sum to ``total_rows`` exactly."""
    if isinstance(total_rows, bool) or not isinstance(total_rows, int) or total_rows < MIN_TOTAL_ROWS:
        raise ConfigError(f"dataset rows must be an integer >= {MIN_TOTAL_ROWS}, got {total_rows!r}")
    counts = {name: max(minimum, total_rows * pct // 100) for name, pct, minimum in _SHARES[:-1]}
    counts["audit_events"] = total_rows - sum(counts.values())
    return counts


# --------------------------------------------------------------------------- table generators
# Each generator yields COPY text-format chunks of up to CHUNK_ROWS lines. The loops are
# written for speed (local aliases, inlined parent picks) because they run per row.


@dataclass(frozen=True)
class _Plan:
    seed: int
    counts: dict[str, int]

    def rng(self, table: str) -> Random:
        return Random(f"{self.seed}:{table}")  # noqa: S311 - reproducible fake data, not secrets

    def ratio(self, child: str, parent: str) -> float:
        """Parent ids for child row ``i`` are drawn as ``1 + int(random() * i * ratio)``.

        That is uniform over the parents created up to ``i``'s proportional position; the
        ``- 0.5`` keeps the draw <= the parent count despite float rounding.
        """
        n_parent = self.counts[parent]
        if n_parent < 1:
            raise ConfigError(f"dataset plan has no {parent} for {child} to reference")
        return (n_parent - 0.5) / max(self.counts[child], 1)

    def spans(self, table: str) -> Iterator[range]:
        n = self.counts[table]
        for lo in range(1, n + 1, CHUNK_ROWS):
            yield range(lo, min(lo + CHUNK_ROWS, n + 1))

    def step(self, table: str) -> int:
        """created_at of row i is (i - 1) * step + jitter, jitter < step: strictly increasing with id."""
        return SPAN_US // max(self.counts[table], 1)


def _b62(rng: Random, length: int) -> str:
    out = ""
    while len(out) < length:
        out += base64.b64encode(rng.getrandbits(384).to_bytes(48, "big")).decode().translate(_NO_B64_SYMBOLS)
    return out[:length]


_NO_B64_SYMBOLS = str.maketrans("", "", "+/=")
_BCRYPT_FROM_B64 = str.maketrans("+", ".")


@cache
def _people() -> tuple[tuple[str, str], ...]:
    return tuple((f"{f} {la}", f"{_slug(f)}.{_slug(la)}") for f in FIRST_NAMES for la in LAST_NAMES)


def _users(plan: _Plan) -> Iterator[str]:
    rng = plan.rng("users")
    r = rng.random
    bits = rng.getrandbits
    fmt = _formatter()
    step = plan.step("users")
    people = _people()
    n_people, n_roles, n_status, n_locales = len(people), len(ROLES), len(USER_STATUSES), len(LOCALES)
    day = _DAY_US
    for ids in plan.spans("users"):
        buf: list[str] = []
        add = buf.append
        for i in ids:
            name, local = people[int(r() * n_people)]
            role = "owner" if i == 1 else ROLES[int(r() * n_roles)]
            status = "active" if i == 1 else USER_STATUSES[int(r() * n_status)]
            created = (i - 1) * step + int(r() * step)
            updated = created + int(r() * 30 * day)
            if status == "invited":
                password = session = api_key = last_login = NULL
            else:
                raw = base64.b64encode(bits(320).to_bytes(40, "big")).decode()
                password = "$2b$12$" + raw.translate(_BCRYPT_FROM_B64)[:53]
                session = (
                    base64.urlsafe_b64encode(bits(256).to_bytes(32, "big")).decode()[:43]
                    if status == "active" and r() < 0.6
                    else NULL
                )
                api_key = "dk_live_" + _b62(rng, 32) if r() < 0.3 else NULL
                last_login = fmt(created + int(r() * 60 * day))
            locale = LOCALES[int(r() * n_locales)]
            add(
                f"{i}\t{local}.{i}@example.test\t{name}\t{role}\t{status}\t{locale}\t{password}\t"
                f"{session}\t{api_key}\t{fmt(created)}\t{fmt(updated)}\t{last_login}\n"
            )
        yield "".join(buf)


def _sessions(plan: _Plan) -> Iterator[str]:
    rng = plan.rng("sessions")
    r = rng.random
    bits = rng.getrandbits
    fmt = _formatter()
    step = plan.step("sessions")
    to_user = plan.ratio("sessions", "users")
    b64 = base64.urlsafe_b64encode
    for ids in plan.spans("sessions"):
        buf: list[str] = []
        add = buf.append
        for i in ids:
            user = 1 + int(r() * i * to_user)
            token = b64(bits(256).to_bytes(32, "big")).decode()[:43]
            agent = USER_AGENTS[int(r() * len(USER_AGENTS))]
            created = (i - 1) * step + int(r() * step)
            expires = created + (14 if r() < 0.8 else 30) * _DAY_US
            add(f"{i}\t{user}\t{token}\t{agent}\t{fmt(created)}\t{fmt(expires)}\n")
        yield "".join(buf)


def _templates(plan: _Plan) -> Iterator[str]:
    rng = plan.rng("templates")
    r = rng.random
    fmt = _formatter()
    step = plan.step("templates")
    to_user = plan.ratio("templates", "users")
    n_sections = len(SECTIONS)
    for ids in plan.spans("templates"):
        buf: list[str] = []
        add = buf.append
        for i in ids:
            owner = 1 + int(r() * i * to_user)
            name = TEMPLATE_NAMES[int(r() * len(TEMPLATE_NAMES))]
            first = int(r() * n_sections)
            sections = ", ".join(f'"{SECTIONS[(first + j) % n_sections]}"' for j in range(1 + int(r() * 3)))
            checklist = "true" if r() < 0.5 else "false"
            body = (
                f'{{"version": {1 + int(r() * 5)}, "sections": [{sections}], '
                f'"default_priority": {1 + int(r() * 4)}, "checklist": {checklist}}}'
            )
            shared = "t" if r() < 0.4 else "f"
            created = (i - 1) * step + int(r() * step)
            updated = created + int(r() * 90 * _DAY_US)
            add(f"{i}\t{owner}\t{name} v{1 + i % 7}\t{body}\t{shared}\t{fmt(created)}\t{fmt(updated)}\n")
        yield "".join(buf)


@cache
def _tag_sets() -> tuple[tuple[str, ...], ...]:
    """Array literals of 0, 1, 2 and 3 distinct tags, grouped by size."""
    return tuple(tuple("{" + ",".join(c) + "}" for c in combinations(TAGS, k)) for k in range(4))


@cache
def _task_titles() -> tuple[str, ...]:
    return tuple(f"{v} {a} {n}" for v in VERBS for a in ADJECTIVES for n in NOUNS)


def _tasks(plan: _Plan) -> Iterator[str]:
    rng = plan.rng("tasks")
    r = rng.random
    fmt = _formatter()
    step = plan.step("tasks")
    to_user = plan.ratio("tasks", "users")
    to_template = plan.ratio("tasks", "templates")
    titles = _task_titles()
    n_titles, n_status = len(titles), len(TASK_STATUSES)
    tag_sets = _tag_sets()
    day = _DAY_US
    for ids in plan.spans("tasks"):
        buf: list[str] = []
        add = buf.append
        for i in ids:
            users = i * to_user
            owner = 1 + int(r() * users)
            assignee = 1 + int(r() * users) if r() < 0.7 else NULL
            template = 1 + int(r() * i * to_template) if r() < 0.25 else NULL
            status = TASK_STATUSES[int(r() * n_status)]
            options = tag_sets[int(r() * 4)]
            tags = options[int(r() * len(options))]
            created = (i - 1) * step + int(r() * step)
            updated = created + int(r() * 20 * day)
            due = fmt(created + day + int(r() * 45 * day)) if r() < 0.6 else NULL
            add(
                f"{i}\t{owner}\t{assignee}\t{template}\t{titles[int(r() * n_titles)]}\t{status}\t"
                f"{1 + int(r() * 4)}\t{tags}\t{due}\t{fmt(created)}\t{fmt(updated)}\n"
            )
        yield "".join(buf)


@cache
def _card_bodies() -> tuple[str, ...]:
    """Card bodies, already COPY-escaped: multi-line checklists, quotes, a tab, a backslash, non-ASCII."""
    bodies = [copy_escape(line) for line in CARD_LINES]
    for line in CARD_LINES[:6]:
        for a, b in combinations(CHECK_ITEMS, 2):
            bodies.append(copy_escape(f"{line}\n- {a}\n- {b}"))
    return tuple(bodies)


def _cards(plan: _Plan) -> Iterator[str]:
    rng = plan.rng("cards")
    r = rng.random
    fmt = _formatter()
    step = plan.step("cards")
    to_task = plan.ratio("cards", "tasks")
    to_user = plan.ratio("cards", "users")
    bodies = _card_bodies()
    titles = _task_titles()
    n_bodies, n_titles = len(bodies), len(titles)
    for ids in plan.spans("cards"):
        buf: list[str] = []
        add = buf.append
        for i in ids:
            task = 1 + int(r() * i * to_task) if r() < 0.8 else NULL
            owner = 1 + int(r() * i * to_user)
            title = titles[int(r() * n_titles)]
            body = bodies[int(r() * n_bodies)]
            lane = LANES[int(r() * 4)]
            created = (i - 1) * step + int(r() * step)
            updated = created + int(r() * 10 * _DAY_US)
            add(
                f"{i}\t{task}\t{owner}\t{title}\t{body}\t{lane}\t{1 + int(r() * 1000)}\t"
                f"{fmt(created)}\t{fmt(updated)}\n"
            )
        yield "".join(buf)


def _recurring_configs(plan: _Plan) -> Iterator[str]:
    rng = plan.rng("recurring_configs")
    r = rng.random
    fmt = _formatter()
    step = plan.step("recurring_configs")
    to_template = plan.ratio("recurring_configs", "templates")
    to_user = plan.ratio("recurring_configs", "users")
    for ids in plan.spans("recurring_configs"):
        buf: list[str] = []
        add = buf.append
        for i in ids:
            template = 1 + int(r() * i * to_template)
            owner = 1 + int(r() * i * to_user)
            cron = CRONS[int(r() * len(CRONS))]
            zone = TIMEZONES[int(r() * len(TIMEZONES))]
            created = (i - 1) * step + int(r() * step)
            enabled = r() < 0.8
            next_run = fmt(created + int(r() * 7 * _DAY_US)) if enabled else NULL
            add(
                f"{i}\t{template}\t{owner}\t{cron}\t{zone}\t{'t' if enabled else 'f'}\t"
                f"{next_run}\t{fmt(created)}\n"
            )
        yield "".join(buf)


_PNG_MAGIC = "89504e470d0a1a0a"


def _files(plan: _Plan) -> Iterator[str]:
    rng = plan.rng("files")
    r = rng.random
    bits = rng.getrandbits
    fmt = _formatter()
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


def _notifications(plan: _Plan) -> Iterator[str]:
    rng = plan.rng("notifications")
    r = rng.random
    fmt = _formatter()
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
            read_at = fmt(created + int(r() * 3 * _DAY_US)) if r() < 0.6 else NULL
            add(f"{i}\t{1 + int(r() * users)}\t{task}\t{kind}\t{payload}\t{read_at}\t{fmt(created)}\n")
        yield "".join(buf)


def _assistant_jobs(plan: _Plan) -> Iterator[str]:
    rng = plan.rng("assistant_jobs")
    r = rng.random
    fmt = _formatter()
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


def _artifacts(plan: _Plan) -> Iterator[str]:
    rng = plan.rng("artifacts")
    r = rng.random
    bits = rng.getrandbits
    fmt = _formatter()
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


def _audit_events(plan: _Plan) -> Iterator[str]:
    rng = plan.rng("audit_events")
    r = rng.random
    fmt = _formatter()
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


_GENERATORS: dict[str, Callable[[_Plan], Iterator[str]]] = {
    "users": _users,
    "sessions": _sessions,
    "templates": _templates,
    "tasks": _tasks,
    "cards": _cards,
    "recurring_configs": _recurring_configs,
    "files": _files,
    "notifications": _notifications,
    "assistant_jobs": _assistant_jobs,
    "artifacts": _artifacts,
    "audit_events": _audit_events,
}


def copy_chunks(table: str, total_rows: int, *, seed: int = 42) -> Iterator[str]:
    """COPY text-format data for one table, in chunks of up to CHUNK_ROWS lines."""
    if table not in _GENERATORS:
        raise ConfigError(f"unknown dataset table {table!r}; expected one of {', '.join(TABLES)}")
    return _GENERATORS[table](_Plan(seed, plan_counts(total_rows)))


def schema_sql() -> str:
    """The bundled reference schema."""
    return resources.files("harness.dataset").joinpath("schema.sql").read_text(encoding="utf-8")


_FOREIGN_KEYS_SQL = """
SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
FROM pg_constraint c
WHERE c.contype = 'f' AND c.conrelid = ANY (SELECT to_regclass(t) FROM unnest(%s::text[]) AS t)
ORDER BY 1, 2
"""
# Plain indexes (not backing a primary key or unique constraint).
_INDEXES_SQL = """
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i
WHERE i.indrelid = ANY (SELECT to_regclass(t) FROM unnest(%s::text[]) AS t)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
ORDER BY 1
"""


def seed_dataset(
    db: Database, total_rows: int, *, seed: int = 42, create_schema: bool = True
) -> dict[str, int]:
    """Create the reference schema (unless ``create_schema=False``) and fill it; return rows per table.

    Everything happens in one transaction. Foreign keys and plain indexes are dropped for
    the load and re-created from their catalog definitions (same names) before commit:
    PostgreSQL then checks each foreign key in one set-based pass instead of one trigger
    query per row, which makes the load about twice as fast. Primary keys and unique
    constraints stay in place throughout. ANALYZE runs last. With ``create_schema=False``
    the tables must already exist and be empty.
    """
    counts = plan_counts(total_rows)
    plan = _Plan(seed, counts)
    tables = list(TABLES)
    with db.connect() as conn:
        with conn.cursor() as cur:
            if create_schema:
                cur.execute(schema_sql().encode("utf-8"))
            foreign_keys = cur.execute(_FOREIGN_KEYS_SQL, (tables,)).fetchall()
            for table, name, _definition in foreign_keys:
                cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            indexes = cur.execute(_INDEXES_SQL, (tables,)).fetchall()
            for index, _definition in indexes:
                cur.execute(f"DROP INDEX {index}")
            # FREEZE is allowed (and saves a later VACUUM) when the tables were created in this transaction.
            options = " WITH (FREEZE)" if create_schema else ""
            for table in TABLES:
                if not counts[table]:
                    continue
                columns = ", ".join(COLUMNS[table])
                with cur.copy(f"COPY {table} ({columns}) FROM STDIN{options}") as copy:
                    for chunk in _GENERATORS[table](plan):
                        copy.write(chunk)
            for _index, definition in indexes:
                cur.execute(definition)
            for table, name, definition in foreign_keys:
                cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            cur.execute("ANALYZE " + ", ".join(TABLES))
        conn.commit()
    return counts

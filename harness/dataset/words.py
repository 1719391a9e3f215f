"""Vocabulary for the reference dataset: plain words (nothing a secret scanner could mistake
for a credential) and the COPY text-format escaping they are written with."""

from __future__ import annotations

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

"""Row generators for the work tables: users, sessions, templates, tasks, cards,
recurring configs. Each yields COPY text-format chunks of up to CHUNK_ROWS lines."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from functools import cache
from itertools import combinations

from harness.dataset.plan import BCRYPT_FROM_B64, DAY_US, Plan, b62, slug, timestamp_formatter
from harness.dataset.words import (
    ADJECTIVES,
    CARD_LINES,
    CHECK_ITEMS,
    CRONS,
    FIRST_NAMES,
    LANES,
    LAST_NAMES,
    LOCALES,
    NOUNS,
    NULL,
    ROLES,
    SECTIONS,
    TAGS,
    TASK_STATUSES,
    TEMPLATE_NAMES,
    TIMEZONES,
    USER_AGENTS,
    USER_STATUSES,
    VERBS,
    copy_escape,
)


@cache
def _people() -> tuple[tuple[str, str], ...]:
    return tuple((f"{f} {la}", f"{slug(f)}.{slug(la)}") for f in FIRST_NAMES for la in LAST_NAMES)


def users_rows(plan: Plan) -> Iterator[str]:
    rng = plan.rng("users")
    r = rng.random
    bits = rng.getrandbits
    fmt = timestamp_formatter()
    step = plan.step("users")
    people = _people()
    n_people, n_roles, n_status, n_locales = len(people), len(ROLES), len(USER_STATUSES), len(LOCALES)
    day = DAY_US
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
                password = "$2b$12$" + raw.translate(BCRYPT_FROM_B64)[:53]
                session = (
                    base64.urlsafe_b64encode(bits(256).to_bytes(32, "big")).decode()[:43]
                    if status == "active" and r() < 0.6
                    else NULL
                )
                api_key = "dk_live_" + b62(rng, 32) if r() < 0.3 else NULL
                last_login = fmt(created + int(r() * 60 * day))
            locale = LOCALES[int(r() * n_locales)]
            add(
                f"{i}\t{local}.{i}@example.test\t{name}\t{role}\t{status}\t{locale}\t{password}\t"
                f"{session}\t{api_key}\t{fmt(created)}\t{fmt(updated)}\t{last_login}\n"
            )
        yield "".join(buf)


def sessions_rows(plan: Plan) -> Iterator[str]:
    rng = plan.rng("sessions")
    r = rng.random
    bits = rng.getrandbits
    fmt = timestamp_formatter()
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
            expires = created + (14 if r() < 0.8 else 30) * DAY_US
            add(f"{i}\t{user}\t{token}\t{agent}\t{fmt(created)}\t{fmt(expires)}\n")
        yield "".join(buf)


def templates_rows(plan: Plan) -> Iterator[str]:
    rng = plan.rng("templates")
    r = rng.random
    fmt = timestamp_formatter()
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
            updated = created + int(r() * 90 * DAY_US)
            add(f"{i}\t{owner}\t{name} v{1 + i % 7}\t{body}\t{shared}\t{fmt(created)}\t{fmt(updated)}\n")
        yield "".join(buf)


@cache
def _tag_sets() -> tuple[tuple[str, ...], ...]:
    """Array literals of 0, 1, 2 and 3 distinct tags, grouped by size."""
    return tuple(tuple("{" + ",".join(c) + "}" for c in combinations(TAGS, k)) for k in range(4))


@cache
def _task_titles() -> tuple[str, ...]:
    return tuple(f"{v} {a} {n}" for v in VERBS for a in ADJECTIVES for n in NOUNS)


def tasks_rows(plan: Plan) -> Iterator[str]:
    rng = plan.rng("tasks")
    r = rng.random
    fmt = timestamp_formatter()
    step = plan.step("tasks")
    to_user = plan.ratio("tasks", "users")
    to_template = plan.ratio("tasks", "templates")
    titles = _task_titles()
    n_titles, n_status = len(titles), len(TASK_STATUSES)
    tag_sets = _tag_sets()
    day = DAY_US
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


def cards_rows(plan: Plan) -> Iterator[str]:
    rng = plan.rng("cards")
    r = rng.random
    fmt = timestamp_formatter()
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
            updated = created + int(r() * 10 * DAY_US)
            add(
                f"{i}\t{task}\t{owner}\t{title}\t{body}\t{lane}\t{1 + int(r() * 1000)}\t"
                f"{fmt(created)}\t{fmt(updated)}\n"
            )
        yield "".join(buf)


def recurring_configs_rows(plan: Plan) -> Iterator[str]:
    rng = plan.rng("recurring_configs")
    r = rng.random
    fmt = timestamp_formatter()
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
            next_run = fmt(created + int(r() * 7 * DAY_US)) if enabled else NULL
            add(
                f"{i}\t{template}\t{owner}\t{cron}\t{zone}\t{'t' if enabled else 'f'}\t"
                f"{next_run}\t{fmt(created)}\n"
            )
        yield "".join(buf)

-- Reference application schema used by drills and tests.
-- A task-management app with the usual sensitive columns (password hashes,
-- session tokens, API keys, signed download URLs, raw thumbnails) so that
-- redaction rules have something real to remove.

CREATE TABLE users (
    id             bigint PRIMARY KEY,
    email          text NOT NULL UNIQUE,
    display_name   text NOT NULL,
    role           text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    status         text NOT NULL CHECK (status IN ('active', 'invited', 'suspended', 'deleted')),
    locale         text NOT NULL DEFAULT 'en',
    password_hash  text,            -- bcrypt; never exported
    session_token  text,            -- current web session; never exported
    api_key        text,            -- personal API key; never exported
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    last_login_at  timestamptz
);

-- Live sessions: omitted from portable exports altogether.
CREATE TABLE sessions (
    id          bigint PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id),
    token       text NOT NULL,
    user_agent  text NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);

CREATE TABLE templates (
    id          bigint PRIMARY KEY,
    owner_id    bigint NOT NULL REFERENCES users (id),
    name        text NOT NULL,
    body        jsonb NOT NULL,
    is_shared   boolean NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE tasks (
    id           bigint PRIMARY KEY,
    owner_id     bigint NOT NULL REFERENCES users (id),
    assignee_id  bigint REFERENCES users (id),
    template_id  bigint REFERENCES templates (id),
    title        text NOT NULL,
    status       text NOT NULL CHECK (status IN ('todo', 'in_progress', 'blocked', 'done', 'archived')),
    priority     smallint NOT NULL CHECK (priority BETWEEN 1 AND 4),
    tags         text[] NOT NULL DEFAULT '{}',
    due_at       timestamptz,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

CREATE TABLE cards (
    id          bigint PRIMARY KEY,
    task_id     bigint REFERENCES tasks (id),
    owner_id    bigint NOT NULL REFERENCES users (id),
    title       text NOT NULL,
    body        text NOT NULL,
    lane        text NOT NULL CHECK (lane IN ('backlog', 'doing', 'review', 'done')),
    position    integer NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE recurring_configs (
    id           bigint PRIMARY KEY,
    template_id  bigint NOT NULL REFERENCES templates (id),
    owner_id     bigint NOT NULL REFERENCES users (id),
    cron         text NOT NULL,
    timezone     text NOT NULL,
    enabled      boolean NOT NULL,
    next_run_at  timestamptz,
    created_at   timestamptz NOT NULL
);

CREATE TABLE files (
    id            uuid PRIMARY KEY,
    owner_id      bigint NOT NULL REFERENCES users (id),
    task_id       bigint REFERENCES tasks (id),
    card_id       bigint REFERENCES cards (id),
    filename      text NOT NULL,
    content_type  text NOT NULL,
    storage_uri   text NOT NULL,
    checksum      text NOT NULL,
    size_bytes    bigint NOT NULL CHECK (size_bytes >= 0),
    download_url  text,             -- presigned URL cached by the app; never exported
    thumbnail     bytea,            -- raw binary; never exported
    created_at    timestamptz NOT NULL,
    CHECK (task_id IS NOT NULL OR card_id IS NOT NULL)
);

CREATE TABLE notifications (
    id          bigint PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id),
    task_id     bigint REFERENCES tasks (id),
    kind        text NOT NULL CHECK (kind IN ('mention', 'assigned', 'due_soon', 'digest', 'system')),
    payload     jsonb NOT NULL,
    read_at     timestamptz,
    created_at  timestamptz NOT NULL
);

CREATE TABLE assistant_jobs (
    id                 bigint PRIMARY KEY,
    user_id            bigint NOT NULL REFERENCES users (id),
    task_id            bigint REFERENCES tasks (id),
    input_file_ids     uuid[] NOT NULL DEFAULT '{}',
    retry_of           bigint REFERENCES assistant_jobs (id),
    status             text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    model              text NOT NULL,
    prompt_tokens      integer NOT NULL,
    completion_tokens  integer,
    created_at         timestamptz NOT NULL,
    finished_at        timestamptz
);

CREATE TABLE artifacts (
    id           bigint PRIMARY KEY,
    job_id       bigint REFERENCES assistant_jobs (id),
    task_id      bigint REFERENCES tasks (id),
    kind         text NOT NULL CHECK (kind IN ('summary', 'plan', 'image', 'report')),
    storage_uri  text NOT NULL,
    checksum     text NOT NULL,
    size_bytes   bigint NOT NULL CHECK (size_bytes >= 0),
    created_at   timestamptz NOT NULL,
    CHECK (job_id IS NOT NULL OR task_id IS NOT NULL)
);

-- Append-only audit log; each row's hash covers its canonical payload and the
-- previous row's hash (see harness/dataset/chain.py for the construction).
CREATE TABLE audit_events (
    id          bigint PRIMARY KEY,
    actor_id    bigint REFERENCES users (id),
    action      text NOT NULL,
    entity      text NOT NULL,
    entity_id   text NOT NULL,
    detail      text NOT NULL,
    created_at  timestamptz NOT NULL,
    prev_hash   text NOT NULL,
    hash        text NOT NULL
);

CREATE INDEX tasks_owner_idx ON tasks (owner_id);
CREATE INDEX cards_task_idx ON cards (task_id);
CREATE INDEX files_owner_idx ON files (owner_id);
CREATE INDEX notifications_user_idx ON notifications (user_id);
CREATE INDEX assistant_jobs_user_idx ON assistant_jobs (user_id);

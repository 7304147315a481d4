-- hotline store, PostgreSQL schema. Timestamps are epoch milliseconds (BIGINT,
-- read as i64 through the sqlx Any driver); no BOOLEAN columns.
CREATE TABLE events (
    id      BIGSERIAL PRIMARY KEY,
    at_ms   BIGINT NOT NULL,
    call_id TEXT,
    agent   TEXT,
    queue   TEXT,
    kind    TEXT NOT NULL,
    body    TEXT NOT NULL
);
CREATE INDEX events_call_id ON events (call_id, id);
CREATE INDEX events_at_ms ON events (at_ms, id);

CREATE TABLE cdrs (
    call_id            TEXT PRIMARY KEY NOT NULL,
    caller             TEXT NOT NULL,
    caller_name        TEXT,
    dialled            TEXT NOT NULL,
    queue              TEXT,
    agent              TEXT,
    call_type          TEXT NOT NULL,
    arrived_ms         BIGINT NOT NULL,
    system_answered_ms BIGINT,
    agent_answered_ms  BIGINT,
    ended_ms           BIGINT,
    wait_ms            BIGINT,
    talk_ms            BIGINT,
    rings              BIGINT,
    outcome            TEXT,
    ended_by           TEXT,
    recording_path     TEXT,
    recording_sha256   TEXT
);
CREATE INDEX cdrs_arrived_ms ON cdrs (arrived_ms);

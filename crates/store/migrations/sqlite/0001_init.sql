-- hotline store, SQLite schema. Timestamps are epoch milliseconds (INTEGER);
-- no BOOLEAN columns (the sqlx Any driver rejects them).
CREATE TABLE events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms   INTEGER NOT NULL,
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
    arrived_ms         INTEGER NOT NULL,
    system_answered_ms INTEGER,
    agent_answered_ms  INTEGER,
    ended_ms           INTEGER,
    wait_ms            INTEGER,
    talk_ms            INTEGER,
    rings              INTEGER,
    outcome            TEXT,
    ended_by           TEXT,
    recording_path     TEXT,
    recording_sha256   TEXT
);
CREATE INDEX cdrs_arrived_ms ON cdrs (arrived_ms);

-- Users and roles, evidence marks (legal holds) and the hash-chained audit log.
CREATE TABLE users (
    name          TEXT PRIMARY KEY NOT NULL,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_ms    BIGINT NOT NULL
);

CREATE TABLE marks (
    id             BIGSERIAL PRIMARY KEY,
    call_id        TEXT NOT NULL,
    kind           TEXT NOT NULL,
    note           TEXT NOT NULL,
    by_user        TEXT NOT NULL,
    at_ms          BIGINT NOT NULL,
    released_ms    BIGINT,
    released_by    TEXT,
    release_reason TEXT
);
CREATE INDEX marks_call_id ON marks (call_id);

CREATE TABLE audit (
    id        BIGSERIAL PRIMARY KEY,
    at_ms     BIGINT NOT NULL,
    who       TEXT NOT NULL,
    action    TEXT NOT NULL,
    call_id   TEXT,
    reason    TEXT NOT NULL,
    prev_hash TEXT NOT NULL UNIQUE,
    hash      TEXT NOT NULL UNIQUE
);
CREATE INDEX audit_call_id ON audit (call_id, id);

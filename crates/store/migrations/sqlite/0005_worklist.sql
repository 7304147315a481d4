-- Work lists (call-backs owed) and return-visit campaigns (回访).
CREATE TABLE campaigns (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    queue       TEXT,
    notes       TEXT NOT NULL DEFAULT '',
    created_ms  INTEGER NOT NULL,
    created_by  TEXT NOT NULL
);
CREATE TABLE work_items (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    number       TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    card         TEXT NOT NULL DEFAULT '',
    notes        TEXT NOT NULL DEFAULT '',
    owner_agent  TEXT,
    owner_queue  TEXT,
    campaign_id  INTEGER REFERENCES campaigns (id),
    call_id      TEXT,
    created_ms   INTEGER NOT NULL,
    deadline_ms  INTEGER NOT NULL,
    preferred    TEXT NOT NULL DEFAULT '',
    created_by   TEXT NOT NULL,
    calls        INTEGER NOT NULL DEFAULT 1,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_call    TEXT,
    outcome      TEXT,
    closed_ms    INTEGER,
    closed_by    TEXT,
    alarmed      INTEGER NOT NULL DEFAULT 0,
    UNIQUE (campaign_id, number, card)
);
CREATE INDEX work_items_open ON work_items (outcome, deadline_ms);
CREATE INDEX work_items_created ON work_items (created_ms);
CREATE INDEX work_items_number ON work_items (number);
CREATE TABLE visits (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id       INTEGER NOT NULL REFERENCES work_items (id),
    campaign_id   INTEGER,
    agent         TEXT NOT NULL,
    at_ms         INTEGER NOT NULL,
    outcome       TEXT NOT NULL,
    opinions      TEXT NOT NULL,
    satisfaction  INTEGER,
    duration_ms   INTEGER NOT NULL,
    call_id       TEXT,
    card          TEXT NOT NULL,
    name          TEXT NOT NULL,
    number        TEXT NOT NULL,
    valid         INTEGER NOT NULL
);
CREATE INDEX visits_at ON visits (at_ms);
CREATE INDEX visits_agent ON visits (agent, at_ms);

-- Work lists (call-backs owed) and return-visit campaigns (回访).
CREATE TABLE campaigns (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    queue       TEXT,
    notes       TEXT NOT NULL DEFAULT '',
    created_ms  BIGINT NOT NULL,
    created_by  TEXT NOT NULL
);
CREATE TABLE work_items (
    id           BIGSERIAL PRIMARY KEY,
    kind         TEXT NOT NULL,
    number       TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    card         TEXT NOT NULL DEFAULT '',
    notes        TEXT NOT NULL DEFAULT '',
    owner_agent  TEXT,
    owner_queue  TEXT,
    campaign_id  BIGINT REFERENCES campaigns (id),
    call_id      TEXT,
    created_ms   BIGINT NOT NULL,
    deadline_ms  BIGINT NOT NULL,
    preferred    TEXT NOT NULL DEFAULT '',
    created_by   TEXT NOT NULL,
    calls        BIGINT NOT NULL DEFAULT 1,
    attempts     BIGINT NOT NULL DEFAULT 0,
    last_call    TEXT,
    outcome      TEXT,
    closed_ms    BIGINT,
    closed_by    TEXT,
    alarmed      BIGINT NOT NULL DEFAULT 0,
    UNIQUE (campaign_id, number, card)
);
CREATE INDEX work_items_open ON work_items (outcome, deadline_ms);
CREATE INDEX work_items_created ON work_items (created_ms);
CREATE INDEX work_items_number ON work_items (number);
CREATE TABLE visits (
    id            BIGSERIAL PRIMARY KEY,
    item_id       BIGINT NOT NULL REFERENCES work_items (id),
    campaign_id   BIGINT,
    agent         TEXT NOT NULL,
    at_ms         BIGINT NOT NULL,
    outcome       TEXT NOT NULL,
    opinions      TEXT NOT NULL,
    satisfaction  BIGINT,
    duration_ms   BIGINT NOT NULL,
    call_id       TEXT,
    card          TEXT NOT NULL,
    name          TEXT NOT NULL,
    number        TEXT NOT NULL,
    valid         BIGINT NOT NULL
);
CREATE INDEX visits_at ON visits (at_ms);
CREATE INDEX visits_agent ON visits (agent, at_ms);

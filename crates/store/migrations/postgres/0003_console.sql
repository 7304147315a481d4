-- The console's blacklist: numbers and prefixes added at run time by
-- supervisors (the config's [[blacklist]] entries stay in the config).
CREATE TABLE blacklist (
    id       BIGSERIAL PRIMARY KEY,
    pattern  TEXT NOT NULL UNIQUE,
    action   TEXT NOT NULL,
    reason   TEXT NOT NULL,
    call_id  TEXT,
    by_user  TEXT NOT NULL,
    at_ms    BIGINT NOT NULL
);
CREATE INDEX cdrs_caller ON cdrs (caller, arrived_ms);
CREATE INDEX cdrs_agent ON cdrs (agent, arrived_ms);

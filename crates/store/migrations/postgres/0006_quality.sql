-- Quality scoring (监听分值): a reviewer's score of a recorded call on a
-- score form, with timestamped comments; one score per (call, reviewer), so
-- two reviewers of the same call can be compared (calibration).
CREATE TABLE quality_scores (
    id              BIGSERIAL PRIMARY KEY,
    call_id         TEXT NOT NULL,
    agent           TEXT NOT NULL,
    queue           TEXT,
    call_arrived_ms BIGINT NOT NULL,
    form            TEXT NOT NULL,
    reviewer        TEXT NOT NULL,
    ratings         TEXT NOT NULL,
    total_centi     BIGINT NOT NULL,
    comments        TEXT NOT NULL,
    at_ms           BIGINT NOT NULL,
    UNIQUE (call_id, reviewer)
);
CREATE INDEX quality_scores_arrived ON quality_scores (call_arrived_ms);
CREATE INDEX quality_scores_agent ON quality_scores (agent, call_arrived_ms);

-- Agent turnover (值机员流动率): when a user started and left (NULL start =
-- their creation; NULL end = still employed).
ALTER TABLE users ADD COLUMN started_ms BIGINT;
ALTER TABLE users ADD COLUMN ended_ms BIGINT;

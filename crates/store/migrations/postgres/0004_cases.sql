-- Call notes (来电记录单), complaint cases under first-contact ownership
-- (首问负责制), each case's timeline of steps and its links to calls,
-- recordings and evidence marks. Nothing here is ever deleted: cases are
-- closed, not removed.
CREATE TABLE call_notes (
    id          BIGSERIAL PRIMARY KEY,
    call_id     TEXT NOT NULL,
    number      TEXT NOT NULL,
    caller_name TEXT,
    contact     TEXT,
    category    TEXT NOT NULL,
    summary     TEXT NOT NULL,
    follow_up   TEXT,
    case_id     BIGINT,
    by_user     TEXT NOT NULL,
    at_ms       BIGINT NOT NULL
);
CREATE INDEX call_notes_call ON call_notes (call_id, id);
CREATE INDEX call_notes_number ON call_notes (number, at_ms);

CREATE TABLE cases (
    id              BIGSERIAL PRIMARY KEY,
    number          TEXT NOT NULL,
    customer_name   TEXT,
    call_id         TEXT,
    owner           TEXT NOT NULL,
    severity        TEXT NOT NULL,
    title           TEXT NOT NULL,
    stage           TEXT NOT NULL,
    valid           BIGINT,
    validity_reason TEXT,
    deadline_ms     BIGINT NOT NULL,
    replied_ms      BIGINT,
    escalated_to    TEXT,
    escalated_ms    BIGINT,
    agent_concerned TEXT,
    closing_summary TEXT,
    opened_ms       BIGINT NOT NULL,
    opened_by       TEXT NOT NULL,
    closed_ms       BIGINT,
    version         BIGINT NOT NULL
);
CREATE INDEX cases_number ON cases (number, closed_ms);
CREATE INDEX cases_owner ON cases (owner, closed_ms);
CREATE INDEX cases_opened ON cases (opened_ms);

CREATE TABLE case_steps (
    id      BIGSERIAL PRIMARY KEY,
    case_id BIGINT NOT NULL,
    at_ms   BIGINT NOT NULL,
    by_user TEXT NOT NULL,
    action  TEXT NOT NULL,
    note    TEXT NOT NULL
);
CREATE INDEX case_steps_case ON case_steps (case_id, id);

CREATE TABLE case_links (
    case_id BIGINT NOT NULL,
    kind    TEXT NOT NULL,
    target  TEXT NOT NULL,
    by_user TEXT NOT NULL,
    at_ms   BIGINT NOT NULL,
    PRIMARY KEY (case_id, kind, target)
);

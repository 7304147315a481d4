-- Registrations that survive a restart (issue 19): the registrar's bindings,
-- written behind the location service and loaded at start (unexpired ones
-- come back, expired ones are deleted). One row per (agent, contact).
-- Timestamps are epoch milliseconds; nat is 0/1; path is a JSON array of the
-- REGISTER's Path URIs (RFC 3327), in order.
CREATE TABLE sip_bindings (
    agent         TEXT NOT NULL,
    contact       TEXT NOT NULL,
    source        TEXT NOT NULL,
    transport     TEXT NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    call_id       TEXT NOT NULL,
    cseq          INTEGER NOT NULL,
    path          TEXT NOT NULL,
    nat           INTEGER NOT NULL,
    updated_ms    INTEGER NOT NULL,
    PRIMARY KEY (agent, contact)
);
CREATE INDEX sip_bindings_expiry ON sip_bindings (expires_at_ms);

-- Why the engine ended an answered call whose line died (media_timeout,
-- session_expired); NULL otherwise.
ALTER TABLE cdrs ADD COLUMN end_cause TEXT;

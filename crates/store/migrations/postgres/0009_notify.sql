-- Notifications (issue 16): every delivery attempt of an alarm or report, by
-- channel and target, with its outcome. Timestamps are epoch milliseconds.
CREATE TABLE notify_deliveries (
    id         BIGSERIAL PRIMARY KEY,
    at_ms      BIGINT NOT NULL,
    channel    TEXT NOT NULL,
    target     TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    event_kind TEXT NOT NULL,
    attempt    INTEGER NOT NULL,
    outcome    TEXT NOT NULL,
    error      TEXT
);
CREATE INDEX notify_deliveries_at ON notify_deliveries (at_ms, id);
CREATE INDEX notify_deliveries_event ON notify_deliveries (event_id, id);

-- The duty floor (issue 16): per-date roster changes, shift handovers and
-- the handover_missing alarms already raised.
CREATE TABLE roster_changes (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    date      TEXT NOT NULL,
    agent     TEXT NOT NULL,
    shift     TEXT NOT NULL,
    op        TEXT NOT NULL,
    note      TEXT NOT NULL DEFAULT '',
    made_ms   INTEGER NOT NULL,
    made_by   TEXT NOT NULL
);
CREATE INDEX roster_changes_date ON roster_changes (date);
CREATE TABLE handovers (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    shift            TEXT NOT NULL,
    date             TEXT NOT NULL,
    start_ms         INTEGER NOT NULL,
    end_ms           INTEGER NOT NULL,
    written_by       TEXT NOT NULL,
    text             TEXT NOT NULL,
    items            TEXT NOT NULL,
    written_ms       INTEGER NOT NULL,
    acknowledged_by  TEXT,
    acknowledged_ms  INTEGER,
    UNIQUE (shift, date)
);
CREATE INDEX handovers_end ON handovers (end_ms);
CREATE TABLE handover_alarms (
    shift      TEXT NOT NULL,
    date       TEXT NOT NULL,
    raised_ms  INTEGER NOT NULL,
    PRIMARY KEY (shift, date)
);

-- The HA pair (issue 18, phase 1): one lease per queue, held by the active
-- node and renewed every ttl/3. Expiry is on the database's clock (epoch ms
-- computed in SQL), never a node's. fence grows on every change of owner;
-- renewals counts the renewals by the current owner (0: just taken).
CREATE TABLE cluster_leases (
    name           TEXT NOT NULL PRIMARY KEY,
    owner          TEXT NOT NULL,
    fence          INTEGER NOT NULL,
    expires_ms     INTEGER NOT NULL,
    acquired_ms    INTEGER NOT NULL,
    renewed_ms     INTEGER NOT NULL,
    renewals       INTEGER NOT NULL,
    previous_owner TEXT
);

-- Every node's last round trip to the database (its heartbeat, database
-- clock) and whether it was active then: the wallboard's list of nodes.
CREATE TABLE cluster_nodes (
    node_id    TEXT NOT NULL PRIMARY KEY,
    seen_ms    INTEGER NOT NULL,
    started_ms INTEGER NOT NULL,
    active     INTEGER NOT NULL,
    sip        TEXT NOT NULL
);

-- The node that wrote an event (NULL: a single node without [cluster]), so
-- the survivor closes exactly the calls a dead node left open.
ALTER TABLE events ADD COLUMN node TEXT;
CREATE INDEX events_node_kind ON events (node, kind, at_ms);

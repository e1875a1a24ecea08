-- Ward schema, version 2: host events, alerts, whitelist, spool health.
-- Released migrations are never edited: add a new NNNN_name.sql instead.

-- Spool health the agent last reported (AgentMsg::SpoolStats).
ALTER TABLE assets ADD COLUMN spool_depth INTEGER;
ALTER TABLE assets ADD COLUMN spool_dropped_total INTEGER;
ALTER TABLE assets ADD COLUMN spool_at INTEGER;

-- Host events, keyed (asset_id, event_id). `seq` is the server-wide ingest
-- order (AUTOINCREMENT: never reused, so the detection cursor stays valid
-- after retention deletes the oldest rows). Retention only ever deletes a
-- prefix in seq order.
CREATE TABLE events (
    seq          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    asset_id     TEXT    NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    event_id     INTEGER NOT NULL CHECK (event_id > 0),
    host_time_ms INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    -- The ward_events::Event as JSON (host = asset id).
    body         TEXT    NOT NULL
) STRICT;

CREATE UNIQUE INDEX events_asset_event ON events (asset_id, event_id);

-- The highest event id stored per asset: events at or below it are
-- duplicates (re-sent after a lost ack). Survives event retention.
CREATE TABLE event_high_water (
    asset_id TEXT    NOT NULL PRIMARY KEY REFERENCES assets (id) ON DELETE CASCADE,
    event_id INTEGER NOT NULL
) STRICT;

CREATE TABLE alerts (
    id         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    rule_id    TEXT    NOT NULL,
    rule_title TEXT    NOT NULL,
    author     TEXT,
    severity   TEXT    NOT NULL CHECK (severity IN ('urgent', 'suspicious', 'reminder')),
    technique  TEXT,
    asset_id   TEXT    NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    group_key  TEXT    NOT NULL,
    -- JSON object of the group-by fields.
    group_json TEXT    NOT NULL,
    first_ms   INTEGER NOT NULL,
    last_ms    INTEGER NOT NULL,
    -- JSON array of evidence event ids, oldest first.
    evidence   TEXT    NOT NULL,
    state      TEXT    NOT NULL
        CHECK (state IN ('unhandled', 'handled', 'ignored', 'whitelisted')),
    state_at   INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    repeats    INTEGER NOT NULL DEFAULT 0,
    dedup_key  TEXT    NOT NULL
) STRICT;

-- Listing is newest first, optionally filtered by one of these.
CREATE INDEX alerts_state_id ON alerts (state, id);
CREATE INDEX alerts_severity_id ON alerts (severity, id);
CREATE INDEX alerts_asset_id ON alerts (asset_id, id);
CREATE INDEX alerts_rule_id ON alerts (rule_id, id);
-- De-duplication looks up the newest alert of a key.
CREATE INDEX alerts_dedup ON alerts (dedup_key, last_ms);

-- Copies of the evidence events, so an alert keeps them after retention.
CREATE TABLE alert_evidence (
    alert_id INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    event_id INTEGER NOT NULL,
    body     TEXT    NOT NULL,
    PRIMARY KEY (alert_id, event_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE whitelist (
    id         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    rule_id    TEXT    NOT NULL,
    field      TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    comment    TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (rule_id, field, value)
) STRICT;

-- Ward schema, version 1.
-- Released migrations are never edited: add a new NNNN_name.sql instead.
-- Times are Unix milliseconds. Secrets are stored only as SHA-256 hex hashes,
-- except verification key secrets, which the console shows.

CREATE TABLE verification_keys (
    id            TEXT    NOT NULL PRIMARY KEY,
    secret        TEXT    NOT NULL UNIQUE,
    label         TEXT    NOT NULL,
    default_group TEXT,
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER
) STRICT;

CREATE TABLE assets (
    id                TEXT    NOT NULL PRIMARY KEY,
    hostname          TEXT    NOT NULL,
    -- Lower-cased hostname (Unicode-aware, computed by the application) for search.
    hostname_lower    TEXT    NOT NULL,
    -- JSON array of strings.
    ips               TEXT    NOT NULL DEFAULT '[]',
    os                TEXT    NOT NULL,
    kernel            TEXT    NOT NULL,
    arch              TEXT    NOT NULL,
    platform          TEXT    NOT NULL,
    agent_version     TEXT    NOT NULL,
    group_name        TEXT,
    fingerprint       TEXT    NOT NULL,
    credential_hash   TEXT    NOT NULL,
    status            TEXT    NOT NULL
        CHECK (status IN ('protected', 'unprotected', 'updating')),
    status_reason     TEXT
        CHECK (status_reason IS NULL
               OR status_reason IN ('offline', 'never_connected', 'uninstalled')),
    status_since      INTEGER NOT NULL,
    first_seen        INTEGER,
    last_seen         INTEGER,
    last_addr         TEXT,
    last_error        TEXT,
    last_endpoint     TEXT,
    enrolled_at       INTEGER NOT NULL,
    enrolled_with_key TEXT REFERENCES verification_keys (id) ON DELETE SET NULL,
    -- Latest full HostReport as JSON.
    report            TEXT,
    report_at         INTEGER
) STRICT;

-- Keyset pagination: every listing is an ordered scan of one of these.
CREATE INDEX assets_order ON assets (hostname, id);
CREATE INDEX assets_status_order ON assets (status, hostname, id);
CREATE INDEX assets_status_reason_order ON assets (status, status_reason, hostname, id);
CREATE INDEX assets_group_order ON assets (group_name, hostname, id);
-- Enrollment looks up the live asset of a host.
CREATE INDEX assets_fingerprint ON assets (fingerprint);

CREATE TABLE status_events (
    seq      INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    asset_id TEXT    NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    status   TEXT    NOT NULL
        CHECK (status IN ('protected', 'unprotected', 'updating')),
    reason   TEXT
        CHECK (reason IS NULL OR reason IN ('offline', 'never_connected', 'uninstalled')),
    at       INTEGER NOT NULL,
    detail   TEXT
) STRICT;

CREATE INDEX status_events_asset_at ON status_events (asset_id, at);

CREATE TABLE api_tokens (
    id           TEXT    NOT NULL PRIMARY KEY,
    label        TEXT    NOT NULL,
    hash         TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
) STRICT;

-- Server settings; the agent policy is stored under key 'policy' as JSON.
CREATE TABLE settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

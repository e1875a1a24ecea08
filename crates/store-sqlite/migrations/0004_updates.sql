-- Ward schema, version 4: agent releases and lifecycle events.
-- Released migrations are never edited: add a new NNNN_name.sql instead.

-- Published releases; immutable once added (one row per version and platform).
CREATE TABLE releases (
    version       TEXT    NOT NULL,
    platform      TEXT    NOT NULL,
    agent_sha256  TEXT    NOT NULL,
    agent_size    INTEGER NOT NULL CHECK (agent_size > 0),
    update_sha256 TEXT,
    update_size   INTEGER CHECK (update_size IS NULL OR update_size > 0),
    added_at      INTEGER NOT NULL,
    notes         TEXT,
    PRIMARY KEY (version, platform)
) STRICT;

CREATE INDEX releases_added ON releases (added_at, version, platform);

-- The version of the newest signed release metadata (one row).
CREATE TABLE release_metadata_version (
    id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
) STRICT;

INSERT INTO release_metadata_version (id, version) VALUES (1, 0);

-- What agents reported about their updates and guardians.
CREATE TABLE lifecycle_events (
    seq          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    asset_id     TEXT    NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    at           INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    program      TEXT    NOT NULL,
    from_version TEXT,
    to_version   TEXT,
    detail       TEXT,
    message      TEXT    NOT NULL
) STRICT;

CREATE INDEX lifecycle_events_asset ON lifecycle_events (asset_id, seq);

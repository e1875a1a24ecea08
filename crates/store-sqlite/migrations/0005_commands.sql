-- Ward schema, version 5: signed server commands and re-identified copies
-- of assets (the agent lifecycle's command half).
-- Released migrations are never edited: add a new NNNN_name.sql instead.

-- Commands sent to agents, exactly as signed. `seq` orders the listing;
-- a pending command is re-sent to every new session of its asset until
-- the agent answers or it expires.
CREATE TABLE commands (
    seq          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    id           TEXT    NOT NULL UNIQUE,
    asset_id     TEXT    NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    signature    TEXT    NOT NULL,
    state        TEXT    NOT NULL
        CHECK (state IN ('pending', 'delivered', 'done', 'failed', 'rejected',
                         'expired', 'cancelled')),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    delivered_at INTEGER,
    finished_at  INTEGER,
    result       TEXT,
    created_by   TEXT    NOT NULL
) STRICT;

CREATE INDEX commands_asset_state ON commands (asset_id, state, seq);
CREATE INDEX commands_state_expiry ON commands (state, expires_at);

-- Assets made for a copy of another asset's install (cloned hosts).
CREATE TABLE asset_clones (
    asset_id  TEXT    NOT NULL PRIMARY KEY REFERENCES assets (id) ON DELETE CASCADE,
    source_id TEXT    NOT NULL,
    reason    TEXT    NOT NULL,
    at        INTEGER NOT NULL
) STRICT;

CREATE INDEX asset_clones_source ON asset_clones (source_id);

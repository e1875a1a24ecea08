-- Ward schema, version 6: rule files imported with `ward-server rules import`
-- (SigmaHQ rules and operators' own). Released migrations are never edited.

CREATE TABLE rule_sources (
    -- The file's path relative to the imported directory: the identity of
    -- a source (importing the same name again replaces it).
    name        TEXT    NOT NULL PRIMARY KEY,
    -- The YAML text, as imported.
    body        TEXT    NOT NULL,
    -- SHA-256 hex of body.
    sha256      TEXT    NOT NULL,
    imported_at INTEGER NOT NULL
) STRICT;

-- Raised by every import, so a running server notices a CLI import.
CREATE TABLE rule_sources_revision (
    id       INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    revision INTEGER NOT NULL
) STRICT;

INSERT INTO rule_sources_revision (id, revision) VALUES (1, 0);

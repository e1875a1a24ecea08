-- Asset search without a per-row JSON parse.
-- `search_text` holds the lower-cased hostname and IP addresses, separated by
-- U+001F (unit separator), computed by the application on every write. The
-- covering index lets a search walk (hostname, id) order and test each row
-- with one instr() on the index entry, without reading the table row.

ALTER TABLE assets ADD COLUMN search_text TEXT NOT NULL DEFAULT '';

UPDATE assets SET search_text = hostname_lower || char(31) ||
    COALESCE((SELECT group_concat(lower(value), char(31)) FROM json_each(assets.ips)), '');

CREATE INDEX assets_search_order ON assets (hostname, id, search_text);
-- Same leading columns as assets_search_order, which replaces it.
DROP INDEX assets_order;

-- Assets per agent version (console Overview): a covering index scan
-- instead of reading every table row.
CREATE INDEX assets_version ON assets (agent_version, status_reason);

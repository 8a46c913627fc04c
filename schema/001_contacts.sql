-- 001: contacts, lists, list membership, suppressions and the import log.
-- Timestamps are Unix seconds (UTC). Addresses are stored with the local part
-- as first written and the domain as lower-case A-labels; they compare
-- case-insensitively through COLLATE NOCASE, which folds ASCII only: exactly
-- kirim's rule (address.h's key), with no second copy of the address stored.

CREATE TABLE lists (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	created_at INTEGER NOT NULL
);

CREATE TABLE contacts (
	id INTEGER PRIMARY KEY,
	email TEXT NOT NULL UNIQUE COLLATE NOCASE,
	domain TEXT NOT NULL,
	attrs TEXT NOT NULL DEFAULT '{}',
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);

-- One row per import run: what was read, from where, and what came of it.
CREATE TABLE imports (
	id INTEGER PRIMARY KEY,
	list_id INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
	source TEXT NOT NULL,
	started_at INTEGER NOT NULL,
	finished_at INTEGER,
	summary TEXT
);

-- A member's time of joining is its import's (imports.started_at).
CREATE TABLE list_members (
	list_id INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
	contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
	import_id INTEGER REFERENCES imports(id),
	PRIMARY KEY (list_id, contact_id)
) WITHOUT ROWID;
-- No index on contact_id: imports append members in contact order, and the
-- look-ups by contact (one contact's lists) are rare and cheap enough as scans.

-- A suppression names one address (value = lower-cased address) or a whole
-- domain (value = A-label). Suppressed contacts stay in their lists but are
-- never mailed; the sender joins against this table.
CREATE TABLE suppressions (
	id INTEGER PRIMARY KEY,
	kind TEXT NOT NULL CHECK (kind IN ('address', 'domain')),
	value TEXT NOT NULL,
	reason TEXT NOT NULL CHECK (reason IN ('hard_bounce', 'complaint', 'unsubscribe', 'manual')),
	source TEXT,
	created_at INTEGER NOT NULL,
	UNIQUE (value, kind)
);

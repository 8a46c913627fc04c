-- 010: the web console's users and their sessions (issue 23). Another branch may
-- take 010 first; a migration is applied by number, so this one may be renumbered.

-- A console user: a name, a role (viewer reads; editor also changes lists,
-- contacts, suppressions, templates, campaigns and imports; admin also domain
-- policies, webhooks and the audit log) and an Argon2id hash in the PHC string
-- format libargon2 writes ("$argon2id$v=19$m=...,t=...,p=...$salt$hash").
CREATE TABLE console_users (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	name TEXT NOT NULL UNIQUE,
	role TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
	password_hash TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	password_changed_at INTEGER NOT NULL
);

-- A session: only the SHA-256 of the cookie's random token is kept, so a copy
-- of the database logs nobody in. last_seen_at is written at most once a
-- minute (the idle expiry's clock); created_at bounds a session's whole life.
-- A user's sessions go with the user, and with a change of password.
CREATE TABLE console_sessions (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id INTEGER NOT NULL REFERENCES console_users(id) ON DELETE CASCADE,
	hash BLOB NOT NULL UNIQUE,
	created_at INTEGER NOT NULL,
	last_seen_at INTEGER NOT NULL,
	client TEXT NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions(user_id);

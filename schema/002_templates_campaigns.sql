-- 002: templates (versioned), campaigns, and kirim's own settings.

-- Adding a template under an existing name makes a new version; campaigns
-- point at the exact version they were created with, so editing a template
-- never changes what a running campaign sends.
CREATE TABLE templates (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	version INTEGER NOT NULL,
	subject TEXT NOT NULL,
	text_body TEXT,
	html_body TEXT,
	created_at INTEGER NOT NULL,
	UNIQUE (name, version),
	CHECK (text_body IS NOT NULL OR html_body IS NOT NULL)
);

-- A campaign: one list, one template version, one sender identity. Later
-- migrations add its schedule, limits and the per-recipient messages.
CREATE TABLE campaigns (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	list_id INTEGER NOT NULL REFERENCES lists(id),
	template_id INTEGER NOT NULL REFERENCES templates(id),
	from_name TEXT,
	from_addr TEXT NOT NULL,
	reply_to TEXT,
	headers TEXT NOT NULL DEFAULT '[]', -- JSON array of [name, value] pairs
	state TEXT NOT NULL DEFAULT 'draft'
		CHECK (state IN ('draft', 'scheduled', 'sending', 'paused', 'done', 'cancelled')),
	scheduled_at INTEGER,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);

-- Settings kirim makes for itself. 'secret' signs unsubscribe, bounce and
-- tracking tokens when kirim.conf sets no [secret] of its own.
CREATE TABLE settings (
	key TEXT PRIMARY KEY,
	value BLOB NOT NULL
);
INSERT INTO settings(key, value) VALUES ('secret', randomblob(32));

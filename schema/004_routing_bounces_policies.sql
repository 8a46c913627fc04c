-- 004: where each attempt went (destination = MX host set or relay), why a
-- message failed (the bounce classifier's reason and class), domain policies
-- for throttling, campaign options, and indexes for reports.

-- dest: the destination name of the last attempt ("mx:aspmx.l.google.com,..."
-- or "relay:host:port"); reason/class: the classifier's verdict on the last
-- failure (class is 'hard' or 'soft').
ALTER TABLE messages ADD COLUMN dest TEXT;
ALTER TABLE messages ADD COLUMN reason TEXT;
ALTER TABLE messages ADD COLUMN class TEXT;

-- Events get the same, plus detail: a JSON object with what the event type
-- needs (a DSN's remote MTA and status, a click's link number, an open's
-- "machine": true when a known prefetcher fetched it, ...).
ALTER TABLE events ADD COLUMN dest TEXT;
ALTER TABLE events ADD COLUMN reason TEXT;
ALTER TABLE events ADD COLUMN class TEXT;
ALTER TABLE events ADD COLUMN detail TEXT;
CREATE INDEX events_type_ts ON events(type, ts);
CREATE INDEX messages_campaign_state ON messages(campaign_id, state);

-- Campaign options: JSON object (track_opens, track_clicks,
-- unsubscribe_scope "all"|"list", window, tz, ...). Unknown keys are kept.
ALTER TABLE campaigns ADD COLUMN options TEXT NOT NULL DEFAULT '{}';
ALTER TABLE campaigns ADD COLUMN state_reason TEXT;

-- Throttling policy for a domain ("example.com"), a wildcard
-- ("*.outlook.com"), an MX-set destination ("mx:google.com": every domain
-- whose MX hosts are under google.com) or the global default ("*").
-- NULL columns inherit from the next less specific policy. rate and
-- connect_rate are per second. source: 'preset' (shipped) or 'user'.
CREATE TABLE domain_policies (
	pattern TEXT PRIMARY KEY,
	max_connections INTEGER,
	rate REAL,
	max_msgs_per_conn INTEGER,
	connect_rate REAL,
	tls TEXT CHECK (tls IN ('none', 'opportunistic', 'required', 'verify')),
	warmup TEXT, -- JSON: {"start": unix day, "caps": [50, 100, ...]}
	source TEXT NOT NULL DEFAULT 'user',
	updated_at INTEGER NOT NULL
);

-- What the sender last knew about each destination it used: the adaptive
-- throttle's state (effective rate and connections, suspension) and its last
-- change in words, for `kirim domain show` and reports. Written by senders.
CREATE TABLE destinations (
	name TEXT PRIMARY KEY, -- "relay" or "mx:host1,host2[|pattern]"
	domain TEXT,           -- the first recipient domain routed to it
	rate REAL,             -- effective messages per second (0 = unlimited)
	connections INTEGER,   -- effective connection cap
	suspended_until INTEGER,
	slowdowns INTEGER NOT NULL DEFAULT 0,
	suspensions INTEGER NOT NULL DEFAULT 0,
	change TEXT,           -- decreased, suspended, increased, resumed
	note TEXT,             -- the last change in words
	updated_at INTEGER NOT NULL
);

-- Suppressions gain 'soft_bounce' (an address that soft-bounced too often:
-- N times within a window). SQLite cannot change a CHECK in place: rebuild.
CREATE TABLE suppressions_new (
	id INTEGER PRIMARY KEY,
	kind TEXT NOT NULL CHECK (kind IN ('address', 'domain')),
	value TEXT NOT NULL,
	reason TEXT NOT NULL
		CHECK (reason IN ('hard_bounce', 'soft_bounce', 'complaint', 'unsubscribe', 'manual')),
	source TEXT,
	created_at INTEGER NOT NULL,
	UNIQUE (value, kind)
);
INSERT INTO suppressions_new SELECT id, kind, value, reason, source, created_at FROM suppressions;
DROP TABLE suppressions;
ALTER TABLE suppressions_new RENAME TO suppressions;

-- 005: who holds a campaign and its claims (senders, with a lease), what a
-- running sender needs to see suppressions made after it started, and what
-- is known of each recipient domain's health (its last delivery, and a run of
-- NXDOMAIN answers that must be confirmed before it bounces anything hard).

-- One row per running sender (kirim send, kirim run): its process (host, pid
-- and the process's start time, so that a reused pid is not taken for it)
-- and a lease it renews while it runs. A sender is alive while its process
-- is (same host) or its lease has not expired (another host).
CREATE TABLE senders (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	host TEXT NOT NULL,
	pid INTEGER NOT NULL,
	proc_start TEXT NOT NULL,
	command TEXT NOT NULL,
	started_at INTEGER NOT NULL,
	lease_until INTEGER NOT NULL
);

-- The sender sending a campaign now (NULL: none), and the sender that holds a
-- claimed message (NULL once it is no longer claimed, or for claims made
-- before this migration).
ALTER TABLE campaigns ADD COLUMN sender_id INTEGER;
ALTER TABLE messages ADD COLUMN claimed_by INTEGER;

-- Suppressions get ids that never come back (AUTOINCREMENT): a running
-- sender reads the ones added after the last id it saw, so an id reused
-- after a delete must not hide a new row. SQLite cannot add it in place.
CREATE TABLE suppressions_new (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
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

-- Per recipient domain (A-label): the last delivery to any of its addresses,
-- and the first and last NXDOMAIN answer of the current run of them. One
-- NXDOMAIN answer never bounces hard: it must be seen again after a delay,
-- and a domain delivered to in the last 30 days is never bounced on DNS.
CREATE TABLE domain_health (
	domain TEXT PRIMARY KEY,
	delivered_at INTEGER,
	nxdomain_first INTEGER,
	nxdomain_last INTEGER
) WITHOUT ROWID;
INSERT INTO domain_health(domain, delivered_at)
	SELECT c.domain, max(m.done_at) FROM messages m JOIN contacts c ON c.id = m.contact_id
	WHERE m.state = 'delivered' AND m.done_at IS NOT NULL GROUP BY c.domain;

-- 022: the CHECKs on messages.state and events.type as chains of '=' (the same
-- values). SQLite evaluates a CHECK's `x IN ('a', 'b', ...)` of three or more
-- values by building a temporary table of the values each time a statement writes
-- a row: a page cache opened, zeroed and closed again, for every outcome a sender
-- records (one UPDATE of messages, one INSERT into events) and every claim. With
-- '=' the same test is a few comparisons: 446k -> 351k instructions per 4 KB
-- message sent (callgrind, kirim send to smtp-sink).
--
-- SQLite cannot change a CHECK in place: both tables are rebuilt with the same
-- ids, columns (in order), keys, indexes and trigger (foreign keys are off while
-- migrations run; migrate_one checks them before its COMMIT). Neither table has
-- AUTOINCREMENT.
--
-- Two more changes let a sender's event INSERT (INSERT OR FAIL: store_message.c)
-- run without a statement journal. An INSERT that fires a trigger writes more
-- than one row, and SQLite journals every page it changes (16 KiB each) when it
-- may also stop midway: through an immediate foreign key or a function call in
-- the trigger. events.message_id's foreign key is now checked at COMMIT
-- (DEFERRABLE INITIALLY DEFERRED: every writer of events reads the message in the
-- same transaction first; ON DELETE CASCADE acts at once as before), and the
-- webhook trigger, which goes while the tables are renamed, comes back finding
-- the types a webhook wants with json_each (a table, no function call) instead of
-- instr() on the JSON text. 365k -> 324k instructions per 4 KB message.
DROP TRIGGER webhook_event;

CREATE TABLE messages_new (
	id INTEGER PRIMARY KEY,
	campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
	contact_id INTEGER REFERENCES contacts(id),
	state TEXT NOT NULL DEFAULT 'queued'
		CHECK (state = 'queued' OR state = 'claimed' OR state = 'delivered'
		       OR state = 'bounced' OR state = 'failed' OR state = 'suppressed'
		       OR state = 'cancelled'),
	attempts INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL DEFAULT 0,
	last_stage TEXT,
	last_code INTEGER,
	last_ecode TEXT,
	last_text TEXT,
	host TEXT,
	tls TEXT,
	queued_at INTEGER NOT NULL,
	claimed_at INTEGER,
	done_at INTEGER,
	dest TEXT,
	reason TEXT,
	class TEXT,
	claimed_by INTEGER,
	email TEXT,
	domain TEXT,
	UNIQUE (campaign_id, contact_id)
);
INSERT INTO messages_new(id, campaign_id, contact_id, state, attempts, next_attempt_at,
	last_stage, last_code, last_ecode, last_text, host, tls, queued_at, claimed_at, done_at,
	dest, reason, class, claimed_by, email, domain)
	SELECT id, campaign_id, contact_id, state, attempts, next_attempt_at, last_stage,
	last_code, last_ecode, last_text, host, tls, queued_at, claimed_at, done_at, dest,
	reason, class, claimed_by, email, domain FROM messages;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE INDEX messages_due ON messages(campaign_id, state, next_attempt_at);
CREATE INDEX messages_claimed_by ON messages(claimed_by) WHERE claimed_by IS NOT NULL;
CREATE INDEX messages_open ON messages(campaign_id, state, attempts, domain, dest)
	WHERE state IN ('queued', 'claimed');
CREATE INDEX messages_skipped ON messages(campaign_id, state, reason)
	WHERE state IN ('suppressed', 'cancelled');
CREATE INDEX messages_contact ON messages(contact_id) WHERE contact_id IS NOT NULL;

CREATE TABLE events_new (
	id INTEGER PRIMARY KEY,
	message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE
		DEFERRABLE INITIALLY DEFERRED,
	ts INTEGER NOT NULL,
	type TEXT NOT NULL
		CHECK (type = 'delivered' OR type = 'deferred' OR type = 'bounced'
		       OR type = 'failed' OR type = 'complaint' OR type = 'unsubscribe'
		       OR type = 'open' OR type = 'click'),
	stage TEXT,
	code INTEGER,
	ecode TEXT,
	text TEXT,
	host TEXT,
	tls TEXT,
	attempt INTEGER,
	dest TEXT,
	reason TEXT,
	class TEXT,
	detail TEXT,
	source TEXT,
	helo TEXT
);
INSERT INTO events_new(id, message_id, ts, type, stage, code, ecode, text, host, tls, attempt,
	dest, reason, class, detail, source, helo)
	SELECT id, message_id, ts, type, stage, code, ecode, text, host, tls, attempt, dest,
	reason, class, detail, source, helo FROM events;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_message ON events(message_id, type, ts);
CREATE INDEX events_type_ts ON events(type, ts, message_id);

CREATE TRIGGER webhook_event AFTER INSERT ON events
WHEN EXISTS (SELECT 1 FROM webhooks WHERE disabled_at IS NULL)
BEGIN
	INSERT INTO webhook_outbox(type, event_id, campaign_id, ts)
	SELECT t.name, NEW.id, (SELECT campaign_id FROM messages WHERE id = NEW.message_id), NEW.ts
	FROM (SELECT CASE NEW.type WHEN 'complaint' THEN 'complained'
	                           WHEN 'unsubscribe' THEN 'unsubscribed'
	                           WHEN 'open' THEN 'opened'
	                           WHEN 'click' THEN 'clicked'
	                           ELSE NEW.type END AS name) AS t
	WHERE EXISTS (SELECT 1 FROM webhooks w, json_each(w.events) j
	              WHERE w.disabled_at IS NULL AND j.value = t.name);
END;

-- 010: contacts deleted, and erased (issue 21, docs/contacts.md). A deleted
-- contact leaves; its messages stay, so that campaigns' counts and reports do
-- not change: messages.contact_id becomes NULL and messages.email keeps the
-- address the message went to (NULL too once the person is erased). An erased
-- address is kept only as the SHA-256 of its lower-cased form (kind 'hash',
-- reason 'erased'): import and send compare against it, nothing can read it back.

-- SQLite cannot drop a NOT NULL in place: rebuild messages with the same ids,
-- so events keep their messages (foreign keys are off while migrations run).
-- The webhook trigger on events names messages; it goes while the table is
-- renamed and comes back as 007 made it.
DROP TRIGGER webhook_event;
CREATE TABLE messages_new (
	id INTEGER PRIMARY KEY,
	campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
	contact_id INTEGER REFERENCES contacts(id),
	state TEXT NOT NULL DEFAULT 'queued'
		CHECK (state IN ('queued', 'claimed', 'delivered', 'bounced', 'failed',
		                 'suppressed', 'cancelled')),
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
	UNIQUE (campaign_id, contact_id)
);
INSERT INTO messages_new(id, campaign_id, contact_id, state, attempts, next_attempt_at,
	last_stage, last_code, last_ecode, last_text, host, tls, queued_at, claimed_at, done_at,
	dest, reason, class, claimed_by)
	SELECT id, campaign_id, contact_id, state, attempts, next_attempt_at, last_stage,
	last_code, last_ecode, last_text, host, tls, queued_at, claimed_at, done_at, dest,
	reason, class, claimed_by FROM messages;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE INDEX messages_due ON messages(campaign_id, state, next_attempt_at);
CREATE INDEX messages_campaign_state ON messages(campaign_id, state);
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
	WHERE EXISTS (SELECT 1 FROM webhooks w WHERE w.disabled_at IS NULL
	              AND instr(w.events, '"' || t.name || '"') > 0);
END;

-- Suppressions gain kind 'hash' and reason 'erased'; ids are kept (AUTOINCREMENT).
CREATE TABLE suppressions_new (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	kind TEXT NOT NULL CHECK (kind IN ('address', 'domain', 'hash')),
	value TEXT NOT NULL,
	reason TEXT NOT NULL
		CHECK (reason IN ('hard_bounce', 'soft_bounce', 'complaint', 'unsubscribe', 'manual',
		                  'erased')),
	source TEXT,
	created_at INTEGER NOT NULL,
	UNIQUE (value, kind)
);
INSERT INTO suppressions_new SELECT id, kind, value, reason, source, created_at FROM suppressions;
DROP TABLE suppressions;
ALTER TABLE suppressions_new RENAME TO suppressions;

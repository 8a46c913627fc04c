-- 003: messages (one per campaign x recipient: the unit of delivery) and
-- events (the append-only delivery log every report reads).

-- state: queued (waiting; deferred ones have attempts > 0 and a later
-- next_attempt_at), claimed (taken by a sender, in flight), and the final
-- delivered, bounced, failed (refused here, or retried past the limit),
-- suppressed (never sent: the address or domain is suppressed), cancelled.
CREATE TABLE messages (
	id INTEGER PRIMARY KEY,
	campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
	contact_id INTEGER NOT NULL REFERENCES contacts(id),
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
	UNIQUE (campaign_id, contact_id)
);
CREATE INDEX messages_due ON messages(campaign_id, state, next_attempt_at);

-- One row per delivery attempt (type = its outcome) and, later, per bounce,
-- complaint, unsubscribe, open and click.
CREATE TABLE events (
	id INTEGER PRIMARY KEY,
	message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
	ts INTEGER NOT NULL,
	type TEXT NOT NULL
		CHECK (type IN ('delivered', 'deferred', 'bounced', 'failed', 'complaint',
		                'unsubscribe', 'open', 'click')),
	stage TEXT,
	code INTEGER,
	ecode TEXT,
	text TEXT,
	host TEXT,
	tls TEXT,
	attempt INTEGER
);
CREATE INDEX events_message ON events(message_id);

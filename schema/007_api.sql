-- 007: the HTTP API of `kirim serve --admin-listen`: its tokens, the audit log
-- of every change made through it, and outgoing webhooks with their durable
-- outbox. (006 is the segments migration; a database is migrated in order.)

-- An API token is shown once, when made; only its SHA-256 is kept (a token is
-- 32 random bytes, so a plain hash is as good as a slow one). A name is
-- unique among the tokens not revoked; revoked ones stay for the audit log.
CREATE TABLE api_tokens (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	name TEXT NOT NULL,
	scope TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
	hash BLOB NOT NULL UNIQUE,
	prefix TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	last_used_at INTEGER,
	last_used_from TEXT,
	revoked_at INTEGER
);
CREATE UNIQUE INDEX api_tokens_name ON api_tokens(name) WHERE revoked_at IS NULL;

-- One row per change made through the API (and per token made or revoked),
-- written in the change's own transaction.
CREATE TABLE api_audit (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	ts INTEGER NOT NULL,
	token_id INTEGER,
	token_name TEXT NOT NULL,
	method TEXT NOT NULL,
	path TEXT NOT NULL,
	resource TEXT,
	status INTEGER NOT NULL,
	client TEXT NOT NULL
);
CREATE INDEX api_audit_ts ON api_audit(ts);

-- A webhook: a URL that gets the events it subscribes to (a JSON array of
-- names) as signed JSON batches. cursor is the last outbox row it has
-- settled (delivered, or dropped after 24 hours of failures); the batch
-- after it is retried with backoff (attempts, next_attempt_at).
CREATE TABLE webhooks (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	url TEXT NOT NULL,
	events TEXT NOT NULL,
	secret TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	disabled_at INTEGER,
	cursor INTEGER NOT NULL DEFAULT 0,
	attempts INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL DEFAULT 0,
	failing_since INTEGER,
	last_status INTEGER,
	last_error TEXT,
	last_success_at INTEGER,
	delivered INTEGER NOT NULL DEFAULT 0,
	dropped INTEGER NOT NULL DEFAULT 0
);

-- The outbox: one row per event a webhook subscribes to, written by the
-- triggers below in the transaction that records the event itself, so no
-- event is lost between the two. Ids never come back (AUTOINCREMENT): the
-- webhooks' cursors count on it. Rows every cursor has passed are pruned.
CREATE TABLE webhook_outbox (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	type TEXT NOT NULL,
	event_id INTEGER,
	campaign_id INTEGER,
	ts INTEGER NOT NULL,
	data TEXT
);

-- Delivery events, bounces, complaints, unsubscribes, opens and clicks, by
-- the names webhooks use; only when an active webhook wants the type.
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

-- A campaign's state changes (scheduled, sending, paused, done, cancelled, ...).
CREATE TRIGGER webhook_campaign AFTER UPDATE OF state ON campaigns
WHEN NEW.state IS NOT OLD.state
     AND EXISTS (SELECT 1 FROM webhooks WHERE disabled_at IS NULL
                 AND instr(events, '"campaign"') > 0)
BEGIN
	INSERT INTO webhook_outbox(type, campaign_id, ts, data)
	VALUES ('campaign', NEW.id, CAST(strftime('%s', 'now') AS INTEGER),
	        json_object('from', OLD.state, 'to', NEW.state));
END;

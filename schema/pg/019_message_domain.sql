-- 019 (PostgreSQL twin of schema/019_message_domain.sql): each message keeps its
-- recipient's domain, and two partial indexes cover what a report reads of a
-- queued message and a suppressed one's reason. Only the column and the indexes: a
-- PostgreSQL database is made by `kirim migrate`, which copies the rows as SQLite's
-- 019 left them.
ALTER TABLE messages ADD COLUMN domain text;
DROP INDEX messages_campaign_state;
CREATE INDEX messages_open ON messages(campaign_id, state, attempts, domain, dest)
	WHERE state IN ('queued', 'claimed');
CREATE INDEX messages_skipped ON messages(campaign_id, state, reason)
	WHERE state IN ('suppressed', 'cancelled');

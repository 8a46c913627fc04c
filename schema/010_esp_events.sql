-- 010: provider webhooks (issue 22): the events an ESP's webhook delivered (Amazon SES
-- through SNS, SendGrid, Postmark), by the provider's own id, so that a provider's retry
-- of an event kirim already took changes nothing a second time. Written in the same
-- transaction as the bounce or complaint the event records.
CREATE TABLE esp_events (
	provider TEXT NOT NULL CHECK (provider IN ('ses', 'sendgrid', 'postmark')),
	event_id TEXT NOT NULL,
	received_at INTEGER NOT NULL,
	PRIMARY KEY (provider, event_id)
);

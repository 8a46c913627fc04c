-- 018 (PostgreSQL twin of schema/018_rollups.sql): the per-campaign report rollups
-- (docs/report-formats.md), kept by every writer of messages and events, no triggers.
-- Only the tables: SQLite's migration also fills them from the messages and events a
-- database already holds, but a PostgreSQL database is only ever made by `kirim migrate`,
-- which applies every twin to an empty database and then copies the rollup rows over with
-- the rest (docs/postgresql.md). Types as in 015_baseline.sql: INTEGER -> bigint.

CREATE TABLE report_messages (
	campaign_id bigint NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
	domain text NOT NULL,
	dest text NOT NULL,
	dest_set bigint NOT NULL,
	cat bigint NOT NULL,
	tls_version text NOT NULL,
	n bigint NOT NULL,
	deferrals bigint NOT NULL,    -- attempts deferred on the way
	tls bigint NOT NULL,          -- delivered over TLS
	tls_verified bigint NOT NULL, -- of those, the certificate verified
	delay_sum bigint NOT NULL,    -- seconds from queueing to delivery, delivered ones
	delay_max bigint NOT NULL,
	PRIMARY KEY (campaign_id, domain, dest, dest_set, cat, tls_version)
);

CREATE TABLE report_campaigns (
	campaign_id bigint PRIMARY KEY REFERENCES campaigns(id) ON DELETE CASCADE,
	started_at bigint
);

CREATE TABLE report_minutes (
	campaign_id bigint NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
	t bigint NOT NULL,
	events bigint NOT NULL,
	delivered bigint NOT NULL,
	deferred bigint NOT NULL,
	bounced bigint NOT NULL,
	failed bigint NOT NULL,
	opens bigint NOT NULL,         -- by people
	opens_machine bigint NOT NULL, -- by prefetchers ({"machine":true})
	clicks bigint NOT NULL,
	complaints bigint NOT NULL,
	unsubscribes bigint NOT NULL,
	tls bigint NOT NULL,           -- deliveries over TLS
	first_delivery bigint,         -- the minute's earliest and latest delivery
	last_delivery bigint,
	PRIMARY KEY (campaign_id, t)
);

CREATE TABLE report_counts (
	campaign_id bigint NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
	kind bigint NOT NULL,
	k bigint NOT NULL,
	n bigint NOT NULL,
	PRIMARY KEY (campaign_id, kind, k)
);

CREATE TABLE report_reasons (
	campaign_id bigint NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
	outcome text NOT NULL,
	cls text NOT NULL,
	reason text NOT NULL,
	ecode text NOT NULL,
	code bigint NOT NULL,
	n bigint NOT NULL,
	first_id bigint,
	example_id bigint,
	PRIMARY KEY (campaign_id, outcome, cls, reason, ecode, code)
);

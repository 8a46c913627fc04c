-- 018: per-campaign report rollups (issue 20): what `kirim report` counts, kept as the
-- facts are written, so that a report on a 1,000,000-message campaign reads a few
-- thousand rows instead of every message and event. No triggers: an UPDATE trigger on
-- messages, even an empty one, makes SQLite run the sender's one-row UPDATEs in two
-- passes with a statement journal (+43% CPU per message sent). Every writer keeps them
-- with statements of its own, in its own transaction (src/store/store_rollup.c): the
-- sender sums its batch's changes in C and writes one row per group. `kirim report
-- --recount` counts from the raw rows instead; the two must agree (tests/integration).
--
-- Messages and events are never deleted (a deleted or erased contact's rows stay).

-- Settled messages (delivered, bounced, failed, suppressed, cancelled) by (domain,
-- destination, category, TLS version): cat is enum report_cat (report.h: 0 delivered,
-- 1 bounced hard, 2 soft, 3 failed, 7 suppressed, 8 cancelled). domain as the report
-- names it (the contact's, else the address kept on the message, else '(erased)'); dest
-- the last attempt's destination or host ('' none), dest_set whether messages.dest was
-- set; tls_version the delivered message's TLS version ('' otherwise). Queued and claimed
-- messages have none: a report reads them from the messages (messages_campaign_state),
-- few since a campaign's messages are made as it sends. Rows may hold n = 0.
CREATE TABLE report_messages (
	campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
	domain TEXT NOT NULL,
	dest TEXT NOT NULL,
	dest_set INTEGER NOT NULL,
	cat INTEGER NOT NULL,
	tls_version TEXT NOT NULL,
	n INTEGER NOT NULL,
	deferrals INTEGER NOT NULL,    -- attempts deferred on the way
	tls INTEGER NOT NULL,          -- delivered over TLS
	tls_verified INTEGER NOT NULL, -- of those, the certificate verified
	delay_sum INTEGER NOT NULL,    -- seconds from queueing to delivery, delivered ones
	delay_max INTEGER NOT NULL,
	PRIMARY KEY (campaign_id, domain, dest, dest_set, cat, tls_version)
) WITHOUT ROWID;

-- The earliest queued_at (> 0) of the campaign's messages.
CREATE TABLE report_campaigns (
	campaign_id INTEGER PRIMARY KEY REFERENCES campaigns(id) ON DELETE CASCADE,
	started_at INTEGER
);

-- Events by minute (t: the minute's first second): the hours, the timeline, the peak
-- minute and the totals add these up. events counts every event of the minute.
CREATE TABLE report_minutes (
	campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
	t INTEGER NOT NULL,
	events INTEGER NOT NULL,
	delivered INTEGER NOT NULL,
	deferred INTEGER NOT NULL,
	bounced INTEGER NOT NULL,
	failed INTEGER NOT NULL,
	opens INTEGER NOT NULL,         -- by people
	opens_machine INTEGER NOT NULL, -- by prefetchers ({"machine":true})
	clicks INTEGER NOT NULL,
	complaints INTEGER NOT NULL,
	unsubscribes INTEGER NOT NULL,
	tls INTEGER NOT NULL,           -- deliveries over TLS
	first_delivery INTEGER,         -- the minute's earliest and latest delivery
	last_delivery INTEGER,
	PRIMARY KEY (campaign_id, t)
) WITHOUT ROWID;

-- Distinct counts: kind 0 messages opened by a person (k 0), 1 messages clicked (k 0),
-- 2 clicks on link k, 3 messages that clicked link k.
CREATE TABLE report_counts (
	campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
	kind INTEGER NOT NULL,
	k INTEGER NOT NULL,
	n INTEGER NOT NULL,
	PRIMARY KEY (campaign_id, kind, k)
) WITHOUT ROWID;

-- Failed attempts by reason, as the report groups them: a classified reason, else the
-- enhanced code, else the basic one. first_id is the first such event (its codes are
-- shown), example_id the first with a reply text.
CREATE TABLE report_reasons (
	campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
	outcome TEXT NOT NULL,
	cls TEXT NOT NULL,
	reason TEXT NOT NULL,
	ecode TEXT NOT NULL,
	code INTEGER NOT NULL,
	n INTEGER NOT NULL,
	first_id INTEGER,
	example_id INTEGER,
	PRIMARY KEY (campaign_id, outcome, cls, reason, ecode, code)
) WITHOUT ROWID;

-- The rollups of the messages and events already written.
INSERT INTO report_messages(campaign_id, domain, dest, dest_set, cat, tls_version, n, deferrals,
	tls, tls_verified, delay_sum, delay_max)
SELECT campaign_id, domain, dest, dest_set, cat, tls_version, count(*), sum(deferrals), sum(tls),
	sum(verified), sum(delay), max(delay) FROM (SELECT m.campaign_id AS campaign_id,
		coalesce(c.domain, lower(substr(m.email, instr(m.email, '@') + 1)), '(erased)') AS domain,
		coalesce(m.dest, m.host, '') AS dest, (m.dest IS NOT NULL) AS dest_set,
		CASE m.state WHEN 'delivered' THEN 0 WHEN 'bounced' THEN CASE WHEN m.class = 'soft'
		THEN 2 ELSE 1 END WHEN 'suppressed' THEN 7 WHEN 'cancelled' THEN 8 ELSE 3 END AS cat,
		CASE WHEN m.state = 'delivered' AND coalesce(m.tls, '') NOT IN ('', 'none')
		THEN substr(m.tls, 1, instr(m.tls || ' ', ' ') - 1) ELSE '' END AS tls_version,
		m.attempts - (m.state IN ('delivered', 'bounced', 'failed') AND m.attempts > 0) AS deferrals,
		(m.state = 'delivered' AND coalesce(m.tls, '') NOT IN ('', 'none')) AS tls,
		(m.state = 'delivered' AND coalesce(m.tls, '') NOT IN ('', 'none')
		 AND instr(m.tls, ' verified') > 0) AS verified,
		CASE WHEN m.state = 'delivered' AND m.done_at IS NOT NULL
		THEN max(m.done_at - m.queued_at, 0) ELSE 0 END AS delay
	FROM messages m LEFT JOIN contacts c ON c.id = m.contact_id
	WHERE m.state NOT IN ('queued', 'claimed'))
GROUP BY campaign_id, domain, dest, dest_set, cat, tls_version;

INSERT INTO report_campaigns(campaign_id, started_at)
SELECT campaign_id, min(CASE WHEN queued_at > 0 THEN queued_at END) FROM messages
GROUP BY campaign_id;

INSERT INTO report_minutes(campaign_id, t, events, delivered, deferred, bounced, failed, opens,
	opens_machine, clicks, complaints, unsubscribes, tls, first_delivery, last_delivery)
SELECT m.campaign_id, e.ts - ((e.ts % 60) + 60) % 60, count(*), sum(e.type = 'delivered'),
	sum(e.type = 'deferred'), sum(e.type = 'bounced'), sum(e.type = 'failed'),
	sum(e.type = 'open' AND NOT (json_extract(CASE WHEN json_valid(e.detail) THEN e.detail END, '$.machine') IS 1)),
	sum(e.type = 'open' AND (json_extract(CASE WHEN json_valid(e.detail) THEN e.detail END, '$.machine') IS 1)),
	sum(e.type = 'click'), sum(e.type = 'complaint'), sum(e.type = 'unsubscribe'),
	sum(e.type = 'delivered' AND coalesce(e.tls, '') NOT IN ('', 'none')),
	min(CASE WHEN e.type = 'delivered' THEN e.ts END), max(CASE WHEN e.type = 'delivered' THEN e.ts END)
FROM events e JOIN messages m ON m.id = e.message_id GROUP BY 1, 2;

INSERT INTO report_counts(campaign_id, kind, k, n)
SELECT m.campaign_id, 0, 0, count(DISTINCT e.message_id) FROM events e JOIN messages m ON m.id = e.message_id
WHERE e.type = 'open' AND NOT (json_extract(CASE WHEN json_valid(e.detail) THEN e.detail END, '$.machine') IS 1) GROUP BY 1
UNION ALL
SELECT m.campaign_id, 1, 0, count(DISTINCT e.message_id) FROM events e JOIN messages m ON m.id = e.message_id
WHERE e.type = 'click' GROUP BY 1
UNION ALL
SELECT campaign_id, 2, link, count(*) FROM (SELECT m.campaign_id AS campaign_id, (CASE WHEN json_valid(e.detail) AND json_type(e.detail, '$.link') = 'integer' AND json_extract(e.detail, '$.link') BETWEEN 0 AND 65535 THEN json_extract(e.detail, '$.link') END) AS link
	FROM events e JOIN messages m ON m.id = e.message_id WHERE e.type = 'click')
WHERE link IS NOT NULL GROUP BY 1, 2
UNION ALL
SELECT campaign_id, 3, link, count(DISTINCT message_id) FROM (SELECT m.campaign_id AS campaign_id,
	e.message_id AS message_id, (CASE WHEN json_valid(e.detail) AND json_type(e.detail, '$.link') = 'integer' AND json_extract(e.detail, '$.link') BETWEEN 0 AND 65535 THEN json_extract(e.detail, '$.link') END) AS link
	FROM events e JOIN messages m ON m.id = e.message_id WHERE e.type = 'click')
WHERE link IS NOT NULL GROUP BY 1, 2;

INSERT INTO report_reasons(campaign_id, outcome, cls, reason, ecode, code, n, first_id, example_id)
SELECT campaign_id, outcome, cls, reason, ecode, code, count(*), min(id), min(example_id) FROM
	(SELECT m.campaign_id AS campaign_id, e.type AS outcome, coalesce(e.class, '') AS cls, coalesce(e.reason, '') AS reason,
		CASE WHEN coalesce(e.reason, '') <> '' THEN '' ELSE coalesce(e.ecode, '') END AS ecode,
		CASE WHEN coalesce(e.reason, '') <> '' OR e.ecode IS NOT NULL THEN 0
		     ELSE coalesce(e.code, 0) END AS code, e.id AS id,
		CASE WHEN coalesce(e.text, '') <> '' THEN e.id END AS example_id
	FROM events e JOIN messages m ON m.id = e.message_id
	WHERE e.type IN ('deferred', 'bounced', 'failed'))
GROUP BY campaign_id, outcome, cls, reason, ecode, code;

-- 010: TLS-RPT reports sent (RFC 8460 5.3), so that a day's report goes to each of a
-- domain's rua= addresses once. One row per (day, domain, uri) delivered or posted;
-- uri '' marks a domain that had no TLS-RPT record when its day was looked at (nothing
-- to send, and not looked at again). A failed delivery writes nothing: it is tried
-- again at the next look.
CREATE TABLE tlsrpt_sent (
	day INTEGER NOT NULL,     -- the Unix day (UTC) the report covers
	domain TEXT NOT NULL,     -- the policy domain
	uri TEXT NOT NULL,        -- the rua= URI it went to ('' none)
	report_id TEXT NOT NULL,
	sent_at INTEGER NOT NULL,
	PRIMARY KEY (day, domain, uri)
) WITHOUT ROWID;

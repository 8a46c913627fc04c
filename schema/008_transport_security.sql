-- 008: transport security of direct delivery (#26): MTA-STS policies (RFC 8461),
-- what the sender last saw of each recipient domain's DANE and TLS-RPT records,
-- the sessions' TLS results counted for TLS-RPT (RFC 8460), and "dane" as a
-- domain policy's TLS setting. (006 and 007 belong to other work; migrations
-- apply in number order and a gap is allowed.)

-- One row per recipient domain with a fetched policy, kept until it expires
-- (and after: a policy that could not be refreshed is still shown, unused).
CREATE TABLE mta_sts_policies (
	domain TEXT PRIMARY KEY,   -- A-label, lower case
	id TEXT NOT NULL,          -- the _mta-sts TXT record's id the policy was fetched for
	mode TEXT NOT NULL CHECK (mode IN ('none', 'testing', 'enforce')),
	max_age INTEGER NOT NULL,
	policy TEXT NOT NULL,      -- the policy as mta_sts_policy_format writes it
	fetched_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL -- fetched_at + max_age
);

-- What a sender last found for a recipient domain (kirim domain show).
CREATE TABLE domain_tls (
	domain TEXT PRIMARY KEY,
	sts_id TEXT,        -- the _mta-sts TXT id, NULL: no record
	sts_error TEXT,     -- why the last policy fetch failed, NULL when it did not
	dane TEXT,          -- "MX-HOST: STATE" per MX host, e.g. "mx1.example.com: dane 3 1 1"
	tlsrpt TEXT,        -- the _smtp._tls record's rua= addresses, NULL: no record
	checked_at INTEGER NOT NULL
);

-- TLS-RPT: sessions per UTC day, policy domain, policy, MX host and result.
CREATE TABLE tls_results (
	day INTEGER NOT NULL,          -- Unix day (UTC) the sessions started
	domain TEXT NOT NULL,          -- the policy domain (the recipient domain)
	policy_type TEXT NOT NULL CHECK (policy_type IN ('sts', 'tlsa', 'no-policy-found')),
	policy TEXT NOT NULL,          -- the policy-string, one line per entry; '' for none
	mx_host TEXT NOT NULL,
	receiving_ip TEXT NOT NULL,
	sending_ip TEXT NOT NULL,
	result TEXT NOT NULL,          -- 'success' or an RFC 8460 result-type
	detail TEXT NOT NULL,          -- failure-reason-code: what OpenSSL or the server said
	sessions INTEGER NOT NULL,
	PRIMARY KEY (day, domain, policy_type, policy, mx_host, receiving_ip, sending_ip, result)
);

-- "dane" joins the TLS settings a domain policy may name (SQLite cannot change a CHECK in
-- place: the table is made again, as 004 did for suppressions).
CREATE TABLE domain_policies_new (
	pattern TEXT PRIMARY KEY,
	max_connections INTEGER,
	rate REAL,
	max_msgs_per_conn INTEGER,
	connect_rate REAL,
	tls TEXT CHECK (tls IN ('none', 'opportunistic', 'required', 'verify', 'dane')),
	warmup TEXT, -- JSON: {"start": unix day, "caps": [50, 100, ...]}
	source TEXT NOT NULL DEFAULT 'user',
	updated_at INTEGER NOT NULL
);
INSERT INTO domain_policies_new SELECT pattern, max_connections, rate, max_msgs_per_conn,
	connect_rate, tls, warmup, source, updated_at FROM domain_policies;
DROP TABLE domain_policies;
ALTER TABLE domain_policies_new RENAME TO domain_policies;

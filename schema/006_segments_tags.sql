-- 006: audiences. Segments (saved filters over contacts, docs/segments.md),
-- tags on contacts, and a campaign's audience: the union of lists and
-- segments, less excluded ones and the follow-up shortcuts, one message per
-- contact. Indexes for the segments' engagement conditions.

-- A segment is its expression in canonical form, parsed again when used:
-- it is evaluated when counted and when a campaign using it is queued.
CREATE TABLE segments (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	expr TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);

-- Tags compare case-insensitively ('VIP' is 'vip'): the first spelling stays.
-- By tag first: tag("vip") reads one range; a contact's tags use the index.
CREATE TABLE contact_tags (
	tag TEXT NOT NULL COLLATE NOCASE,
	contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (tag, contact_id)
) WITHOUT ROWID;
CREATE INDEX contact_tags_contact ON contact_tags(contact_id);

-- campaigns.list_id becomes the campaign's first list, NULL when its audience
-- has none (segments only). SQLite cannot drop a NOT NULL in place: rebuild
-- (store.c applies migrations with foreign keys off and checks them before
-- each COMMIT, so messages keep their campaigns).
CREATE TABLE campaigns_new (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	list_id INTEGER REFERENCES lists(id),
	template_id INTEGER NOT NULL REFERENCES templates(id),
	from_name TEXT,
	from_addr TEXT NOT NULL,
	reply_to TEXT,
	headers TEXT NOT NULL DEFAULT '[]',
	state TEXT NOT NULL DEFAULT 'draft'
		CHECK (state IN ('draft', 'scheduled', 'sending', 'paused', 'done', 'cancelled')),
	scheduled_at INTEGER,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	options TEXT NOT NULL DEFAULT '{}',
	state_reason TEXT,
	sender_id INTEGER
);
INSERT INTO campaigns_new(id, name, list_id, template_id, from_name, from_addr, reply_to,
	headers, state, scheduled_at, created_at, updated_at, options, state_reason, sender_id)
	SELECT id, name, list_id, template_id, from_name, from_addr, reply_to, headers, state,
	scheduled_at, created_at, updated_at, options, state_reason, sender_id FROM campaigns;
DROP TABLE campaigns;
ALTER TABLE campaigns_new RENAME TO campaigns;

-- A campaign's audience, in the order given: kind says what the part does,
-- and names a list, a segment or an earlier campaign (name: as it was called
-- when the part was added, kept when a segment is removed later). A list in
-- use cannot be deleted; a segment can be once its campaigns are done.
CREATE TABLE campaign_audience (
	campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
	pos INTEGER NOT NULL,
	kind TEXT NOT NULL CHECK (kind IN ('list', 'segment', 'exclude-list', 'exclude-segment',
		'not-sent-by', 'not-opened', 'not-clicked')),
	list_id INTEGER REFERENCES lists(id),
	segment_id INTEGER REFERENCES segments(id) ON DELETE SET NULL,
	ref_campaign_id INTEGER REFERENCES campaigns(id),
	name TEXT NOT NULL,
	PRIMARY KEY (campaign_id, pos)
) WITHOUT ROWID;
CREATE INDEX campaign_audience_list ON campaign_audience(list_id);
CREATE INDEX campaign_audience_segment ON campaign_audience(segment_id);
INSERT INTO campaign_audience(campaign_id, pos, kind, list_id, name)
	SELECT c.id, 0, 'list', c.list_id, l.name FROM campaigns c JOIN lists l ON l.id = c.list_id;

-- Engagement conditions read events by type and time across campaigns
-- (clicked(any, 30d)) or by message within one campaign (opened("spring")):
-- both indexes now cover what those look-ups need, so no event row is read.
DROP INDEX events_message;
CREATE INDEX events_message ON events(message_id, type, ts);
DROP INDEX events_type_ts;
CREATE INDEX events_type_ts ON events(type, ts, message_id);

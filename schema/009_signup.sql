-- 009: signups with double opt-in (issue 27): a list member's status, confirmation
-- campaigns, and the record of each consent.

-- A member who signed up through kirim serve's form is 'unconfirmed' until they follow
-- the link in the confirmation message; campaigns never mail them meanwhile (their
-- messages are made from, and claimed for, confirmed members only). Imported members,
-- and every member from before this migration, are 'confirmed'.
ALTER TABLE list_members ADD COLUMN status TEXT NOT NULL DEFAULT 'confirmed'
	CHECK (status IN ('confirmed', 'unconfirmed'));
-- The unconfirmed members by contact: few rows (imports never add one), so that a
-- campaign's look for a contact that only signed up costs one seek (store_int.h).
CREATE INDEX list_members_unconfirmed ON list_members(contact_id) WHERE status = 'unconfirmed';

-- 'confirm': the campaign kirim serve makes for a list the first time someone signs up
-- to it; its messages are the confirmation requests, to the list's unconfirmed members
-- only, sent by kirim run like any campaign's.
ALTER TABLE campaigns ADD COLUMN kind TEXT NOT NULL DEFAULT 'regular'
	CHECK (kind IN ('regular', 'confirm'));

-- One row per signup: the proof of consent GDPR asks for. What the person agreed to
-- (text, in language), where (form, the list), from where (ip, user_agent) and when;
-- then when and from where they confirmed. The list's name is kept beside its id, so the
-- record outlives the list; the contact's erasure takes its records with it.
CREATE TABLE consents (
	id INTEGER PRIMARY KEY,
	contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
	list_id INTEGER REFERENCES lists(id) ON DELETE SET NULL,
	list_name TEXT NOT NULL,
	form TEXT NOT NULL,
	ip TEXT NOT NULL,
	user_agent TEXT,
	language TEXT NOT NULL,
	text TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	confirmed_at INTEGER,
	confirm_ip TEXT
);
CREATE INDEX consents_contact ON consents(contact_id, list_id);

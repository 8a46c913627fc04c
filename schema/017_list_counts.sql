-- 017: each list's counts kept as its members and the suppressions change (issue 23: the
-- console's lists, dashboard, wizard and plan answered from them instead of a look-up of
-- every member's suppressions). One row per list and recipient domain: its confirmed
-- members (a signup waiting for its link is not one yet) and how many of them are
-- suppressed, by the rule of SUPPRESSION_OF_C (store_int.h): a suppression of the lower-cased
-- address, of the domain, or of the address's hash. The triggers below keep the rows in the
-- transaction of every change, whoever writes it (kirim or the sqlite3 shell); `kirim lists
-- check` counts again and compares. A list's counts are the sums of its rows; a plan of a
-- campaign whose audience is one list reads its domains' rows.
CREATE TABLE list_domain_counts (
	list_id INTEGER NOT NULL,
	domain TEXT NOT NULL,
	members INTEGER NOT NULL,
	suppressed INTEGER NOT NULL,
	PRIMARY KEY (list_id, domain)
) WITHOUT ROWID;

-- A hash (an erased address) names the live contact that has that address again, if one
-- does (made since by hand or a signup; an import refuses it): SQL cannot compute the
-- hash in a trigger (kirim_sha256 is kirim's function, not the shell's), so the store
-- links a new contact to its erased address's suppression (store_suppress_link) and the
-- triggers read the link. Cleared when the contact is deleted.
ALTER TABLE suppressions ADD COLUMN contact_id INTEGER;
CREATE INDEX suppressions_contact ON suppressions(contact_id) WHERE contact_id IS NOT NULL;
UPDATE suppressions SET contact_id = x.id
FROM (SELECT c.id, kirim_sha256(lower(c.email)) AS h FROM contacts c
      WHERE EXISTS (SELECT 1 FROM suppressions WHERE kind = 'hash')) AS x
WHERE suppressions.kind = 'hash' AND suppressions.value = x.h;

INSERT INTO list_domain_counts(list_id, domain, members, suppressed)
SELECT m.list_id, c.domain, count(*),
       sum((EXISTS (SELECT 1 FROM suppressions p WHERE p.value = lower(c.email))
		 OR EXISTS (SELECT 1 FROM suppressions p WHERE p.value = c.domain))
           OR EXISTS (SELECT 1 FROM suppressions p WHERE p.contact_id = c.id))
FROM list_members m JOIN contacts c ON c.id = m.contact_id
WHERE m.status = 'confirmed' GROUP BY m.list_id, c.domain;

-- A member in, out, confirmed or back to waiting. A member whose contact is gone was
-- counted out by the contact's own trigger (list_counts_contact_out). An import's members
-- (import_id set: only the importer writes one) are counted by the importer, per domain at
-- the end, in its transaction (store_import_counted), with triggers off (store_bulk): a
-- trigger invoked per row cost an import of 1,000,000 rows seconds of CPU, even with a WHEN
-- that is false. Each look-up is an '=':
-- 'value IN (lower(c.email), c.domain)' builds a temporary index at every evaluation
-- (2.4 µs a member added, against 0.7 for the three look-ups below).
CREATE TRIGGER list_counts_member_in AFTER INSERT ON list_members
WHEN NEW.status = 'confirmed' AND NEW.import_id IS NULL
BEGIN
	INSERT INTO list_domain_counts(list_id, domain, members, suppressed)
	SELECT NEW.list_id, c.domain, 1,
	       (EXISTS (SELECT 1 FROM suppressions p WHERE p.value = lower(c.email))
		 OR EXISTS (SELECT 1 FROM suppressions p WHERE p.value = c.domain))
	       OR EXISTS (SELECT 1 FROM suppressions p WHERE p.contact_id = c.id)
	FROM contacts c WHERE c.id = NEW.contact_id
	ON CONFLICT (list_id, domain) DO UPDATE SET members = members + 1,
		suppressed = suppressed + excluded.suppressed;
END;

CREATE TRIGGER list_counts_member_out AFTER DELETE ON list_members
WHEN OLD.status = 'confirmed' AND EXISTS (SELECT 1 FROM lists WHERE id = OLD.list_id)
BEGIN
	UPDATE list_domain_counts SET members = members - 1, suppressed = suppressed -
		(SELECT (EXISTS (SELECT 1 FROM suppressions p WHERE p.value = lower(c.email))
		 OR EXISTS (SELECT 1 FROM suppressions p WHERE p.value = c.domain))
		        OR EXISTS (SELECT 1 FROM suppressions p WHERE p.contact_id = c.id)
		 FROM contacts c WHERE c.id = OLD.contact_id)
	WHERE list_id = OLD.list_id
	AND domain = (SELECT domain FROM contacts WHERE id = OLD.contact_id);
END;

CREATE TRIGGER list_counts_member_moved AFTER UPDATE OF list_id, contact_id, status ON list_members
WHEN OLD.status = 'confirmed' OR NEW.status = 'confirmed'
BEGIN
	UPDATE list_domain_counts SET members = members - 1, suppressed = suppressed -
		(SELECT (EXISTS (SELECT 1 FROM suppressions p WHERE p.value = lower(c.email))
		 OR EXISTS (SELECT 1 FROM suppressions p WHERE p.value = c.domain))
		        OR EXISTS (SELECT 1 FROM suppressions p WHERE p.contact_id = c.id)
		 FROM contacts c WHERE c.id = OLD.contact_id)
	WHERE OLD.status = 'confirmed' AND list_id = OLD.list_id
	AND domain = (SELECT domain FROM contacts WHERE id = OLD.contact_id);
	INSERT INTO list_domain_counts(list_id, domain, members, suppressed)
	SELECT NEW.list_id, c.domain, 1,
	       (EXISTS (SELECT 1 FROM suppressions p WHERE p.value = lower(c.email))
		 OR EXISTS (SELECT 1 FROM suppressions p WHERE p.value = c.domain))
	       OR EXISTS (SELECT 1 FROM suppressions p WHERE p.contact_id = c.id)
	FROM contacts c WHERE c.id = NEW.contact_id AND NEW.status = 'confirmed'
	ON CONFLICT (list_id, domain) DO UPDATE SET members = members + 1,
		suppressed = suppressed + excluded.suppressed;
END;

-- A contact deleted: counted out of its lists before its memberships go (the foreign key's
-- cascade deletes them after the contact's row), its hash link cleared first so that the
-- id, if ever used again, names nobody's erased address.
CREATE TRIGGER list_counts_contact_out BEFORE DELETE ON contacts
BEGIN
	UPDATE suppressions SET contact_id = NULL WHERE contact_id = OLD.id;
	UPDATE list_domain_counts SET members = members - 1, suppressed = suppressed -
		(EXISTS (SELECT 1 FROM suppressions p WHERE p.value = lower(OLD.email))
		 OR EXISTS (SELECT 1 FROM suppressions p WHERE p.value = OLD.domain))
	WHERE domain = OLD.domain AND list_id IN (SELECT l.id FROM lists l WHERE EXISTS
		(SELECT 1 FROM list_members m WHERE m.list_id = l.id AND m.contact_id = OLD.id
		 AND m.status = 'confirmed'));
END;

-- A contact's address changed (kirim never does; the shell might): out of the old
-- domain's rows, into the new one's.
CREATE TRIGGER list_counts_contact_moved AFTER UPDATE OF email, domain ON contacts
WHEN OLD.email IS NOT NEW.email OR OLD.domain IS NOT NEW.domain
BEGIN
	UPDATE list_domain_counts SET members = members - 1, suppressed = suppressed -
		((EXISTS (SELECT 1 FROM suppressions p WHERE p.value = lower(OLD.email))
		 OR EXISTS (SELECT 1 FROM suppressions p WHERE p.value = OLD.domain))
		 OR EXISTS (SELECT 1 FROM suppressions p WHERE p.contact_id = OLD.id))
	WHERE domain = OLD.domain AND list_id IN (SELECT l.id FROM lists l WHERE EXISTS
		(SELECT 1 FROM list_members m WHERE m.list_id = l.id AND m.contact_id = NEW.id
		 AND m.status = 'confirmed'));
	INSERT INTO list_domain_counts(list_id, domain, members, suppressed)
	SELECT l.id, NEW.domain, 1,
	       (EXISTS (SELECT 1 FROM suppressions p WHERE p.value = lower(NEW.email))
		 OR EXISTS (SELECT 1 FROM suppressions p WHERE p.value = NEW.domain))
	       OR EXISTS (SELECT 1 FROM suppressions p WHERE p.contact_id = NEW.id)
	FROM lists l WHERE EXISTS (SELECT 1 FROM list_members m WHERE m.list_id = l.id
		AND m.contact_id = NEW.id AND m.status = 'confirmed')
	ON CONFLICT (list_id, domain) DO UPDATE SET members = members + 1,
		suppressed = suppressed + excluded.suppressed;
END;

CREATE TRIGGER list_counts_list_gone AFTER DELETE ON lists
BEGIN
	DELETE FROM list_domain_counts WHERE list_id = OLD.id;
END;

-- Suppressions. A contact counts once however many suppressions name it: an address's
-- suppression (or a hash's link) changes a count only when it is the contact's first or
-- last one. A whole domain's makes every member there suppressed; lifting it leaves those
-- with a suppression of their own.
CREATE TRIGGER list_counts_suppress_address AFTER INSERT ON suppressions
WHEN NEW.kind = 'address'
BEGIN
	UPDATE list_domain_counts SET suppressed = suppressed + 1
	WHERE domain = (SELECT c.domain FROM contacts c WHERE c.email = NEW.value
		AND NOT EXISTS (SELECT 1 FROM suppressions p WHERE p.id <> NEW.id
			AND p.value = lower(c.email))
		AND NOT EXISTS (SELECT 1 FROM suppressions p WHERE p.id <> NEW.id
			AND p.value = c.domain)
		AND NOT EXISTS (SELECT 1 FROM suppressions p WHERE p.contact_id = c.id))
	AND list_id IN (SELECT l.id FROM lists l WHERE EXISTS (SELECT 1 FROM contacts c
		JOIN list_members m ON m.list_id = l.id AND m.contact_id = c.id
		WHERE c.email = NEW.value AND m.status = 'confirmed'));
END;

CREATE TRIGGER list_counts_unsuppress_address AFTER DELETE ON suppressions
WHEN OLD.kind = 'address'
BEGIN
	UPDATE list_domain_counts SET suppressed = suppressed - 1
	WHERE domain = (SELECT c.domain FROM contacts c WHERE c.email = OLD.value
		AND NOT (EXISTS (SELECT 1 FROM suppressions p WHERE p.value = lower(c.email))
		 OR EXISTS (SELECT 1 FROM suppressions p WHERE p.value = c.domain))
		AND NOT EXISTS (SELECT 1 FROM suppressions p WHERE p.contact_id = c.id))
	AND list_id IN (SELECT l.id FROM lists l WHERE EXISTS (SELECT 1 FROM contacts c
		JOIN list_members m ON m.list_id = l.id AND m.contact_id = c.id
		WHERE c.email = OLD.value AND m.status = 'confirmed'));
END;

CREATE TRIGGER list_counts_suppress_domain AFTER INSERT ON suppressions
WHEN NEW.kind = 'domain'
BEGIN
	UPDATE list_domain_counts SET suppressed = members WHERE domain = NEW.value;
END;

-- From the smaller side: the address suppressions and hash links (few) at that domain,
-- not the domain's contacts.
CREATE TRIGGER list_counts_unsuppress_domain AFTER DELETE ON suppressions
WHEN OLD.kind = 'domain'
BEGIN
	UPDATE list_domain_counts SET suppressed = (SELECT count(*) FROM contacts c
		WHERE c.id IN (SELECT c2.id FROM suppressions p JOIN contacts c2 ON c2.email = p.value
		               WHERE p.kind = 'address'
		               UNION SELECT p.contact_id FROM suppressions p WHERE p.contact_id IS NOT NULL)
		AND c.domain = OLD.value AND EXISTS (SELECT 1 FROM list_members m
			WHERE m.list_id = list_domain_counts.list_id AND m.contact_id = c.id
			AND m.status = 'confirmed'))
	WHERE domain = OLD.value;
END;

-- A hash's link to a contact made, moved or gone (store_suppress_link, a contact deleted,
-- the suppression lifted).
CREATE TRIGGER list_counts_link_in AFTER INSERT ON suppressions
WHEN NEW.contact_id IS NOT NULL
BEGIN
	UPDATE list_domain_counts SET suppressed = suppressed + 1
	WHERE domain = (SELECT c.domain FROM contacts c WHERE c.id = NEW.contact_id
		AND NOT (EXISTS (SELECT 1 FROM suppressions p WHERE p.value = lower(c.email))
		 OR EXISTS (SELECT 1 FROM suppressions p WHERE p.value = c.domain))
		AND NOT EXISTS (SELECT 1 FROM suppressions p WHERE p.id <> NEW.id
			AND p.contact_id = c.id))
	AND list_id IN (SELECT l.id FROM lists l WHERE EXISTS (SELECT 1 FROM list_members m
		WHERE m.list_id = l.id AND m.contact_id = NEW.contact_id AND m.status = 'confirmed'));
END;

CREATE TRIGGER list_counts_link_out AFTER DELETE ON suppressions
WHEN OLD.contact_id IS NOT NULL
BEGIN
	UPDATE list_domain_counts SET suppressed = suppressed - 1
	WHERE domain = (SELECT c.domain FROM contacts c WHERE c.id = OLD.contact_id
		AND NOT (EXISTS (SELECT 1 FROM suppressions p WHERE p.value = lower(c.email))
		 OR EXISTS (SELECT 1 FROM suppressions p WHERE p.value = c.domain))
		AND NOT EXISTS (SELECT 1 FROM suppressions p WHERE p.contact_id = c.id))
	AND list_id IN (SELECT l.id FROM lists l WHERE EXISTS (SELECT 1 FROM list_members m
		WHERE m.list_id = l.id AND m.contact_id = OLD.contact_id AND m.status = 'confirmed'));
END;

CREATE TRIGGER list_counts_link_moved AFTER UPDATE OF contact_id ON suppressions
WHEN OLD.contact_id IS NOT NEW.contact_id
BEGIN
	UPDATE list_domain_counts SET suppressed = suppressed - 1
	WHERE domain = (SELECT c.domain FROM contacts c WHERE c.id = OLD.contact_id
		AND NOT (EXISTS (SELECT 1 FROM suppressions p WHERE p.value = lower(c.email))
		 OR EXISTS (SELECT 1 FROM suppressions p WHERE p.value = c.domain))
		AND NOT EXISTS (SELECT 1 FROM suppressions p WHERE p.contact_id = c.id))
	AND list_id IN (SELECT l.id FROM lists l WHERE EXISTS (SELECT 1 FROM list_members m
		WHERE m.list_id = l.id AND m.contact_id = OLD.contact_id AND m.status = 'confirmed'));
	UPDATE list_domain_counts SET suppressed = suppressed + 1
	WHERE domain = (SELECT c.domain FROM contacts c WHERE c.id = NEW.contact_id
		AND NOT (EXISTS (SELECT 1 FROM suppressions p WHERE p.value = lower(c.email))
		 OR EXISTS (SELECT 1 FROM suppressions p WHERE p.value = c.domain))
		AND NOT EXISTS (SELECT 1 FROM suppressions p WHERE p.id <> NEW.id
			AND p.contact_id = c.id))
	AND list_id IN (SELECT l.id FROM lists l WHERE EXISTS (SELECT 1 FROM list_members m
		WHERE m.list_id = l.id AND m.contact_id = NEW.contact_id AND m.status = 'confirmed'));
END;

-- What a suppression names is never changed in place (kirim deletes one and adds another):
-- the counts above follow inserts and deletes.
CREATE TRIGGER suppressions_fixed BEFORE UPDATE OF kind, value ON suppressions
WHEN OLD.kind IS NOT NEW.kind OR OLD.value IS NOT NEW.value
BEGIN
	SELECT RAISE(ABORT, 'a suppression''s kind and value are not changed in place: remove it and add the new one');
END;

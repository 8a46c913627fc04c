-- 017 (PostgreSQL twin of schema/017_list_counts.sql): each list's counts kept per list and
-- recipient domain as its members and the suppressions change (issue 23). The same table,
-- column, index, first fill and triggers, with the same names, timing (AFTER or BEFORE,
-- FOR EACH ROW; three differ, below) and conditions; each trigger's body is a PL/pgSQL
-- function of its name, because a PostgreSQL trigger's WHEN takes no subquery (those move
-- into the function).
-- A member is suppressed when a suppression names its lower-cased address, its domain, or
-- (through suppressions.contact_id) its address's hash. Differences from SQLite's:
--   lower(email::text COLLATE "C") folds ASCII only, as SQLite's lower() and kirim's address
--   rule do, whatever the database's locale; c.email = value::citext compares ignoring
--   ASCII case, as SQLite's NOCASE column does; a boolean counts as ::int.
--   The three triggers that count a suppression out when it is deleted run BEFORE DELETE,
--   not AFTER as SQLite's: a PostgreSQL AFTER ROW trigger runs when its statement ends and
--   sees every row it deleted gone, so one DELETE of a domain's suppression and of an
--   address's there (or of an address and its hash link) would count that member out twice
--   (measured: -1). A BEFORE ROW trigger sees the rows deleted before its own, as SQLite's
--   AFTER trigger does, and its own row, which it leaves out (list_counts_suppressed's
--   but). The inserts stay AFTER: a BEFORE INSERT would count a row that ON CONFLICT DO
--   NOTHING then skips.
CREATE TABLE list_domain_counts (
	list_id bigint NOT NULL,
	domain text NOT NULL,
	members bigint NOT NULL,
	suppressed bigint NOT NULL,
	PRIMARY KEY (list_id, domain)
);

ALTER TABLE suppressions ADD COLUMN contact_id bigint;
CREATE INDEX suppressions_contact ON suppressions(contact_id) WHERE contact_id IS NOT NULL;
-- The hash links: SHA-256 of the lower-cased address in lower-case hex, as
-- store_suppress_hash makes it (sha256() is built in since PostgreSQL 11).
UPDATE suppressions SET contact_id = x.id
FROM (SELECT c.id, encode(sha256(convert_to(lower(c.email::text COLLATE "C"), 'UTF8')), 'hex') AS h
      FROM contacts c WHERE EXISTS (SELECT 1 FROM suppressions WHERE kind = 'hash')) AS x
WHERE suppressions.kind = 'hash' AND suppressions.value = x.h;

-- list_counts_suppressed - 1 if a suppression other than the one numbered but (NULL: any)
-- names the contact (its id, address, domain), else 0
CREATE FUNCTION list_counts_suppressed(c_id bigint, c_email citext, c_domain text,
                                       but bigint DEFAULT NULL) RETURNS int
LANGUAGE sql STABLE AS $$
	SELECT ((EXISTS (SELECT 1 FROM suppressions p WHERE p.value = lower(c_email::text COLLATE "C")
	                 AND p.id IS DISTINCT FROM but)
	         OR EXISTS (SELECT 1 FROM suppressions p WHERE p.value = c_domain
	                    AND p.id IS DISTINCT FROM but))
	        OR EXISTS (SELECT 1 FROM suppressions p WHERE p.contact_id = c_id
	                   AND p.id IS DISTINCT FROM but))::int
$$;

INSERT INTO list_domain_counts(list_id, domain, members, suppressed)
SELECT m.list_id, c.domain, count(*), sum(list_counts_suppressed(c.id, c.email, c.domain))
FROM list_members m JOIN contacts c ON c.id = m.contact_id
WHERE m.status = 'confirmed' GROUP BY m.list_id, c.domain;

-- A member in, out, confirmed or back to waiting; an import's members (import_id set) are
-- counted by the importer.

-- list_counts_member - contact cid counted in (delta 1) or out (-1) of list lid's members,
-- and of its suppressed members if a suppression names it
CREATE FUNCTION list_counts_member(lid bigint, cid bigint, delta int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF delta > 0 THEN
		INSERT INTO list_domain_counts(list_id, domain, members, suppressed)
		SELECT lid, c.domain, 1, list_counts_suppressed(c.id, c.email, c.domain)
		FROM contacts c WHERE c.id = cid
		ON CONFLICT (list_id, domain) DO UPDATE SET members = list_domain_counts.members + 1,
			suppressed = list_domain_counts.suppressed + excluded.suppressed;
	ELSE
		UPDATE list_domain_counts SET members = members - 1, suppressed = suppressed -
			(SELECT list_counts_suppressed(c.id, c.email, c.domain)
			 FROM contacts c WHERE c.id = cid)
		WHERE list_id = lid AND domain = (SELECT domain FROM contacts WHERE id = cid);
	END IF;
END;
$$;

CREATE FUNCTION list_counts_member_in() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM list_counts_member(NEW.list_id, NEW.contact_id, 1);
	RETURN NULL;
END;
$$;
CREATE TRIGGER list_counts_member_in AFTER INSERT ON list_members
	FOR EACH ROW WHEN (NEW.status = 'confirmed' AND NEW.import_id IS NULL)
	EXECUTE FUNCTION list_counts_member_in();

-- A member whose contact is gone was counted out by list_counts_contact_out (the domain
-- look-up finds no contact); one whose list is gone, by list_counts_list_gone.
CREATE FUNCTION list_counts_member_out() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM lists WHERE id = OLD.list_id) THEN
		PERFORM list_counts_member(OLD.list_id, OLD.contact_id, -1);
	END IF;
	RETURN NULL;
END;
$$;
CREATE TRIGGER list_counts_member_out AFTER DELETE ON list_members
	FOR EACH ROW WHEN (OLD.status = 'confirmed')
	EXECUTE FUNCTION list_counts_member_out();

CREATE FUNCTION list_counts_member_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF OLD.status = 'confirmed' THEN
		PERFORM list_counts_member(OLD.list_id, OLD.contact_id, -1);
	END IF;
	IF NEW.status = 'confirmed' THEN
		PERFORM list_counts_member(NEW.list_id, NEW.contact_id, 1);
	END IF;
	RETURN NULL;
END;
$$;
CREATE TRIGGER list_counts_member_moved AFTER UPDATE OF list_id, contact_id, status
	ON list_members
	FOR EACH ROW WHEN (OLD.status = 'confirmed' OR NEW.status = 'confirmed')
	EXECUTE FUNCTION list_counts_member_moved();

-- A contact deleted: counted out of its lists before its memberships go (the foreign key's
-- cascade deletes them after the contact's row), its hash link cleared first.
CREATE FUNCTION list_counts_contact_out() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE suppressions SET contact_id = NULL WHERE contact_id = OLD.id;
	UPDATE list_domain_counts SET members = members - 1, suppressed = suppressed -
		(EXISTS (SELECT 1 FROM suppressions p WHERE p.value = lower(OLD.email::text COLLATE "C"))
		 OR EXISTS (SELECT 1 FROM suppressions p WHERE p.value = OLD.domain))::int
	WHERE domain = OLD.domain AND list_id IN (SELECT l.id FROM lists l WHERE EXISTS
		(SELECT 1 FROM list_members m WHERE m.list_id = l.id AND m.contact_id = OLD.id
		 AND m.status = 'confirmed'));
	RETURN OLD;
END;
$$;
CREATE TRIGGER list_counts_contact_out BEFORE DELETE ON contacts
	FOR EACH ROW EXECUTE FUNCTION list_counts_contact_out();

-- A contact's address changed: out of the old domain's rows, into the new one's.
CREATE FUNCTION list_counts_contact_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE list_domain_counts SET members = members - 1,
		suppressed = suppressed - list_counts_suppressed(OLD.id, OLD.email, OLD.domain)
	WHERE domain = OLD.domain AND list_id IN (SELECT l.id FROM lists l WHERE EXISTS
		(SELECT 1 FROM list_members m WHERE m.list_id = l.id AND m.contact_id = NEW.id
		 AND m.status = 'confirmed'));
	INSERT INTO list_domain_counts(list_id, domain, members, suppressed)
	SELECT l.id, NEW.domain, 1, list_counts_suppressed(NEW.id, NEW.email, NEW.domain)
	FROM lists l WHERE EXISTS (SELECT 1 FROM list_members m WHERE m.list_id = l.id
		AND m.contact_id = NEW.id AND m.status = 'confirmed')
	ON CONFLICT (list_id, domain) DO UPDATE SET members = list_domain_counts.members + 1,
		suppressed = list_domain_counts.suppressed + excluded.suppressed;
	RETURN NULL;
END;
$$;
CREATE TRIGGER list_counts_contact_moved AFTER UPDATE OF email, domain ON contacts
	FOR EACH ROW WHEN (OLD.email::text IS DISTINCT FROM NEW.email::text
	                   OR OLD.domain IS DISTINCT FROM NEW.domain)
	EXECUTE FUNCTION list_counts_contact_moved();

CREATE FUNCTION list_counts_list_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM list_domain_counts WHERE list_id = OLD.id;
	RETURN NULL;
END;
$$;
CREATE TRIGGER list_counts_list_gone AFTER DELETE ON lists
	FOR EACH ROW EXECUTE FUNCTION list_counts_list_gone();

-- Suppressions. A contact counts once however many suppressions name it: an address's
-- suppression (or a hash's link) changes a count only when it is the contact's first or
-- last one. A whole domain's makes every member there suppressed; lifting it leaves those
-- with a suppression of their own. Those deleted are counted out BEFORE DELETE (above).

-- list_counts_step - contact cid (NULL: none) counted in (delta 1) or out (-1) of the
-- suppressed members of its lists, unless a suppression other than the one numbered but
-- (NULL: any) names it
CREATE FUNCTION list_counts_step(cid bigint, but bigint, delta int) RETURNS void
LANGUAGE sql AS $$
	UPDATE list_domain_counts SET suppressed = suppressed + delta
	WHERE domain = (SELECT c.domain FROM contacts c WHERE c.id = cid
		AND list_counts_suppressed(c.id, c.email, c.domain, but) = 0)
	AND list_id IN (SELECT m.list_id FROM list_members m
		WHERE m.contact_id = cid AND m.status = 'confirmed');
$$;

CREATE FUNCTION list_counts_suppress_address() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM list_counts_step((SELECT id FROM contacts WHERE email = NEW.value::citext), NEW.id, 1);
	RETURN NULL;
END;
$$;
CREATE TRIGGER list_counts_suppress_address AFTER INSERT ON suppressions
	FOR EACH ROW WHEN (NEW.kind = 'address')
	EXECUTE FUNCTION list_counts_suppress_address();

CREATE FUNCTION list_counts_unsuppress_address() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM list_counts_step((SELECT id FROM contacts WHERE email = OLD.value::citext), OLD.id, -1);
	RETURN OLD;
END;
$$;
CREATE TRIGGER list_counts_unsuppress_address BEFORE DELETE ON suppressions
	FOR EACH ROW WHEN (OLD.kind = 'address')
	EXECUTE FUNCTION list_counts_unsuppress_address();

CREATE FUNCTION list_counts_suppress_domain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE list_domain_counts SET suppressed = members WHERE domain = NEW.value;
	RETURN NULL;
END;
$$;
CREATE TRIGGER list_counts_suppress_domain AFTER INSERT ON suppressions
	FOR EACH ROW WHEN (NEW.kind = 'domain')
	EXECUTE FUNCTION list_counts_suppress_domain();

-- From the smaller side: the address suppressions and hash links (few) at that domain,
-- not the domain's contacts. The row being deleted is the domain's, so neither.
CREATE FUNCTION list_counts_unsuppress_domain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE list_domain_counts SET suppressed = (SELECT count(*) FROM contacts c
		WHERE c.id IN (SELECT c2.id FROM suppressions p
		               JOIN contacts c2 ON c2.email = p.value::citext
		               WHERE p.kind = 'address'
		               UNION SELECT p.contact_id FROM suppressions p
		               WHERE p.contact_id IS NOT NULL)
		AND c.domain = OLD.value AND EXISTS (SELECT 1 FROM list_members m
			WHERE m.list_id = list_domain_counts.list_id AND m.contact_id = c.id
			AND m.status = 'confirmed'))
	WHERE domain = OLD.value;
	RETURN OLD;
END;
$$;
CREATE TRIGGER list_counts_unsuppress_domain BEFORE DELETE ON suppressions
	FOR EACH ROW WHEN (OLD.kind = 'domain')
	EXECUTE FUNCTION list_counts_unsuppress_domain();

-- A hash's link to a contact made, moved or gone (store_suppress_link, a contact deleted,
-- the suppression lifted).
CREATE FUNCTION list_counts_link_in() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM list_counts_step(NEW.contact_id, NEW.id, 1);
	RETURN NULL;
END;
$$;
CREATE TRIGGER list_counts_link_in AFTER INSERT ON suppressions
	FOR EACH ROW WHEN (NEW.contact_id IS NOT NULL)
	EXECUTE FUNCTION list_counts_link_in();

CREATE FUNCTION list_counts_link_out() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM list_counts_step(OLD.contact_id, OLD.id, -1);
	RETURN OLD;
END;
$$;
CREATE TRIGGER list_counts_link_out BEFORE DELETE ON suppressions
	FOR EACH ROW WHEN (OLD.contact_id IS NOT NULL)
	EXECUTE FUNCTION list_counts_link_out();

-- One row's link changes: the old contact's last suppression gone (this row no longer names
-- it), the new one's first made (this row is not another).
CREATE FUNCTION list_counts_link_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM list_counts_step(OLD.contact_id, NULL, -1);
	PERFORM list_counts_step(NEW.contact_id, NEW.id, 1);
	RETURN NULL;
END;
$$;
CREATE TRIGGER list_counts_link_moved AFTER UPDATE OF contact_id ON suppressions
	FOR EACH ROW WHEN (OLD.contact_id IS DISTINCT FROM NEW.contact_id)
	EXECUTE FUNCTION list_counts_link_moved();

-- What a suppression names is never changed in place (kirim deletes one and adds another):
-- the counts above follow inserts and deletes.
CREATE FUNCTION suppressions_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'a suppression''s kind and value are not changed in place: remove it and add the new one';
END;
$$;
CREATE TRIGGER suppressions_fixed BEFORE UPDATE OF kind, value ON suppressions
	FOR EACH ROW WHEN (OLD.kind IS DISTINCT FROM NEW.kind OR OLD.value IS DISTINCT FROM NEW.value)
	EXECUTE FUNCTION suppressions_fixed();

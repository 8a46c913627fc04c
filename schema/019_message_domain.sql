-- 019: what a report reads of a message that has no rollup, on the message and in
-- one index (issue 23). A report reads a campaign's settled messages from its
-- rollups (018); its queued and claimed ones, and the reasons of its suppressed
-- ones, it read from the messages, each joined to its contact (the domain; the
-- address, to look its suppression up): on a campaign still sending that is tens
-- of thousands of lookups per report, on every refresh of the console's live page.
-- Now two partial indexes hold all of it, and a report reads a range of an
-- index and no table row: messages_open the queued and claimed messages (their
-- attempts, domain and destination), messages_skipped the suppressed and
-- cancelled ones (their reasons). They replace messages_campaign_state
-- (campaign_id, state), whose queries messages_due (campaign_id, state,
-- next_attempt_at) answers as well: the sender keeps no more index entries than
-- before, and fewer (a settled message leaves messages_open, where it stayed in
-- the old index), a few bytes wider. Its CPU per message: +2.1% (callgrind).
--
-- domain: the contact's domain when the message was made (as the report names
-- it), set for every message made from now on and here for the queued and
-- claimed ones; older settled messages keep NULL (their rollups have it).
-- Erasure clears it with the address.
--
-- reason of a suppressed message: the suppression's reason when it was
-- suppressed (none when it only left the campaign's lists), where the report
-- looked the suppression up when it was read. Filled here from today's
-- suppressions, so that today's reports do not change.
ALTER TABLE messages ADD COLUMN domain TEXT;
UPDATE messages SET domain = coalesce((SELECT c.domain FROM contacts c
	WHERE c.id = messages.contact_id), lower(substr(email, instr(email, '@') + 1)), '(erased)')
	WHERE state IN ('queued', 'claimed');
-- A message queued before 004 and tried then has a host but no destination: a
-- report names the destination by the host, as its next attempt will.
UPDATE messages SET dest = host
	WHERE state IN ('queued', 'claimed') AND dest IS NULL AND host IS NOT NULL;
UPDATE messages SET reason = (SELECT (SELECT s.reason FROM suppressions s
	WHERE s.value IN (lower(c.email), c.domain, CASE WHEN EXISTS (SELECT 1 FROM suppressions
	WHERE kind = 'hash') THEN kirim_sha256(lower(c.email)) END) ORDER BY s.kind LIMIT 1)
	FROM contacts c WHERE c.id = messages.contact_id)
	WHERE state = 'suppressed' AND reason IS NULL;
DROP INDEX messages_campaign_state;
CREATE INDEX messages_open ON messages(campaign_id, state, attempts, domain, dest)
	WHERE state IN ('queued', 'claimed');
CREATE INDEX messages_skipped ON messages(campaign_id, state, reason)
	WHERE state IN ('suppressed', 'cancelled');

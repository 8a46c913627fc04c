-- 010: a campaign's messages are made as it sends (issue 20), not all before the first
-- leaves. A start of a send takes a snapshot of the highest contact id (queue_upto) and
-- the sender walks the audience up to it by contact id, a range at a time: each range's
-- messages and the cursor (queue_cursor: every audience contact with an id at or below
-- it has its message) are written in one transaction, so a crash leaves no range half
-- made. queue_upto is NULL when no walk is unfinished.
ALTER TABLE campaigns ADD COLUMN queue_upto INTEGER;
ALTER TABLE campaigns ADD COLUMN queue_cursor INTEGER NOT NULL DEFAULT 0;

-- 016: several senders on one campaign (#24, docs/scale-out.md). A sender row
-- gets the node it runs as ([node] name or --node; the host name when none):
-- a sender of another node is alive while its lease holds, one of this node
-- while its process runs. Campaigns are no longer held by one sender:
-- sender_campaigns says which senders work on which campaign (any number),
-- and messages.claimed_by which sender holds each claim, as before. The
-- leases table holds leases that one process at a time holds among all the
-- nodes: 'leader', the `kirim run` that starts scheduled campaigns and runs
-- the housekeeping.
ALTER TABLE senders ADD COLUMN node TEXT NOT NULL DEFAULT '';

CREATE TABLE sender_campaigns (
	sender_id INTEGER NOT NULL,
	campaign_id INTEGER NOT NULL,
	PRIMARY KEY (sender_id, campaign_id)
) WITHOUT ROWID;
INSERT INTO sender_campaigns(sender_id, campaign_id)
	SELECT sender_id, id FROM campaigns WHERE sender_id IS NOT NULL;

CREATE TABLE leases (
	name TEXT PRIMARY KEY,
	node TEXT NOT NULL,
	host TEXT NOT NULL,
	pid INTEGER NOT NULL,
	proc_start TEXT NOT NULL,
	since INTEGER NOT NULL,
	lease_until INTEGER NOT NULL
) WITHOUT ROWID;

-- The claims a sender holds, for the sweep of a dead sender's claims and kirim status.
CREATE INDEX messages_claimed_by ON messages(claimed_by) WHERE claimed_by IS NOT NULL;

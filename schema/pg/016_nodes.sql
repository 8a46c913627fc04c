-- 016 (PostgreSQL twin of schema/016_nodes.sql): several senders on one campaign
-- (docs/scale-out.md). A sender's node; which senders work on which campaign; leases
-- one process at a time holds among all nodes ('leader'); the claims a sender holds.
ALTER TABLE senders ADD COLUMN node text NOT NULL DEFAULT '';

CREATE TABLE sender_campaigns (
	sender_id bigint NOT NULL,
	campaign_id bigint NOT NULL,
	PRIMARY KEY (sender_id, campaign_id)
);
INSERT INTO sender_campaigns(sender_id, campaign_id)
	SELECT sender_id, id FROM campaigns WHERE sender_id IS NOT NULL;

CREATE TABLE leases (
	name text PRIMARY KEY,
	node text NOT NULL,
	host text NOT NULL,
	pid bigint NOT NULL,
	proc_start text NOT NULL,
	since bigint NOT NULL,
	lease_until bigint NOT NULL
);

CREATE INDEX messages_claimed_by ON messages(claimed_by) WHERE claimed_by IS NOT NULL;

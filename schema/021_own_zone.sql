-- 021: a campaign's recipients in their own zone kept in its rollup (issue 23). With a
-- send window, a report says how many recipients the window follows in their own zone
-- (a "timezone" attribute: sender_batch.c); it joined every message to its contact's
-- attributes, about a second for a 1,000,000-message campaign. The count is now kept as
-- the campaign's messages are made (store_messages_walk), from each contact's attributes
-- then; `kirim report --recount` counts from the contacts as they are now, and
-- `--rebuild` stores that count.
ALTER TABLE report_campaigns ADD COLUMN own_zone INTEGER NOT NULL DEFAULT 0;
INSERT INTO report_campaigns(campaign_id, own_zone)
SELECT m.campaign_id, count(*) FROM messages m JOIN contacts c ON c.id = m.contact_id
WHERE json_valid(c.attrs) AND coalesce(json_extract(c.attrs, '$.timezone'), '') <> ''
GROUP BY m.campaign_id
ON CONFLICT(campaign_id) DO UPDATE SET own_zone = excluded.own_zone;

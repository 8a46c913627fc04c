-- 021: a campaign's recipients in their own zone kept in its rollup (schema/021_own_zone.sql).
ALTER TABLE report_campaigns ADD COLUMN own_zone bigint NOT NULL DEFAULT 0;

-- 022: nothing changes here. SQLite's migration rebuilds messages and events so
-- that their CHECKs on state and type are chains of '=' instead of IN lists, which
-- SQLite evaluates through a temporary table per row written; PostgreSQL tests an
-- IN list of constants directly, and its CHECKs name the same values. SQLite's
-- events.message_id foreign key becomes DEFERRABLE INITIALLY DEFERRED and its
-- webhook trigger reads the webhook's types with json_each, so that an event's
-- INSERT needs no statement journal there; PostgreSQL keeps no such journal, and
-- its trigger function (015) is unchanged.
SELECT 1;

-- 021: nothing changes here. SQLite's migration rebuilds messages and events so
-- that their CHECKs on state and type are chains of '=' instead of IN lists, which
-- SQLite evaluates through a temporary table per row written; PostgreSQL tests an
-- IN list of constants directly, and its CHECKs name the same values.
SELECT 1;

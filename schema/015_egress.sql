-- 015: source addresses (docs/egress.md). Each delivery attempt records the address it
-- went out from (an [egress] source; NULL when the kernel chose) and the EHLO name its
-- session gave, so a warm-up cap is counted per destination and source address, and
-- the log shows which IP carried each message.
ALTER TABLE events ADD COLUMN source TEXT;
ALTER TABLE events ADD COLUMN helo TEXT;
-- A domain policy may name the egress pool its destinations send from (kirim domain set
-- PATTERN --egress POOL); NULL inherits, as every field does.
ALTER TABLE domain_policies ADD COLUMN egress TEXT;

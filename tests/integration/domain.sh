#!/usr/bin/env bash
# domain.sh - per-domain policies: presets seeded once, set/merge, show with MX sets, unset, JSON.
. "$(dirname "$0")/lib.sh"

"$KIRIM" init >/dev/null

run "$KIRIM" domain list
eq "list exit" "$RC" 0
contains "presets installed on first use" "$ERR" "installed"
npresets=$(sql "SELECT count(*) FROM domain_policies WHERE source = 'preset'")
[ "$npresets" -gt 30 ] && ok "presets" || bad "presets" "only $npresets presets"
eq "gmail preset" "$(sql "SELECT max_connections, max_msgs_per_conn, rate FROM domain_policies WHERE pattern = 'gmail.com'")" "5|50|10.0"
run "$KIRIM" domain list
eq "presets seeded once" "$ERR" ""

# set: only the fields given are written; the rest stay NULL (inherit).
run "$KIRIM" domain set GMAIL.com --rate 600/min --max-connections 3
eq "set exit" "$RC" 0
eq "set merges fields" "$(sql "SELECT max_connections, rate, max_msgs_per_conn, source FROM domain_policies WHERE pattern = 'gmail.com'")" "3|10.0|50|user"
run "$KIRIM" domain set '*.outlook.com' --rate 3600/h --tls required --warmup standard:1000 --json
eq "wildcard set exit" "$RC" 0
eq "json of set" "$(json 'j["pattern"], j["kind"], j["rate"]["text"], j["tls"], j["max_connections"]')" "*.outlook.com wildcard 1/s required None"
eq "wildcard row" "$(sql "SELECT rate, tls, max_connections IS NULL FROM domain_policies WHERE pattern = '*.outlook.com'")" "1.0|required|1"
eq "warmup json" "$(sql "SELECT json_extract(warmup, '\$.plan'), json_array_length(warmup, '\$.caps'), json_extract(warmup, '\$.caps[5]') FROM domain_policies WHERE pattern = '*.outlook.com'")" "standard:1000|6|1000"
run "$KIRIM" domain set mx:mail.example.net --max-msgs-per-conn 7 --connect-rate 30/min
eq "mx set exit" "$RC" 0

# show: merged field by field, with where each came from.
run "$KIRIM" domain show eu.outlook.com --json
eq "show wildcard" "$(json 'j["rate"]["text"], j["from"]["rate"], j["tls"], j["from"]["max_connections"], j["warmup"]["today_cap"]')" "1/s *.outlook.com required None 50"
run "$KIRIM" domain show outlook.com --json
eq "apex is not the wildcard" "$(json 'j["from"]["rate"], j["tls"]')" "outlook.com opportunistic"
run "$KIRIM" domain show shop.example --mx mx1.mail.example.net --mx backup.other.test --json
eq "mx set applies" "$(json 'j["max_msgs_per_conn"], j["from"]["max_msgs_per_conn"], j["connect_rate"]["text"], j["mx"]')" "7 mx:mail.example.net 30/min ['mx1.mail.example.net', 'backup.other.test']"
run "$KIRIM" domain show shop.example --json
eq "no mx, no mx set: the built-in default" "$(json 'j["from"]["max_msgs_per_conn"]')" "None"
run "$KIRIM" domain show workspace.example --mx aspmx.l.google.com
contains "preset mx:google.com" "$OUT" "from mx:google.com"
run "$KIRIM" domain show gmail.com
contains "show text" "$OUT" "max_connections    3"
# Which limits apply on which route (#18 item 3).
contains "show: the direct route" "$OUT" "Policy for gmail.com, straight to its MX hosts:"
contains "show: through a relay, its own queue" "$OUT" "its own queue relay|gmail.com on the relay's connections, with:"
contains "show: what the relay keeps" "$OUT" "max_msgs_per_conn and tls are the relay's"
run "$KIRIM" domain show shop.example --mx mx1.mail.example.net --json
eq "show: an mx: pattern does not apply through a relay" "$(json 'j["from"]["connect_rate"], j["relay"]["queue"], j["relay"]["own_pattern"]')" "mx:mail.example.net relay None"
run "$KIRIM" domain show shop.example
contains "show: no pattern of its own shares the relay's queue" "$OUT" "no policy of its own (an exact or wildcard pattern that sets a field): it shares the"
run "$KIRIM" domain show eu.outlook.com --json
eq "show: a wildcard's own queue through a relay" "$(json 'j["relay"]["queue"], j["relay"]["rate"]["text"], j["relay"]["from"]["rate"], "max_msgs_per_conn" in j["relay"]')" "relay|*.outlook.com 1/s *.outlook.com False"

# unset a field, then a whole pattern.
run "$KIRIM" domain unset gmail.com --field rate --field max-connections
eq "unset field exit" "$RC" 0
eq "fields NULL" "$(sql "SELECT max_connections IS NULL, rate IS NULL, max_msgs_per_conn FROM domain_policies WHERE pattern = 'gmail.com'")" "1|1|50"
run "$KIRIM" domain unset '*.outlook.com' --json
eq "unset pattern" "$(json 'j["removed"]')" "True"
eq "row gone" "$(sql "SELECT count(*) FROM domain_policies WHERE pattern = '*.outlook.com'")" 0
run "$KIRIM" domain unset '*.outlook.com'
contains "unset again" "$OUT" "had no policy"
run "$KIRIM" domain unset hotmail.com
run "$KIRIM" domain list
eq "a removed preset stays removed" "$(sql "SELECT count(*) FROM domain_policies WHERE pattern = 'hotmail.com'")" 0

# presets: missing ones come back; --reset restores changed ones.
run "$KIRIM" domain presets --json
eq "presets exit" "$RC" 0
eq "presets writes the missing one" "$(json 'j["written"]')" 1
eq "user change kept" "$(sql "SELECT source FROM domain_policies WHERE pattern = 'gmail.com'")" user
run "$KIRIM" domain presets --reset
contains "presets text" "$OUT" "WHY"
eq "reset restores" "$(sql "SELECT max_connections, rate, source FROM domain_policies WHERE pattern = 'gmail.com'")" "5|10.0|preset"
eq "user patterns survive reset" "$(sql "SELECT count(*) FROM domain_policies WHERE pattern = 'mx:mail.example.net'")" 1

# A change bumps the version a running sender polls.
v1=$(sql "SELECT value FROM settings WHERE key = 'policy_version'")
"$KIRIM" domain set yahoo.com --max-connections 2 >/dev/null
v2=$(sql "SELECT value FROM settings WHERE key = 'policy_version'")
[ "$v2" -gt "$v1" ] && ok "version" || bad "version" "$v1 -> $v2"

# Bad input.
run "$KIRIM" domain set gmail.com --rate 10
eq "rate without unit" "$RC" 64
contains "rate reason" "$ERR" "unit"
run "$KIRIM" domain set gmail.com --rate fast/s
eq "bad rate" "$RC" 64
run "$KIRIM" domain set gmail.com --max-connections 0
eq "zero connections" "$RC" 64
run "$KIRIM" domain set gmail.com --tls maybe
eq "bad tls" "$RC" 64
run "$KIRIM" domain set gmail.com --warmup 50,,100
eq "bad warmup" "$RC" 64
run "$KIRIM" domain set 'mail.*.com' --rate 1/s
eq "bad pattern" "$RC" 65
run "$KIRIM" domain set gmail.com
eq "set nothing" "$RC" 64
run "$KIRIM" domain show gmail.com --rate 1/s
eq "option on the wrong verb" "$RC" 64
run "$KIRIM" domain frobnicate
eq "unknown verb" "$RC" 64
run "$KIRIM" domain unset gmail.com --field speed
eq "unknown field" "$RC" 64
run "$KIRIM" domain show "not a domain"
eq "bad domain" "$RC" 65
run "$KIRIM" domain --help
contains "help" "$OUT" "mx:google.com"
finish

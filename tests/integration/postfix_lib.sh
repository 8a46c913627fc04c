# postfix_lib.sh - a private Postfix instance for tests (sourced after lib.sh).
#
# start_postfix PORT RELAY [TRANSPORTS]: Postfix listening on 127.0.0.1:PORT that relays
# everything to RELAY ("[127.0.0.1]:N") except the domains in TRANSPORTS ("dom=smtp:[..]:N,
# ...", inline transport map), with its own config and queue under $TMP/pf; real DSNs go to
# the envelope sender. It runs in the foreground (postfix start-fg, logging to
# $TMP/pf/maillog) as a child of the test; stop_postfix stops it.
start_postfix() {
	local port=$1 relay=$2 transports=${3:-} pf="$TMP/pf"
	mkdir -p "$pf/etc" "$pf/queue" "$pf/data"
	cat >"$pf/etc/main.cf" <<EOF2
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = relay.kirim.test
mydomain = kirim.test
myorigin = kirim.test
mydestination =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
relayhost = $relay
transport_maps = inline:{ ${transports//,/, } }
smtp_host_lookup = native
disable_dns_lookups = yes
maillog_file = /dev/stdout
bounce_queue_lifetime = 0
maximal_queue_lifetime = 1h
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
alias_maps =
alias_database =
EOF2
	# Debian's master.cf with the public smtpd on our port and no chroot (no /etc copies).
	sed -e "s/^smtp      inet/127.0.0.1:$port inet/" \
		-e 's/^\([a-z0-9:.]*  *[a-z]*  *[-ny]  *[-ny]  *\)[-y]\( \)/\1n\2/' \
		/etc/postfix/master.cf >"$pf/etc/master.cf"
	chown postfix "$pf/data"
	postfix -c "$pf/etc" check >"$pf/check.log" 2>&1
	postfix -c "$pf/etc" start-fg >"$pf/maillog" 2>&1 &
	POSTFIX_PID=$!
	PIDS+=("$POSTFIX_PID")
	wait_port "$port" || { cat "$pf/maillog" "$pf/check.log" >&2; return 1; }
}
stop_postfix() {
	postfix -c "$TMP/pf/etc" stop >/dev/null 2>&1
	wait "$POSTFIX_PID" 2>/dev/null
}

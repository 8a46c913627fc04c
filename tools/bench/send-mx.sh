#!/usr/bin/env bash
# send-mx.sh - what direct delivery costs: `kirim send` through a relay versus straight to MX
# hosts, the same N messages to 1,000 domains, same sink, same run (tools/bench-send --mx).
#
# dnsmasq on loopback answers MX for d000..d999.bench.example: the domains are spread over
# --mx-hosts MX host names (each with its own 127.0.0.x address), so the MX run resolves 1,000
# domains and groups them into that many destinations. One smtp-sink bound to 0.0.0.0:PORT
# takes every connection (all of 127.0.0.0/8 is loopback), so both runs feed the same server.
# Runs are interleaved (relay, mx, relay, mx ...) on fresh copies of one database; each is
# checked (kirim's delivered count and the sink's message counter both equal N). Prints a
# table and one "bench-send-mx " line: relay rate, mx rate, their ratio (medians).
#
# --sts adds a third mode: MTA-STS (RFC 8461) on all 1,000 domains. dnsmasq serves each
# domain's _mta-sts TXT record and its policy host, a local HTTPS server (the tests'
# https_server.py, a test CA in [tls] ca_file) each domain's policy: mode testing (smtp-sink
# has no STARTTLS, so enforce could deliver nothing), mx *.bench.example, max_age 86400. The
# mx mode runs with [tls] mta_sts = no. One unmeasured-in-the-median "sts-cold" run fetches
# the 1,000 policies; its cache is copied into the base database, so the sts rounds run with
# policies cached (the script counts the fetches: one per domain in all). --sts-rpt adds a
# TLS-RPT record to every domain: each then has a destination of its own (docs/tls.md).
set -euo pipefail
export LC_ALL=C
root=$(cd "$(dirname "$0")/../.." && pwd)
gen="$root/tools/bench/gen-list.py"
messages=100000
rounds=2
conc=32
dest_conc=8
mx_hosts=10
sts=0
rpt=0
kirim="$root/build-release/kirim"
out=/tmp/kirim-bench-send-mx
while [ $# -gt 0 ]; do
	case $1 in
	--messages) messages=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--concurrency) conc=$2; shift 2 ;;
	--dest-concurrency) dest_conc=$2; shift 2 ;;
	--mx-hosts) mx_hosts=$2; shift 2 ;;
	--sts) sts=1; shift ;;
	--sts-rpt) sts=1; rpt=1; shift ;;
	--kirim) kirim=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h | --help)
		sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
		echo "options: --messages N (100000) --rounds R (2) --concurrency C (32)"
		echo "         --dest-concurrency C (8) --mx-hosts H (10) --sts --sts-rpt --kirim PATH"
		echo "         --out DIR"
		exit 0 ;;
	*) echo "send-mx.sh: unknown argument '$1'" >&2; exit 64 ;;
	esac
done
die() { echo "bench-send --mx: $*" >&2; exit 1; }
[ -x "$kirim" ] || die "no kirim at $kirim (build build-release or pass --kirim)"
[ -x /usr/sbin/dnsmasq ] || die "dnsmasq missing: apt-get install dnsmasq-base"
[ -x /usr/sbin/smtp-sink ] || die "smtp-sink missing: apt-get install postfix"
mkdir -p "$out"
scratch=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$scratch"' EXIT
free_port() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1]=="udp" else socket.SOCK_STREAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"; }

# DNS: 1,000 domains over mx_hosts MX hosts.
dport=$(free_port udp)
{
	printf 'port=%s\nlisten-address=127.0.0.1\nbind-interfaces\nno-resolv\nno-hosts\n' "$dport"
	printf 'local=/bench.example/\npid-file=\nuser=root\nlocal-ttl=3600\n'
	for h in $(seq 0 $((mx_hosts - 1))); do
		printf 'host-record=mx%d.bench.example,127.0.%d.%d\n' "$h" $((h / 200 + 1)) $((h % 200 + 2))
	done
	for d in $(seq 0 999); do
		printf 'mx-host=d%03d.bench.example,mx%d.bench.example,10\n' "$d" $((d % mx_hosts))
		if [ "$sts" = 1 ]; then
			printf 'txt-record=_mta-sts.d%03d.bench.example,"v=STSv1; id=1"\n' "$d"
			printf 'host-record=mta-sts.d%03d.bench.example,127.0.0.1\n' "$d"
			[ "$rpt" = 0 ] || printf 'txt-record=_smtp._tls.d%03d.bench.example,"v=TLSRPTv1; rua=mailto:r@d%03d.bench.example"\n' "$d" "$d"
		fi
	done
} >"$scratch/dnsmasq.conf"
/usr/sbin/dnsmasq -k --conf-file="$scratch/dnsmasq.conf" 2>"$scratch/dnsmasq.err" &
pids+=($!)

# Data: the list (user<i>@d<i % 1000>.bench.example) and a 4 KB template.
list="$out/list-$messages.csv"
[ -f "$list" ] || python3 "$gen" list --rows "$messages" "$list"
python3 "$gen" template --body-bytes 3600 "$scratch/t.tpl"
printf '[sender]\nehlo = bench.kirim.test\n' >"$scratch/kirim.conf"
export KIRIM_CONFIG="$scratch/kirim.conf"
if [ "$sts" = 1 ]; then
	# The policies: a test CA, one certificate naming the 1,000 policy hosts, the HTTPS server.
	mkdir -p "$scratch/certs" "$scratch/www"
	srv="$root/tests/integration/smtp_server.py"
	python3 "$srv" --make-certs "$scratch/certs"
	python3 "$srv" --make-cert "$scratch/certs" web \
		"$(seq -f 'mta-sts.d%03g.bench.example' 0 999 | paste -sd,)"
	for d in $(seq -f '%03g' 0 999); do
		printf 'version: STSv1\r\nmode: testing\r\nmx: *.bench.example\r\nmax_age: 86400\r\n' \
			>"$scratch/www/mta-sts.d$d.bench.example"
	done
	hport=$(free_port tcp)
	python3 "$root/tests/integration/https_server.py" --port "$hport" \
		--cert "$scratch/certs/web.pem" --key "$scratch/certs/web.key" --dir "$scratch/www" \
		2>/dev/null &
	pids+=($!)
	printf '[sender]\nehlo = bench.kirim.test\n[tls]\nca_file = %s\n' "$scratch/certs/ca.pem" \
		>"$scratch/sts.conf"
	printf '[sender]\nehlo = bench.kirim.test\n[tls]\nmta_sts = no\n' >"$scratch/nosts.conf"
fi
base="$scratch/base.db"
"$kirim" --db "$base" import "$list" --list L -q >/dev/null
"$kirim" --db "$base" template add T "$scratch/t.tpl" >/dev/null
"$kirim" --db "$base" campaign create C --list L --template T --from 'Bench <bench@kirim.test>' >/dev/null

port=$(free_port tcp)
run() { # run MODE ROUND: one measured send; prints "rate wall rss_kib"
	local db="$scratch/$1-$2.db" sinkout="$scratch/sink-$1-$2.out" rc=0
	cp "$base" "$db"
	/usr/sbin/smtp-sink -u nobody -c "0.0.0.0:$port" 1024 >"$sinkout" 2>/dev/null &
	local sp=$!
	for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
	local args=(--relay "smtp://127.0.0.1:$port" --tls none) conf=$KIRIM_CONFIG
	[ "$1" = relay ] || args=(--direct --dns-server "127.0.0.1:$dport" --mx-port "$port"
		--dest-concurrency "$dest_conc")
	if [ "$sts" = 1 ]; then
		case $1 in
		mx) conf=$scratch/nosts.conf ;;
		sts*) conf=$scratch/sts.conf; args+=(--mta-sts-port "$hport") ;;
		esac
	fi
	KIRIM_CONFIG=$conf /usr/bin/time -f '%e %M' -o "$scratch/time" "$kirim" --db "$db" -q \
		send C -c "$conc" "${args[@]}" --json >"$scratch/out.json" 2>"$scratch/err" || rc=$?
	kill "$sp"; wait "$sp" 2>/dev/null || true
	[ "$rc" -eq 0 ] || die "$1 run failed: $(tail -n 3 "$scratch/err")"
	local got mesg
	got=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["delivered"], j["seconds"], j.get("destinations", 0))' "$scratch/out.json")
	mesg=$(tr '\r' '\n' <"$sinkout" | sed -n 's/.*mesg=\([0-9]*\).*/\1/p' | tail -n 1)
	set -- "$1" $got
	[ "$2" = "$messages" ] || die "$1: kirim delivered $2 of $messages"
	[ "${mesg:-0}" = "$messages" ] || die "$1: the sink counted ${mesg:-0} of $messages"
	read -r wall rss <"$scratch/time"
	awk -v n="$messages" -v s="$3" -v w="$wall" -v r="$rss" -v d="$4" \
		'BEGIN { printf "%.0f %.2f %d %d\n", n / s, w, r, d }'
	if [ "$1" = sts-cold ]; then # its policies, cached, for the sts rounds
		sqlite3 "$base" "ATTACH '$db' AS r; INSERT INTO mta_sts_policies SELECT * FROM r.mta_sts_policies"
	fi
	rm -f "$db" "$db-wal" "$db-shm"
}
fetches() { cat "$scratch"/www/*.log 2>/dev/null | grep -c . || true; }
echo "bench-send --mx: $messages messages (4 KB) to 1000 domains on $mx_hosts MX hosts;" \
	"concurrency $conc, $dest_conc per MX destination; $(nproc) cores"
printf '%-8s %3s %10s %8s %9s %6s\n' mode round msg/s wall_s rss_MiB dests
relay=() mx=() stsr=()
show() { # show MODE ROUND
	local rate wall rss dests
	read -r rate wall rss dests < <(run "$1" "$2")
	printf '%-8s %3d %10d %8.2f %9.1f %6d\n' "$1" "$2" "$rate" "$wall" \
		"$(awk -v k="$rss" 'BEGIN{print k/1024}')" "$dests"
	case $1 in
	relay) relay+=("$rate") ;;
	mx) mx+=("$rate") ;;
	sts) stsr+=("$rate") ;;
	esac
}
modes="relay mx"
if [ "$sts" = 1 ]; then
	show sts-cold 0
	echo "sts-cold: $(fetches) policy fetches for 1000 domains"
	modes="relay mx sts"
fi
for r in $(seq 1 "$rounds"); do
	for mode in $modes; do
		show "$mode" "$r"
	done
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
mr=$(median "${relay[@]}")
mm=$(median "${mx[@]}")
ratio=$(awk -v a="$mm" -v b="$mr" 'BEGIN{printf "%.3f", a/b}')
echo "median: relay $mr msg/s, mx $mm msg/s, mx/relay $ratio (target >= 0.90: the MX path costs <= 10%)"
echo "bench-send-mx messages=$messages relay=$mr mx=$mm ratio=$ratio"
if [ "$sts" = 1 ]; then
	ms=$(median "${stsr[@]}")
	sratio=$(awk -v a="$ms" -v b="$mm" 'BEGIN{printf "%.3f", a/b}')
	echo "median: mx without policies $mm msg/s, with MTA-STS (cached) $ms msg/s, ratio $sratio" \
		"(target >= 0.90); policy fetches in all: $(fetches) for 1000 domains"
	echo "bench-send-mx-sts messages=$messages mx=$mm sts=$ms ratio=$sratio fetches=$(fetches)"
fi

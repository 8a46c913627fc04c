#!/usr/bin/env bash
# send-dkim.sh - DKIM-signed sending on every core (tools/bench-send --dkim): the same N signed
# 4 KB messages sent through one relay (smtp-sink on loopback) by
#   base  a kirim built from an earlier commit (--base PATH; optional): the yardstick
#   w1    this kirim with --workers 1: one thread renders and signs, as before #20
#   wN    this kirim with --workers N (default: the cores this process may use)
# for each key type (--keys "rsa ed25519"), interleaved round by round (base, w1, wN, base...)
# on fresh copies of one database; every run is checked (kirim's delivered count and the
# sink's message counter both equal N). Beside them, `openssl speed` signatures per second
# on one core and on N, the ceiling the signing can reach. Prints a table (msg/s, CPU seconds
# per 1,000 messages, wall) and one "bench-send-dkim " line per key type with the medians and
# the ratios wN/w1 and wN/base, with the load average at the start and at the end.
set -euo pipefail
export LC_ALL=C
root=$(cd "$(dirname "$0")/../.." && pwd)
gen="$root/tools/bench/gen-list.py"
messages=20000
rounds=3
conc=8
keys="rsa ed25519"
workers=""
kirim="$root/build-release/kirim"
base_kirim=""
out=/tmp/kirim-bench-send-dkim
while [ $# -gt 0 ]; do
	case $1 in
	--messages) messages=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--concurrency) conc=$2; shift 2 ;;
	--keys) keys=$2; shift 2 ;;
	--workers) workers=$2; shift 2 ;;
	--kirim) kirim=$2; shift 2 ;;
	--base) base_kirim=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h | --help)
		sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
		echo "options: --messages N (20000) --rounds R (3) --concurrency C (8)"
		echo "         --keys \"rsa ed25519\" --workers N (cores) --kirim PATH --base PATH --out DIR"
		exit 0 ;;
	*) echo "send-dkim.sh: unknown argument '$1'" >&2; exit 64 ;;
	esac
done
die() { echo "bench-send --dkim: $*" >&2; exit 1; }
[ -x "$kirim" ] || die "no kirim at $kirim (build build-release or pass --kirim)"
[ -z "$base_kirim" ] || [ -x "$base_kirim" ] || die "no kirim at $base_kirim (--base)"
[ -x /usr/sbin/smtp-sink ] || die "smtp-sink missing: apt-get install postfix"
command -v openssl >/dev/null || die "openssl missing: apt-get install openssl"
[ -n "$workers" ] || workers=$(nproc)
mkdir -p "$out"
scratch=$(mktemp -d)
sp=""
trap '[ -z "$sp" ] || kill "$sp" 2>/dev/null; rm -rf "$scratch"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Data: the list, a 4 KB template, one database per key type with its kirim.conf.
list="$out/list-$messages.csv"
[ -f "$list" ] || python3 "$gen" list --rows "$messages" "$list"
python3 "$gen" template --body-bytes 3300 "$scratch/t.tpl"
for key in $keys; do
	"$kirim" dkim keygen --domain example.com --selector "$key" --type "$key" \
		--out "$scratch/$key.pem" >/dev/null
	printf '[dkim]\ndomain = example.com\nselector = %s\nkey_file = %s\n' "$key" \
		"$scratch/$key.pem" >"$scratch/$key.conf"
	# One database per binary: an earlier build may not read a newer schema.
	for who in new ${base_kirim:+base}; do
		bin=$kirim
		[ "$who" = base ] && bin=$base_kirim
		db="$scratch/$who-$key.db"
		KIRIM_CONFIG="$scratch/$key.conf" "$bin" --db "$db" import "$list" --list L -q >/dev/null
		KIRIM_CONFIG="$scratch/$key.conf" "$bin" --db "$db" template add T "$scratch/t.tpl" >/dev/null
		KIRIM_CONFIG="$scratch/$key.conf" "$bin" --db "$db" campaign create C --list L --template T \
			--from 'Bench <bench@example.com>' >/dev/null 2>&1
	done
done

port=$(free_port)
run() { # run KEY VARIANT: one measured send; prints "rate cpu_per_1k wall"
	local key=$1 variant=$2 db="$scratch/run.db" sinkout="$scratch/sink.out" rc=0 bin=$kirim
	local args=() from=new
	case $variant in
	base) bin=$base_kirim from=base ;;
	w1) args=(--workers 1) ;;
	wN) args=(--workers "$workers") ;;
	esac
	cp "$scratch/$from-$key.db" "$db"
	rm -f "$db-wal" "$db-shm"
	/usr/sbin/smtp-sink -u nobody -c "127.0.0.1:$port" 1024 >"$sinkout" 2>/dev/null &
	sp=$!
	for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
	KIRIM_CONFIG="$scratch/$key.conf" /usr/bin/time -f '%e %U %S' -o "$scratch/time" "$bin" \
		--db "$db" -q send C -c "$conc" --relay "smtp://127.0.0.1:$port" --tls none \
		"${args[@]}" --json >"$scratch/out.json" 2>"$scratch/err" || rc=$?
	kill "$sp"
	wait "$sp" 2>/dev/null || true
	sp=""
	[ "$rc" -eq 0 ] || die "$key $variant failed: $(tail -n 3 "$scratch/err")"
	local got mesg wall user sys
	got=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["delivered"], j["seconds"])' "$scratch/out.json")
	mesg=$(tr '\r' '\n' <"$sinkout" | sed -n 's/.*mesg=\([0-9]*\).*/\1/p' | tail -n 1)
	set -- $got
	[ "$1" = "$messages" ] || die "$key $variant: kirim delivered $1 of $messages"
	[ "${mesg:-0}" = "$messages" ] || die "$key $variant: the sink counted ${mesg:-0} of $messages"
	read -r wall user sys <"$scratch/time"
	awk -v n="$messages" -v s="$2" -v w="$wall" -v u="$user" -v k="$sys" \
		'BEGIN { printf "%.0f %.3f %.2f\n", n / s, (u + k) * 1000 / n, w }'
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
speed() { # speed ALG MULTI: openssl's signatures per second (the field after the two times)
	local alg=rsa2048
	[ "$1" = rsa ] || alg=ed25519
	openssl speed -seconds 2 -multi "$2" "$alg" 2>/dev/null |
		awk '/bits/ {for (i = 2; i <= NF; i++) if ($i ~ /^[0-9.]+$/ && $(i-1) ~ /^[0-9.]+s$/) {v = $i; break}} END {print v}'
}

variants="w1 wN"
[ -z "$base_kirim" ] || variants="base w1 wN"
echo "bench-send --dkim: $messages signed messages (4 KB) through a relay (smtp-sink), concurrency" \
	"$conc; $(nproc) cores; --workers $workers; load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %-5s %5s %10s %12s %8s\n' key run round msg/s cpu_s/1k wall_s
for key in $keys; do
	declare -A rates=() cpus=()
	for r in $(seq 1 "$rounds"); do
		for v in $variants; do
			read -r rate cpu wall < <(run "$key" "$v")
			printf '%-8s %-5s %5d %10d %12.3f %8.2f\n' "$key" "$v" "$r" "$rate" "$cpu" "$wall"
			rates[$v]+="$rate "
			cpus[$v]+="$cpu "
		done
	done
	line="bench-send-dkim key=$key messages=$messages workers=$workers"
	for v in $variants; do
		# shellcheck disable=SC2086
		line+=" $v=$(median ${rates[$v]}) ${v}_cpu_per_1k=$(median ${cpus[$v]})"
	done
	# shellcheck disable=SC2086
	wn=$(median ${rates[wN]}) w1=$(median ${rates[w1]})
	line+=" wN/w1=$(awk -v a="$wn" -v b="$w1" 'BEGIN{printf "%.2f", a/b}')"
	if [ -n "$base_kirim" ]; then
		# shellcheck disable=SC2086
		b=$(median ${rates[base]})
		line+=" wN/base=$(awk -v a="$wn" -v b="$b" 'BEGIN{printf "%.2f", a/b}')"
	fi
	line+=" openssl_sign_1=$(speed "$key" 1) openssl_sign_$workers=$(speed "$key" "$workers")"
	echo "$line"
	unset rates cpus
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

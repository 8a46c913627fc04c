# tools/lib/deps.sh - install the Debian packages kirim needs, only when missing.
# Sourced by tools/demo and tools/test. Usage: deps_install SET... (build, test, demo).

DEPS_BUILD=(gcc meson ninja-build pkg-config python3 libuv1-dev libc-ares-dev libssl-dev
	libsqlite3-dev libpq-dev libcsv-dev libidn2-dev libjansson-dev libinih-dev node-llhttp zlib1g-dev libargon2-dev libhiredis-dev tzdata)
# tools/demo delivers to Postfix's smtp-sink on loopback.
DEPS_DEMO=(postfix)
DEPS_TEST=(libcmocka-dev sqlite3 clang libclang-rt-14-dev npm python3-dkim python3-nacl time strace
	postfix python3-aiosmtpd dnsmasq-base python3-dnspython faketime chromium python3-websocket
	libxml2-utils swaks curl python3-jsonschema python3-cryptography openssl
	postgresql redis-server)

deps_install() {
	local want=() missing=() p
	for set in "$@"; do
		case "$set" in
		build) want+=("${DEPS_BUILD[@]}") ;;
		test) want+=("${DEPS_TEST[@]}") ;;
		demo) want+=("${DEPS_DEMO[@]}") ;;
		esac
	done
	for p in "${want[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	# npm may come from a Node.js install outside Debian's packages: that is fine.
	if command -v npm >/dev/null 2>&1; then
		local keep=()
		for p in "${missing[@]}"; do [ "$p" = npm ] || keep+=("$p"); done
		missing=("${keep[@]}")
	fi
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "Installing missing packages: ${missing[*]}" >&2
	local sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	export DEBIAN_FRONTEND=noninteractive
	# Postfix is wanted for smtp-sink only: no configuration, no daemon started.
	echo "postfix postfix/main_mailer_type select No configuration" |
		$sudo debconf-set-selections
	# apt's progress goes to a log, shown when it fails.
	local log
	log=$(mktemp)
	if ! $sudo apt-get update -qq -o DPkg::Lock::Timeout=300 >"$log" 2>&1 ||
		! $sudo apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends \
			"${missing[@]}" >>"$log" 2>&1; then
		tail -n 40 "$log" >&2
		echo "apt-get failed (above: the last lines of what it said)" >&2
		rm -f "$log"
		return 1
	fi
	rm -f "$log"
}

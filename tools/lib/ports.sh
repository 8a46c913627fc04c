# tools/lib/ports.sh - loopback ports for the servers a script starts. Sourced by
# tests/integration/lib.sh and the tools/bench-* scripts, so that they all pick ports
# one way.

# free_port - a port nobody uses now, for TCP and UDP alike, from 20000-32000: below
# Linux's ephemeral range (32768-60999), so that no outgoing connection of a running test
# takes it as its own port between this check and the server's bind (the kernel's bind to
# port 0 hands out ports from that very range)
free_port() {
	/usr/bin/python3 - <<'PY'
import random, socket
for _ in range(500):
    port = random.randint(20000, 32000)
    free = True
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            free = False
        finally:
            s.close()
    if free:
        print(port)
        break
PY
}
# wait_port PORT [ADDR] - wait until something accepts on ADDR:PORT (127.0.0.1; 10 s at most)
wait_port() {
	for _ in $(seq 1 100); do
		(exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "nothing listens on ${2:-127.0.0.1}:$1" >&2
	return 1
}

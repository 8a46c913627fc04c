/* lease - this process as a sender, and whether another one is alive (see lease.h). */
#include "kirim/lease.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* proc_start - "BOOT-ID:START-TICKS" of process pid, or "" where /proc cannot say */
static void
proc_start(long pid, char *out, size_t size)
{
	char path[64], boot[64] = "", stat[1024];
	out[0] = '\0';
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
	if (f) {
		if (fgets(boot, sizeof(boot), f) == NULL)
			boot[0] = '\0';
		boot[strcspn(boot, "\n")] = '\0';
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return;
	size_t n = fread(stat, 1, sizeof(stat) - 1, f);
	fclose(f);
	stat[n] = '\0';
	/* proc(5): field 22 is starttime; field 2 (comm) may hold blanks and ')', so count
	 * from the last ')'. */
	char *p = strrchr(stat, ')');
	if (p == NULL)
		return;
	p++;
	for (int field = 2; field < 21 && p; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL)
		return;
	unsigned long long ticks;
	if (sscanf(p, " %llu", &ticks) == 1)
		snprintf(out, size, "%s:%llu", boot, ticks);
}

static void
host_name(char *out, size_t size)
{
	if (gethostname(out, size) < 0)
		snprintf(out, size, "localhost");
	out[size - 1] = '\0';
}

void
lease_node_init(struct lease_node *n, const char *name, unsigned lease_s)
{
	if (name && *name)
		snprintf(n->name, sizeof(n->name), "%s", name);
	else
		host_name(n->name, sizeof(n->name));
	n->lease_s = lease_s ? lease_s : LEASE_S;
}

unsigned
lease_renew_s(unsigned lease_s)
{
	return lease_s >= 12 ? lease_s / 6 : 1;
}

void
lease_me(struct store_sender_row *me, const struct lease_node *n, const char *command)
{
	memset(me, 0, sizeof(*me));
	host_name(me->host, sizeof(me->host));
	snprintf(me->node, sizeof(me->node), "%s", n->name);
	me->pid = (int64_t)getpid();
	proc_start((long)getpid(), me->proc_start, sizeof(me->proc_start));
	snprintf(me->command, sizeof(me->command), "%s", command);
	me->started_at = (int64_t)time(NULL);
	me->lease_until = me->started_at + n->lease_s;
}

bool
lease_alive(void *arg, const struct store_sender_row *r)
{
	const struct lease_node *me = arg;
	char host[256];
	host_name(host, sizeof(host));
	/* A row from before nodes had names ran as its host. */
	const char *node = r->node[0] ? r->node : r->host;
	if (strcmp(host, r->host) != 0 || strcmp(node, me->name) != 0)
		return r->lease_until > (int64_t)time(NULL);
	/* This node: the process table decides, whatever the lease says (a sender that
	 * waits for a busy database cannot renew it, and is not dead). */
	if (r->pid <= 0 || (kill((pid_t)r->pid, 0) < 0 && errno == ESRCH))
		return false;
	char now[sizeof(r->proc_start)];
	proc_start((long)r->pid, now, sizeof(now));
	return r->proc_start[0] == '\0' || now[0] == '\0' || strcmp(now, r->proc_start) == 0;
}

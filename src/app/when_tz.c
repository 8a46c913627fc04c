/* when_tz - IANA time zones read once from the tz database (see when_tz.h). */
#include "kirim/when_tz.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kirim/tzif.h"
#include "kirim/xmalloc.h"

/*
 * The cache: one parsed zone per name, read on first use and kept for the
 * life of the process (tzif zones are immutable, so a pointer handed out
 * stays valid and needs no lock to use). Only the list itself is guarded.
 * It grows by at most one entry per zone file under the tz folder (about
 * 600 in tzdata): names are only cached once their file has been read.
 */
struct tz_entry {
	struct tz_entry *next;
	char name[WHEN_TZ_NAME_MAX];
	struct tzif *zone; /* owned; never freed */
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tz_entry *cache; /* guarded by cache_lock */

static const struct tzif *
cache_find(const char *name)
{
	const struct tzif *z = NULL;
	pthread_mutex_lock(&cache_lock);
	for (struct tz_entry *e = cache; e && z == NULL; e = e->next)
		if (strcmp(e->name, name) == 0)
			z = e->zone;
	pthread_mutex_unlock(&cache_lock);
	return z;
}

/* cache_add - keep z under name, or, if another thread got there first, theirs */
static const struct tzif *
cache_add(const char *name, struct tzif *z)
{
	const struct tzif *kept = NULL;
	pthread_mutex_lock(&cache_lock);
	for (struct tz_entry *e = cache; e && kept == NULL; e = e->next)
		if (strcmp(e->name, name) == 0)
			kept = e->zone;
	if (kept == NULL) {
		struct tz_entry *e = xcalloc(1, sizeof(*e));
		snprintf(e->name, sizeof(e->name), "%s", name);
		e->zone = z;
		e->next = cache;
		cache = e;
		kept = z;
		z = NULL;
	}
	pthread_mutex_unlock(&cache_lock);
	tzif_free(z);
	return kept;
}

/* The UTC offset in force at utc, for when.c. */
static int
tz_offset(void *arg, int64_t utc, int *offset)
{
	const struct when_tz *tz = arg;
	if (tz->tzif == NULL) {
		/*
		 * The process's own zone, from the C library: localtime_r guards
		 * its state with a lock, and nothing in kirim changes TZ, so
		 * this is safe from any thread.
		 */
		time_t t = (time_t)utc;
		struct tm tm;
		if (localtime_r(&t, &tm) == NULL)
			return -1;
		*offset = (int)tm.tm_gmtoff;
		return 0;
	}
	struct tzif_info info;
	if (tzif_lookup(tz->tzif, utc, &info) < 0)
		return -1;
	*offset = info.utoff;
	return 0;
}

/* name_ok - an IANA-shaped name: components of [A-Za-z0-9_+-], none empty or dot-led */
static bool
name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n >= WHEN_TZ_NAME_MAX || name[0] == '/' || name[0] == '.' ||
	    name[n - 1] == '/' || strstr(name, "..") != NULL || strstr(name, "//") != NULL ||
	    strstr(name, "/.") != NULL)
		return false;
	for (const char *p = name; *p; p++) {
		char ch = *p;
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '+' || ch == '/'))
			return false;
	}
	return true;
}

static const char *
tz_dir(void)
{
	const char *dir = getenv("TZDIR");
	return dir && *dir ? dir : "/usr/share/zoneinfo";
}

enum { LOAD_MISSING = -1, LOAD_BAD = -2 };

/*
 * zone_load - read and parse the zone file of name (already checked by
 * name_ok). Returns 0 with *out, LOAD_MISSING when there is no such regular
 * file, or LOAD_BAD with the reason in why.
 */
static int
zone_load(const char *name, struct tzif **out, char *why, size_t whysz)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", tz_dir(), name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return LOAD_MISSING;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return LOAD_MISSING; /* "Asia" is a folder, not a zone */
	}
	if (st.st_size > TZIF_INPUT_MAX) {
		close(fd);
		snprintf(why, whysz, "%s: %lld bytes, more than %d", path, (long long)st.st_size,
		         TZIF_INPUT_MAX);
		return LOAD_BAD;
	}
	size_t cap = (size_t)st.st_size + 1, len = 0;
	char *data = xmalloc(cap);
	while (len < cap) {
		ssize_t r = read(fd, data + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r < 0) {
				snprintf(why, whysz, "%s: %s", path, strerror(errno));
				free(data);
				close(fd);
				return LOAD_BAD;
			}
			break;
		}
		len += (size_t)r;
	}
	close(fd);
	char perr[200];
	int rc = len >= cap ? TZIF_E_LIMIT : tzif_parse(data, len, out, perr, sizeof(perr));
	free(data);
	if (rc < 0) {
		snprintf(why, whysz, "%s: %s", path,
		         len >= cap ? "the file grew while being read" : perr);
		return LOAD_BAD;
	}
	return 0;
}

/* zone_get - the cached zone of name, reading it on first use */
static int
zone_get(const char *name, const struct tzif **out, char *why, size_t whysz)
{
	const struct tzif *z = cache_find(name);
	if (z == NULL) {
		struct tzif *fresh;
		int rc = zone_load(name, &fresh, why, whysz);
		if (rc < 0)
			return rc;
		z = cache_add(name, fresh);
	}
	*out = z;
	return 0;
}

/* zone_file_ok - is there a readable zone file for name? (cached once read) */
static bool
zone_file_ok(const char *name)
{
	const struct tzif *z;
	char why[300];
	return name_ok(name) && zone_get(name, &z, why, sizeof(why)) == 0;
}

/* when_tz_open - the zone called name (NULL or "": the local zone) */
int
when_tz_open(struct when_tz *tz, const char *name, char *err, size_t errsz)
{
	memset(tz, 0, sizeof(*tz));
	if (name && *name) {
		const struct tzif *z = NULL;
		char why[300];
		int rc = name_ok(name) ? zone_get(name, &z, why, sizeof(why)) : LOAD_MISSING;
		if (rc == LOAD_BAD) {
			snprintf(err, errsz, "unknown time zone '%s': its file is unusable (%s)",
			         name, why);
			return -1;
		}
		if (rc < 0) {
			snprintf(err, errsz,
			         "unknown time zone '%s': give an IANA name such as Asia/Jakarta, "
			         "Europe/Berlin or UTC (see /usr/share/zoneinfo)",
			         name);
			return -1;
		}
		snprintf(tz->name, sizeof(tz->name), "%s", name);
		tz->tzif = z;
	}
	tz->zone.offset = tz_offset;
	tz->zone.arg = tz;
	return 0;
}

/* when_tz_local_name - the IANA name of the local zone, or "" */
void
when_tz_local_name(char *out, size_t outsz)
{
	out[0] = '\0';
	const char *env = getenv("TZ");
	if (env && *env) {
		const char *n = env[0] == ':' ? env + 1 : env;
		if (zone_file_ok(n))
			snprintf(out, outsz, "%s", n);
		return; /* a POSIX rule string in TZ has no IANA name */
	}
	char link[512];
	ssize_t len = readlink("/etc/localtime", link, sizeof(link) - 1);
	if (len > 0) {
		link[len] = '\0';
		const char *z = strstr(link, "zoneinfo/");
		if (z && name_ok(z + 9)) {
			snprintf(out, outsz, "%s", z + 9);
			return;
		}
	}
	FILE *f = fopen("/etc/timezone", "r");
	if (f) {
		char line[128];
		if (fgets(line, sizeof(line), f)) {
			line[strcspn(line, " \t\r\n")] = '\0';
			if (name_ok(line))
				snprintf(out, outsz, "%s", line);
		}
		fclose(f);
		return;
	}
	if (access("/etc/localtime", F_OK) != 0)
		snprintf(out, outsz, "UTC"); /* glibc's default with no /etc/localtime */
}

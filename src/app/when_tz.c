/* when_tz - IANA time zones from the C library's tz database (see when_tz.h). */
#include "kirim/when_tz.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int
tz_offset(void *arg, int64_t utc, int *offset)
{
	const struct when_tz *tz = arg;
	time_t t = (time_t)utc;
	struct tm tm;
	if (tz->name[0] == '\0') {
		if (localtime_r(&t, &tm) == NULL)
			return -1;
		*offset = (int)tm.tm_gmtoff;
		return 0;
	}
	/* Switch TZ for this one conversion and put it back exactly as it was. */
	const char *old = getenv("TZ");
	char *saved = old ? strdup(old) : NULL;
	if (old && saved == NULL)
		return -1;
	char want[WHEN_TZ_NAME_MAX + 1];
	snprintf(want, sizeof(want), ":%s", tz->name);
	setenv("TZ", want, 1);
	tzset();
	struct tm *ok = localtime_r(&t, &tm);
	if (saved) {
		setenv("TZ", saved, 1);
		free(saved);
	} else {
		unsetenv("TZ");
	}
	tzset();
	if (ok == NULL)
		return -1;
	*offset = (int)tm.tm_gmtoff;
	return 0;
}

static bool
name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n >= WHEN_TZ_NAME_MAX || name[0] == '/' || name[0] == '.' ||
	    strstr(name, "..") != NULL)
		return false;
	for (const char *p = name; *p; p++) {
		char ch = *p;
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '+' || ch == '/'))
			return false;
	}
	return true;
}

/* zone_file_ok - is there a TZif file for name under the tz database folder? */
static bool
zone_file_ok(const char *name)
{
	const char *dir = getenv("TZDIR");
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return false;
	char magic[4];
	bool ok = fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
	fclose(f);
	return ok;
}

/* when_tz_open - the zone called name (NULL or "": the local zone) */
int
when_tz_open(struct when_tz *tz, const char *name, char *err, size_t errsz)
{
	memset(tz, 0, sizeof(*tz));
	if (name && *name) {
		if (!name_ok(name) || !zone_file_ok(name)) {
			snprintf(err, errsz,
			         "unknown time zone '%s': give an IANA name such as Asia/Jakarta, "
			         "Europe/Berlin or UTC (see /usr/share/zoneinfo)",
			         name);
			return -1;
		}
		snprintf(tz->name, sizeof(tz->name), "%s", name);
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
		if (name_ok(n) && zone_file_ok(n))
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

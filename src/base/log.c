/* log - logfmt lines on stderr (see log.h). */
#include "kirim/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

static enum log_level log_level = LOG_WARN;
static bool log_syslog;

void
log_to_syslog(const char *ident)
{
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
	log_syslog = true;
}

void
log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level
log_get_level(void)
{
	return log_level;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	if (level > log_level)
		return;
	char ts[32];
	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	va_list ap;
	va_start(ap, fmt);
	if (log_syslog) {
		/* syslog stamps the time itself; the level maps to its priorities. */
		static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
		char line[2048];
		int n = snprintf(line, sizeof(line), "level=%s ", names[level]);
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
		syslog(prio[level], "%s", line);
		va_end(ap);
		return;
	}
	flockfile(stderr);
	fprintf(stderr, "ts=%s.%03ldZ level=%s ", ts, now.tv_nsec / 1000000, names[level]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
	va_end(ap);
}

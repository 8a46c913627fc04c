/*
 * log - one line per event, key=value (logfmt), to stderr or syslog.
 *
 * The level is process-wide and set once by the CLI. Parsers never log; their
 * callers log once. Secrets must never be passed to these functions.
 */
#ifndef KIRIM_LOG_H
#define KIRIM_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* log_set_level - messages above this level are dropped */
void log_set_level(enum log_level level);
/* log_get_level - the current level */
enum log_level log_get_level(void);
/* log_to_syslog - from now on, lines go to syslog (facility mail) under ident */
void log_to_syslog(const char *ident);
/* log_msg - write "ts=... level=... " then the formatted text and a newline */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif

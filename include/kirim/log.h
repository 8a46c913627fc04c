/*
 * log - one line per event, key=value (logfmt), to stderr or syslog.
 *
 * The level is process-wide and set once by the CLI. Parsers never log; their
 * callers log once. Secrets must never be passed to these functions.
 *
 * Every line is logfmt whatever the arguments hold, so a call site writes its format
 * plainly and the logger quotes: keys and the pairs' shape are literal in the format,
 * values come from the arguments, and each argument is written as its place in the
 * format asks:
 *   key=%s, or part of a bare value (from=<%s>, relay=%s:%u)  the whole value is
 *       written in double quotes when it holds a space, '=', '"' or a control
 *       character ("typo in subject?" -> key="typo in subject?");
 *   key="...%s..."  the argument is escaped inside the format's quotes;
 *   anywhere else (free text)  the argument stays as it is, with '=' and '"' as
 *       \x3d and \x22 so that it cannot start a pair or a quoted string.
 * Inside quotes '"' and '\' are backslash-escaped and control characters are
 * written \n, \r, \t or \xNN, so a line is always one line. A key must not come
 * from an argument ("%s=%d"): the logger could not tell it from a value.
 * A line is at most LOG_LINE_MAX bytes; a longer one is cut (a quoted value keeps
 * its closing quote). The logger keeps errno as it found it.
 */
#ifndef KIRIM_LOG_H
#define KIRIM_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* The longest line written, newline included. */
#define LOG_LINE_MAX 8192

/* log_set_level - messages above this level are dropped */
void log_set_level(enum log_level level);
/* log_get_level - the current level */
enum log_level log_get_level(void);
/* log_to_syslog - from now on, lines go to syslog (facility mail) under ident */
void log_to_syslog(const char *ident);
/* log_msg - write "ts=... level=... " then the formatted text and a newline */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* log_vformat - fmt and its arguments as log_msg writes them after "level=... ", into
 * out: at most size - 1 bytes and a NUL; returns the length */
size_t log_vformat(char *out, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* log_format - the same with the arguments in the call */
size_t log_format(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif

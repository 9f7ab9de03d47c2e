/* Logging: one line per event, key=value, to stderr. */
#ifndef IOCD_LOG_H
#define IOCD_LOG_H

#include "ioc/collector.h" /* ioc_log_level_t */

/* Sets the most verbose level that is printed (default IOC_LOG_INFO). */
void log_set_level(ioc_log_level_t level);
/* Parses "error", "warn", "info" or "debug"; returns -1 for anything else. */
int log_level_parse(const char *name);

/* Writes "ts=<iso8601> level=<lvl> module=<module> <formatted text>\n" atomically.
 * The text should itself be key=value pairs; use log_q() for values with spaces. */
void log_write(ioc_log_level_t level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same as log_write with a va_list. */
void log_vwrite(ioc_log_level_t level, const char *module, const char *fmt, va_list ap);

#define log_error(mod, ...) log_write(IOC_LOG_ERROR, mod, __VA_ARGS__)
#define log_warn(mod, ...) log_write(IOC_LOG_WARN, mod, __VA_ARGS__)
#define log_info(mod, ...) log_write(IOC_LOG_INFO, mod, __VA_ARGS__)
#define log_debug(mod, ...) log_write(IOC_LOG_DEBUG, mod, __VA_ARGS__)

/* Quotes a value for a key=value log line ("..." with \" and \\ and control bytes escaped)
 * into buf (always NUL-terminated, truncated to len). Returns buf. */
const char *log_q(char *buf, size_t len, const char *value);

#endif

/* Logging: one line per event, key=value, to stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "core/log.h"

static ioc_log_level_t max_level = IOC_LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_set_level(ioc_log_level_t level) { max_level = level; }

int log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

void log_vwrite(ioc_log_level_t level, const char *module, const char *fmt, va_list ap)
{
    if (level > max_level)
        return;
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s module=%s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (long)(tv.tv_usec / 1000), level_names[level], module);
    if (n < 0)
        return;
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    /* One fwrite per line so lines from threads never interleave. */
    fwrite(line, 1, len, stderr);
}

void log_write(ioc_log_level_t level, const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, module, fmt, ap);
    va_end(ap);
}

const char *log_q(char *buf, size_t len, const char *value)
{
    size_t o = 0;
    if (len < 3) {
        if (len)
            buf[0] = '\0';
        return buf;
    }
    buf[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)(value ? value : ""); *p; p++) {
        char esc[5];
        size_t elen = 0;
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            elen = 2;
        } else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\x%02x", *p);
            elen = 4;
        } else {
            esc[0] = (char)*p;
            elen = 1;
        }
        if (o + elen + 2 > len)
            break;
        memcpy(buf + o, esc, elen);
        o += elen;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

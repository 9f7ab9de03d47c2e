/* Growable byte buffer with a hard cap. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "ioc/error.h"

void strbuf_init(strbuf_t *sb, size_t limit)
{
    memset(sb, 0, sizeof *sb);
    sb->limit = limit;
}

void strbuf_free(strbuf_t *sb)
{
    free(sb->data);
    size_t limit = sb->limit;
    strbuf_init(sb, limit);
}

void strbuf_reset(strbuf_t *sb)
{
    sb->len = 0;
    sb->overflow = false;
    if (sb->data)
        sb->data[0] = '\0';
}

static int reserve(strbuf_t *sb, size_t extra)
{
    size_t need = sb->len + extra + 1;
    if (sb->limit && sb->len + extra > sb->limit) {
        sb->overflow = true;
        return IOC_ETOOBIG;
    }
    if (need <= sb->cap)
        return IOC_OK;
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(sb->data, cap);
    if (!p) {
        sb->overflow = true;
        return IOC_ENOMEM;
    }
    sb->data = p;
    sb->cap = cap;
    return IOC_OK;
}

int strbuf_append(strbuf_t *sb, const void *data, size_t len)
{
    int rc = reserve(sb, len);
    if (rc)
        return rc;
    if (len)
        memcpy(sb->data + sb->len, data, len);
    sb->len += len;
    sb->data[sb->len] = '\0';
    return IOC_OK;
}

int strbuf_puts(strbuf_t *sb, const char *s) { return strbuf_append(sb, s, strlen(s)); }

int strbuf_printf(strbuf_t *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return IOC_EINVAL;
    if ((size_t)n < sizeof small)
        return strbuf_append(sb, small, (size_t)n);
    int rc = reserve(sb, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
    return IOC_OK;
}

char *strbuf_steal(strbuf_t *sb, size_t *len_out)
{
    if (!sb->data && reserve(sb, 0))
        return NULL;
    char *p = sb->data;
    if (len_out)
        *len_out = sb->len;
    size_t limit = sb->limit;
    strbuf_init(sb, limit);
    return p;
}

/* gzip decoding of request bodies (Telegraf sends Content-Encoding: gzip by default). */
#ifndef IOCD_GUNZIP_H
#define IOCD_GUNZIP_H

#include <stddef.h>

#include "core/strbuf.h"

/* Inflates a gzip body into out (whose limit bounds the decoded size, against zip bombs).
 * Returns 0, IOC_ETOOBIG past the limit, IOC_EINVAL for data that is not valid gzip, or
 * IOC_ENOMEM. */
int gunzip_body(const void *in, size_t len, strbuf_t *out);

#endif

/* Growable byte buffer with a hard cap, for building text and binary payloads. */
#ifndef IOCD_STRBUF_H
#define IOCD_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct strbuf {
    char *data;    /* always NUL-terminated when non-NULL; owned */
    size_t len;    /* bytes used, excluding the NUL */
    size_t cap;    /* bytes allocated */
    size_t limit;  /* most bytes it may hold (0 = no limit) */
    bool overflow; /* set when an append was refused (ENOMEM or over limit) */
} strbuf_t;

/* Initialises an empty buffer that will hold at most `limit` bytes (0: unlimited). */
void strbuf_init(strbuf_t *sb, size_t limit);
/* Frees the storage; the buffer may be reused after strbuf_init. */
void strbuf_free(strbuf_t *sb);
/* Empties the buffer, keeping its storage. */
void strbuf_reset(strbuf_t *sb);
/* Appends bytes. Returns 0, or IOC_ENOMEM / IOC_ETOOBIG (and sets overflow). */
int strbuf_append(strbuf_t *sb, const void *data, size_t len);
/* Appends a NUL-terminated string. Same returns as strbuf_append. */
int strbuf_puts(strbuf_t *sb, const char *s);
/* Appends printf-formatted text. Same returns as strbuf_append. */
int strbuf_printf(strbuf_t *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the storage to the caller (who frees it with free()) and resets the buffer. */
char *strbuf_steal(strbuf_t *sb, size_t *len_out);

#endif

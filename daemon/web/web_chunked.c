/* Decoder for chunked request bodies (lws 4.1 hands them to us still encoded). */
#include "web/web_int.h"

#include "ioc/error.h"

#define CK_MAX_LINE 1024     /* a chunk-size line with its extensions */
#define CK_MAX_TRAILER 8192  /* all trailer lines together */

enum {
    CK_SIZE,        /* hex digits of the chunk size */
    CK_EXT,         /* chunk extension, up to CR */
    CK_SIZE_LF,
    CK_DATA,
    CK_DATA_CR,
    CK_DATA_LF,
    CK_TRAILER_START,
    CK_TRAILER,
    CK_TRAILER_LF,
    CK_FINAL_LF,
    CK_DONE
};

void web_chunked_init(web_chunked_t *ck)
{
    ck->state = CK_SIZE;
    ck->left = 0;
    ck->line = 0;
    ck->trailer = 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Handles one byte of framing (everything but chunk data). Returns 0 or IOC_EINVAL. */
static int frame_byte(web_chunked_t *ck, char c)
{
    int v;

    switch (ck->state) {
    case CK_SIZE:
        v = hexval(c);
        if (v >= 0) {
            if (++ck->line > 15)
                return IOC_EINVAL;
            ck->left = ck->left * 16 + (uint64_t)v;
            return 0;
        }
        if (ck->line == 0)
            return IOC_EINVAL;
        if (c == ';' || c == ' ' || c == '\t') {
            ck->state = CK_EXT;
            return 0;
        }
        if (c != '\r')
            return IOC_EINVAL;
        ck->state = CK_SIZE_LF;
        return 0;
    case CK_EXT:
        if (++ck->line > CK_MAX_LINE)
            return IOC_EINVAL;
        if (c == '\r')
            ck->state = CK_SIZE_LF;
        return 0;
    case CK_SIZE_LF:
        if (c != '\n')
            return IOC_EINVAL;
        ck->line = 0;
        ck->state = ck->left ? CK_DATA : CK_TRAILER_START;
        return 0;
    case CK_DATA_CR:
        if (c != '\r')
            return IOC_EINVAL;
        ck->state = CK_DATA_LF;
        return 0;
    case CK_DATA_LF:
        if (c != '\n')
            return IOC_EINVAL;
        ck->state = CK_SIZE;
        return 0;
    case CK_TRAILER_START:
        if (c == '\r') {
            ck->state = CK_FINAL_LF;
            return 0;
        }
        ck->state = CK_TRAILER;
        /* fall through */
    case CK_TRAILER:
        if (++ck->trailer > CK_MAX_TRAILER)
            return IOC_EINVAL;
        if (c == '\r')
            ck->state = CK_TRAILER_LF;
        return 0;
    case CK_TRAILER_LF:
        if (c != '\n')
            return IOC_EINVAL;
        ck->state = CK_TRAILER_START;
        return 0;
    case CK_FINAL_LF:
        if (c != '\n')
            return IOC_EINVAL;
        ck->state = CK_DONE;
        return 0;
    default:
        return IOC_EINVAL;
    }
}

int web_chunked_feed(web_chunked_t *ck, const char *in, size_t len, strbuf_t *out,
                     size_t *used)
{
    size_t i = 0, n;
    int rc;

    while (i < len && ck->state != CK_DONE) {
        if (ck->state == CK_DATA) {
            n = len - i;
            if (n > ck->left)
                n = (size_t)ck->left;
            rc = strbuf_append(out, in + i, n);
            if (rc < 0)
                return rc;
            i += n;
            ck->left -= n;
            if (!ck->left)
                ck->state = CK_DATA_CR;
            continue;
        }
        rc = frame_byte(ck, in[i++]);
        if (rc < 0)
            return rc;
    }
    *used = i;
    return ck->state == CK_DONE ? 1 : 0;
}

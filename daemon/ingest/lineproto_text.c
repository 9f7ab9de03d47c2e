/* Line protocol text helpers: UTF-8 validation and safe excerpts of input for error messages. */
#include <string.h>

#include "ingest/lineproto_impl.h"

#define LP_EXCERPT_MAX 40

size_t lp_utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */

    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        return 0;
    }
    if ((size_t)(end - p) < len)
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

const char *lp_excerpt(char *dst, size_t cap, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    size_t o = 0, room = cap < LP_EXCERPT_MAX + 4 ? cap - 4 : LP_EXCERPT_MAX;

    while (p < end && o < room) {
        size_t k = 1;
        if (*p >= 0x80)
            k = lp_utf8_seq(p, end);
        if (k == 0 || *p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\') {
            dst[o++] = '?';
            p++;
            continue;
        }
        if (o + k > room)
            break;
        memcpy(dst + o, p, k);
        o += k;
        p += k;
    }
    if (p < end) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
    return dst;
}

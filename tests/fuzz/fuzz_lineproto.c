/* libFuzzer target for the line protocol parser: no crash, no over-read, sane samples. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/lineproto.h"

/* True if s is valid UTF-8 without control bytes (checked independently of the parser). */
static int clean_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp;
        int n;
        if (*p < 0x80) {
            if (*p < 0x20 || *p == 0x7f)
                return 0;
            p++;
            continue;
        }
        if ((*p & 0xe0) == 0xc0) {
            cp = *p & 0x1f;
            n = 1;
        } else if ((*p & 0xf0) == 0xe0) {
            cp = *p & 0x0f;
            n = 2;
        } else if ((*p & 0xf8) == 0xf0) {
            cp = *p & 0x07;
            n = 3;
        } else {
            return 0;
        }
        p++;
        for (int i = 0; i < n; i++, p++) {
            if ((*p & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (*p & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
    }
    return 1;
}

static int check_samples(void *ud, const ioc_sample_t *s, size_t n)
{
    (void)ud;
    if (n == 0 || n > 1024)
        __builtin_trap();
    for (size_t i = 0; i < n; i++) {
        if (!s[i].metric[0] || !clean_utf8(s[i].metric) || !isfinite(s[i].value) || s[i].ntags > 256)
            __builtin_trap();
        for (size_t j = 0; j < s[i].ntags; j++) {
            const ioc_tag_t *t = &s[i].tags[j];
            if (!t->key[0] || !t->value[0] || !clean_utf8(t->key) || !clean_utf8(t->value))
                __builtin_trap();
            for (size_t k = 0; k < j; k++)
                if (strcmp(s[i].tags[k].key, t->key) == 0)
                    __builtin_trap();
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    lp_precision_t prec = (lp_precision_t)(data[0] & 3);
    size_t len = size - 1;
    /* An exact-size copy: ASan reports any read past len. */
    char *body = malloc(len ? len : 1);
    if (!body)
        return 0;
    memcpy(body, data + 1, len);
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += body[i] == '\n';
    lp_error_t err;
    size_t bad = lp_parse(body, len, prec, 1700000000000000, check_samples, NULL, &err);
    if (bad > lines || (bad == 0) != (err.line == 0) || err.line > lines)
        __builtin_trap();
    if (bad && (!err.msg[0] || !clean_utf8(err.msg)))
        __builtin_trap();
    free(body);
    return 0;
}

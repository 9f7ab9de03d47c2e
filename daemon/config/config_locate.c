/* Position-tracking JSON scanner: where a key path such as collectors[2].interval is written. */
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"
#include "ioc/error.h"

#define LOCATE_PATH_MAX 32

typedef struct scan {
    const char *s;
    size_t len;
    size_t p;
} scan_t;

/* Skips whitespace, // comments and block comments. */
static void skip_ws(scan_t *sc)
{
    while (sc->p < sc->len) {
        char ch = sc->s[sc->p];
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
            sc->p++;
        } else if (ch == '/' && sc->p + 1 < sc->len && sc->s[sc->p + 1] == '/') {
            while (sc->p < sc->len && sc->s[sc->p] != '\n')
                sc->p++;
        } else if (ch == '/' && sc->p + 1 < sc->len && sc->s[sc->p + 1] == '*') {
            sc->p += 2;
            while (sc->p + 1 < sc->len && !(sc->s[sc->p] == '*' && sc->s[sc->p + 1] == '/'))
                sc->p++;
            sc->p = sc->p + 2 <= sc->len ? sc->p + 2 : sc->len;
        } else {
            return;
        }
    }
}

/* Skips a string starting at its opening quote. */
static void skip_string(scan_t *sc)
{
    sc->p++;
    while (sc->p < sc->len && sc->s[sc->p] != '"')
        sc->p += sc->s[sc->p] == '\\' ? 2 : 1;
    if (sc->p < sc->len)
        sc->p++;
    else
        sc->p = sc->len;
}

/* Skips one value of any kind, containers included (iteratively, so depth costs no stack). */
static void skip_value(scan_t *sc)
{
    size_t depth = 0;
    do {
        skip_ws(sc);
        if (sc->p >= sc->len)
            return;
        char ch = sc->s[sc->p];
        if (ch == '"') {
            skip_string(sc);
        } else if (ch == '{' || ch == '[') {
            depth++;
            sc->p++;
        } else if (ch == '}' || ch == ']') {
            if (depth > 0)
                depth--;
            sc->p++;
        } else if (ch == ',' || ch == ':') {
            sc->p++;
        } else {
            size_t start = sc->p;
            while (sc->p < sc->len && !strchr(",:]} \t\r\n/\"{[", sc->s[sc->p]))
                sc->p++;
            if (sc->p == start)
                sc->p++; /* a stray byte: never loop in place */
        }
    } while (depth > 0 && sc->p < sc->len);
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Reads 4 hex digits at offset `at`; returns the value or -1. */
static long read_u4(const scan_t *sc, size_t at)
{
    long v = 0;
    if (at + 4 > sc->len)
        return -1;
    for (int i = 0; i < 4; i++) {
        int h = hexval(sc->s[at + i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Decodes the next character of a string body into out (1-4 bytes); returns the count, or 0
 * at the closing quote or the end of the text. */
static size_t next_char(scan_t *sc, char out[4])
{
    if (sc->p >= sc->len || sc->s[sc->p] == '"')
        return 0;
    if (sc->s[sc->p] != '\\' || sc->p + 1 >= sc->len) {
        out[0] = sc->s[sc->p++];
        return 1;
    }
    char e = sc->s[sc->p + 1];
    sc->p += 2;
    switch (e) {
    case 'b': out[0] = '\b'; return 1;
    case 'f': out[0] = '\f'; return 1;
    case 'n': out[0] = '\n'; return 1;
    case 'r': out[0] = '\r'; return 1;
    case 't': out[0] = '\t'; return 1;
    case 'u': break;
    default: out[0] = e; return 1;
    }
    long cp = read_u4(sc, sc->p);
    if (cp < 0) {
        out[0] = '?';
        return 1;
    }
    sc->p += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF && sc->p + 6 <= sc->len && sc->s[sc->p] == '\\' &&
        sc->s[sc->p + 1] == 'u') {
        long lo = read_u4(sc, sc->p + 2);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            sc->p += 6;
        }
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Reads the string at the scanner (at its quote) and tells whether it decodes to key. */
static bool string_equals(scan_t *sc, const char *key, size_t keylen)
{
    size_t matched = 0;
    bool same = true;
    char buf[4];
    size_t n;
    sc->p++;
    while ((n = next_char(sc, buf)) > 0) {
        if (same && (matched + n > keylen || memcmp(key + matched, buf, n) != 0))
            same = false;
        matched += n;
    }
    if (sc->p < sc->len)
        sc->p++;
    return same && matched == keylen;
}

/* Moves to the value of key in the object at the scanner, counting nth repeats. Sets *key_off
 * to the key's quote. Returns 0 or IOC_ENOTFOUND. */
static int enter_key(scan_t *sc, const cfg_seg_t *seg, int nth, size_t *key_off)
{
    if (sc->p >= sc->len || sc->s[sc->p] != '{')
        return IOC_ENOTFOUND;
    sc->p++;
    for (;;) {
        skip_ws(sc);
        if (sc->p >= sc->len || sc->s[sc->p] != '"')
            return IOC_ENOTFOUND;
        *key_off = sc->p;
        bool match = string_equals(sc, seg->key, seg->keylen);
        skip_ws(sc);
        if (sc->p >= sc->len || sc->s[sc->p] != ':')
            return IOC_ENOTFOUND;
        sc->p++;
        skip_ws(sc);
        if (match && nth-- == 0)
            return 0;
        skip_value(sc);
        skip_ws(sc);
        if (sc->p >= sc->len || sc->s[sc->p] != ',')
            return IOC_ENOTFOUND;
        sc->p++;
    }
}

/* Moves to element seg->index of the array at the scanner. Returns 0 or IOC_ENOTFOUND. */
static int enter_index(scan_t *sc, const cfg_seg_t *seg)
{
    if (sc->p >= sc->len || sc->s[sc->p] != '[')
        return IOC_ENOTFOUND;
    sc->p++;
    skip_ws(sc);
    if (sc->p >= sc->len || sc->s[sc->p] == ']')
        return IOC_ENOTFOUND;
    for (size_t i = 0;; i++) {
        if (i == seg->index)
            return 0;
        skip_value(sc);
        skip_ws(sc);
        if (sc->p >= sc->len || sc->s[sc->p] != ',')
            return IOC_ENOTFOUND;
        sc->p++;
        skip_ws(sc);
    }
}

int cfg_locate_off(const char *text, size_t len, const cfg_seg_t *segs, int n, bool want_value,
                   int nth, size_t *off)
{
    scan_t sc = {text, len, 0};
    size_t key_off = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        sc.p = 3;
    skip_ws(&sc);
    key_off = sc.p;
    for (int i = 0; i < n; i++) {
        int rc;
        if (segs[i].key) {
            rc = enter_key(&sc, &segs[i], i == n - 1 ? nth : 0, &key_off);
        } else {
            rc = enter_index(&sc, &segs[i]);
            key_off = sc.p;
        }
        if (rc != 0)
            return rc;
    }
    *off = want_value ? sc.p : key_off;
    return 0;
}

int cfg_locate_items(const char *text, size_t len, const cfg_seg_t *segs, int n, size_t *offs,
                     size_t count)
{
    size_t off;
    int rc = cfg_locate_off(text, len, segs, n, true, 0, &off);
    if (rc != 0)
        return rc;
    scan_t sc = {text, len, off};
    const cfg_seg_t first = {NULL, 0, 0};
    for (size_t i = 0; i < count; i++) {
        if (i > 0) {
            skip_value(&sc);
            skip_ws(&sc);
            if (sc.p >= len || text[sc.p] != ',')
                return IOC_ENOTFOUND;
            sc.p++;
            skip_ws(&sc);
        } else if (enter_index(&sc, &first) != 0) {
            return IOC_ENOTFOUND;
        }
        offs[i] = sc.p;
    }
    return 0;
}

void cfg_linecols(const char *text, size_t len, const size_t *offs, size_t n, int *lines,
                  int *columns)
{
    size_t i = 0;
    int line = 1, col = 1;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    for (size_t k = 0; k < n; k++) {
        size_t off = offs[k] < len ? offs[k] : len;
        for (; i < off; i++) {
            if (text[i] == '\n') {
                line++;
                col = 1;
            } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
                col++;
            }
        }
        lines[k] = line;
        columns[k] = col;
    }
}

void cfg_linecol(const char *text, size_t len, size_t off, int *line, int *column)
{
    cfg_linecols(text, len, &off, 1, line, column);
}

/* Splits "a.b[2].c" into segments pointing into path. Returns the count or -1 if malformed. */
static int split_path(const char *path, cfg_seg_t *segs)
{
    int n = 0;
    const char *p = path;
    while (*p) {
        if (n == LOCATE_PATH_MAX)
            return -1;
        if (*p == '[') {
            char *end;
            if (p[1] < '0' || p[1] > '9')
                return -1;
            unsigned long long idx = strtoull(p + 1, &end, 10);
            if (*end != ']')
                return -1;
            segs[n++] = (cfg_seg_t){NULL, 0, (size_t)idx};
            p = end + 1;
        } else {
            if (n > 0) {
                if (*p != '.')
                    return -1;
                p++;
            }
            size_t klen = strcspn(p, ".[");
            if (klen == 0)
                return -1;
            segs[n++] = (cfg_seg_t){p, klen, 0};
            p += klen;
        }
    }
    return n;
}

int config_locate(const config_t *cfg, const char *key_path, int *line, int *column)
{
    cfg_seg_t segs[LOCATE_PATH_MAX];
    size_t off;
    if (!cfg || !cfg->text || !key_path)
        return IOC_ENOTFOUND;
    int n = split_path(key_path, segs);
    if (n < 0 || cfg_locate_off(cfg->text, strlen(cfg->text), segs, n, false, 0, &off) != 0)
        return IOC_ENOTFOUND;
    cfg_linecol(cfg->text, strlen(cfg->text), off, line, column);
    return 0;
}

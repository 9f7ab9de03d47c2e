/* InfluxDB line protocol parser: one pass over the body, one allocation per body, none per line. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/lineproto.h"
#include "ingest/lineproto_impl.h"

#define LP_MAX_LINE 65536       /* bytes in one line, a string field's newlines included */
#define LP_MAX_TAGS 256         /* tags in one line */
#define LP_MAX_FIELDS 1024      /* fields in one line, string fields included */
#define LP_MAX_NAMES (4u << 20) /* bytes of "<measurement>.<field>" names one line may need */

typedef struct lp_str {
    const char *s; /* NUL-terminated, in the arena */
    size_t len;
} lp_str_t;

/* A numeric or boolean field: becomes one sample. */
typedef struct lp_field {
    const char *key;
    size_t klen;
    double value;
} lp_field_t;

typedef struct lp_ctx {
    const char *bend;   /* end of the body */
    const char *start;  /* first byte of the current line */
    const char *eol;    /* the '\n' ending it, or bend */
    const char *end;    /* end of its content: eol less a '\r' */
    const char *p;      /* cursor */
    size_t extra_lines; /* newlines inside the line's string fields */
    lp_precision_t prec;
    int64_t now_us;
    lp_sample_fn fn;
    void *ud;
    bool quiet; /* a first error is already recorded: do not format more messages */

    ioc_sample_t *samples; /* field_cap */
    lp_field_t *fields;    /* field_cap */
    ioc_tag_t *tags;       /* tag_cap */
    char *arena;           /* unescaped names of the current line, NUL-terminated */
    size_t field_cap, tag_cap;
    size_t nfields, nsamples, ntags, arena_len;
    char *names; /* "<measurement>.<field>" strings; grows, kept across lines */
    size_t names_cap, names_need;
    char msg[sizeof(((lp_error_t *)0)->msg)];
} lp_ctx_t;

static size_t lp_min(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* Allocates the context for a body of `len` bytes. Capacities follow from the limits and from
 * len: a tag (",k=v") takes at least 4 bytes and a field ("k=v" plus a separator) at least 4,
 * and every name copied into the arena is a disjoint piece of one line (escapes only shrink),
 * so the arena needs the line length plus one NUL per name plus the float scratch's NUL. */
static lp_ctx_t *lp_ctx_new(size_t len)
{
    size_t line = lp_min(len, LP_MAX_LINE);
    size_t tag_cap = lp_min(LP_MAX_TAGS, line / 4 + 1);
    size_t field_cap = lp_min(LP_MAX_FIELDS, line / 3 + 1);
    size_t arena_cap = line + 2 * tag_cap + field_cap + 4;
    size_t size = sizeof(lp_ctx_t) + field_cap * (sizeof(ioc_sample_t) + sizeof(lp_field_t)) +
                  tag_cap * sizeof(ioc_tag_t) + arena_cap;
    char *mem = malloc(size);
    if (!mem)
        return NULL;
    lp_ctx_t *c = (lp_ctx_t *)mem;
    memset(c, 0, sizeof *c);
    mem += sizeof *c;
    c->samples = (ioc_sample_t *)mem;
    mem += field_cap * sizeof(ioc_sample_t);
    c->fields = (lp_field_t *)mem;
    mem += field_cap * sizeof(lp_field_t);
    c->tags = (ioc_tag_t *)mem;
    mem += tag_cap * sizeof(ioc_tag_t);
    c->arena = mem;
    c->field_cap = field_cap;
    c->tag_cap = tag_cap;
    return c;
}

__attribute__((format(printf, 2, 3))) static int lp_fail(lp_ctx_t *c, const char *fmt, ...)
{
    if (!c->quiet) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->msg, sizeof c->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static size_t lp_col(const lp_ctx_t *c)
{
    return (size_t)(c->p - c->start) + 1;
}

enum { LP_SCAN_OK = 0, LP_SCAN_CTRL = -1, LP_SCAN_UTF8 = -2 };

/* Copies the name at c->p into the arena, unescaping "\," "\ " (and "\=" when eq_special; a
 * backslash before anything else is kept). Stops at ',' ' ' ('=' when eq_special) or the end of
 * the line, with c->p there, or at a control byte or invalid UTF-8 (LP_SCAN_CTRL/UTF8). */
static int lp_scan_name(lp_ctx_t *c, bool eq_special, lp_str_t *out)
{
    const char *p = c->p, *end = c->end;
    char *dst = c->arena + c->arena_len, *d = dst;
    int rc = LP_SCAN_OK;

    while (p < end) {
        unsigned char ch = (unsigned char)*p;
        if (ch >= 0x80) {
            size_t k = lp_utf8_seq((const unsigned char *)p, (const unsigned char *)end);
            if (k == 0) {
                rc = LP_SCAN_UTF8;
                break;
            }
            memcpy(d, p, k);
            d += k;
            p += k;
            continue;
        }
        if (ch < 0x20 || ch == 0x7f) {
            rc = LP_SCAN_CTRL;
            break;
        }
        if (ch == ',' || ch == ' ' || (ch == '=' && eq_special))
            break;
        if (ch == '\\' && p + 1 < end &&
            (p[1] == ',' || p[1] == ' ' || (p[1] == '=' && eq_special)))
            p++;
        *d++ = *p++;
    }
    *d = '\0';
    out->s = dst;
    out->len = (size_t)(d - dst);
    c->arena_len += out->len + 1;
    c->p = p;
    return rc;
}

/* Reports a scan error of a name: `what` names it, or `tag` (the tag key) for a tag value. */
static int lp_name_fail(lp_ctx_t *c, int rc, const char *what, const lp_str_t *tag)
{
    char q[48];
    const char *why = rc == LP_SCAN_UTF8 ? "invalid UTF-8" : "invalid character";
    if (tag)
        return lp_fail(c, "tag \"%s\": %s in value at column %zu",
                       lp_excerpt(q, sizeof q, tag->s, tag->len), why, lp_col(c));
    return lp_fail(c, "%s: %s at column %zu", what, why, lp_col(c));
}

/* Moves the line end to the next '\n' when a string field runs past it. */
static int lp_extend_line(lp_ctx_t *c)
{
    const char *from = c->eol + 1;
    const char *nl = memchr(from, '\n', (size_t)(c->bend - from));
    c->eol = nl ? nl : c->bend;
    c->end = (c->eol > from && c->eol[-1] == '\r') ? c->eol - 1 : c->eol;
    c->extra_lines++;
    if ((size_t)(c->eol - c->start) > LP_MAX_LINE)
        return lp_fail(c, "line longer than %d bytes", LP_MAX_LINE);
    return 0;
}

/* Skips the string field value at c->p (the opening quote): it may hold escaped quotes and
 * backslashes and span lines. Returns 0 or -1. */
static int lp_skip_string(lp_ctx_t *c, const lp_str_t *key)
{
    char q[48];
    const char *s = c->p + 1;

    for (;;) {
        if (s >= c->eol) {
            if (c->eol == c->bend)
                return lp_fail(c, "field \"%s\": unterminated string",
                               lp_excerpt(q, sizeof q, key->s, key->len));
            if (lp_extend_line(c) < 0)
                return -1;
            s++;
            continue;
        }
        unsigned char ch = (unsigned char)*s;
        if (ch == '"')
            break;
        if (ch == '\\' && s + 1 < c->eol && (s[1] == '"' || s[1] == '\\')) {
            s += 2;
        } else if (ch >= 0x80) {
            size_t k = lp_utf8_seq((const unsigned char *)s, (const unsigned char *)c->eol);
            if (k == 0) {
                c->p = s;
                return lp_fail(c, "field \"%s\": invalid UTF-8 in string at column %zu",
                               lp_excerpt(q, sizeof q, key->s, key->len), lp_col(c));
            }
            s += k;
        } else {
            s++;
        }
    }
    c->p = s + 1;
    if (c->p < c->end && *c->p != ',' && *c->p != ' ')
        return lp_fail(c, "field \"%s\": unexpected text after string",
                       lp_excerpt(q, sizeof q, key->s, key->len));
    return 0;
}

/* True (and *v = 1 or 0) for the boolean spellings InfluxDB accepts. */
static bool lp_bool(const char *s, size_t n, double *v)
{
    static const char *const truths[] = {"t", "T", "true", "True", "TRUE"};
    static const char *const lies[] = {"f", "F", "false", "False", "FALSE"};
    for (size_t i = 0; i < sizeof truths / sizeof truths[0]; i++) {
        if (strlen(truths[i]) == n && memcmp(s, truths[i], n) == 0) {
            *v = 1.0;
            return true;
        }
        if (strlen(lies[i]) == n && memcmp(s, lies[i], n) == 0) {
            *v = 0.0;
            return true;
        }
    }
    return false;
}

/* Parses the value of field `key` at c->p. Returns 1 for a sample (*v set), 0 for a string
 * field (not a sample), -1 on error. */
static int lp_field_value(lp_ctx_t *c, const lp_str_t *key, double *v)
{
    char kq[48], tq[48];
    const char *s = c->p, *t = s;
    int rc;

    if (s < c->end && *s == '"')
        return lp_skip_string(c, key);
    while (t < c->end && *t != ',' && *t != ' ')
        t++;
    size_t n = (size_t)(t - s);
    c->p = t;
    if (n == 0)
        return lp_fail(c, "field \"%s\": missing value", lp_excerpt(kq, sizeof kq, key->s, key->len));
    if (s[n - 1] == 'i') {
        int64_t iv = 0;
        rc = lp_num_int(s, n - 1, &iv);
        *v = (double)iv;
    } else if (s[n - 1] == 'u') {
        uint64_t uv = 0;
        rc = lp_num_uint(s, n - 1, &uv);
        *v = (double)uv;
    } else if ((*s == 't' || *s == 'T' || *s == 'f' || *s == 'F') && lp_bool(s, n, v)) {
        rc = LP_NUM_OK;
    } else {
        rc = lp_num_float(s, n, c->arena + c->arena_len, v);
    }
    if (rc == LP_NUM_OK)
        return 1;
    lp_excerpt(kq, sizeof kq, key->s, key->len);
    lp_excerpt(tq, sizeof tq, s, n);
    if (rc == LP_NUM_RANGE)
        return lp_fail(c, "field \"%s\": number out of range \"%s\"", kq, tq);
    if ((*s >= '0' && *s <= '9') || *s == '-' || *s == '+' || *s == '.')
        return lp_fail(c, "field \"%s\": invalid number \"%s\"", kq, tq);
    return lp_fail(c, "field \"%s\": invalid value \"%s\"", kq, tq);
}

static int lp_tag_cmp(const void *a, const void *b)
{
    return strcmp(((const ioc_tag_t *)a)->key, ((const ioc_tag_t *)b)->key);
}

/* Sorts the tags by key (the host wants them sorted anyway) and refuses a repeated key. */
static int lp_check_tags(lp_ctx_t *c)
{
    char q[48];
    ioc_tag_t *t = c->tags;
    size_t n = c->ntags;

    if (n <= 8) {
        for (size_t i = 1; i < n; i++) {
            ioc_tag_t x = t[i];
            size_t j = i;
            for (; j > 0 && strcmp(t[j - 1].key, x.key) > 0; j--)
                t[j] = t[j - 1];
            t[j] = x;
        }
    } else {
        qsort(t, n, sizeof *t, lp_tag_cmp);
    }
    for (size_t i = 1; i < n; i++)
        if (strcmp(t[i - 1].key, t[i].key) == 0)
            return lp_fail(c, "duplicate tag \"%s\"", lp_excerpt(q, sizeof q, t[i].key, strlen(t[i].key)));
    return 0;
}

/* measurement{,tag=value} — leaves c->p after the last tag value. */
static int lp_series(lp_ctx_t *c, lp_str_t *meas)
{
    char q[48];
    int rc;

    if (*c->p == ',')
        return lp_fail(c, "missing measurement");
    rc = lp_scan_name(c, false, meas);
    if (rc != LP_SCAN_OK)
        return lp_name_fail(c, rc, "measurement", NULL);
    while (c->p < c->end && *c->p == ',') {
        lp_str_t key, val;
        if (c->ntags == c->tag_cap)
            return lp_fail(c, "more than %d tags", LP_MAX_TAGS);
        c->p++;
        rc = lp_scan_name(c, true, &key);
        if (rc != LP_SCAN_OK)
            return lp_name_fail(c, rc, "tag key", NULL);
        if (key.len == 0)
            return lp_fail(c, "missing tag key at column %zu", lp_col(c));
        if (c->p == c->end || *c->p != '=')
            return lp_fail(c, "tag \"%s\": missing \"=\"", lp_excerpt(q, sizeof q, key.s, key.len));
        c->p++;
        rc = lp_scan_name(c, true, &val);
        if (rc != LP_SCAN_OK)
            return lp_name_fail(c, rc, NULL, &key);
        if (val.len == 0)
            return lp_fail(c, "tag \"%s\": missing value", lp_excerpt(q, sizeof q, key.s, key.len));
        if (c->p < c->end && *c->p == '=')
            return lp_fail(c, "tag \"%s\": unescaped \"=\" in value", lp_excerpt(q, sizeof q, key.s, key.len));
        c->tags[c->ntags++] = (ioc_tag_t){.key = key.s, .value = val.s};
    }
    return lp_check_tags(c);
}

/* field=value{,field=value} — leaves c->p after the last value. */
static int lp_fields(lp_ctx_t *c, const lp_str_t *meas)
{
    char q[48];
    size_t total = 0;

    for (;;) {
        lp_str_t key;
        double v;
        int rc;
        if (total == c->field_cap)
            return lp_fail(c, "more than %d fields", LP_MAX_FIELDS);
        total++;
        rc = lp_scan_name(c, true, &key);
        if (rc != LP_SCAN_OK)
            return lp_name_fail(c, rc, "field key", NULL);
        if (key.len == 0)
            return lp_fail(c, "missing field key at column %zu", lp_col(c));
        if (c->p == c->end || *c->p != '=')
            return lp_fail(c, "field \"%s\": missing \"=\"", lp_excerpt(q, sizeof q, key.s, key.len));
        c->p++;
        rc = lp_field_value(c, &key, &v);
        if (rc < 0)
            return -1;
        if (rc > 0) {
            bool plain = key.len == 5 && memcmp(key.s, "value", 5) == 0;
            c->fields[c->nfields++] = (lp_field_t){.key = key.s, .klen = key.len, .value = v};
            if (!plain)
                c->names_need += meas->len + key.len + 2;
        }
        if (c->p == c->end || *c->p != ',')
            return 0;
        c->p++;
    }
}

static void lp_skip_spaces(lp_ctx_t *c)
{
    while (c->p < c->end && *c->p == ' ')
        c->p++;
}

/* [ timestamp ] { ' ' } up to the end of the line. */
static int lp_timestamp(lp_ctx_t *c, int64_t *ts)
{
    char q[48];
    int64_t raw;
    const char *s;
    int rc;

    *ts = c->now_us;
    lp_skip_spaces(c);
    if (c->p == c->end)
        return 0;
    s = c->p;
    while (c->p < c->end && *c->p != ' ')
        c->p++;
    rc = lp_num_int(s, (size_t)(c->p - s), &raw);
    if (rc == LP_NUM_OK)
        rc = lp_num_ts_us(raw, c->prec, ts);
    if (rc == LP_NUM_SYNTAX)
        return lp_fail(c, "invalid timestamp \"%s\"", lp_excerpt(q, sizeof q, s, (size_t)(c->p - s)));
    if (rc == LP_NUM_RANGE)
        return lp_fail(c, "timestamp out of range \"%s\"", lp_excerpt(q, sizeof q, s, (size_t)(c->p - s)));
    lp_skip_spaces(c);
    if (c->p < c->end)
        return lp_fail(c, "unexpected text after timestamp at column %zu", lp_col(c));
    return 0;
}

/* Makes the metric names and hands the line's samples over. Returns 0, -1, or 1 to stop. */
static int lp_emit(lp_ctx_t *c, const lp_str_t *meas, int64_t ts)
{
    if (c->names_need > c->names_cap) {
        if (c->names_need > LP_MAX_NAMES)
            return lp_fail(c, "metric names too long (measurement of %zu bytes)", meas->len);
        char *n = realloc(c->names, c->names_need);
        if (!n)
            return lp_fail(c, "out of memory");
        c->names = n;
        c->names_cap = c->names_need;
    }
    char *w = c->names;
    for (size_t i = 0; i < c->nfields; i++) {
        const lp_field_t *f = &c->fields[i];
        const char *metric = meas->s;
        if (!(f->klen == 5 && memcmp(f->key, "value", 5) == 0)) {
            metric = w;
            memcpy(w, meas->s, meas->len);
            w[meas->len] = '.';
            memcpy(w + meas->len + 1, f->key, f->klen + 1);
            w += meas->len + f->klen + 2;
        }
        c->samples[i] = (ioc_sample_t){
            .metric = metric, .tags = c->tags, .ntags = c->ntags, .value = f->value, .ts_us = ts};
    }
    if (c->nfields == 0)
        return 0;
    return c->fn(c->ud, c->samples, c->nfields) != 0 ? 1 : 0;
}

/* One point starting at c->p (not a space). Returns 0, -1 (bad line) or 1 (fn said stop). */
static int lp_point(lp_ctx_t *c)
{
    lp_str_t meas;
    int64_t ts;

    c->ntags = c->nfields = c->arena_len = c->names_need = 0;
    if (lp_series(c, &meas) < 0)
        return -1;
    lp_skip_spaces(c);
    if (c->p == c->end)
        return lp_fail(c, "missing fields");
    if (lp_fields(c, &meas) < 0 || lp_timestamp(c, &ts) < 0)
        return -1;
    return lp_emit(c, &meas, ts);
}

/* The line starting at p: finds its end, skips blanks and comments. Same returns as lp_point. */
static int lp_line(lp_ctx_t *c, const char *p)
{
    const char *nl = memchr(p, '\n', (size_t)(c->bend - p));
    c->start = p;
    c->eol = nl ? nl : c->bend;
    c->end = (c->eol > p && c->eol[-1] == '\r') ? c->eol - 1 : c->eol;
    c->extra_lines = 0;
    if ((size_t)(c->eol - p) > LP_MAX_LINE)
        return lp_fail(c, "line longer than %d bytes", LP_MAX_LINE);
    while (p < c->end && *p == ' ')
        p++;
    if (p == c->end || *p == '#')
        return 0;
    c->p = p;
    return lp_point(c);
}

int lp_precision_parse(const char *s)
{
    if (!s)
        return -1;
    if (strcmp(s, "ns") == 0 || strcmp(s, "n") == 0)
        return LP_NS;
    if (strcmp(s, "us") == 0 || strcmp(s, "u") == 0)
        return LP_US;
    if (strcmp(s, "ms") == 0)
        return LP_MS;
    if (strcmp(s, "s") == 0)
        return LP_S;
    return -1;
}

size_t lp_parse(const char *body, size_t len, lp_precision_t prec, int64_t now_us,
                lp_sample_fn fn, void *ud, lp_error_t *err)
{
    size_t nbad = 0, lineno = 1;
    lp_ctx_t *c;

    if (err) {
        err->line = 0;
        err->msg[0] = '\0';
    }
    if (len == 0)
        return 0;
    c = lp_ctx_new(len);
    if (!c) {
        if (err) {
            err->line = 1;
            snprintf(err->msg, sizeof err->msg, "out of memory");
        }
        return 1;
    }
    c->bend = body + len;
    c->prec = prec;
    c->now_us = now_us;
    c->fn = fn;
    c->ud = ud;
    for (const char *p = body; p < c->bend;) {
        if (err)
            err->at = lineno;
        int rc = lp_line(c, p);
        if (rc < 0 && nbad++ == 0) {
            if (err) {
                err->line = lineno;
                memcpy(err->msg, c->msg, sizeof err->msg);
            }
            c->quiet = true;
        }
        if (rc > 0)
            break;
        lineno += 1 + c->extra_lines;
        p = c->eol < c->bend ? c->eol + 1 : c->bend;
    }
    free(c->names);
    free(c);
    return nbad;
}

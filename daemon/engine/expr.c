/* Indicator expressions: recursive-descent parser to a postfix program, and its evaluator. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/expr.h"
#include "ioc/error.h"

typedef enum op_kind { OP_NUM, OP_TERM, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_NEG } op_kind_t;

typedef struct op {
    op_kind_t kind;
    double num;    /* OP_NUM */
    size_t term;   /* OP_TERM */
} op_t;

struct expr {
    expr_term_t terms[EXPR_MAX_TERMS];
    size_t nterms;
    op_t ops[EXPR_MAX_OPS];
    size_t nops;
};

typedef struct parser {
    const char *s;
    size_t p, len;
    int depth;
    expr_t *e;
    int rc;         /* first error */
    size_t err_off; /* where it is */
    char *err;
    size_t errlen;
} parser_t;

static const char *const agg_names[] = {"avg", "sum", "min", "max", "last",
                                        "count", "rate", "p50", "p95"};

int expr_agg_parse(const char *name, size_t len, expr_agg_t *out)
{
    for (size_t i = 0; i < sizeof agg_names / sizeof agg_names[0]; i++) {
        if (strlen(agg_names[i]) == len && memcmp(agg_names[i], name, len) == 0) {
            *out = (expr_agg_t)i;
            return IOC_OK;
        }
    }
    return IOC_EINVAL;
}

const char *expr_agg_name(expr_agg_t agg)
{
    return (size_t)agg < sizeof agg_names / sizeof agg_names[0] ? agg_names[agg] : "?";
}

bool expr_agg_counts_samples(expr_agg_t agg)
{
    return agg == AGG_COUNT || agg == AGG_RATE || agg == AGG_P50 || agg == AGG_P95;
}

static int fail(parser_t *ps, size_t off, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(parser_t *ps, size_t off, int rc, const char *fmt, ...)
{
    if (ps->rc)
        return ps->rc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err, ps->errlen, fmt, ap);
    va_end(ap);
    ps->rc = rc;
    ps->err_off = off;
    return rc;
}

static void skip_ws(parser_t *ps)
{
    while (ps->p < ps->len && (ps->s[ps->p] == ' ' || ps->s[ps->p] == '\t' ||
                               ps->s[ps->p] == '\n' || ps->s[ps->p] == '\r'))
        ps->p++;
}

static char peek(parser_t *ps)
{
    skip_ws(ps);
    return ps->p < ps->len ? ps->s[ps->p] : '\0';
}

/* Describes the character at the parser's position for messages ("'x'" or "byte 0x1f");
 * written into buf. */
static const char *found(parser_t *ps, char buf[static 16])
{
    static const char hex[] = "0123456789abcdef";
    if (ps->p >= ps->len)
        return "the end";
    unsigned char ch = (unsigned char)ps->s[ps->p];
    if (ch < 0x20 || ch >= 0x7f) {
        memcpy(buf, "byte 0x", 7);
        buf[7] = hex[ch >> 4];
        buf[8] = hex[ch & 15];
        buf[9] = '\0';
    } else {
        buf[0] = '\'';
        buf[1] = (char)ch;
        buf[2] = '\'';
        buf[3] = '\0';
    }
    return buf;
}

static int emit(parser_t *ps, op_kind_t kind, double num, size_t term)
{
    if (ps->e->nops == EXPR_MAX_OPS)
        return fail(ps, ps->p, IOC_EINVAL, "expression too complex (at most %d operations)",
                    EXPR_MAX_OPS);
    ps->e->ops[ps->e->nops++] = (op_t){.kind = kind, .num = num, .term = term};
    return IOC_OK;
}

/* A name character: metric names, tag keys and aggregation names. */
static bool name_char(char ch)
{
    return ch && !strchr(" \t\r\n(){},\"'=+*/", ch);
}

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

static size_t scan_name(parser_t *ps)
{
    size_t start = ps->p;
    while (ps->p < ps->len && name_char(ps->s[ps->p]))
        ps->p++;
    return ps->p - start;
}

static char *dup_span(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* A quoted value ("..." or '...', backslash escapes the next byte) into a new string. */
static int parse_string(parser_t *ps, char **out)
{
    char q = peek(ps), buf[16];
    if (q != '"' && q != '\'')
        return fail(ps, ps->p, IOC_EINVAL, "expected a quoted tag value, found %s",
                    found(ps, buf));
    size_t start = ps->p++;
    char *v = malloc(ps->len - start + 1);
    size_t n = 0;
    if (!v)
        return fail(ps, start, IOC_ENOMEM, "out of memory");
    while (ps->p < ps->len && ps->s[ps->p] != q) {
        if (ps->s[ps->p] == '\\' && ps->p + 1 < ps->len)
            ps->p++;
        v[n++] = ps->s[ps->p++];
    }
    if (ps->p >= ps->len) {
        free(v);
        return fail(ps, start, IOC_EINVAL, "unterminated string");
    }
    ps->p++;
    v[n] = '\0';
    *out = v;
    return IOC_OK;
}

static bool filter_less(const expr_filter_t *a, const expr_filter_t *b)
{
    return strcmp(a->key, b->key) < 0;
}

static void term_free(expr_term_t *t)
{
    free(t->metric);
    for (size_t i = 0; i < t->nfilters; i++) {
        free(t->filters[i].key);
        free(t->filters[i].value);
    }
    memset(t, 0, sizeof *t);
}

static bool term_equal(const expr_term_t *a, const expr_term_t *b)
{
    if (a->agg != b->agg || strcmp(a->metric, b->metric) || a->nfilters != b->nfilters)
        return false;
    for (size_t i = 0; i < a->nfilters; i++)
        if (strcmp(a->filters[i].key, b->filters[i].key) ||
            strcmp(a->filters[i].value, b->filters[i].value))
            return false;
    return true;
}

/* Keeps filters sorted by key so equal terms compare equal. */
static void sort_filters(expr_term_t *t)
{
    for (size_t i = 1; i < t->nfilters; i++)
        for (size_t j = i; j > 0 && filter_less(&t->filters[j], &t->filters[j - 1]); j--) {
            expr_filter_t tmp = t->filters[j];
            t->filters[j] = t->filters[j - 1];
            t->filters[j - 1] = tmp;
        }
}

/* Adds t (taking its strings) unless an equal term exists; *idx is its index. */
static int add_term(parser_t *ps, expr_term_t *t, size_t at, size_t *idx)
{
    expr_t *e = ps->e;
    sort_filters(t);
    for (size_t i = 0; i < e->nterms; i++)
        if (term_equal(&e->terms[i], t)) {
            term_free(t);
            *idx = i;
            return IOC_OK;
        }
    if (e->nterms == EXPR_MAX_TERMS) {
        term_free(t);
        return fail(ps, at, IOC_EINVAL, "too many distinct terms (at most %d)", EXPR_MAX_TERMS);
    }
    e->terms[e->nterms] = *t;
    *idx = e->nterms++;
    return IOC_OK;
}

/* '{' key = "value" {, key = "value"} '}' into t. */
static int parse_filters(parser_t *ps, expr_term_t *t)
{
    char buf[16];
    ps->p++; /* '{' */
    for (;;) {
        skip_ws(ps);
        size_t at = ps->p, n = scan_name(ps);
        if (n == 0)
            return fail(ps, at, IOC_EINVAL, "expected a tag name, found %s",
                        found(ps, buf));
        if (t->nfilters == EXPR_MAX_FILTERS)
            return fail(ps, at, IOC_EINVAL, "too many tag conditions (at most %d)",
                        EXPR_MAX_FILTERS);
        expr_filter_t *f = &t->filters[t->nfilters];
        if (!(f->key = dup_span(ps->s + at, n)))
            return fail(ps, at, IOC_ENOMEM, "out of memory");
        t->nfilters++;
        for (size_t i = 0; i + 1 < t->nfilters; i++)
            if (strcmp(t->filters[i].key, f->key) == 0)
                return fail(ps, at, IOC_EINVAL, "tag \"%s\" given twice", f->key);
        if (peek(ps) != '=')
            return fail(ps, ps->p, IOC_EINVAL, "expected '=', found %s",
                        found(ps, buf));
        ps->p++;
        if (parse_string(ps, &f->value))
            return ps->rc;
        char ch = peek(ps);
        if (ch == '}') {
            ps->p++;
            return IOC_OK;
        }
        if (ch != ',')
            return fail(ps, ps->p, IOC_EINVAL, "expected ',' or '}', found %s",
                        found(ps, buf));
        ps->p++;
    }
}

/* agg '(' metric [filters] ')' with the name already scanned at name_off. */
static int parse_aggregate(parser_t *ps, size_t name_off, size_t name_len)
{
    char buf[16];
    expr_term_t t = {0};
    size_t idx = 0;
    if (expr_agg_parse(ps->s + name_off, name_len, &t.agg))
        return fail(ps, name_off, IOC_EINVAL,
                    "unknown aggregation \"%.*s\" (use avg, sum, min, max, last, count, rate, "
                    "p50 or p95)", (int)(name_len > 32 ? 32 : name_len), ps->s + name_off);
    ps->p++; /* '(' */
    skip_ws(ps);
    size_t at = ps->p, n = scan_name(ps);
    if (n == 0)
        return fail(ps, at, IOC_EINVAL, "expected a metric name, found %s",
                    found(ps, buf));
    if (!(t.metric = dup_span(ps->s + at, n)))
        return fail(ps, at, IOC_ENOMEM, "out of memory");
    if (peek(ps) == '{' && parse_filters(ps, &t))
        goto fail;
    if (peek(ps) != ')') {
        fail(ps, ps->p, IOC_EINVAL, "expected ')', found %s", found(ps, buf));
        goto fail;
    }
    ps->p++;
    if (add_term(ps, &t, name_off, &idx))
        return ps->rc;
    return emit(ps, OP_TERM, 0, idx);
fail:
    term_free(&t);
    return ps->rc;
}

static int parse_sum(parser_t *ps);

static int parse_number(parser_t *ps)
{
    char buf[64];
    size_t start = ps->p;
    while (ps->p < ps->len && is_digit(ps->s[ps->p]))
        ps->p++;
    if (ps->p < ps->len && ps->s[ps->p] == '.') {
        ps->p++;
        while (ps->p < ps->len && is_digit(ps->s[ps->p]))
            ps->p++;
    }
    if (ps->p - start == 1 && ps->s[start] == '.')
        return fail(ps, start, IOC_EINVAL, "expected a digit after '.'");
    if (ps->p < ps->len && (ps->s[ps->p] == 'e' || ps->s[ps->p] == 'E')) {
        size_t e = ps->p++;
        if (ps->p < ps->len && (ps->s[ps->p] == '+' || ps->s[ps->p] == '-'))
            ps->p++;
        if (ps->p >= ps->len || !is_digit(ps->s[ps->p]))
            return fail(ps, e, IOC_EINVAL, "expected digits in the exponent");
        while (ps->p < ps->len && is_digit(ps->s[ps->p]))
            ps->p++;
    }
    if (ps->p - start >= sizeof buf)
        return fail(ps, start, IOC_EINVAL, "number too long");
    memcpy(buf, ps->s + start, ps->p - start);
    buf[ps->p - start] = '\0';
    double v = strtod(buf, NULL);
    if (!isfinite(v))
        return fail(ps, start, IOC_EINVAL, "number out of range");
    return emit(ps, OP_NUM, v, 0);
}

/* primary := number | '(' sum ')' | '-' primary | agg '(' metric [filters] ')' */
static int parse_primary(parser_t *ps)
{
    char buf[16];
    char ch = peek(ps);
    size_t at = ps->p;
    if (++ps->depth > EXPR_MAX_DEPTH)
        return fail(ps, at, IOC_EINVAL, "nested too deeply (at most %d levels)",
                    EXPR_MAX_DEPTH);
    int rc;
    if (is_digit(ch) || ch == '.') {
        rc = parse_number(ps);
    } else if (ch == '(') {
        ps->p++;
        if ((rc = parse_sum(ps)) == 0) {
            if (peek(ps) == ')')
                ps->p++;
            else
                rc = fail(ps, ps->p, IOC_EINVAL, "expected ')', found %s",
                          found(ps, buf));
        }
    } else if (ch == '-') {
        ps->p++;
        if ((rc = parse_primary(ps)) == 0)
            rc = emit(ps, OP_NEG, 0, 0);
    } else {
        size_t n = scan_name(ps);
        if (n > 0 && peek(ps) == '(')
            rc = parse_aggregate(ps, at, n);
        else {
            ps->p = at;
            rc = fail(ps, at, IOC_EINVAL,
                      "expected a number, '(' or an aggregate such as sum(metric), found %s",
                      found(ps, buf));
        }
    }
    ps->depth--;
    return rc;
}

/* product := primary {('*'|'/') primary} */
static int parse_product(parser_t *ps)
{
    if (parse_primary(ps))
        return ps->rc;
    for (;;) {
        char ch = peek(ps);
        if (ch != '*' && ch != '/')
            return IOC_OK;
        ps->p++;
        if (parse_primary(ps) || emit(ps, ch == '*' ? OP_MUL : OP_DIV, 0, 0))
            return ps->rc;
    }
}

/* sum := product {('+'|'-') product} */
static int parse_sum(parser_t *ps)
{
    if (parse_product(ps))
        return ps->rc;
    for (;;) {
        char ch = peek(ps);
        if (ch != '+' && ch != '-')
            return IOC_OK;
        ps->p++;
        if (parse_product(ps) || emit(ps, ch == '+' ? OP_ADD : OP_SUB, 0, 0))
            return ps->rc;
    }
}

/* 1-based column in UTF-8 characters of a byte offset. */
static int column_of(const char *s, size_t off)
{
    int col = 1;
    for (size_t i = 0; i < off; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            col++;
    return col;
}

int expr_parse(const char *text, expr_t **out, int *column, char *err, size_t errlen)
{
    char buf[16];
    parser_t ps = {.s = text, .len = strlen(text), .err = err, .errlen = errlen};
    *out = NULL;
    *column = 0;
    if (ps.len > EXPR_MAX_LEN) {
        fail(&ps, EXPR_MAX_LEN, IOC_EINVAL, "expression too long (at most %d bytes)",
             EXPR_MAX_LEN);
        goto out;
    }
    if (!(ps.e = calloc(1, sizeof *ps.e))) {
        fail(&ps, 0, IOC_ENOMEM, "out of memory");
        goto out;
    }
    if (peek(&ps) == '\0') {
        fail(&ps, ps.p, IOC_EINVAL, "empty expression");
        goto out;
    }
    if (parse_sum(&ps) == 0 && peek(&ps) != '\0')
        fail(&ps, ps.p, IOC_EINVAL, "unexpected %s after the expression",
             found(&ps, buf));
out:
    if (ps.rc) {
        *column = column_of(text, ps.err_off);
        expr_free(ps.e);
        return ps.rc;
    }
    *out = ps.e;
    return IOC_OK;
}

int expr_single(const expr_term_t *term, expr_t **out)
{
    expr_t *e = calloc(1, sizeof *e);
    if (!e || !(e->terms[0].metric = strdup(term->metric)))
        goto nomem;
    e->terms[0].agg = term->agg;
    e->nterms = 1;
    e->ops[0] = (op_t){.kind = OP_TERM, .term = 0};
    e->nops = 1;
    *out = e;
    return IOC_OK;
nomem:
    free(e);
    return IOC_ENOMEM;
}

int expr_add_filter(expr_t *e, const char *key, const char *value)
{
    for (size_t i = 0; i < e->nterms; i++) {
        expr_term_t *t = &e->terms[i];
        if (t->nfilters == EXPR_MAX_FILTERS)
            return IOC_EINVAL;
        expr_filter_t *f = &t->filters[t->nfilters];
        f->key = strdup(key);
        f->value = strdup(value);
        t->nfilters++;
        if (!f->key || !f->value)
            return IOC_ENOMEM;
        sort_filters(t);
    }
    return IOC_OK;
}

size_t expr_nterms(const expr_t *e) { return e->nterms; }

const expr_term_t *expr_term(const expr_t *e, size_t i)
{
    return i < e->nterms ? &e->terms[i] : NULL;
}

bool expr_eval(const expr_t *e, const double *vals, const bool *has, double *out)
{
    double st[EXPR_MAX_OPS];
    size_t sp = 0;
    for (size_t i = 0; i < e->nops; i++) {
        const op_t *op = &e->ops[i];
        switch (op->kind) {
        case OP_NUM: st[sp++] = op->num; break;
        case OP_TERM:
            if (!has[op->term])
                return false;
            st[sp++] = vals[op->term];
            break;
        case OP_NEG: st[sp - 1] = -st[sp - 1]; break;
        case OP_ADD: sp--; st[sp - 1] += st[sp]; break;
        case OP_SUB: sp--; st[sp - 1] -= st[sp]; break;
        case OP_MUL: sp--; st[sp - 1] *= st[sp]; break;
        case OP_DIV:
            sp--;
            if (st[sp] == 0)
                return false;
            st[sp - 1] /= st[sp];
            break;
        }
    }
    if (sp != 1 || !isfinite(st[0]))
        return false;
    *out = st[0];
    return true;
}

void expr_free(expr_t *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nterms; i++)
        term_free(&e->terms[i]);
    free(e);
}

/* Indicator expressions: a small arithmetic grammar over aggregates of metrics, parsed once and
 * evaluated per group from the values of its terms. */
#ifndef IOCD_ENGINE_EXPR_H
#define IOCD_ENGINE_EXPR_H

#include <stdbool.h>
#include <stddef.h>

/* Aggregations. AVG..LAST aggregate each series' latest value in the window, then across the
 * series of a group; COUNT, RATE, P50 and P95 take every sample in the window. */
typedef enum expr_agg {
    AGG_AVG,
    AGG_SUM,
    AGG_MIN,
    AGG_MAX,
    AGG_LAST,
    AGG_COUNT,
    AGG_RATE,
    AGG_P50,
    AGG_P95,
} expr_agg_t;

#define EXPR_MAX_LEN 2048   /* longest expression text */
#define EXPR_MAX_TERMS 16   /* distinct agg(metric{...}) terms in one expression */
#define EXPR_MAX_FILTERS 8  /* tag = "value" pairs in one term */
#define EXPR_MAX_OPS 256    /* compiled operations */
#define EXPR_MAX_DEPTH 32   /* parenthesis / unary nesting */

/* One tag condition of a term: the series must have tag `key` equal to `value`. */
typedef struct expr_filter {
    char *key, *value;
} expr_filter_t;

/* One aggregate term, e.g. sum(service.dossiers_online{district="Tân An"}). */
typedef struct expr_term {
    expr_agg_t agg;
    char *metric;
    expr_filter_t filters[EXPR_MAX_FILTERS];
    size_t nfilters;
} expr_term_t;

typedef struct expr expr_t;

/* Parses an aggregation name ("avg", "p95", ...); returns 0 and *out, or IOC_EINVAL. */
int expr_agg_parse(const char *name, size_t len, expr_agg_t *out);
/* The name of an aggregation (static string). */
const char *expr_agg_name(expr_agg_t agg);
/* True for the aggregations that count samples rather than take each series' latest value. */
bool expr_agg_counts_samples(expr_agg_t agg);

/* Parses text (NUL-terminated). Returns 0 and *out (free with expr_free), or IOC_EINVAL with
 * *column (1-based, in UTF-8 characters) and a message such as "expected ')'" in err, or
 * IOC_ENOMEM. Identical terms are shared. */
int expr_parse(const char *text, expr_t **out, int *column, char *err, size_t errlen);
/* An expression of the single term (agg, metric) with no filter, e.g. for "metric"+"agg". The
 * term is copied. Returns 0 or IOC_ENOMEM. */
int expr_single(const expr_term_t *term, expr_t **out);
/* Adds a tag condition to every term (the indicator's `filter`). Returns 0, IOC_EINVAL when a
 * term has too many conditions, or IOC_ENOMEM. */
int expr_add_filter(expr_t *e, const char *key, const char *value);
/* Number of distinct terms, and the i-th (borrowed). */
size_t expr_nterms(const expr_t *e);
const expr_term_t *expr_term(const expr_t *e, size_t i);
/* Evaluates with the value of each term (has[i] false: no data). Returns true and *out, or
 * false when a needed term has no data, a division by zero or a non-finite result. */
bool expr_eval(const expr_t *e, const double *vals, const bool *has, double *out);
/* Frees an expression. NULL is fine. */
void expr_free(expr_t *e);

#endif

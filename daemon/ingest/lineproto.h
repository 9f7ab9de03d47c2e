/* InfluxDB line protocol parser (Telegraf-compatible). */
#ifndef IOCD_LINEPROTO_H
#define IOCD_LINEPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "ioc/collector.h"

typedef enum lp_precision { LP_NS, LP_US, LP_MS, LP_S } lp_precision_t;

/* Parses "ns", "us", "ms", "s" (also "n", "u" as InfluxDB v1 accepts); -1 if unknown. */
int lp_precision_parse(const char *s);

/* Receives the samples of one line. Strings are valid only during the call. Returns 0 to go
 * on, non-zero to stop parsing. */
typedef int (*lp_sample_fn)(void *ud, const ioc_sample_t *samples, size_t n);

typedef struct lp_error {
    size_t line;   /* 1-based line number of the first bad line (0 = none) */
    char msg[160]; /* why, e.g. "field \"x\": invalid number" */
    size_t at;     /* line whose samples fn is receiving now, so fn can name it */
} lp_error_t;

/* Parses a whole body (not NUL-terminated, `len` bytes). Metric names follow DESIGN.md:
 * <measurement>.<field>, or <measurement> for a field named "value"; tags stay tags; booleans
 * are 1/0; string fields are skipped. A line with no timestamp gets `now_us`. Good lines are
 * passed to `fn` even after a bad one. Returns the number of bad lines; `err` names the first. */
size_t lp_parse(const char *body, size_t len, lp_precision_t prec, int64_t now_us,
                lp_sample_fn fn, void *ud, lp_error_t *err);

#endif

/* Test helpers for the line protocol parser: a sample recorder and base64 decoding. */
#ifndef TEST_HELPER_LP_H
#define TEST_HELPER_LP_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/lineproto.h"

/* One recorded sample: series is "metric{k=v,k=v}" with the tags sorted by key. */
typedef struct got_sample {
    char *series; /* owned */
    double value;
    int64_t ts_us;
} got_sample_t;

typedef struct got {
    got_sample_t *s;
    size_t n, cap;
    size_t calls;      /* how many times got_fn ran */
    size_t stop_after; /* got_fn returns non-zero on this call (0: never) */
} got_t;

/* An lp_sample_fn that appends copies of the samples to the got_t in ud; aborts on ENOMEM. */
int got_fn(void *ud, const ioc_sample_t *samples, size_t n);
/* Frees what the recorder holds and zeroes it. */
void got_free(got_t *g);
/* Builds "metric{k=v,...}" from tags sorted by key; returns a malloc'd string. */
char *got_series(const char *metric, const ioc_tag_t *tags, size_t ntags);
/* Index of the first sample whose series is `series`, or -1. */
long got_find(const got_t *g, const char *series);

/* Decodes standard base64 into a malloc'd buffer (*len bytes, NUL-terminated). NULL on bad input. */
char *b64_decode(const char *in, size_t *len);

#endif

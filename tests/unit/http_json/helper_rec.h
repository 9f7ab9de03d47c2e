/* A recording sink for http_json mapping tests: keeps a copy of every sample it is handed. */
#ifndef HELPER_REC_H
#define HELPER_REC_H

#include <stddef.h>
#include <stdint.h>

#include "../../../collectors/http_json/hj.h"

typedef struct rec_sample {
    char metric[300];
    char tags[600]; /* "k=v,k=v" sorted by key */
    double value;
    int64_t ts_us;
} rec_sample_t;

typedef struct rec {
    rec_sample_t *s;
    size_t n, cap;
    size_t calls, max_chunk;
    int refuse_at; /* sink call (1-based) from which it returns IOC_EFULL; 0 never */
} rec_t;

/* The sink to pass to hj_map with a rec_t as ud. */
int rec_sink(void *ud, const ioc_sample_t *samples, size_t n);
void rec_free(rec_t *r);
/* Returns the recorded sample of metric whose tags string is `tags`, or NULL. */
const rec_sample_t *rec_find(const rec_t *r, const char *metric, const char *tags);
/* Reads $IOCD_FIXTURES/<rel> into a NUL-terminated buffer (free it); fails the test if absent. */
char *rec_fixture(const char *rel, size_t *len);
/* Parses JSON config text into a checked mapping; fails the test on an error. Free the returned
 * cJSON (the mapping borrows from it). */
cJSON *rec_map_cfg(const char *json, hj_map_cfg_t *cfg);

#endif

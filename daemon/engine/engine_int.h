/* Engine internals: indicator definitions, per-group window cells, rollup minutes, bindings. */
#ifndef IOCD_ENGINE_INT_H
#define IOCD_ENGINE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "config/config.h"
#include "core/hashmap.h"
#include "engine/engine.h"
#include "engine/expr.h"

#define ENG_TICK_MS 250 /* windows age this often; a group publishes at most once per tick */
#define ENG_BUCKETS 60                      /* time buckets per window (width window/60, >= 1s) */
#define ENG_MIN_BUCKET_US 1000000LL
#define ENG_MINUTES 64                      /* 1m rollups kept in memory: late samples land here */
#define ENG_LATE_US (3600LL * 1000000LL)    /* samples older than this are ignored */
#define ENG_MAX_WINDOW_MS (86400ULL * 1000) /* longest window */
#define ENG_MAX_GROUPS 10000                /* groups per indicator; more are dropped */
#define ENG_MAX_INDICATORS 1024
#define ENG_MAX_GROUP_BY 4
#define ENG_MAX_FILTER 8
#define ENG_SK_BINS 581                     /* sketch bins: 0, then +-1e-3 .. 1e9 at 10% steps */

typedef enum eng_status { ST_NODATA, ST_OK, ST_WARN, ST_CRIT } eng_status_t;

/* Log-bucket histogram: a mergeable percentile sketch with ~5% relative error. */
typedef struct eng_sketch {
    uint32_t n[ENG_SK_BINS];
} eng_sketch_t;

/* One time bucket of a counting cell. */
typedef struct eng_bucket {
    int64_t idx;      /* bucket number: ts / bucket width */
    uint32_t count;
    eng_sketch_t *sk; /* p50/p95 only; allocated on first use */
} eng_bucket_t;

/* One series' latest value in one gauge cell, kept in the cell's list ordered by ts. */
typedef struct eng_sv {
    struct eng_sv *prev, *next;
    int64_t ts;
    double v;
    bool live;
} eng_sv_t;

/* The window state of one term in one group. */
typedef struct eng_cell {
    expr_agg_t agg;
    int64_t newest_ts;       /* newest sample seen (any agg), for the value's ts */
    /* gauge aggregations: each live series' latest value */
    eng_sv_t *head, *tail;
    size_t nlive;
    double sum, min, max;
    bool stale_extremes;     /* min/max (and sum) must be recomputed from the list */
    int64_t resum_us;        /* next exact recomputation of sum, against drift */
    /* counting aggregations */
    eng_bucket_t *ring;      /* ENG_BUCKETS */
    uint64_t wcount;
    eng_sketch_t *wsk;       /* p50/p95: the sum of the buckets' sketches */
} eng_cell_t;

/* One minute of rollup for one group: the mean, min and max of the values at the ticks of the
 * minute, and the samples (late ones included) whose timestamps fall in it. */
typedef struct eng_minute {
    int64_t minute; /* minutes since the epoch; -1: unused */
    double sum_v, min, max;
    uint32_t ticks;
    uint64_t count;
    bool dirty;
} eng_minute_t;

typedef struct eng_group {
    char *name;           /* "" for the total */
    eng_cell_t *cells;    /* one per term */
    bool has;
    double value;
    int64_t ts;
    eng_status_t status;
    bool pub_has, published;
    double pub_value;
    int64_t pub_ts;
    eng_status_t pub_status;
    uint64_t pub_tick;    /* engine tick number of the last publish */
    uint64_t prompt_tick; /* engine tick number of the last prompt evaluation */
    bool dirty;           /* in the engine's list of groups waiting for a prompt evaluation */
    eng_minute_t minutes[ENG_MINUTES];
} eng_group_t;

typedef struct eng_ind {
    char *id, *name_vi, *name_en, *unit;
    uint64_t window_ms;
    int64_t bucket_us;
    uint32_t nbuckets;
    char *group_by[ENG_MAX_GROUP_BY];
    size_t ngroup_by;
    expr_t *expr;
    bool has_target, has_warn, has_crit;
    char target_op[3];
    double target, warn, crit;
    bool higher_better;
    cJSON *def;           /* the definition as the API shows it (owned) */
    /* runtime */
    hashmap_t group_map;  /* name -> eng_group_t */
    eng_group_t **groups;
    size_t ngroups, capgroups;
    eng_group_t *total;   /* the ungrouped value; for grouped indicators derived from groups */
    bool dropped_groups_logged;
} eng_ind_t;

/* Parses and validates cfg->indicators into *out (n entries; free with eng_inds_free).
 * Returns 0 or IOC_EINVAL/IOC_ENOMEM with "file:line:column: indicators[i].key: what". */
int eng_inds_parse(const config_t *cfg, eng_ind_t **out, size_t *n, char *err, size_t errlen);
void eng_inds_free(eng_ind_t *inds, size_t n);
/* The status of a value under an indicator's target and thresholds. */
eng_status_t eng_status_of(const eng_ind_t *ind, bool has, double value);
const char *eng_status_name(eng_status_t st);

/* Cells (engine_window.c). */
int eng_cell_init(eng_cell_t *c, expr_agg_t agg);
void eng_cell_free(eng_cell_t *c);
/* Takes a sample (ts already clamped to now) into a cell; sv is the series' slot for gauge
 * aggregations (NULL for counting ones). */
void eng_cell_add(eng_cell_t *c, const eng_ind_t *ind, eng_sv_t *sv, int64_t ts, double v,
                  int64_t now);
/* Ages the cell's window to now. */
void eng_cell_age(eng_cell_t *c, const eng_ind_t *ind, int64_t now);
/* The term value over cells (one group's cell, or every group's cell of a term for the total).
 * Returns false for no data. */
bool eng_cells_value(eng_cell_t *const *cells, size_t n, const eng_ind_t *ind, double *out);
/* Sketch helpers, exposed for tests. */
void eng_sketch_add(eng_sketch_t *s, double v, int32_t delta);
double eng_sketch_quantile(const eng_sketch_t *s, double q);

/* Binding of one series to the cells it feeds. */
typedef struct eng_bind_ent {
    eng_ind_t *ind;
    eng_group_t *group;
    eng_cell_t *cell;
    eng_sv_t sv;
} eng_bind_ent_t;

typedef struct eng_binding {
    char *key;  /* the series key (metric \x1f tags_json), owned */
    size_t n;
    eng_bind_ent_t ents[];
} eng_binding_t;

typedef struct eng_db eng_db_t;

/* A group touched by a sample since the last evaluation, waiting for the prompt timer. */
typedef struct eng_dirty {
    eng_ind_t *ind;
    eng_group_t *group;
} eng_dirty_t;

struct engine {
    uv_loop_t *loop;
    hub_t *hub;
    engine_value_fn listener; /* value changes, besides the hub */
    void *listener_ud;
    eng_ind_t *inds;
    size_t ninds;
    uv_timer_t tick;
    uint64_t tickno;         /* ticks run (from 1): a group publishes at most once per tick */
    uv_timer_t prompt;       /* 0 ms: evaluates the dirty groups on the next loop turn */
    eng_dirty_t *dirty;      /* groups marked dirty (each once; bounded by the groups) */
    size_t ndirty, capdirty;
    int open_handles;        /* tick and prompt, until both are closed */
    hashmap_t by_key;        /* series key -> binding */
    eng_binding_t **bindings;
    size_t nbindings, capbindings;
    int64_t now_us;          /* wall clock at the last tick (tests may set it) */
    bool manual_clock;
    int64_t started_us;      /* samples before this are warm-up's to replay */
    eng_db_t *db;
    bool closing;
    void (*done)(void *ud);
    void *done_ud;
};

/* Wall clock in microseconds (or the test clock). */
int64_t eng_now(engine_t *e);
/* Feeds one sample for a series key given as metric and canonical tags JSON (used by warm-up,
 * which must not count samples into rollups again: replay true). */
void eng_feed_key(engine_t *e, const char *metric, const char *tags_json, int64_t ts_us,
                  double value, bool replay);
/* Runs one tick at e->now_us: ages windows, evaluates, publishes changes, records minutes. */
void eng_run_tick(engine_t *e);
/* Frees the engine's memory (its timers must be closed or never started). */
void eng_free(engine_t *e);
/* Formats a time as ISO 8601 UTC with milliseconds ("2025-01-31T12:00:00.000Z"). */
void eng_iso(char *buf, size_t len, int64_t ts_us);
/* Finds a group of an indicator by name ("" is the total), or NULL. */
eng_group_t *eng_group_find(eng_ind_t *ind, const char *name, bool create);
/* Finds an indicator by id, or NULL. */
eng_ind_t *eng_ind_find(engine_t *e, const char *id);

/* Database side (engine_db.c). */
int eng_db_create(engine_t *e, const char *dsn, eng_db_t **out);
/* Called after each tick: flushes dirty rollups every few seconds. */
void eng_db_tick(eng_db_t *db);
/* True while warm-up has not finished. */
bool eng_db_warming(const eng_db_t *db);
void eng_db_close(eng_db_t *db, void (*done)(void *ud), void *ud);

#endif

/* The store's internals, shared by store.c (connection, setup, maintenance) and store_commit.c. */
#ifndef IOCD_STORE_INT_H
#define IOCD_STORE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/hashmap.h"
#include "core/strbuf.h"
#include "store/pg_conn.h"
#include "store/store.h"

typedef enum store_state {
    STORE_DOWN,       /* waiting for the back-off timer */
    STORE_CONNECTING, /* libpq connecting */
    STORE_SETUP,      /* migrating and loading partitions */
    STORE_UP,         /* ready */
    STORE_CLOSING,
} store_state_t;

/* The next step of whatever chain of commands holds the connection. */
typedef void (*store_step_fn)(store_t *s, int status, PGresult *res);

/* One interned series in the cache; the map's key points at key. */
typedef struct store_series {
    int64_t id;
    char key[]; /* metric "\x1f" tags_json */
} store_series_t;

typedef struct store_commit_state {
    bool active;    /* store_commit accepted a batch and cb has not run yet */
    bool started;   /* its chain holds the connection */
    const batch_t *batch;
    store_commit_cb cb;
    void *ud;
    int64_t *ids;     /* series id per batch series index */
    uint32_t ids_cap;
    uint32_t *miss;   /* batch series indexes sent to be interned */
    uint32_t nmiss, miss_cap;
    int64_t *new_days; /* partition days this commit creates */
    uint32_t nnew_days, new_days_cap;
    strbuf_t buf;     /* COPY payload and array parameters */
    int fail_status;  /* what a failed commit reports once rolled back */
} store_commit_state_t;

struct store {
    uv_loop_t *loop;
    char *dsn;
    store_opts_t opts;
    store_state_t state;
    int reported; /* -1 nothing reported yet, 0 down, 1 up */
    uint32_t attempts;
    uint64_t rng;

    pg_conn_t *pg;
    store_step_fn next;
    bool op_running; /* a chain (setup, maintenance, commit) holds the connection */
    bool maint_due;
    int mig_next;
    uint8_t *mig_applied; /* per migration index: already recorded */

    int64_t *days; /* sorted days that have a partition */
    uint32_t ndays, days_cap;
    int64_t *maint_new, *maint_drop;
    uint32_t nmaint_new, nmaint_drop;

    hashmap_t series; /* key -> store_series_t (owned) */
    store_commit_state_t commit;
    strbuf_t sql;
    store_stats_t stats;

    uv_timer_t retry_timer; /* back-off, and the connect timeout */
    uv_timer_t maint_timer; /* hourly partitions ahead and retention */
    int open_handles;
    void (*done)(void *ud);
    void *done_ud;
};

/* Sends a command whose result goes to next; on a send failure drops the connection.
 * nparams < 0 sends constant SQL through the simple protocol. Returns 0 or IOC_EDB. */
int store__send(store_t *s, store_step_fn next, const char *sql, int nparams, const Oid *types,
                const char *const *values, const int *lengths, const int *formats);
/* Sends a COPY FROM STDIN streaming data (borrowed until next runs). Returns 0 or IOC_EDB. */
int store__copy(store_t *s, store_step_fn next, const char *sql, const void *data, size_t len);
/* Drops the connection after an error, fails a commit in flight and schedules a reconnect. */
void store__lost(store_t *s, const char *why);
/* The chain holding the connection is done: runs due maintenance or a waiting commit. */
void store__op_done(store_t *s);
/* True when a partition for day is known to exist. */
bool store__has_day(const store_t *s, int64_t day);
/* Records that a partition for day exists. Returns 0 or IOC_ENOMEM. */
int store__add_day(store_t *s, int64_t day);
/* Forgets the known partitions (they are re-checked with CREATE IF NOT EXISTS). */
void store__forget_days(store_t *s);

/* Starts the accepted commit's chain (the connection is free). */
void store__commit_start(store_t *s);
/* Ends the commit: runs its callback with status (exactly once). */
void store__commit_finish(store_t *s, int status);
/* Frees the series cache entries and empties it. */
void store__series_clear(store_t *s);

#endif

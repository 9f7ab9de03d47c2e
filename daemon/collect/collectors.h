/* Collector instances: load, configure, schedule (interval, jitter, timeout, back-off), health. */
#ifndef IOCD_COLLECTORS_H
#define IOCD_COLLECTORS_H

#include <stddef.h>

#include <uv.h>

#include "config/config.h"
#include "ingest/ingest.h"

typedef struct collectors collectors_t;

/* Creates the (empty) set of instances. plugin_dir is copied. Returns 0 or IOC_ENOMEM. */
int collectors_create(uv_loop_t *loop, const char *plugin_dir, ingest_t *ingest,
                      collectors_t **out);
/* Makes the running instances match cfg: instances whose entry is unchanged keep running,
 * the others are stopped, and new or changed ones are loaded, initialised and started.
 * All or nothing: if any new instance fails to load or init, nothing changes, the error
 * (naming the instance and file) is in err and a negative code is returned. */
int collectors_apply(collectors_t *c, const config_t *cfg, char *err, size_t errlen);
/* Loads and initialises every enabled instance of cfg without starting any, then stops them:
 * checks plugin files, ABI and plugin options (for --check-config). Returns 0 or a negative
 * code with the first error in err. */
int collectors_validate(collectors_t *c, const config_t *cfg, char *err, size_t errlen);
/* Stops every instance; `done` runs once all their handles are closed; then the set is freed. */
void collectors_close(collectors_t *c, void (*done)(void *ud), void *ud);
/* Number of running instances. */
size_t collectors_count(const collectors_t *c);

#endif

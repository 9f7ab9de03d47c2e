/* The engine: indicators (KPIs) computed incrementally from samples over sliding windows, with
 * group-by, expressions, targets/status, rollups persisted at 1m/1h/1d, and warm-up at start. */
#ifndef IOCD_ENGINE_H
#define IOCD_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "config/config.h"
#include "hub/hub.h"
#include "ingest/series.h"

typedef struct engine engine_t;

/* Validates cfg->indicators (errors as "file:line:column: indicators[i].key: what is wrong",
 * located with config_locate) and creates the engine; changes go to hub (may be NULL in tests).
 * Returns 0 or a negative ioc_err_t with the message in err. */
int engine_create(uv_loop_t *loop, const config_t *cfg, hub_t *hub, engine_t **out, char *err,
                  size_t errlen);
/* Validates the indicators of cfg without creating anything (for --check-config and SIGHUP). */
int engine_check_config(const config_t *cfg, char *err, size_t errlen);
/* Gives the engine its database (connection string): it persists rollups and warms its windows
 * from them and from raw samples. May be called once, when the store's DSN is known. */
void engine_set_dsn(engine_t *e, const char *dsn);
/* Feeds one accepted sample (called by ingest for every sample it accepts). Must be O(1)
 * amortised per matching indicator. */
void engine_on_sample(engine_t *e, const series_t *se, int64_t ts_us, double value);
/* Every indicator with its definition, current value per group and status, as
 * GET /api/v1/indicators returns it (caller frees with cJSON_Delete). */
cJSON *engine_indicators_json(engine_t *e);
/* History of one indicator and group ("" for the ungrouped total) from the rollups: one point
 * per step in [from_us, to_us), read from the coarsest rollup (1m, 1h, 1d) whose resolution
 * divides step_us. cb runs exactly once, later, with 0 and a JSON array of
 * {"ts", "value", "count", "min", "max"} (cb takes ownership), or IOC_EDB / IOC_ECLOSED and
 * NULL. Returns 0, IOC_ENOTFOUND for an unknown indicator, IOC_EINVAL for a step under 1m or
 * not a whole number of minutes, or IOC_EAGAIN when the database is unavailable or busy. */
typedef void (*engine_series_cb)(void *ud, int status, cJSON *points);
int engine_series(engine_t *e, const char *id, const char *group, int64_t from_us, int64_t to_us,
                  int64_t step_us, engine_series_cb cb, void *ud);
/* Called for every value change the engine publishes (the same items as the hub gets), on the
 * loop; strings are valid during the call only. */
typedef void (*engine_value_fn)(void *ud, const char *indicator, const char *group, int64_t ts_us,
                                double value, bool has_value, const char *status);
/* Sets (or with fn NULL removes) the one value listener (the alerts module). */
void engine_set_listener(engine_t *e, engine_value_fn fn, void *ud);
/* Flushes pending rollups and frees the engine once its handles are closed. */
void engine_close(engine_t *e, void (*done)(void *ud), void *ud);

#endif

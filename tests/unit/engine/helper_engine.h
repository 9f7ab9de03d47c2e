/* Test helpers for the engine: configs from text, hand-made series, a manual clock. */
#ifndef IOCD_TEST_HELPER_ENGINE_H
#define IOCD_TEST_HELPER_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/engine_int.h"

#define T0 1700000000000000LL /* a fixed "now" in microseconds */
#define SEC 1000000LL
#define MINUTE (60 * SEC)

/* Parses a config whose "indicators" array is `indicators` (JSON text); fails the test on
 * error. Free with config_free. */
config_t *helper_config(const char *indicators);
/* Creates an engine (no hub, no database) on loop for that config, with the clock at T0. */
engine_t *helper_engine(uv_loop_t *loop, const char *indicators);
/* Closes the engine, runs the loop until it is freed, and frees the helper's series. */
void helper_engine_close(uv_loop_t *loop, engine_t *e);
/* A series as ingest interns it (freed by helper_engine_close). */
series_t *helper_series(const char *metric, const char *tags_json);
/* Frees every helper_series (after the engine that saw them is closed). */
void helper_series_free_all(void);
/* Sets the clock and runs one tick. */
void helper_tick(engine_t *e, int64_t now);
/* The group of an indicator ("" for the total); fails the test if missing. */
eng_group_t *helper_group(engine_t *e, const char *id, const char *group);
/* The error config_parse + engine_check_config give for these indicators ("" if none). */
const char *helper_config_error(const char *indicators);

#endif

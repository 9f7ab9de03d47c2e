/* Test helpers for the engine: configs from text, hand-made series, a manual clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_engine.h"

static config_t *last_cfg;
static series_t **made; /* every helper_series, freed by helper_engine_close */
static size_t nmade;

config_t *helper_config(const char *indicators)
{
    char text[16384], err[512];
    config_t *cfg = NULL;
    snprintf(text, sizeof text, "{\n\"indicators\": %s\n}\n", indicators);
    if (config_parse("t.json", text, strlen(text), &cfg, err, sizeof err))
        fail_msg("config_parse: %s", err);
    return cfg;
}

engine_t *helper_engine(uv_loop_t *loop, const char *indicators)
{
    char err[512];
    engine_t *e = NULL;
    config_free(last_cfg);
    last_cfg = helper_config(indicators);
    if (engine_create(loop, last_cfg, NULL, &e, err, sizeof err))
        fail_msg("engine_create: %s", err);
    e->manual_clock = true;
    e->now_us = e->started_us = T0;
    return e;
}

static void on_closed(void *ud) { *(bool *)ud = true; }

void helper_engine_close(uv_loop_t *loop, engine_t *e)
{
    bool done = false;
    engine_close(e, on_closed, &done);
    while (!done)
        uv_run(loop, UV_RUN_ONCE);
    config_free(last_cfg);
    last_cfg = NULL;
    helper_series_free_all();
}

void helper_series_free_all(void)
{
    for (size_t i = 0; i < nmade; i++) {
        free(made[i]->key);
        free(made[i]->metric);
        free(made[i]);
    }
    free(made);
    made = NULL;
    nmade = 0;
}

series_t *helper_series(const char *metric, const char *tags_json)
{
    series_t *se = calloc(1, sizeof *se);
    size_t ml = strlen(metric), tl = strlen(tags_json);
    se->key = malloc(ml + tl + 2);
    memcpy(se->key, metric, ml);
    se->key[ml] = '\x1f';
    memcpy(se->key + ml + 1, tags_json, tl + 1);
    se->metric = strdup(metric);
    se->tags_json = se->key + ml + 1;
    made = realloc(made, (nmade + 1) * sizeof *made);
    made[nmade++] = se;
    return se;
}

void helper_tick(engine_t *e, int64_t now)
{
    e->now_us = now;
    eng_run_tick(e);
}

eng_group_t *helper_group(engine_t *e, const char *id, const char *group)
{
    eng_ind_t *ind = eng_ind_find(e, id);
    if (!ind)
        fail_msg("no indicator %s", id);
    eng_group_t *g = eng_group_find(ind, group, false);
    if (!g)
        fail_msg("no group \"%s\" in %s", group, id);
    return g;
}

const char *helper_config_error(const char *indicators)
{
    static char err[512];
    config_t *cfg = helper_config(indicators);
    err[0] = '\0';
    engine_check_config(cfg, err, sizeof err);
    config_free(cfg);
    return err;
}

/* Engine benchmark: ns per sample with 100k live series feeding two indicators (a sum grouped
 * by 15 districts and an ungrouped avg), and the cost of one tick. Prints name=value lines.
 * Built by CMake as build/tests/engine_bench; tests/bench/run runs it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine_int.h"

#define NSERIES 100000
#define ROUNDS 20

static const char indicators[] =
    "{\"indicators\": ["
    "{\"id\":\"on.sum\",\"name\":{\"vi\":\"s\"},\"metric\":\"lighting.on\",\"agg\":\"sum\","
    " \"window\":\"5m\",\"group_by\":[\"district\"]},"
    "{\"id\":\"on.avg\",\"name\":{\"vi\":\"a\"},\"metric\":\"lighting.on\",\"agg\":\"avg\"},"
    "{\"id\":\"other\",\"name\":{\"vi\":\"o\"},\"metric\":\"traffic.speed\",\"agg\":\"p95\"}]}";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 && strcmp(argv[1], "--quick") == 0 ? 5 : ROUNDS;
    uv_loop_t loop;
    config_t *cfg;
    engine_t *e;
    char err[512];
    uv_loop_init(&loop);
    if (config_parse("bench.json", indicators, strlen(indicators), &cfg, err, sizeof err) ||
        engine_create(&loop, cfg, NULL, &e, err, sizeof err)) {
        fprintf(stderr, "engine_bench: %s\n", err);
        return 1;
    }
    e->manual_clock = true;
    e->now_us = 1700000000000000LL;
    series_t *se = calloc(NSERIES, sizeof *se);
    for (int i = 0; i < NSERIES; i++) {
        char key[128];
        int n = snprintf(key, sizeof key, "lighting.on\x1f{\"district\":\"D%02d\",\"id\":\"c%06d\"}",
                         i % 15, i);
        se[i].key = strndup(key, (size_t)n);
        se[i].metric = "lighting.on";
        se[i].tags_json = strchr(se[i].key, '\x1f') + 1;
    }
    double t0 = now_s();
    for (int i = 0; i < NSERIES; i++)
        engine_on_sample(e, &se[i], e->now_us, i % 50);
    double bind_s = now_s() - t0, feed_s = 0, tick_s = 0;
    for (int r = 0; r < rounds; r++) {
        e->now_us += 1000000;
        t0 = now_s();
        for (int i = 0; i < NSERIES; i++)
            engine_on_sample(e, &se[i], e->now_us - 1000, (i + r) % 50);
        feed_s += now_s() - t0;
        t0 = now_s();
        eng_run_tick(e);
        tick_s += now_s() - t0;
    }
    /* the same in a random order: every lookup misses the cache */
    uint32_t *order = malloc(NSERIES * sizeof *order);
    double shuffled_s = 0;
    srand(1);
    for (int i = 0; i < NSERIES; i++)
        order[i] = (uint32_t)i;
    for (int i = NSERIES - 1; i > 0; i--) {
        int j = rand() % (i + 1);
        uint32_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int r = 0; r < rounds; r++) {
        e->now_us += 1000000;
        t0 = now_s();
        for (int i = 0; i < NSERIES; i++)
            engine_on_sample(e, &se[order[i]], e->now_us - 1000, (order[i] + r) % 50);
        shuffled_s += now_s() - t0;
        eng_run_tick(e);
    }
    eng_group_t *total = eng_group_find(eng_ind_find(e, "on.sum"), "", false);
    double samples = (double)NSERIES * rounds;
    printf("%-28s %12s\n", "figure", "value");
    printf("%-28s %12.1f\n", "first sample (bind) ns", bind_s * 1e9 / NSERIES);
    printf("%-28s %12.1f\n", "ns per sample", feed_s * 1e9 / samples);
    printf("%-28s %12.1f\n", "ns per sample, random order", shuffled_s * 1e9 / samples);
    printf("%-28s %12.3f\n", "tick ms", tick_s * 1e3 / rounds);
    printf("%-28s %12.0f\n", "check: on.sum total", total->value);
    printf("engine_ns_per_sample=%.1f\n", feed_s * 1e9 / samples);
    printf("engine_ns_per_sample_random=%.1f\n", shuffled_s * 1e9 / samples);
    printf("engine_bind_ns_per_series=%.1f\n", bind_s * 1e9 / NSERIES);
    printf("engine_tick_ms=%.3f\n", tick_s * 1e3 / rounds);
    free(order);
    eng_free(e);
    config_free(cfg);
    return 0;
}

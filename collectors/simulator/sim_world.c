/* The simulated province: building it, moving it through time, and reporting it. */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

void sim_entity_tags(ioc_tag_t tags[2], int d, const char *id)
{
    tags[0] = (ioc_tag_t){.key = "district", .value = sim_districts[d].name};
    tags[1] = (ioc_tag_t){.key = "id", .value = id};
}

int sim_world_init(sim_world_t *w, const sim_config_t *cfg)
{
    memset(w, 0, sizeof *w);
    w->cfg = *cfg;
    sim_rng_seed(&w->rng, cfg->seed);
    for (int c = 0; c < SIM_NCURVES; c++)
        w->curve_mean[c] = sim_curve_integral((sim_curve_t)c, 0.0, SIM_DAY_S, 0) / SIM_DAY_S;
    for (int d = 0; d < SIM_NDISTRICTS; d++) {
        w->districts[d].enabled = (cfg->district_mask >> d) & 1u;
        w->districts[d].tag = (ioc_tag_t){.key = "district", .value = sim_districts[d].name};
    }
    int rc = sim_traffic_build(w);
    if (rc == IOC_OK)
        rc = sim_lighting_build(w);
    if (rc == IOC_OK)
        rc = sim_camera_build(w);
    if (rc != IOC_OK)
        goto fail;
    sim_civic_build(w);
    return IOC_OK;
fail:
    sim_world_free(w);
    return rc;
}

void sim_world_free(sim_world_t *w)
{
    free(w->sensors);
    free(w->cabinets);
    free(w->groups);
    w->sensors = NULL;
    w->cabinets = NULL;
    w->groups = NULL;
    w->nsensors = w->ncabinets = w->ngroups = 0;
}

/* Counted arrivals (daily counters) over [t0, t0 + dt] of one local day. */
static void accrue(sim_world_t *w, int64_t t0_us, int64_t dt_us)
{
    double s0 = sim_local_sod(t0_us), dt = (double)dt_us / SIM_US;
    int weekend = sim_is_weekend(sim_local_day(t0_us));
    sim_camera_accrue(w, s0, dt, weekend);
    sim_civic_accrue(w, s0, dt, weekend);
}

/* After a long gap (or at the start) the entity states are drawn from their steady state. */
static void resample(sim_world_t *w, int64_t t_us)
{
    int64_t day = sim_local_day(t_us);
    int fresh = !w->started || t_us < w->t_us;
    int64_t from = w->t_us;
    if (fresh || sim_local_day(w->t_us) != day) {
        sim_civic_new_day(w);
        from = sim_day_start_us(day);
    }
    if (fresh)
        sim_civic_settle(w);
    sim_traffic_settle(w, sim_local_sod(t_us), sim_is_weekend(day));
    sim_lighting_settle(w);
    sim_camera_settle(w);
    if (t_us > from)
        accrue(w, from, t_us - from);
}

void sim_world_advance(sim_world_t *w, int64_t t_us)
{
    if (!w->started || t_us < w->t_us || t_us - w->t_us > SIM_JUMP_US) {
        resample(w, t_us);
        w->started = 1;
        w->t_us = t_us;
        return;
    }
    while (w->t_us < t_us) {
        int64_t t0 = w->t_us, midnight = sim_day_start_us(sim_local_day(t0) + 1);
        int64_t t1 = t0 + SIM_STEP_US;
        if (t1 > t_us)
            t1 = t_us;
        if (t1 > midnight)
            t1 = midnight;
        double dt = (double)(t1 - t0) / SIM_US;
        int64_t mid = t0 + (t1 - t0) / 2;
        sim_traffic_step(w, sim_local_sod(mid), sim_is_weekend(sim_local_day(mid)), dt);
        sim_lighting_step(w, dt);
        sim_camera_step(w, dt);
        accrue(w, t0, t1 - t0);
        if (t1 == midnight)
            sim_civic_new_day(w);
        w->t_us = t1;
    }
}

int sim_world_emit(sim_world_t *w, sim_emitter_t *em)
{
    double s = sim_local_sod(w->t_us);
    int weekend = sim_is_weekend(sim_local_day(w->t_us));
    if (sim_traffic_emit(w, em, s, weekend) == IOC_OK && sim_lighting_emit(w, em, s) == IOC_OK &&
        sim_camera_emit(w, em) == IOC_OK)
        sim_civic_emit(w, em);
    return sim_emit_flush(em);
}

size_t sim_world_series(const sim_world_t *w)
{
    size_t districts = 0;
    for (int d = 0; d < SIM_NDISTRICTS; d++)
        districts += (size_t)w->districts[d].enabled;
    return w->nsensors * 3 + w->ncabinets * 4 + w->ngroups * 2 + districts * (1 + 1 + 7);
}

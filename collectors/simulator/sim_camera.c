/* Security cameras, reported per camera group; security events counted per district. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "sim.h"

#define CAMERAS_PER_GROUP 10.0
#define FAIL_RATE (1.0 / (20.0 * SIM_DAY_S))    /* per online camera */
#define REPAIR_MEAN_S (6.0 * 3600.0)
#define OUTAGE_RATE (1.0 / (7.0 * SIM_DAY_S))   /* per group: link or power lost */
#define OUTAGE_MEAN_S 2400.0
#define EVENTS_PER_CAMERA_DAY 1.5               /* on a weekday, all cameras online */

int sim_camera_build(sim_world_t *w)
{
    size_t n = 0;
    for (int d = 0; d < SIM_NDISTRICTS; d++)
        if (w->districts[d].enabled)
            n += (size_t)fmax(1.0, round(sim_districts[d].cameras * w->cfg.scale / CAMERAS_PER_GROUP));
    w->groups = calloc(n, sizeof *w->groups);
    if (!w->groups)
        return IOC_ENOMEM;
    w->ngroups = n;
    size_t k = 0;
    for (int d = 0; d < SIM_NDISTRICTS; d++) {
        if (!w->districts[d].enabled)
            continue;
        size_t count = (size_t)fmax(1.0, round(sim_districts[d].cameras * w->cfg.scale / CAMERAS_PER_GROUP));
        for (size_t i = 0; i < count; i++, k++) {
            sim_camgroup_t *g = &w->groups[k];
            g->district = d;
            snprintf(g->id, sizeof g->id, "%s-CG-%03zu", sim_districts[d].code, i + 1);
            sim_entity_tags(g->tags, d, g->id);
            g->total = sim_rng_int(&w->rng, 6, 14);
        }
    }
    return IOC_OK;
}

void sim_camera_settle(sim_world_t *w)
{
    double r = FAIL_RATE * REPAIR_MEAN_S, o = OUTAGE_RATE * OUTAGE_MEAN_S;
    for (size_t i = 0; i < w->ngroups; i++) {
        w->groups[i].down = sim_rng_binomial(&w->rng, w->groups[i].total, r / (1.0 + r));
        w->groups[i].outage = sim_rng_unit(&w->rng) < o / (1.0 + o);
    }
}

void sim_camera_step(sim_world_t *w, double dt)
{
    double p_repair = 1.0 - exp(-dt / REPAIR_MEAN_S);
    double p_start = 1.0 - exp(-OUTAGE_RATE * dt), p_end = 1.0 - exp(-dt / OUTAGE_MEAN_S);
    for (size_t i = 0; i < w->ngroups; i++) {
        sim_camgroup_t *g = &w->groups[i];
        int64_t up = g->total - g->down;
        int64_t failed = sim_rng_poisson(&w->rng, (double)up * FAIL_RATE * dt);
        g->down += (failed < up ? failed : up) - sim_rng_binomial(&w->rng, g->down, p_repair);
        g->outage = sim_rng_unit(&w->rng) < (g->outage ? 1.0 - p_end : p_start);
    }
}

static int64_t online(const sim_camgroup_t *g)
{
    return g->outage ? 0 : g->total - g->down;
}

void sim_camera_accrue(sim_world_t *w, double s0, double dt, int weekend)
{
    int64_t up[SIM_NDISTRICTS] = {0};
    for (size_t i = 0; i < w->ngroups; i++)
        up[w->groups[i].district] += online(&w->groups[i]);
    double per_camera = EVENTS_PER_CAMERA_DAY / SIM_DAY_S / w->curve_mean[SIM_CURVE_EVENTS] *
                        sim_curve_integral(SIM_CURVE_EVENTS, s0, dt, weekend);
    for (int d = 0; d < SIM_NDISTRICTS; d++)
        if (w->districts[d].enabled)
            w->districts[d].events += sim_rng_poisson(&w->rng, (double)up[d] * per_camera);
}

int sim_camera_emit(sim_world_t *w, sim_emitter_t *em)
{
    for (size_t i = 0; i < w->ngroups; i++) {
        const sim_camgroup_t *g = &w->groups[i];
        sim_emit(em, "camera.online", g->tags, 2, (double)online(g));
        if (sim_emit(em, "camera.total", g->tags, 2, (double)g->total) != IOC_OK)
            return em->status;
    }
    for (int d = 0; d < SIM_NDISTRICTS; d++)
        if (w->districts[d].enabled &&
            sim_emit(em, "camera.events", &w->districts[d].tag, 1, (double)w->districts[d].events) != IOC_OK)
            break;
    return em->status;
}

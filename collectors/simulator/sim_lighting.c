/* Streetlights, reported per control cabinet: lights on, total, faulty and power drawn. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "sim.h"

#define LIGHTS_PER_CABINET 50.0
#define FAULT_RATE (1.0 / (60.0 * SIM_DAY_S)) /* per working light */
#define REPAIR_MEAN_S (8.0 * 3600.0)
#define DUSK_S (17.75 * 3600.0) /* 17:45 local */
#define DAWN_S (5.75 * 3600.0)  /* 05:45 local */
#define DIM_FROM_S (23.0 * 3600.0)
#define DIM_UNTIL_S (4.5 * 3600.0)
#define DIM_LEVEL 0.7

int sim_lighting_build(sim_world_t *w)
{
    size_t n = 0;
    for (int d = 0; d < SIM_NDISTRICTS; d++)
        if (w->districts[d].enabled)
            n += (size_t)fmax(1.0, round(sim_districts[d].lights * w->cfg.scale / LIGHTS_PER_CABINET));
    w->cabinets = calloc(n, sizeof *w->cabinets);
    if (!w->cabinets)
        return IOC_ENOMEM;
    w->ncabinets = n;
    size_t k = 0;
    for (int d = 0; d < SIM_NDISTRICTS; d++) {
        if (!w->districts[d].enabled)
            continue;
        size_t count = (size_t)fmax(1.0, round(sim_districts[d].lights * w->cfg.scale / LIGHTS_PER_CABINET));
        for (size_t i = 0; i < count; i++, k++) {
            sim_cabinet_t *c = &w->cabinets[k];
            c->district = d;
            snprintf(c->id, sizeof c->id, "%s-LC-%03zu", sim_districts[d].code, i + 1);
            sim_entity_tags(c->tags, d, c->id);
            c->total = sim_rng_int(&w->rng, 35, 65);
            c->kw_per_light = sim_rng_range(&w->rng, 0.07, 0.15);
            c->dusk_s = DUSK_S + sim_rng_range(&w->rng, -720.0, 720.0);
            c->dawn_s = DAWN_S + sim_rng_range(&w->rng, -720.0, 720.0);
        }
    }
    return IOC_OK;
}

void sim_lighting_settle(sim_world_t *w)
{
    double r = FAULT_RATE * REPAIR_MEAN_S;
    for (size_t i = 0; i < w->ncabinets; i++)
        w->cabinets[i].faulty = sim_rng_binomial(&w->rng, w->cabinets[i].total, r / (1.0 + r));
}

void sim_lighting_step(sim_world_t *w, double dt)
{
    double p_repair = 1.0 - exp(-dt / REPAIR_MEAN_S);
    for (size_t i = 0; i < w->ncabinets; i++) {
        sim_cabinet_t *c = &w->cabinets[i];
        int64_t working = c->total - c->faulty;
        int64_t broken = sim_rng_poisson(&w->rng, (double)working * FAULT_RATE * dt);
        int64_t repaired = sim_rng_binomial(&w->rng, c->faulty, p_repair);
        c->faulty += (broken < working ? broken : working) - repaired;
    }
}

int sim_lighting_emit(sim_world_t *w, sim_emitter_t *em, double s)
{
    double dim = (s >= DIM_FROM_S || s < DIM_UNTIL_S) ? DIM_LEVEL : 1.0;
    for (size_t i = 0; i < w->ncabinets; i++) {
        const sim_cabinet_t *c = &w->cabinets[i];
        int dark = s >= c->dusk_s || s < c->dawn_s;
        int64_t on = dark ? c->total - c->faulty : 0;
        double jitter = 1.0 + 0.04 * (sim_hash_unit(w->cfg.seed ^ i, (uint64_t)w->t_us) - 0.5);
        double kw = round((double)on * c->kw_per_light * dim * jitter * 1000.0) / 1000.0;
        sim_emit(em, "lighting.on", c->tags, 2, (double)on);
        sim_emit(em, "lighting.total", c->tags, 2, (double)c->total);
        sim_emit(em, "lighting.faulty", c->tags, 2, (double)c->faulty);
        if (sim_emit(em, "lighting.power", c->tags, 2, kw) != IOC_OK)
            break;
    }
    return em->status;
}

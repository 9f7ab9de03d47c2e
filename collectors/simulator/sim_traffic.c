/* Traffic sensors: flow, speed and occupancy per road section, incidents per district. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "sim.h"

#define NOISE_SIGMA 0.12          /* spread of a section's demand around the curve */
#define NOISE_TAU_S 900.0         /* how long a deviation lasts */
#define INCIDENT_RATE (1.0 / (4.0 * SIM_DAY_S)) /* per section at full demand */
#define INCIDENT_MEAN_S 2400.0    /* an incident stays open 40 minutes on average */
#define PEAK_DEMAND 0.98          /* maximum of SIM_CURVE_TRAFFIC */

static double round1(double v)
{
    return round(v * 10.0) / 10.0;
}

static double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

int sim_traffic_build(sim_world_t *w)
{
    size_t n = 0;
    for (int d = 0; d < SIM_NDISTRICTS; d++)
        if (w->districts[d].enabled)
            n += (size_t)fmax(1.0, round(sim_districts[d].sensors * w->cfg.scale));
    w->sensors = calloc(n, sizeof *w->sensors);
    if (!w->sensors)
        return IOC_ENOMEM;
    w->nsensors = n;
    size_t k = 0;
    for (int d = 0; d < SIM_NDISTRICTS; d++) {
        if (!w->districts[d].enabled)
            continue;
        size_t count = (size_t)fmax(1.0, round(sim_districts[d].sensors * w->cfg.scale));
        for (size_t i = 0; i < count; i++, k++) {
            sim_sensor_t *s = &w->sensors[k];
            s->district = d;
            snprintf(s->id, sizeof s->id, "%s-TS-%03zu", sim_districts[d].code, i + 1);
            sim_entity_tags(s->tags, d, s->id);
            s->free_speed = fmin(90.0, sim_districts[d].free_speed * sim_rng_range(&w->rng, 0.8, 1.3));
            s->capacity = sim_rng_range(&w->rng, 12.0, 40.0) * (s->free_speed > 65.0 ? 1.4 : 1.0);
        }
    }
    return IOC_OK;
}

void sim_traffic_settle(sim_world_t *w, double s, int weekend)
{
    double r = INCIDENT_RATE * sim_curve(SIM_CURVE_TRAFFIC, s, weekend) * INCIDENT_MEAN_S;
    for (size_t i = 0; i < w->nsensors; i++) {
        w->sensors[i].noise = NOISE_SIGMA * sim_rng_gauss(&w->rng);
        w->sensors[i].incident = sim_rng_unit(&w->rng) < r / (1.0 + r);
    }
}

void sim_traffic_step(sim_world_t *w, double s, int weekend, double dt)
{
    double a = exp(-dt / NOISE_TAU_S);
    double spread = NOISE_SIGMA * sqrt(1.0 - a * a);
    double p_start = 1.0 - exp(-INCIDENT_RATE * sim_curve(SIM_CURVE_TRAFFIC, s, weekend) * dt);
    double p_clear = 1.0 - exp(-dt / INCIDENT_MEAN_S);
    for (size_t i = 0; i < w->nsensors; i++) {
        sim_sensor_t *x = &w->sensors[i];
        x->noise = a * x->noise + spread * sim_rng_gauss(&w->rng);
        x->incident = sim_rng_unit(&w->rng) < (x->incident ? 1.0 - p_clear : p_start);
    }
}

int sim_traffic_emit(sim_world_t *w, sim_emitter_t *em, double s, int weekend)
{
    double demand = sim_curve(SIM_CURVE_TRAFFIC, s, weekend) / PEAK_DEMAND;
    int incidents[SIM_NDISTRICTS] = {0};
    for (size_t i = 0; i < w->nsensors; i++) {
        const sim_sensor_t *x = &w->sensors[i];
        double ratio = clamp(demand * (1.0 + x->noise), 0.01, 1.0);
        double flow = x->capacity * ratio * (x->incident ? 0.55 : 1.0);
        double speed = x->free_speed * (1.0 - 0.6 * ratio * ratio) * (x->incident ? 0.3 : 1.0);
        double occupancy = 100.0 * clamp(0.7 * pow(ratio, 1.6) + (x->incident ? 0.3 : 0.0), 0.0, 0.98);
        incidents[x->district] += x->incident;
        sim_emit(em, "traffic.flow", x->tags, 2, round1(flow));
        sim_emit(em, "traffic.speed", x->tags, 2, round1(clamp(speed, 2.0, 120.0)));
        if (sim_emit(em, "traffic.occupancy", x->tags, 2, round1(occupancy)) != IOC_OK)
            return em->status;
    }
    for (int d = 0; d < SIM_NDISTRICTS; d++)
        if (w->districts[d].enabled &&
            sim_emit(em, "traffic.incidents", &w->districts[d].tag, 1, incidents[d]) != IOC_OK)
            break;
    return em->status;
}

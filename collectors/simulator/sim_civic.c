/* Public services (dossiers) and 1022 citizen feedback per district, cumulative per local day. */
#include "sim.h"

/* Province-wide totals on a weekday; districts get a share by population. */
#define ONLINE_PER_DAY 2600.0
#define OFFLINE_PER_DAY 1700.0
#define FEEDBACK_PER_DAY 220.0
#define BACKLOG_DAYS 2.0      /* dossiers wait about two office days */
#define OPEN_DAYS 1.5         /* feedback waits about one and a half office days */
#define DUTY_LEVEL 0.1        /* feedback handled outside office hours, relative to office */
#define OVERDUE_RATE (0.03 / SIM_DAY_S) /* per open feedback item */

static double share(int d)
{
    double total = 0.0;
    for (int i = 0; i < SIM_NDISTRICTS; i++)
        total += sim_districts[i].population;
    return sim_districts[d].population / total;
}

static int64_t at_most(int64_t v, int64_t max)
{
    return v < max ? v : max;
}

void sim_civic_build(sim_world_t *w)
{
    for (int d = 0; d < SIM_NDISTRICTS; d++)
        w->districts[d].late_share = sim_rng_range(&w->rng, 0.02, 0.09);
}

void sim_civic_settle(sim_world_t *w)
{
    for (int d = 0; d < SIM_NDISTRICTS; d++) {
        sim_district_t *x = &w->districts[d];
        x->backlog = sim_rng_poisson(&w->rng, BACKLOG_DAYS * (ONLINE_PER_DAY + OFFLINE_PER_DAY) * share(d));
        x->fb_open = sim_rng_poisson(&w->rng, OPEN_DAYS * FEEDBACK_PER_DAY * share(d));
    }
}

void sim_civic_new_day(sim_world_t *w)
{
    for (int d = 0; d < SIM_NDISTRICTS; d++) {
        sim_district_t *x = &w->districts[d];
        x->events = 0;
        x->dossiers_online = x->dossiers_offline = x->on_time = x->late = 0;
        x->fb_received = x->fb_resolved = x->fb_overdue = 0;
    }
}

void sim_civic_accrue(sim_world_t *w, double s0, double dt, int weekend)
{
    const double *mean = w->curve_mean;
    double office_day = mean[SIM_CURVE_OFFICE] * SIM_DAY_S; /* office seconds on a weekday */
    double online = sim_curve_integral(SIM_CURVE_ONLINE, s0, dt, weekend) / (mean[SIM_CURVE_ONLINE] * SIM_DAY_S);
    double offline = sim_curve_integral(SIM_CURVE_OFFICE, s0, dt, weekend) / office_day;
    double feedback = sim_curve_integral(SIM_CURVE_FEEDBACK, s0, dt, weekend) / (mean[SIM_CURVE_FEEDBACK] * SIM_DAY_S);
    double work = offline / BACKLOG_DAYS;
    double handling = (offline + DUTY_LEVEL * dt / office_day) / OPEN_DAYS;
    for (int d = 0; d < SIM_NDISTRICTS; d++) {
        sim_district_t *x = &w->districts[d];
        if (!x->enabled)
            continue;
        int64_t in_online = sim_rng_poisson(&w->rng, ONLINE_PER_DAY * share(d) * online);
        int64_t in_offline = sim_rng_poisson(&w->rng, OFFLINE_PER_DAY * share(d) * offline);
        x->dossiers_online += in_online;
        x->dossiers_offline += in_offline;
        x->backlog += in_online + in_offline;
        int64_t done = at_most(sim_rng_poisson(&w->rng, (double)x->backlog * work), x->backlog);
        int64_t late = sim_rng_binomial(&w->rng, done, x->late_share);
        x->backlog -= done;
        x->late += late;
        x->on_time += done - late;

        int64_t received = sim_rng_poisson(&w->rng, FEEDBACK_PER_DAY * share(d) * feedback);
        x->fb_received += received;
        x->fb_open += received;
        int64_t resolved = at_most(sim_rng_poisson(&w->rng, (double)x->fb_open * handling), x->fb_open);
        x->fb_open -= resolved;
        x->fb_resolved += resolved;
        x->fb_overdue += at_most(sim_rng_poisson(&w->rng, (double)x->fb_open * OVERDUE_RATE * dt), x->fb_open);
    }
}

int sim_civic_emit(sim_world_t *w, sim_emitter_t *em)
{
    for (int d = 0; d < SIM_NDISTRICTS; d++) {
        const sim_district_t *x = &w->districts[d];
        if (!x->enabled)
            continue;
        const ioc_tag_t *t = &x->tag;
        sim_emit(em, "service.dossiers_online", t, 1, (double)x->dossiers_online);
        sim_emit(em, "service.dossiers_offline", t, 1, (double)x->dossiers_offline);
        sim_emit(em, "service.processed_on_time", t, 1, (double)x->on_time);
        sim_emit(em, "service.processed_late", t, 1, (double)x->late);
        sim_emit(em, "feedback.received", t, 1, (double)x->fb_received);
        sim_emit(em, "feedback.resolved", t, 1, (double)x->fb_resolved);
        if (sim_emit(em, "feedback.overdue", t, 1, (double)x->fb_overdue) != IOC_OK)
            break;
    }
    return em->status;
}

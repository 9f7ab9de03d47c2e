/* The condition of a rule for one group from the values it has seen (see alert_input.h). */
#include <math.h>
#include <string.h>

#include "alerts/alert_input.h"

void alert_input_init(alert_input_t *in, int64_t now)
{
    memset(in, 0, sizeof *in);
    in->last_data_us = now;
}

void alert_input_value(alert_input_t *in, const alert_rule_t *r, bool has, double v, int64_t now)
{
    in->has = has && isfinite(v);
    in->value = v;
    if (!in->has)
        return;
    in->last_data_us = now;
    if (r->op != AOP_RATE)
        return;
    int64_t spacing = (int64_t)r->window_ms * 1000 / (ALERT_HIST / 2);
    uint32_t last = (in->head + ALERT_HIST - 1) % ALERT_HIST;
    if (in->nhist && now - in->hist[last].ts < spacing)
        return;
    in->hist[in->head].ts = now;
    in->hist[in->head].v = v;
    in->head = (in->head + 1) % ALERT_HIST;
    if (in->nhist < ALERT_HIST)
        in->nhist++;
}

/* The change over the window: now's value minus the one recorded about a window ago. */
static bool rate_of(const alert_input_t *in, const alert_rule_t *r, int64_t now, double *out)
{
    int64_t from = now - (int64_t)r->window_ms * 1000;
    int64_t slack = (int64_t)r->window_ms * 1000 / ALERT_HIST * 2;
    for (uint32_t i = 0; i < in->nhist; i++) {
        uint32_t k = (in->head + ALERT_HIST - in->nhist + i) % ALERT_HIST; /* oldest first */
        if (in->hist[k].ts >= from - slack) {
            if (in->hist[k].ts > from + slack)
                return false; /* the history starts inside the window */
            *out = in->value - in->hist[k].v;
            return true;
        }
    }
    return false;
}

int alert_input_cond(const alert_input_t *in, const alert_rule_t *r, int64_t now)
{
    double change;
    if (r->op == AOP_NODATA)
        return now - in->last_data_us >= (int64_t)r->after_ms * 1000;
    if (!in->has)
        return -1;
    if (r->op == AOP_RATE)
        return rate_of(in, r, now, &change) ? alert_rule_check(r, change) : -1;
    return alert_rule_check(r, in->value);
}

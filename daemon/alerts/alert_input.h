/* What a rule has seen of one group: the latest value, when data last came, and for rate rules
 * a ring of past values; from it, the condition at a given time. Pure, clock passed in. */
#ifndef IOCD_ALERT_INPUT_H
#define IOCD_ALERT_INPUT_H

#include <stdbool.h>
#include <stdint.h>

#include "alerts/alert_rule.h"

#define ALERT_HIST 64 /* past values kept for rate rules, spaced window/32 apart */

typedef struct alert_input {
    bool has;              /* the latest value exists (the indicator has data) */
    double value;
    int64_t last_data_us;  /* when a value last came; the start time before any. "No data"
                            * counts from here, whether values stop or the indicator says none */
    struct {
        int64_t ts;
        double v;
    } hist[ALERT_HIST];
    uint32_t nhist, head;
} alert_input_t;

/* Starts with no data since `now` (so "no data" counts from the start). */
void alert_input_init(alert_input_t *in, int64_t now);
/* Takes a value change at `now` (has false: the indicator lost its data). */
void alert_input_value(alert_input_t *in, const alert_rule_t *r, bool has, double v, int64_t now);
/* The rule's condition at `now`: 1 breach, 0 clear, -1 undecided (hysteresis band, no value,
 * or too little history for a rate). */
int alert_input_cond(const alert_input_t *in, const alert_rule_t *r, int64_t now);

#endif

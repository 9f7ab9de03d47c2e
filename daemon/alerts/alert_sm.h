/* The lifecycle of one alert slot (one rule and one group): ok -> pending -> firing -> resolved,
 * with `for`, flapping suppression, ack, silence and repeat notifications. Pure: the caller
 * passes the condition and the time, and gets back transitions (history) and notifications. */
#ifndef IOCD_ALERT_SM_H
#define IOCD_ALERT_SM_H

#include <stdbool.h>
#include <stdint.h>

#include "alerts/alert_rule.h"

typedef enum alert_state { AST_OK, AST_PENDING, AST_FIRING } alert_state_t;

/* Transitions, stored as history and shown live. */
typedef enum alert_trans {
    ATR_PENDING,    /* ok -> pending (condition true, waiting for `for`) */
    ATR_FIRING,     /* pending (or ok with for 0) -> firing */
    ATR_RESOLVED,   /* firing -> ok (past the clear threshold) */
    ATR_CANCELLED,  /* pending -> ok before `for` ran out: never fired */
    ATR_FLAP_START, /* too many changes in the flapping window: notifications held */
    ATR_FLAP_END,
} alert_trans_t;

/* Notifications for channels (webhooks). */
typedef enum alert_note { ANO_FIRING, ANO_RESOLVED, ANO_REPEAT, ANO_FLAPPING } alert_note_t;

typedef struct alert_sm_cfg {
    int64_t for_us;
    int64_t repeat_us;       /* 0: no repeats */
    uint32_t flap_changes;   /* 0: no flapping detection */
    int64_t flap_window_us;
} alert_sm_cfg_t;

typedef struct alert_sm {
    alert_state_t state;
    int64_t id;              /* the current (or last) episode's alert id; 0 before any */
    int64_t started_us;      /* when the episode went pending (or firing) */
    int64_t fired_us;        /* when it fired; 0 if it has not */
    int64_t resolved_us;     /* when the last episode ended */
    bool acked;
    int64_t silenced_until;  /* notifications held until then (0: not silenced) */
    bool flapping;
    int64_t changes[ALERT_FLAP_MAX]; /* times of fire/resolve changes, a ring */
    uint32_t nchanges, head;
    bool notified;           /* the last notification said "firing" for notified_id */
    int64_t notified_id;
    int64_t last_notify_us;
} alert_sm_t;

#define ALERT_SM_MAX_OUT 6

typedef struct alert_sm_out {
    int ntrans;
    alert_trans_t trans[ALERT_SM_MAX_OUT];
    int nnotes;
    alert_note_t notes[ALERT_SM_MAX_OUT];
    int64_t note_ids[ALERT_SM_MAX_OUT]; /* the alert id each notification is about */
    bool used_id;            /* next_id became the new episode's id */
} alert_sm_out_t;

/* The timing settings of a rule. */
void alert_sm_cfg_of(const alert_rule_t *r, alert_sm_cfg_t *c);

/* Advances the slot to `now` with the condition: 1 breach, 0 clear, -1 in the hysteresis band
 * (hold). A new episode takes next_id (out->used_id). Fills out (zeroed first). */
void alert_sm_step(alert_sm_t *s, const alert_sm_cfg_t *c, int cond, int64_t now,
                   int64_t next_id, alert_sm_out_t *out);
/* Acknowledges the active episode: no repeats until it ends. Returns false if none is active. */
bool alert_sm_ack(alert_sm_t *s);
/* Holds notifications until `until` (0 or a past time: unsilence). The next step sends what
 * was held back if the state still calls for it. */
void alert_sm_silence(alert_sm_t *s, int64_t until);
/* True while notifications are held by a silence at `now`. */
bool alert_sm_silenced(const alert_sm_t *s, int64_t now);

const char *alert_state_name(alert_state_t s);
const char *alert_trans_name(alert_trans_t t);
const char *alert_note_name(alert_note_t n);

#endif

/* Alerts internals: rules with their slots (one per group), the module state, shared helpers. */
#ifndef IOCD_ALERTS_INT_H
#define IOCD_ALERTS_INT_H

#include "alerts/alert_input.h"
#include "alerts/alert_rule.h"
#include "alerts/alert_sm.h"
#include "alerts/alerts.h"
#include "alerts/alerts_db.h"
#include "alerts/notifier.h"
#include "core/hashmap.h"

#define ALERTS_TICK_MS 1000
#define ALERTS_MAX_RULES 1000
#define ALERTS_MAX_SLOTS 10000      /* groups per rule; more are ignored (logged once) */
#define ALERTS_WEBHOOK_JOBS 256     /* webhook messages in flight or waiting to retry */
#define ALERTS_READY_GRACE_US (15LL * 1000000) /* evaluate without the database after this */

/* What the module knows of an indicator (from the config). */
typedef struct alerts_ind {
    char *id, *name_vi, *name_en, *unit;
    bool grouped;
} alerts_ind_t;

typedef struct alerts_rent alerts_rent_t;

/* One rule and one group: its lifecycle and the latest value. */
typedef struct alerts_slot {
    alerts_rent_t *re;
    char *group;
    alert_sm_t sm;
    alert_input_t in;
    char *acked_by, *ack_comment;
    int64_t acked_at;
    char *silenced_by;
} alerts_slot_t;

struct alerts_rent {
    alert_rule_t *r;
    alert_sm_cfg_t smc;
    const alerts_ind_t *ind;
    alerts_slot_t **slots;
    size_t nslots, capslots;
    hashmap_t by_group;
    bool slots_full_logged;
};

/* Counters for /metrics. */
typedef struct alerts_stats {
    uint64_t pending, firing;
    uint64_t notifications_sent, notifications_failed;
    uint64_t history_dropped;  /* history writes refused (database queue full) */
} alerts_stats_t;

struct alerts {
    uv_loop_t *loop;
    hub_t *hub;
    alerts_ind_t *inds;
    size_t ninds;
    alerts_rent_t **rules;
    size_t nrules;
    uv_timer_t tick;
    adb_t *db;
    notifier_t notifier;
    int64_t created_us, last_id;
    bool loaded;        /* stored rules and active alerts are loaded */
    bool loading;       /* the load is under way (retried each tick until it succeeds) */
    bool rules_loaded;  /* the first half of the load is done */
    bool closing;
    int closing_parts;
    void (*done)(void *ud);
    void *done_ud;
    alerts_stats_t st;
};

/* Wall clock in microseconds. */
int64_t alerts_now(void);
/* "2025-01-31T12:00:00.000Z" */
void alerts_iso(char *buf, size_t len, int64_t ts_us);
/* The next alert id (taken by setting last_id): milliseconds since the epoch times 100, and
 * always above the last one, so ids rise across restarts and stay under 10^15 (JSON numbers
 * print as plain integers). */
int64_t alerts_peek_id(const alerts_t *a, int64_t now_us);

const alerts_ind_t *alerts_ind_find(const alerts_t *a, const char *id);
/* The rule parser's view of the indicators. */
void alerts_env(alerts_t *a, alert_env_t *env);
alerts_rent_t *alerts_rule_find(const alerts_t *a, const char *id);
/* Adds a parsed rule (the module takes it). Returns the entry or NULL (ENOMEM). */
alerts_rent_t *alerts_rule_add(alerts_t *a, alert_rule_t *r);
/* Replaces a rule's definition, keeping its slots if indicator and group are unchanged;
 * otherwise its alerts end. */
void alerts_rule_replace(alerts_t *a, alerts_rent_t *re, alert_rule_t *r);
/* Ends the rule's alerts and frees it. */
void alerts_rule_remove(alerts_t *a, alerts_rent_t *re);
/* Finds the slot whose current or last episode is `id`. */
alerts_slot_t *alerts_slot_by_id(const alerts_t *a, int64_t id);
/* The slot of a rule for a group, created if asked (NULL when full or ENOMEM). */
alerts_slot_t *alerts_slot_get(alerts_t *a, alerts_rent_t *re, const char *group, bool create);
/* The alert document of a slot's episode as the API and the hub show it (caller owns). */
cJSON *alerts_doc(const alerts_slot_t *s);
/* Records an event of a slot: history row, alert row, hub frame. who/comment may be NULL. */
void alerts_record(alerts_t *a, alerts_slot_t *s, const char *event, const char *who,
                   const char *comment);

/* Persistence (alerts_persist.c): loads the stored rules and active alerts once the database
 * is connected (and migrated); called on each connection and each tick until loaded. */
void alerts_db_ready(void *ud);

/* Error body {"error": msg, "field": field}. */
cJSON *alerts_err_json(const char *field, const char *msg);

#endif

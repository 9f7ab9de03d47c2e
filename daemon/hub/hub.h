/* The hub: live updates to WebSocket clients. Topics, per-tick batching, frames serialised once
 * and shared by reference count, per-connection bounded and conflated queues. */
#ifndef IOCD_HUB_H
#define IOCD_HUB_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "config/config.h"
#include "web/web.h"

typedef struct hub hub_t;

/* One indicator value for one group, as DESIGN.md's update items carry it. */
typedef struct hub_item {
    const char *indicator; /* indicator id */
    const char *group;     /* group key, e.g. "Tân An"; "" for an ungrouped indicator */
    int64_t ts_us;         /* time of the value */
    double value;
    bool has_value;        /* false: no data (value is sent as null) */
    const char *status;    /* "ok", "warn", "crit" or "no-data" */
} hub_item_t;

/* Builds the current state for a snapshot: a JSON array of items (same fields as updates) for
 * the topic "indicators" or "indicator:<id>", or of alerts for "alerts". The hub owns the
 * returned value. NULL means the topic is unknown. */
typedef cJSON *(*hub_snapshot_fn)(void *ud, const char *topic);

typedef struct hub_opts {
    uint32_t tick_ms;        /* updates are batched per tick (default 250): at most one frame
                              * per topic per tick; the first change after a quiet tick is
                              * sent on the next loop turn */
    uint32_t max_queue;      /* frames queued per connection before it is resynced (default 64) */
} hub_opts_t;

/* Creates the hub on the loop. Returns 0 or an ioc_err_t. */
int hub_create(uv_loop_t *loop, const hub_opts_t *opts, hub_t **out);
/* Sets who answers snapshot requests (the engine, and alerts for "alerts"). */
void hub_set_snapshot_provider(hub_t *h, const char *topic_prefix, hub_snapshot_fn fn, void *ud);
/* Records a changed value; conflated per (indicator, group) until the next tick. Strings copied. */
void hub_update(hub_t *h, const hub_item_t *item);
/* Sends one alert event (copied) to "alerts" subscribers at the next tick. */
void hub_alert(hub_t *h, const cJSON *alert);
/* Closes every connection's hub state and frees the hub after its timer closes. Call it after
 * engine_close (the engine talks to the hub until then) and after hub_detach. */
void hub_close(hub_t *h, void (*done)(void *ud), void *ud);
/* Closes the /ws connections and detaches from the web server (later upgrades are refused).
 * Call it before web_close; the hub still takes updates (and drops them). Idempotent. */
void hub_detach(hub_t *h);

/* Serves /ws (protocol "ioc.v1") on w. Upgrades are checked against **cfgp each time (Origin
 * must be iocd's own; credentials as the API; any role but writer), so after SIGHUP the new
 * config applies. Returns 0 or IOC_EINVAL if already attached. */
int hub_attach(hub_t *h, web_t *w, config_t *const *cfgp);
/* An item as update and snapshot frames carry it: {"indicator","group","ts","value","status"}
 * with ts as RFC 3339 UTC with milliseconds and value null without data. Caller owns it; NULL
 * on ENOMEM. Snapshot providers should build their items with it. */
cJSON *hub_item_json(const hub_item_t *item);

/* Closes the /ws connections opened with a credential that was revoked or expired (the
 * principal auth_identify gave at the upgrade; 0 does nothing). Returns how many. */
size_t hub_close_principal(hub_t *h, uint64_t principal);

/* Counters (also on /metrics as iocd_ws_*). */
typedef struct hub_stats {
    uint64_t connections;   /* open now */
    uint64_t accepted, refused;
    uint64_t frames_built;  /* frames serialised (an update frame shared by N clients counts 1) */
    uint64_t frames_sent;
    uint64_t bad_frames;    /* client messages answered with an error */
    uint64_t resyncs;       /* queues dropped for a fresh snapshot (client fell behind) */
    uint64_t queued;        /* frames waiting in all connection queues now */
} hub_stats_t;
void hub_get_stats(const hub_t *h, hub_stats_t *out);

#endif

/* The hub: collects changed values and alert events, and once per tick serialises each
 * topic's frame once and queues it, shared, to every subscribed connection. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/metrics.h"
#include "hub/hub_int.h"
#include "ioc/error.h"

#define DEFAULT_TICK_MS 250
#define DEFAULT_MAX_QUEUE 64

static void render_metrics(strbuf_t *out, void *ud)
{
    const hub_t *h = ud;
    static const struct {
        const char *name, *type, *help;
        size_t off;
    } m[] = {
        {"iocd_ws_connections", "gauge", "Open /ws connections", offsetof(hub_stats_t, connections)},
        {"iocd_ws_accepted_total", "counter", "/ws upgrades accepted", offsetof(hub_stats_t, accepted)},
        {"iocd_ws_refused_total", "counter", "/ws upgrades refused (Origin, credentials, role)",
         offsetof(hub_stats_t, refused)},
        {"iocd_ws_frames_built_total", "counter", "Frames serialised (shared frames count once)",
         offsetof(hub_stats_t, frames_built)},
        {"iocd_ws_frames_sent_total", "counter", "Frames written to clients", offsetof(hub_stats_t, frames_sent)},
        {"iocd_ws_bad_frames_total", "counter", "Client messages answered with an error",
         offsetof(hub_stats_t, bad_frames)},
        {"iocd_ws_resyncs_total", "counter", "Client queues dropped for a fresh snapshot",
         offsetof(hub_stats_t, resyncs)},
        {"iocd_ws_queued_frames", "gauge", "Frames waiting in client queues", offsetof(hub_stats_t, queued)},
    };

    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        metrics_header(out, m[i].name, m[i].type, m[i].help);
        strbuf_printf(out, "%s %llu\n", m[i].name,
                      (unsigned long long)*(const uint64_t *)((const char *)&h->st + m[i].off));
    }
}

int hub_create(uv_loop_t *loop, const hub_opts_t *opts, hub_t **out)
{
    hub_t *h = calloc(1, sizeof *h);
    int rc;

    *out = NULL;
    if (!h)
        return IOC_ENOMEM;
    h->loop = loop;
    h->opts.tick_ms = opts && opts->tick_ms ? opts->tick_ms : DEFAULT_TICK_MS;
    h->opts.max_queue = opts && opts->max_queue ? opts->max_queue : DEFAULT_MAX_QUEUE;
    hub_pending_init(&h->pending, HUB_MAX_PENDING);
    rc = uv_timer_init(loop, &h->tick);
    if (rc < 0) {
        free(h);
        return IOC_EIO;
    }
    h->tick.data = h;
    metrics_register(render_metrics, h);
    *out = h;
    return IOC_OK;
}

void hub_set_snapshot_provider(hub_t *h, const char *topic_prefix, hub_snapshot_fn fn, void *ud)
{
    hub_provider_t *p = NULL;
    size_t i;

    for (i = 0; i < h->nprov && !p; i++)
        if (!strcmp(h->prov[i].prefix, topic_prefix))
            p = &h->prov[i];
    if (!p) {
        if (h->nprov == HUB_MAX_PROVIDERS || strlen(topic_prefix) >= sizeof p->prefix) {
            log_error("hub", "event=provider_refused prefix=%s", topic_prefix);
            return;
        }
        p = &h->prov[h->nprov++];
        strcpy(p->prefix, topic_prefix);
    }
    p->fn = fn;
    p->ud = ud;
}

cJSON *hub_provide(hub_t *h, const char *topic, bool *known)
{
    const hub_provider_t *best = NULL;
    size_t i, n, blen = 0;

    for (i = 0; i < h->nprov; i++) {
        n = strlen(h->prov[i].prefix);
        if (h->prov[i].fn && !strncmp(topic, h->prov[i].prefix, n) && (!best || n > blen)) {
            best = &h->prov[i];
            blen = n;
        }
    }
    *known = best != NULL;
    return best ? best->fn(best->ud, topic) : NULL;
}

static void on_tick(uv_timer_t *t)
{
    hub_t *h = t->data;

    h->tick_armed = false;
    hub_flush(h);
}

/* Starts the tick timer when the first change of a tick arrives, so an idle hub sleeps. The
 * tick ends tick_ms after the previous flush: a change after a quiet spell goes out on the
 * next loop turn (with everything its producer publishes in the same callback), and a busy
 * stream still gets at most one frame per tick per topic. */
static void arm(hub_t *h)
{
    uint64_t now, due;

    if (h->tick_armed || h->closing)
        return;
    h->tick_armed = true;
    now = uv_now(h->loop);
    due = h->last_flush_ms + h->opts.tick_ms;
    uv_timer_start(&h->tick, on_tick, due > now ? due - now : 0, 0);
}

void hub_update(hub_t *h, const hub_item_t *item)
{
    int rc;

    if (h->closing || !item->indicator)
        return;
    rc = hub_pending_put(&h->pending, item);
    if (rc < 0 && !h->pending_lost) {
        /* no silent gap: every indicator subscriber gets a snapshot at the tick instead */
        log_warn("hub", "event=updates_lost reason=%s action=resync", ioc_strerror(rc));
        h->pending_lost = true;
    }
    arm(h);
}

void hub_alert(hub_t *h, const cJSON *alert)
{
    cJSON *copy;

    if (h->closing)
        return;
    if (h->nalerts == HUB_MAX_ALERTS || !(copy = cJSON_Duplicate(alert, 1))) {
        h->alerts_lost = true;
    } else {
        h->alerts[h->nalerts++] = copy;
    }
    arm(h);
}

/* Builds an update frame from a JSON array of items (consumed). Returns NULL on ENOMEM. */
static hub_frame_t *update_frame(hub_t *h, cJSON *items)
{
    cJSON *body = cJSON_CreateObject();
    hub_frame_t *f = NULL;

    if (body && items && cJSON_AddItemToObject(body, "items", items)) {
        items = NULL;
        f = hub_frame_new("update", body);
        h->st.frames_built += f != NULL;
    }
    cJSON_Delete(items);
    cJSON_Delete(body);
    return f;
}

/* The update frame of one indicator topic for this tick, built at most once per tick. The
 * cache maps id (a connection's string, alive during the flush) to the frame, or to `none`
 * for an id without changes. Returns the frame, `none`, or NULL on ENOMEM. */
static hub_frame_t *id_frame(hub_t *h, hashmap_t *cache, const char *id, hub_frame_t *none)
{
    hub_frame_t *f = hashmap_get(cache, id);
    cJSON *items;

    if (f)
        return f;
    items = hub_pending_json(&h->pending, id);
    if (!items)
        return NULL;
    if (cJSON_GetArraySize(items) == 0) {
        cJSON_Delete(items);
        f = none;
    } else if (!(f = update_frame(h, items))) {
        return NULL;
    }
    if (hashmap_put(cache, id, f) < 0) {
        if (f != none)
            hub_frame_unref(f);
        return NULL;
    }
    return f;
}

/* Frees the per-tick cache's frames. */
static void drop_cache(hashmap_t *cache, hub_frame_t *none)
{
    for (size_t i = 0; i < cache->cap; i++)
        if (cache->slots[i].key && cache->slots[i].value != none)
            hub_frame_unref(cache->slots[i].value);
    hashmap_free(cache);
}

/* Drops a connection's queue and makes a snapshot due (its updates could not be queued). */
static void resync(hub_conn_t *c)
{
    hub_conn_drop_queue(c);
    c->resync = true;
    c->h->st.resyncs++;
    web_ws_want_write(c->ws);
}

/* Queues this tick's indicator updates to their subscribers: one frame for "indicators",
 * one per "indicator:<id>" topic with changes, each shared by all who want it. */
static void flush_updates(hub_t *h)
{
    hub_frame_t *all = NULL, none, *f;
    bool lost = h->pending_lost;
    hashmap_t cache;
    hub_conn_t *c;
    size_t i;

    hashmap_init(&cache);
    if (h->pending.n && !lost) {
        for (c = h->conns; c && !c->all_indicators; c = c->next)
            ;
        if (c && !(all = update_frame(h, hub_pending_json(&h->pending, NULL))))
            lost = true;
    }
    for (c = h->conns; c && h->pending.n + lost; c = c->next) {
        if (lost && (c->all_indicators || c->nids)) {
            resync(c);
            continue;
        }
        if (c->all_indicators) {
            hub_conn_push(c, all, true);
            continue;
        }
        for (i = 0; i < c->nids; i++) {
            f = id_frame(h, &cache, c->ids[i], &none);
            if (!f) {
                resync(c);
                break;
            }
            if (f != &none)
                hub_conn_push(c, f, true);
        }
    }
    hub_frame_unref(all);
    drop_cache(&cache, &none);
    hub_pending_clear(&h->pending);
    h->pending_lost = false;
}

/* Queues this tick's alert events to "alerts" subscribers, one shared frame per event. */
static void flush_alerts(hub_t *h)
{
    hub_frame_t *f;
    hub_conn_t *c;
    cJSON *body;
    size_t i;

    for (i = 0; i < h->nalerts; i++) {
        body = cJSON_CreateObject();
        f = NULL;
        if (body && cJSON_AddItemToObject(body, "alert", h->alerts[i]))
            f = hub_frame_new("alert", body);
        else
            cJSON_Delete(h->alerts[i]);
        h->alerts[i] = NULL;
        cJSON_Delete(body);
        h->alerts_lost |= !f;
        h->st.frames_built += f != NULL;
        for (c = h->conns; f && c; c = c->next)
            if (c->alerts)
                hub_conn_push(c, f, true);
        hub_frame_unref(f);
    }
    h->nalerts = 0;
    for (c = h->conns; h->alerts_lost && c; c = c->next)
        if (c->alerts)
            resync(c);
    h->alerts_lost = false;
}

void hub_flush(hub_t *h)
{
    hub_conn_t *c, *next;

    h->last_flush_ms = uv_now(h->loop);
    h->flushing = true;
    flush_updates(h);
    flush_alerts(h);
    h->flushing = false;
    /* Write now rather than after a poll round: asking lws for a writeable callback costs a
     * poll change and a poll round per frame (BENCHMARKS.md). Writing may close c (ws_closed
     * frees it), never another connection. */
    for (c = h->conns; c; c = next) {
        next = c->next;
        if (!c->kick)
            continue;
        c->kick = false;
        web_ws_write_now(c->ws);
    }
}

int hub_attach(hub_t *h, web_t *w, config_t *const *cfgp)
{
    if (h->web)
        return IOC_EINVAL;
    h->web = w;
    h->cfgp = cfgp;
    web_set_ws_handler(w, &hub_ws_handler, h);
    return IOC_OK;
}

void hub_get_stats(const hub_t *h, hub_stats_t *out)
{
    *out = h->st;
}

static void on_timer_closed(uv_handle_t *handle)
{
    hub_t *h = handle->data;
    void (*done)(void *) = h->done;
    void *ud = h->done_ud;

    free(h);
    if (done)
        done(ud);
}

void hub_detach(hub_t *h)
{
    hub_conn_t *c, *next;

    if (h->web)
        web_set_ws_handler(h->web, NULL, NULL);
    h->web = NULL;
    for (c = h->conns; c; c = next) {
        next = c->next;
        web_ws_close(c->ws);
        hub_conn_clear(c);
        free(c);
    }
    h->conns = NULL;
    h->st.connections = 0;
    h->st.queued = 0;
}

size_t hub_close_principal(hub_t *h, uint64_t principal)
{
    hub_conn_t *c, *next;
    size_t n = 0;

    for (c = h->conns; principal && c; c = next) {
        next = c->next;
        if (c->principal != principal)
            continue;
        if (c->prev)
            c->prev->next = c->next;
        else
            h->conns = c->next;
        if (c->next)
            c->next->prev = c->prev;
        h->st.connections--;
        web_ws_close(c->ws);
        hub_conn_clear(c);
        free(c);
        n++;
    }
    return n;
}

void hub_close(hub_t *h, void (*done)(void *ud), void *ud)
{
    size_t i;

    if (h->closing)
        return;
    h->closing = true;
    h->done = done;
    h->done_ud = ud;
    hub_detach(h);
    hub_pending_free(&h->pending);
    for (i = 0; i < h->nalerts; i++)
        cJSON_Delete(h->alerts[i]);
    h->nalerts = 0;
    metrics_unregister(render_metrics, h);
    uv_timer_stop(&h->tick);
    uv_close((uv_handle_t *)&h->tick, on_timer_closed);
}

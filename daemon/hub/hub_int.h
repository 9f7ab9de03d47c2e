/* Private definitions of the hub: shared frames, client ops, the per-tick conflation table,
 * connections and the hub itself. */
#ifndef IOCD_HUB_INT_H
#define IOCD_HUB_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/hashmap.h"
#include "hub/hub.h"

#define HUB_HEAD_ROOM 64       /* bytes before a frame's tail for {"type":"<type>","seq":<n> */
#define HUB_MAX_TYPE 16        /* longest frame type name */
#define HUB_MAX_TOPICS 16      /* topics per connection */
#define HUB_MAX_ID 128         /* longest indicator id in a topic */
#define HUB_MAX_TOPIC (10 + HUB_MAX_ID) /* "indicator:" + id */
#define HUB_MAX_PENDING 65536  /* (indicator, group) pairs collected per tick */
#define HUB_MAX_ALERTS 256     /* alert events collected per tick */
#define HUB_MAX_PROVIDERS 4
#define HUB_MAX_QUEUE_BYTES (1u << 20) /* frame bytes queued per connection (beyond one frame) */

/* A frame shared by reference count. Only its tail is stored: the head
 * {"type":"<type>","seq":<n> is written in front of it for each connection when sent (seq
 * differs per connection), into HUB_HEAD_ROOM bytes reserved before the tail, behind
 * WEB_WS_PRE bytes for the WebSocket header. Single-threaded: the loop owns it. */
typedef struct hub_frame {
    uint32_t refs;
    char type[HUB_MAX_TYPE + 1];
    size_t len;          /* bytes of tail */
    unsigned char *tail; /* "," + the body object's members + "}", inside mem */
    unsigned char mem[];
} hub_frame_t;

/* Serialises `body` (a JSON object; its members follow seq) once into a new frame with one
 * reference. `type` is at most HUB_MAX_TYPE bytes. Returns NULL on ENOMEM. */
hub_frame_t *hub_frame_new(const char *type, const cJSON *body);
/* Adds a reference; returns f. */
hub_frame_t *hub_frame_ref(hub_frame_t *f);
/* Drops a reference; frees the frame with the last one. NULL is ignored. */
void hub_frame_unref(hub_frame_t *f);
/* Writes the head for `seq` in front of the tail and returns where the whole frame starts
 * (with at least WEB_WS_PRE writable bytes before it) and its length in *len. The pointer is
 * valid until the next call on the same frame. */
unsigned char *hub_frame_render(hub_frame_t *f, uint64_t seq, size_t *len);

typedef enum hub_op_kind { HUB_OP_SUBSCRIBE, HUB_OP_UNSUBSCRIBE, HUB_OP_PING } hub_op_kind_t;

/* A parsed client message. */
typedef struct hub_op {
    hub_op_kind_t kind;
    size_t ntopics;
    char topics[HUB_MAX_TOPICS][HUB_MAX_TOPIC + 1]; /* "indicators", "alerts", "indicator:<id>" */
} hub_op_t;

/* Parses one client message of len bytes (not NUL-terminated; copied into a terminated
 * buffer before cJSON sees it). Returns 0, or IOC_ETOOBIG / IOC_EINVAL with a message naming
 * what is wrong (key, topics[i], byte offset) in err. */
int hub_op_parse(const char *data, size_t len, hub_op_t *op, char *err, size_t errlen);

/* One conflated value: the latest for its (indicator, group) in this tick. */
typedef struct hub_pitem {
    const char *key;        /* indicator "\x1f" group, inside this allocation */
    const char *indicator;  /* inside this allocation */
    const char *group;
    int64_t ts_us;
    double value;
    bool has_value;
    char status[16];
} hub_pitem_t;

/* The values changed since the last tick, one per (indicator, group), in first-seen order. */
typedef struct hub_pending {
    hashmap_t map;          /* key -> hub_pitem_t */
    hub_pitem_t **items;
    size_t n, cap, max;
} hub_pending_t;

/* Initialises an empty table holding at most max pairs. */
void hub_pending_init(hub_pending_t *p, size_t max);
/* Records an item, replacing the value of the same pair. Returns 0, IOC_EFULL (max pairs
 * reached; nothing recorded) or IOC_ENOMEM. */
int hub_pending_put(hub_pending_t *p, const hub_item_t *it);
/* The items of one indicator (or all with NULL) as a JSON array, caller-owned; an empty array
 * if none; NULL on ENOMEM. */
cJSON *hub_pending_json(const hub_pending_t *p, const char *indicator);
/* Forgets every item (keeps the table usable). */
void hub_pending_clear(hub_pending_t *p);
/* Frees the table. */
void hub_pending_free(hub_pending_t *p);

/* One /ws client. */
typedef struct hub_conn {
    hub_t *h;
    web_ws_t *ws;
    uint64_t principal;      /* the revocable credential it came with (auth), or 0 */
    struct hub_conn *prev, *next;
    uint64_t seq;            /* seq of the last frame sent */
    hub_frame_t **q;         /* ring of h->opts.max_queue frames, allocated on first use */
    uint32_t qhead, qlen;
    size_t qbytes;           /* tail bytes of the queued frames */
    bool all_indicators;     /* subscribed to "indicators" */
    bool alerts;             /* subscribed to "alerts" */
    bool resync;             /* a snapshot is due; updates are not queued until it is sent */
    bool kick;               /* queued to during a flush: written when the flush ends */
    uint8_t nids;
    char *ids[HUB_MAX_TOPICS]; /* ids of "indicator:<id>" topics; owned */
} hub_conn_t;

/* Queues a frame (takes a new reference). If the queue is full (max_queue frames, or over
 * HUB_MAX_QUEUE_BYTES with this frame and at least one queued) the client has fallen behind:
 * the queue is dropped and a snapshot made due instead. Updates and alerts (`state` true) are
 * skipped while a snapshot is due, as it will carry them. Asks for a write (during a flush,
 * marks the connection for hub_flush to write at its end). */
void hub_conn_push(hub_conn_t *c, hub_frame_t *f, bool state);
/* Removes and returns the oldest queued frame (the caller gets its reference), or NULL. */
hub_frame_t *hub_conn_pop(hub_conn_t *c);
/* Drops every queued frame. */
void hub_conn_drop_queue(hub_conn_t *c);
/* Applies a subscribe or unsubscribe op. Returns 0, or IOC_EFULL (over HUB_MAX_TOPICS topics,
 * nothing changed) or IOC_ENOMEM. */
int hub_conn_apply(hub_conn_t *c, const hub_op_t *op);
/* True if the connection is subscribed to "indicator:<id>" by id. */
bool hub_conn_has_id(const hub_conn_t *c, const char *id);
/* Frees the connection's queue and topics (not the struct). */
void hub_conn_clear(hub_conn_t *c);

typedef struct hub_provider {
    char prefix[32];
    hub_snapshot_fn fn;
    void *ud;
} hub_provider_t;

struct hub {
    uv_loop_t *loop;
    hub_opts_t opts;
    uv_timer_t tick;
    bool tick_armed;
    bool flushing;           /* inside hub_flush: pushes mark connections instead of polling */
    uint64_t last_flush_ms;  /* loop time of the last flush */
    web_t *web;
    config_t *const *cfgp;
    hub_provider_t prov[HUB_MAX_PROVIDERS];
    size_t nprov;
    hub_pending_t pending;
    bool pending_lost;       /* the table filled up: every indicator subscriber is resynced */
    cJSON *alerts[HUB_MAX_ALERTS];
    size_t nalerts;
    bool alerts_lost;
    hub_conn_t *conns;
    hub_stats_t st;
    bool closing;
    void (*done)(void *ud);
    void *done_ud;
};

/* The snapshot frame for a connection's current topics, or NULL on ENOMEM. */
hub_frame_t *hub_snapshot(hub_t *h, const hub_conn_t *c);
/* Asks the provider for a topic; returns the caller-owned result, or NULL if the topic is
 * unknown to it. *known is false when no provider takes the topic at all. */
cJSON *hub_provide(hub_t *h, const char *topic, bool *known);
/* Builds and queues the frames of one tick (conflated updates, alerts), then writes each
 * marked connection's first frame at once (web_ws_write_now). Call it from the loop, never
 * from inside a web callback. */
void hub_flush(hub_t *h);

/* The web handler the hub installs for /ws. */
extern const web_ws_handler_t hub_ws_handler;

#endif

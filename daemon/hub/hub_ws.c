/* The hub's side of /ws: upgrade checks (Origin, credentials, role), client ops, snapshots,
 * and writing one queued frame per writeable callback with the connection's next seq. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "core/log.h"
#include "hub/hub_int.h"
#include "ioc/error.h"

/* Roles that may subscribe: all but writer (admin included). */
#define READ_ROLES (ROLE_VIEWER | ROLE_OPERATOR | ROLE_ANALYST | ROLE_ADMIN)

static int ws_accept(void *ud, web_ws_upgrade_t *up)
{
    hub_t *h = ud;
    const config_t *cfg = h->cfgp ? *h->cfgp : NULL;
    auth_ident_t who;
    int role, status = 0;

    if (up->origin && !web_ws_origin_ok(up->origin, up->host))
        status = 403; /* a page from another site must not ride on the user's credentials */
    else if (!cfg || !(role = auth_identify(cfg, up->authorization, up->cookie, &who)))
        status = 401;
    else if (!(role & READ_ROLES))
        status = 403;
    if (status) {
        h->st.refused++;
    } else {
        h->st.accepted++;
        up->principal = who.principal;
    }
    return status;
}

static void *ws_open(void *ud, web_ws_t *ws)
{
    hub_t *h = ud;
    hub_conn_t *c;

    if (h->closing || !(c = calloc(1, sizeof *c)))
        return NULL;
    c->h = h;
    c->ws = ws;
    c->principal = web_ws_principal(ws);
    c->next = h->conns;
    if (h->conns)
        h->conns->prev = c;
    h->conns = c;
    h->st.connections++;
    return c;
}

/* Queues a small frame for this connection only (pong, error). */
static void push_own(hub_conn_t *c, const char *type, cJSON *body)
{
    hub_frame_t *f = body ? hub_frame_new(type, body) : NULL;

    cJSON_Delete(body);
    if (!f)
        return;
    c->h->st.frames_built++;
    hub_conn_push(c, f, false);
    hub_frame_unref(f);
}

static void send_error(hub_conn_t *c, const char *message)
{
    cJSON *body = cJSON_CreateObject();

    c->h->st.bad_frames++;
    if (body && !cJSON_AddStringToObject(body, "message", message)) {
        cJSON_Delete(body);
        body = NULL;
    }
    push_own(c, "error", body);
}

/* Checks that every "indicator:<id>" topic names an indicator the provider knows. Returns
 * the index of the first unknown one, or -1. */
static int unknown_topic(hub_t *h, const hub_op_t *op)
{
    cJSON *items;
    bool known;

    for (size_t i = 0; i < op->ntopics; i++) {
        if (strncmp(op->topics[i], "indicator:", 10))
            continue;
        items = hub_provide(h, op->topics[i], &known);
        cJSON_Delete(items);
        if (!items)
            return (int)i;
    }
    return -1;
}

static void ws_message(void *conn, const char *data, size_t len, const char *err)
{
    hub_conn_t *c = conn;
    hub_op_t op;
    char msg[256];
    int rc, bad;

    if (err) {
        send_error(c, err);
        return;
    }
    if (hub_op_parse(data, len, &op, msg, sizeof msg) < 0) {
        send_error(c, msg);
        return;
    }
    switch (op.kind) {
    case HUB_OP_PING:
        push_own(c, "pong", cJSON_CreateObject());
        return;
    case HUB_OP_SUBSCRIBE:
        if ((bad = unknown_topic(c->h, &op)) >= 0) {
            snprintf(msg, sizeof msg, "topics[%d]: unknown indicator", bad);
            send_error(c, msg);
            return;
        }
        rc = hub_conn_apply(c, &op);
        if (rc < 0) {
            snprintf(msg, sizeof msg, "key \"topics\": %s",
                     rc == IOC_EFULL ? "over 16 indicator topics on this connection"
                                     : "out of memory");
            send_error(c, msg);
            return;
        }
        c->resync = true; /* the snapshot of everything subscribed, then updates */
        web_ws_want_write(c->ws);
        return;
    case HUB_OP_UNSUBSCRIBE:
        hub_conn_apply(c, &op);
        return;
    }
}

/* Adds a provider's array for topic to dst (items or alerts), moving its elements. */
static void add_provided(hub_t *h, const char *topic, cJSON *dst)
{
    bool known;
    cJSON *arr = hub_provide(h, topic, &known), *it;

    if (cJSON_IsArray(arr))
        while ((it = cJSON_DetachItemFromArray(arr, 0)))
            cJSON_AddItemToArray(dst, it);
    cJSON_Delete(arr);
}

hub_frame_t *hub_snapshot(hub_t *h, const hub_conn_t *c)
{
    cJSON *body = cJSON_CreateObject(), *topics, *items, *alerts = NULL;
    hub_frame_t *f = NULL;
    char topic[HUB_MAX_TOPIC + 1];
    size_t i;

    topics = cJSON_AddArrayToObject(body, "topics");
    items = cJSON_AddArrayToObject(body, "items");
    if (c->alerts)
        alerts = cJSON_AddArrayToObject(body, "alerts");
    if (!topics || !items || (c->alerts && !alerts))
        goto out;
    if (c->all_indicators) {
        cJSON_AddItemToArray(topics, cJSON_CreateString("indicators"));
        add_provided(h, "indicators", items);
    }
    for (i = 0; i < c->nids; i++) {
        snprintf(topic, sizeof topic, "indicator:%s", c->ids[i]);
        cJSON_AddItemToArray(topics, cJSON_CreateString(topic));
        if (!c->all_indicators)
            add_provided(h, topic, items);
    }
    if (c->alerts) {
        cJSON_AddItemToArray(topics, cJSON_CreateString("alerts"));
        add_provided(h, "alerts", alerts);
    }
    f = hub_frame_new("snapshot", body);
    h->st.frames_built += f != NULL;
out:
    cJSON_Delete(body);
    return f;
}

static int ws_writeable(void *conn)
{
    hub_conn_t *c = conn;
    hub_frame_t *f = hub_conn_pop(c);
    unsigned char *p;
    size_t len;
    int rc;

    if (!f && c->resync) {
        f = hub_snapshot(c->h, c);
        if (!f)
            return -1;
        c->resync = false;
    }
    if (!f)
        return 0;
    p = hub_frame_render(f, ++c->seq, &len);
    rc = web_ws_send(c->ws, p, len);
    hub_frame_unref(f);
    if (rc < 0)
        return -1;
    c->h->st.frames_sent++;
    if (c->qlen || c->resync)
        web_ws_want_write(c->ws);
    return 0;
}

static void ws_closed(void *conn)
{
    hub_conn_t *c = conn;
    hub_t *h = c->h;

    if (c->prev)
        c->prev->next = c->next;
    else
        h->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    h->st.connections--;
    hub_conn_clear(c);
    free(c);
}

const web_ws_handler_t hub_ws_handler = {
    .accept = ws_accept,
    .open = ws_open,
    .message = ws_message,
    .writeable = ws_writeable,
    .closed = ws_closed,
};

/* One /ws client's hub state: its topics and its bounded queue of shared frames, with the
 * policy for a client that falls behind (drop the queue, send a fresh snapshot). */
#include <stdlib.h>
#include <string.h>

#include "hub/hub_int.h"
#include "ioc/error.h"

void hub_conn_drop_queue(hub_conn_t *c)
{
    while (c->qlen)
        hub_frame_unref(hub_conn_pop(c));
}

hub_frame_t *hub_conn_pop(hub_conn_t *c)
{
    hub_frame_t *f;

    if (!c->qlen)
        return NULL;
    f = c->q[c->qhead];
    c->qhead = (c->qhead + 1) % c->h->opts.max_queue;
    c->qlen--;
    c->qbytes -= f->len;
    c->h->st.queued--;
    return f;
}

void hub_conn_push(hub_conn_t *c, hub_frame_t *f, bool state)
{
    hub_t *h = c->h;
    uint32_t max = h->opts.max_queue;

    if (state && c->resync)
        return;
    if (!c->q && !(c->q = malloc(max * sizeof *c->q))) {
        c->resync = true; /* cannot queue: a snapshot later is the honest fallback */
        goto out;
    }
    if (c->qlen == max || (c->qlen && c->qbytes + f->len > HUB_MAX_QUEUE_BYTES)) {
        hub_conn_drop_queue(c);
        c->resync = true;
        h->st.resyncs++;
        if (state)
            goto out;
    }
    c->q[(c->qhead + c->qlen) % max] = hub_frame_ref(f);
    c->qlen++;
    c->qbytes += f->len;
    h->st.queued++;
out:
    if (h->flushing)
        c->kick = true;
    else
        web_ws_want_write(c->ws);
}

bool hub_conn_has_id(const hub_conn_t *c, const char *id)
{
    for (size_t i = 0; i < c->nids; i++)
        if (!strcmp(c->ids[i], id))
            return true;
    return false;
}

/* Removes the id at index i. */
static void remove_id(hub_conn_t *c, size_t i)
{
    free(c->ids[i]);
    c->ids[i] = c->ids[--c->nids];
}

int hub_conn_apply(hub_conn_t *c, const hub_op_t *op)
{
    size_t i, j, added = 0;
    const char *t;
    char *copy;

    if (op->kind == HUB_OP_UNSUBSCRIBE) {
        for (i = 0; i < op->ntopics; i++) {
            t = op->topics[i];
            if (!strcmp(t, "indicators"))
                c->all_indicators = false;
            else if (!strcmp(t, "alerts"))
                c->alerts = false;
            for (j = 0; j < c->nids; j++)
                if (!strncmp(t, "indicator:", 10) && !strcmp(c->ids[j], t + 10))
                    remove_id(c, j--);
        }
        return IOC_OK;
    }
    if (op->kind != HUB_OP_SUBSCRIBE)
        return IOC_EINVAL;
    /* count first so that an op over the limit changes nothing */
    for (i = 0; i < op->ntopics; i++) {
        t = op->topics[i];
        if (strncmp(t, "indicator:", 10) || hub_conn_has_id(c, t + 10))
            continue;
        for (j = 0; j < i && strcmp(op->topics[j], t); j++)
            ;
        added += j == i;
    }
    if (c->nids + added > HUB_MAX_TOPICS)
        return IOC_EFULL;
    for (i = 0; i < op->ntopics; i++) {
        t = op->topics[i];
        if (!strcmp(t, "indicators"))
            c->all_indicators = true;
        else if (!strcmp(t, "alerts"))
            c->alerts = true;
        else if (!hub_conn_has_id(c, t + 10)) {
            if (!(copy = strdup(t + 10)))
                return IOC_ENOMEM;
            c->ids[c->nids++] = copy;
        }
    }
    return IOC_OK;
}

void hub_conn_clear(hub_conn_t *c)
{
    hub_conn_drop_queue(c);
    free(c->q);
    c->q = NULL;
    while (c->nids)
        remove_id(c, c->nids - 1);
}

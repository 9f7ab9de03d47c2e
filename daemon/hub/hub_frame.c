/* Frames serialised once and shared by reference count; the per-connection head (type and
 * seq) is written in front of the shared tail at send time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub/hub_int.h"

_Static_assert(HUB_HEAD_ROOM >= sizeof "{\"type\":\"\",\"seq\":" + HUB_MAX_TYPE + 20,
               "HUB_HEAD_ROOM must hold the longest head");

hub_frame_t *hub_frame_new(const char *type, const cJSON *body)
{
    hub_frame_t *f = NULL;
    char *text = cJSON_PrintUnformatted(body);
    size_t n, tlen;

    if (!text || text[0] != '{' || strlen(type) > HUB_MAX_TYPE)
        goto out;
    n = strlen(text);
    /* "{}" becomes "}"; "{...}" becomes ",...}" */
    tlen = n == 2 ? 1 : n;
    f = malloc(sizeof *f + WEB_WS_PRE + HUB_HEAD_ROOM + tlen);
    if (!f)
        goto out;
    f->refs = 1;
    snprintf(f->type, sizeof f->type, "%s", type);
    f->tail = f->mem + WEB_WS_PRE + HUB_HEAD_ROOM;
    f->len = tlen;
    if (n == 2) {
        f->tail[0] = '}';
    } else {
        f->tail[0] = ',';
        memcpy(f->tail + 1, text + 1, n - 1);
    }
out:
    free(text);
    return f;
}

hub_frame_t *hub_frame_ref(hub_frame_t *f)
{
    f->refs++;
    return f;
}

void hub_frame_unref(hub_frame_t *f)
{
    if (f && --f->refs == 0)
        free(f);
}

unsigned char *hub_frame_render(hub_frame_t *f, uint64_t seq, size_t *len)
{
    char head[HUB_HEAD_ROOM];
    int n = snprintf(head, sizeof head, "{\"type\":\"%s\",\"seq\":%llu", f->type,
                     (unsigned long long)seq);
    unsigned char *p = f->tail - n;

    memcpy(p, head, (size_t)n);
    *len = (size_t)n + f->len;
    return p;
}

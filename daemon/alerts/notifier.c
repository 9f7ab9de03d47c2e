/* The notifier: a small registry of channels, dispatching by channel name. */
#include <string.h>

#include "alerts/notifier.h"
#include "ioc/error.h"

int notifier_add(notifier_t *n, notify_channel_t *ch)
{
    if (n->n == NOTIFIER_MAX_CHANNELS)
        return IOC_EFULL;
    n->ch[n->n++] = ch;
    return IOC_OK;
}

int notifier_send(notifier_t *n, const notify_msg_t *m)
{
    for (int i = 0; i < n->n; i++)
        if (strcmp(n->ch[i]->name, m->channel) == 0)
            return n->ch[i]->send(n->ch[i], m);
    return IOC_ENOTFOUND;
}

static void on_channel_closed(void *ud)
{
    notifier_t *n = ud;
    if (--n->closing == 0 && n->done)
        n->done(n->done_ud);
}

void notifier_close(notifier_t *n, void (*done)(void *ud), void *ud)
{
    int count = n->n;
    n->done = done;
    n->done_ud = ud;
    n->closing = count + 1;
    n->n = 0;
    for (int i = 0; i < count; i++)
        n->ch[i]->close(n->ch[i], on_channel_closed, n);
    on_channel_closed(n);
}

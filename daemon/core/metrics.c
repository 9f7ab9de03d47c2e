/* The /metrics registry. */
#include <stddef.h>

#include "core/metrics.h"
#include "ioc/error.h"

#define MAX_RENDERERS 32

static struct {
    metrics_render_fn fn;
    void *ud;
} renderers[MAX_RENDERERS];
static int nrenderers;

int metrics_register(metrics_render_fn fn, void *ud)
{
    if (nrenderers == MAX_RENDERERS)
        return IOC_EFULL;
    renderers[nrenderers].fn = fn;
    renderers[nrenderers].ud = ud;
    nrenderers++;
    return IOC_OK;
}

void metrics_unregister(metrics_render_fn fn, void *ud)
{
    for (int i = 0; i < nrenderers; i++) {
        if (renderers[i].fn == fn && renderers[i].ud == ud) {
            for (int j = i; j + 1 < nrenderers; j++)
                renderers[j] = renderers[j + 1];
            nrenderers--;
            return;
        }
    }
}

void metrics_render(strbuf_t *out)
{
    for (int i = 0; i < nrenderers; i++)
        renderers[i].fn(out, renderers[i].ud);
}

void metrics_header(strbuf_t *out, const char *name, const char *type, const char *help)
{
    strbuf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The /metrics registry: modules register a function that renders their own lines. */
#ifndef IOCD_METRICS_H
#define IOCD_METRICS_H

#include "core/strbuf.h"

/* Renders Prometheus text-format lines (with # HELP / # TYPE) for one module into out. */
typedef void (*metrics_render_fn)(strbuf_t *out, void *ud);

/* Registers a renderer; returns 0 or IOC_EFULL (at most 32 renderers). */
int metrics_register(metrics_render_fn fn, void *ud);
/* Removes a renderer registered with the same fn and ud. */
void metrics_unregister(metrics_render_fn fn, void *ud);
/* Renders every registered module, in registration order, into out. */
void metrics_render(strbuf_t *out);

/* Helper: writes "# HELP name help\n# TYPE name type\n". */
void metrics_header(strbuf_t *out, const char *name, const char *type, const char *help);

#endif

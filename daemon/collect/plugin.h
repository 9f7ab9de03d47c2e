/* Collector plugin loading: dlopen a shared object and check its versioned descriptor. */
#ifndef IOCD_PLUGIN_H
#define IOCD_PLUGIN_H

#include <stddef.h>

#include "ioc/collector.h"

/* Loads <dir>/<name>.so and returns its descriptor in *out. Plugins stay loaded for the life of
 * the process (handles they closed may still have callbacks pending on the loop), and loading
 * the same name twice returns the same descriptor. On failure returns IOC_ENOTFOUND (no file),
 * IOC_EABI (no descriptor, wrong magic, ABI or name) or IOC_EIO (dlopen failed), with a message
 * naming the file and, for a version mismatch, both versions, in err. */
int plugin_load(const char *dir, const char *name, const ioc_collector_desc_t **out, char *err,
                size_t errlen);

/* Finds the default plugin directory: the build tree's when run from it, else the installed one.
 * Returns a static string. */
const char *plugin_default_dir(void);

#endif

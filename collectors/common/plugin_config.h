/* Config helpers shared by the collector plugins (compiled into each: plugins link no daemon code). */
#ifndef IOC_PLUGIN_CONFIG_H
#define IOC_PLUGIN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True if key is one of the n strings in list. */
bool plugin_in_list(const char *key, const char *const *list, size_t n);
/* Parses a duration as the host reads them ("500ms", "10s", "5m", "1h", "7d") into
 * milliseconds, overflow-checked. Returns 0, or -1 for anything else. */
int plugin_parse_duration(const char *s, uint64_t *ms);

#endif

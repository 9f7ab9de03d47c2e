/* Config helpers shared by the collector plugins. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_config.h"

bool plugin_in_list(const char *key, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(key, list[i]) == 0)
            return true;
    return false;
}

int plugin_parse_duration(const char *s, uint64_t *ms)
{
    static const struct {
        const char *unit;
        uint64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (v == ULLONG_MAX)
        return -1; /* strtoull's overflow */
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].unit) == 0 && v <= UINT64_MAX / units[i].ms) {
            *ms = v * units[i].ms;
            return 0;
        }
    }
    return -1;
}

/* Durations ("1h30m", "500ms") and sizes ("512MB", "1GiB") as written in the config file. */
#include <string.h>

#include "config/config.h"
#include "ioc/error.h"

typedef struct unit {
    const char *name;
    uint64_t factor;
} unit_t;

/* Largest first: a combination must list them in this order ("1h30m", not "30m1h"). */
static const unit_t duration_units[] = {
    {"d", 86400000ULL}, {"h", 3600000ULL}, {"m", 60000ULL}, {"s", 1000ULL}, {"ms", 1ULL},
};
#define NUNITS (sizeof duration_units / sizeof duration_units[0])

static const unit_t size_units[] = {
    {"", 1ULL},           {"B", 1ULL},
    {"KB", 1000ULL},      {"MB", 1000000ULL},          {"GB", 1000000000ULL},
    {"KiB", 1ULL << 10},  {"MiB", 1ULL << 20},         {"GiB", 1ULL << 30},
};

/* Reads decimal digits at *s into *v; returns false if there are none or they overflow. */
static bool read_uint(const char **s, uint64_t *v)
{
    const char *p = *s;
    uint64_t n = 0;
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (n > (UINT64_MAX - d) / 10)
            return false;
        n = n * 10 + d;
    }
    *s = p;
    *v = n;
    return true;
}

/* Adds n * factor to *total, checking for overflow. */
static bool add_scaled(uint64_t *total, uint64_t n, uint64_t factor)
{
    if (n > UINT64_MAX / factor)
        return false;
    if (*total > UINT64_MAX - n * factor)
        return false;
    *total += n * factor;
    return true;
}

int config_parse_duration(const char *s, uint64_t *ms_out)
{
    uint64_t total = 0;
    size_t next_unit = 0; /* units must come largest first, each at most once */
    if (!s || !*s)
        return IOC_EINVAL;
    while (*s) {
        uint64_t n;
        if (!read_uint(&s, &n))
            return IOC_EINVAL;
        size_t u = NUNITS, ulen = 0;
        for (size_t i = 0; i < NUNITS; i++) {
            size_t nlen = strlen(duration_units[i].name);
            if (nlen > ulen && strncmp(s, duration_units[i].name, nlen) == 0) {
                u = i;
                ulen = nlen;
            }
        }
        if (u == NUNITS || u < next_unit)
            return IOC_EINVAL;
        if (!add_scaled(&total, n, duration_units[u].factor))
            return IOC_EINVAL;
        s += ulen;
        next_unit = u + 1;
    }
    *ms_out = total;
    return 0;
}

int config_parse_size(const char *s, uint64_t *bytes_out)
{
    uint64_t n;
    if (!s || !read_uint(&s, &n))
        return IOC_EINVAL;
    for (size_t u = 0; u < sizeof size_units / sizeof size_units[0]; u++) {
        if (strcmp(s, size_units[u].name) == 0) {
            uint64_t total = 0;
            if (!add_scaled(&total, n, size_units[u].factor))
                return IOC_EINVAL;
            *bytes_out = total;
            return 0;
        }
    }
    return IOC_EINVAL;
}

/* Validation of the "collectors" array: the keys iocd reads; the rest belongs to each plugin. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"
#include "ioc/error.h"

#define NAME_MAX_LEN 64
#define INTERVAL_DEFAULT_MS 10000ULL
#define INTERVAL_MIN_MS 100ULL
#define TIMEOUT_CAP_MS 60000ULL
#define DURATION_MAX_MS (365ULL * 24 * 3600 * 1000)

/* Fails (at obj.key) unless value is at most NAME_MAX_LEN bytes, all from `allowed`. */
static int check_charset(cfg_ctx_t *c, const char *key, const char *value, const char *allowed,
                         const char *what)
{
    int rc = 0;
    size_t n = strlen(value);
    if (n > NAME_MAX_LEN || strspn(value, allowed) != n) {
        cfg_push_key(c, key);
        rc = cfg_fail(c, CFG_AT_VALUE, 0, "must be 1 to %d of %s", NAME_MAX_LEN, what);
        cfg_pop(c);
    }
    return rc;
}

static int check_entry(cfg_ctx_t *c, const cJSON *obj, config_collector_t *col, size_t idx)
{
    static const char lower[] = "abcdefghijklmnopqrstuvwxyz0123456789_";
    static const char names[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
    int rc = cfg_check_object(c, obj, NULL);
    if (!rc)
        rc = cfg_require(c, obj, "plugin");
    if (!rc)
        rc = cfg_require(c, obj, "name");
    if (!rc)
        rc = cfg_get_string(c, obj, "plugin", &col->plugin);
    if (!rc)
        rc = check_charset(c, "plugin", col->plugin, lower, "a-z, 0-9 and _");
    if (!rc)
        rc = cfg_get_string(c, obj, "name", &col->name);
    if (!rc)
        rc = check_charset(c, "name", col->name, names, "letters, digits, _, . and -");
    for (size_t i = 0; !rc && i < idx; i++) {
        if (strcmp(c->cfg->collectors[i].name, col->name) == 0) {
            cfg_push_key(c, "name");
            rc = cfg_fail(c, CFG_AT_VALUE, 0, "name \"%s\" is already used by collectors[%zu]",
                          col->name, i);
            cfg_pop(c);
        }
    }
    if (!rc)
        rc = cfg_get_duration(c, obj, "interval", INTERVAL_MIN_MS, DURATION_MAX_MS, false,
                              &col->interval_ms);
    col->timeout_ms = col->interval_ms < TIMEOUT_CAP_MS ? col->interval_ms : TIMEOUT_CAP_MS;
    if (!rc)
        rc = cfg_get_duration(c, obj, "timeout", INTERVAL_MIN_MS, DURATION_MAX_MS, false,
                              &col->timeout_ms);
    if (!rc)
        rc = cfg_get_bool(c, obj, "enabled", &col->enabled);
    return rc;
}

/* Sets each entry's line and column in one pass over the text (not one pass per entry). */
static int locate_entries(cfg_ctx_t *c)
{
    config_t *cfg = c->cfg;
    size_t n = cfg->ncollectors;
    size_t *offs = malloc(n * (sizeof *offs + 2 * sizeof(int)));
    int *lines, *cols;
    if (!offs) {
        snprintf(c->err, c->errlen, "%s: out of memory", c->name);
        return IOC_ENOMEM;
    }
    lines = (int *)(offs + n);
    cols = lines + n;
    if (cfg_locate_items(c->text, c->len, c->path, c->depth, offs, n) == 0) {
        cfg_linecols(c->text, c->len, offs, n, lines, cols);
        for (size_t i = 0; i < n; i++) {
            cfg->collectors[i].line = lines[i];
            cfg->collectors[i].column = cols[i];
        }
    }
    free(offs);
    return 0;
}

int cfg_check_collectors(cfg_ctx_t *c, const cJSON *arr)
{
    config_t *cfg = c->cfg;
    const cJSON *it;
    size_t n;
    int rc = 0;
    if (!cJSON_IsArray(arr))
        return cfg_fail(c, CFG_AT_VALUE, 0, "expected an array");
    n = (size_t)cJSON_GetArraySize(arr);
    if (n > CFG_MAX_ENTRIES)
        return cfg_fail(c, CFG_AT_VALUE, 0, "too many collectors (at most %d)", CFG_MAX_ENTRIES);
    if (n == 0)
        return 0;
    cfg->collectors = calloc(n, sizeof *cfg->collectors);
    if (!cfg->collectors)
        goto oom;
    cJSON_ArrayForEach(it, arr) {
        size_t i = cfg->ncollectors++;
        config_collector_t *col = &cfg->collectors[i];
        col->interval_ms = INTERVAL_DEFAULT_MS;
        col->enabled = true;
        cfg_push_index(c, i);
        rc = check_entry(c, it, col, i);
        cfg_pop(c);
        if (rc)
            return rc;
        col->json = cJSON_Duplicate(it, true);
        if (!col->json)
            goto oom;
    }
    return locate_entries(c);
oom:
    snprintf(c->err, c->errlen, "%s: out of memory", c->name);
    return IOC_ENOMEM;
}

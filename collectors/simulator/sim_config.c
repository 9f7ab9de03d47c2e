/* Validation of a simulator instance's configuration (its entry in `collectors`). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim.h"

#define MAX_SEED 9007199254740992.0       /* 2^53: integers a JSON double holds exactly */
#define MAX_OFFSET_S (10.0 * 366 * 86400) /* ten years */

/* Keys the host reads itself. */
static const char *const host_keys[] = {"plugin", "name", "interval", "timeout", "enabled"};

static int is_host_key(const char *key)
{
    for (size_t i = 0; i < sizeof host_keys / sizeof host_keys[0]; i++)
        if (strcmp(key, host_keys[i]) == 0)
            return 1;
    return 0;
}

static int find_district(const char *s)
{
    for (int i = 0; i < SIM_NDISTRICTS; i++)
        if (strcmp(s, sim_districts[i].name) == 0 || strcmp(s, sim_districts[i].code) == 0)
            return i;
    return -1;
}

static int parse_districts(const cJSON *arr, uint32_t *mask, char *err, size_t errlen)
{
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0) {
        snprintf(err, errlen, "districts: must be a non-empty array of district names");
        return IOC_EINVAL;
    }
    *mask = 0;
    int i = 0;
    for (const cJSON *it = arr->child; it; it = it->next, i++) {
        int d = cJSON_IsString(it) ? find_district(it->valuestring) : -1;
        if (d < 0) {
            snprintf(err, errlen, "districts[%d]: unknown district %s%s%s", i,
                     cJSON_IsString(it) ? "\"" : "",
                     cJSON_IsString(it) ? it->valuestring : "(not a string)",
                     cJSON_IsString(it) ? "\"" : "");
            return IOC_EINVAL;
        }
        *mask |= 1u << d;
    }
    return IOC_OK;
}

int sim_config_parse(const cJSON *obj, sim_config_t *out, char *err, size_t errlen)
{
    out->seed = 1;
    out->scale = 1.0;
    out->time_offset_us = 0;
    out->district_mask = (1u << SIM_NDISTRICTS) - 1;
    if (!cJSON_IsObject(obj)) {
        snprintf(err, errlen, "collector config: must be an object");
        return IOC_EINVAL;
    }
    for (const cJSON *it = obj->child; it; it = it->next) {
        const char *key = it->string ? it->string : "";
        double v = it->valuedouble;
        if (is_host_key(key))
            continue;
        if (strcmp(key, "seed") == 0) {
            if (!cJSON_IsNumber(it) || v < 0.0 || v > MAX_SEED || v != floor(v)) {
                snprintf(err, errlen, "seed: must be an integer from 0 to 2^53");
                return IOC_EINVAL;
            }
            out->seed = (uint64_t)v;
        } else if (strcmp(key, "scale") == 0) {
            if (!cJSON_IsNumber(it) || !(v > 0.0) || v > SIM_MAX_SCALE) {
                snprintf(err, errlen, "scale: must be a number > 0 and <= %g", SIM_MAX_SCALE);
                return IOC_EINVAL;
            }
            out->scale = v;
        } else if (strcmp(key, "time_offset") == 0) {
            if (!cJSON_IsNumber(it) || !(fabs(v) <= MAX_OFFSET_S)) {
                snprintf(err, errlen, "time_offset: must be a number of seconds within +-10 years");
                return IOC_EINVAL;
            }
            out->time_offset_us = llround(v * SIM_US);
        } else if (strcmp(key, "districts") == 0) {
            int rc = parse_districts(it, &out->district_mask, err, errlen);
            if (rc != IOC_OK)
                return rc;
        } else {
            snprintf(err, errlen, "unknown key \"%s\" (known: seed, scale, districts, time_offset)",
                     key);
            return IOC_EINVAL;
        }
    }
    return IOC_OK;
}

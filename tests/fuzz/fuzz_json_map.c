/* libFuzzer target: http_json's JSON/NGSI mapping on arbitrary bytes must map or fail cleanly,
 * and every sample it hands over must be one ingest accepts. The first byte picks the mapping. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The plugin is a .so exporting only its descriptor, so its pure sources are compiled in. */
#include "../../collectors/http_json/hj_emit.c"
#include "../../collectors/http_json/hj_map.c"
#include "../../collectors/http_json/hj_map_config.c"
#include "../../collectors/http_json/hj_ngsi.c"
#include "../../collectors/http_json/hj_pointer.c"
#include "../../collectors/http_json/hj_time.c"

static const char *const configs[] = {
    ("{\"items\": \"/data\", \"time\": \"/ts\", \"tags\": {\"id\": \"/id\", \"d\": \"/a/0/~1b\"},"
     " \"metrics\": [{\"metric\": \"m.v\", \"value\": \"/v\", \"value_map\": {\"on\": 1}},"
     "               {\"metric\": \"m.w\", \"value\": \"/w/x\"}]}"),
    ("{\"format\": \"ngsi-v2\", \"tags\": {\"district\": \"/address/addressLocality\"},"
     " \"value_map\": {\"powerState\": {\"on\": 1, \"off\": 0}}}"),
    "{\"format\": \"ngsi-ld\", \"items\": \"\", \"tags\": {\"road\": \"/refRoad\"}}",
};
#define NCONFIGS (sizeof configs / sizeof configs[0])

static int check_sink(void *ud, const ioc_sample_t *s, size_t n)
{
    (void)ud;
    for (size_t i = 0; i < n; i++) {
        if (!hj_name_ok(s[i].metric, strlen(s[i].metric)) || !isfinite(s[i].value) ||
            s[i].ts_us < 0 || s[i].ntags > HJ_MAX_TAGS + 1)
            __builtin_trap();
        for (size_t t = 0; t < s[i].ntags; t++)
            if (!hj_name_ok(s[i].tags[t].key, strlen(s[i].tags[t].key)) ||
                !hj_name_ok(s[i].tags[t].value, strlen(s[i].tags[t].value)))
                __builtin_trap();
    }
    return IOC_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cJSON *objs[NCONFIGS];
    static hj_map_cfg_t cfgs[NCONFIGS];
    char err[256];
    hj_map_stats_t st;
    if (!objs[0]) {
        for (size_t i = 0; i < NCONFIGS; i++)
            if (!(objs[i] = cJSON_Parse(configs[i])) ||
                hj_map_config_parse(objs[i], &cfgs[i], err, sizeof err) != IOC_OK)
                __builtin_trap();
    }
    if (size == 0)
        return 0;
    /* A body is not NUL-terminated: copy it into a terminated buffer, as the plugin does. */
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    int rc = hj_map(&cfgs[data[0] % NCONFIGS], text, size - 1, 1700000000000000LL, check_sink,
                    NULL, &st, err, sizeof err);
    if ((rc != IOC_OK && (rc != IOC_EINVAL || !memchr(err, '\0', sizeof err))) ||
        st.samples > size)
        __builtin_trap();
    free(text);
    return 0;
}

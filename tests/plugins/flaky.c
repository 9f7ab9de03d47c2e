/* A test collector whose behaviour is set by its config: "mode" ok (emit one sample, succeed),
 * fail (report an error), hang (never finish), or bad (emit an invalid sample). */
#include <stdlib.h>
#include <string.h>

#include "ioc/collector.h"

typedef struct flaky {
    const ioc_host_services_t *svc;
    ioc_host_t *host;
    char mode[8];
    double calls;
} flaky_t;

static int init(const ioc_host_services_t *svc, ioc_host_t *host, void **state, char *err,
                size_t errlen)
{
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(svc->config(host), "mode");
    if (!cJSON_IsString(mode) || strlen(mode->valuestring) >= 8) {
        strncpy(err, "mode: expected \"ok\", \"fail\", \"hang\" or \"bad\"", errlen - 1);
        err[errlen - 1] = '\0';
        return IOC_EINVAL;
    }
    flaky_t *f = calloc(1, sizeof *f);
    if (!f)
        return IOC_ENOMEM;
    f->svc = svc;
    f->host = host;
    strcpy(f->mode, mode->valuestring);
    *state = f;
    return IOC_OK;
}

static void collect(void *state)
{
    flaky_t *f = state;
    f->calls++;
    ioc_sample_t s = {.metric = "flaky.calls", .value = f->calls};
    if (strcmp(f->mode, "hang") == 0)
        return;
    if (strcmp(f->mode, "fail") == 0) {
        f->svc->collect_done(f->host, IOC_EIO);
        return;
    }
    if (strcmp(f->mode, "bad") == 0)
        s.metric = "";
    f->svc->emit(f->host, &s, 1);
    f->svc->collect_done(f->host, IOC_OK);
}

static void stop(void *state, void (*closed)(ioc_host_t *), ioc_host_t *host)
{
    free(state);
    closed(host);
}

IOC_COLLECTOR_EXPORT const ioc_collector_desc_t ioc_collector = {
    .magic = IOC_COLLECTOR_MAGIC, .abi_version = IOC_COLLECTOR_ABI_VERSION, .name = "flaky",
    .version = "test", .init = init, .collect = collect, .stop = stop,
};

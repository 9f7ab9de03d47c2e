/* A collector built for a future ABI: the loader must refuse it naming both versions. */
#include "ioc/collector.h"

static int init(const ioc_host_services_t *svc, ioc_host_t *host, void **state, char *err,
                size_t errlen)
{
    (void)svc, (void)host, (void)state, (void)err, (void)errlen;
    return IOC_OK;
}

static void stop(void *state, void (*closed)(ioc_host_t *), ioc_host_t *host)
{
    (void)state;
    closed(host);
}

IOC_COLLECTOR_EXPORT const ioc_collector_desc_t ioc_collector = {
    .magic = IOC_COLLECTOR_MAGIC, .abi_version = 99, .name = "abi99", .version = "test",
    .init = init, .stop = stop,
};

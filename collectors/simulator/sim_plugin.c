/* The simulator collector's exported descriptor and its instance lifecycle. */
#include <stdio.h>
#include <stdlib.h>

#include "sim.h"

typedef struct sim_instance {
    const ioc_host_services_t *svc;
    ioc_host_t *host;
    int failing; /* the last round was refused: log again only after a success */
    sim_world_t world;
    sim_emitter_t em;
} sim_instance_t;

static int sim_init(const ioc_host_services_t *svc, ioc_host_t *host, void **state_out,
                    char *err, size_t errlen)
{
    sim_config_t cfg;
    sim_instance_t *inst = NULL;
    int rc;
    if (svc->abi_version != IOC_COLLECTOR_ABI_VERSION || svc->size < sizeof(ioc_host_services_t)) {
        snprintf(err, errlen, "host services ABI %u (size %u), simulator needs ABI %u (size %zu)",
                 svc->abi_version, svc->size, IOC_COLLECTOR_ABI_VERSION, sizeof(ioc_host_services_t));
        return IOC_EABI;
    }
    rc = sim_config_parse(svc->config(host), &cfg, err, errlen);
    if (rc != IOC_OK)
        return rc;
    inst = calloc(1, sizeof *inst);
    if (!inst) {
        rc = IOC_ENOMEM;
        goto fail;
    }
    inst->svc = svc;
    inst->host = host;
    rc = sim_world_init(&inst->world, &cfg);
    if (rc != IOC_OK)
        goto fail;
    svc->log(host, IOC_LOG_INFO,
             "seed=%llu scale=%g sensors=%zu cabinets=%zu camera_groups=%zu samples_per_collect=%zu",
             (unsigned long long)cfg.seed, cfg.scale, inst->world.nsensors, inst->world.ncabinets,
             inst->world.ngroups, sim_world_series(&inst->world));
    *state_out = inst;
    return IOC_OK;
fail:
    snprintf(err, errlen, "out of memory building the simulated province");
    free(inst);
    return rc;
}

static void sim_collect(void *state)
{
    sim_instance_t *inst = state;
    int64_t now = inst->svc->now_us(inst->host);
    sim_world_advance(&inst->world, now + inst->world.cfg.time_offset_us);
    sim_emit_begin(&inst->em, inst->svc, inst->host, now);
    int rc = sim_world_emit(&inst->world, &inst->em);
    if (rc != IOC_OK && !inst->failing)
        inst->svc->log(inst->host, IOC_LOG_WARN, "msg=\"emit refused, round cut short\" rc=%d sent=%zu",
                       rc, inst->em.total);
    inst->failing = rc != IOC_OK;
    inst->svc->collect_done(inst->host, rc);
}

static void sim_stop(void *state, void (*closed)(ioc_host_t *host), ioc_host_t *host)
{
    sim_instance_t *inst = state;
    sim_world_free(&inst->world);
    free(inst);
    closed(host);
}

IOC_COLLECTOR_EXPORT const ioc_collector_desc_t ioc_collector = {
    .magic = IOC_COLLECTOR_MAGIC,
    .abi_version = IOC_COLLECTOR_ABI_VERSION,
    .name = "simulator",
    .version = "1.0.0",
    .init = sim_init,
    .start = NULL,
    .collect = sim_collect,
    .stop = sim_stop,
};

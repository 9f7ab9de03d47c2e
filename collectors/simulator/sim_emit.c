/* Chunked hand-over of samples to the host; stops at the first refusal. */
#include "sim.h"

void sim_emit_begin(sim_emitter_t *em, const ioc_host_services_t *svc, ioc_host_t *host,
                    int64_t ts_us)
{
    em->svc = svc;
    em->host = host;
    em->ts_us = ts_us;
    em->status = IOC_OK;
    em->n = 0;
    em->total = 0;
}

int sim_emit_flush(sim_emitter_t *em)
{
    if (em->status == IOC_OK && em->n > 0) {
        em->status = em->svc->emit(em->host, em->buf, em->n);
        if (em->status == IOC_OK)
            em->total += em->n;
    }
    em->n = 0;
    return em->status;
}

int sim_emit(sim_emitter_t *em, const char *metric, const ioc_tag_t *tags, size_t ntags,
             double value)
{
    if (em->status != IOC_OK)
        return em->status;
    em->buf[em->n++] = (ioc_sample_t){
        .metric = metric, .tags = tags, .ntags = ntags, .value = value, .ts_us = em->ts_us};
    if (em->n == SIM_CHUNK)
        return sim_emit_flush(em);
    return IOC_OK;
}

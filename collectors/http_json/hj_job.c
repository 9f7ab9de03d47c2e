/* Maps a response body on the libuv threadpool (parsing megabytes of JSON would stall the loop)
 * into a packed list of samples, which is replayed to the host on the loop in chunks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hj.h"

#define CHUNK 256

struct hj_job {
    uv_work_t req;
    const hj_map_cfg_t *cfg;
    char *body;
    size_t len;
    int64_t now_us;
    size_t max_packed;
    char *packed;          /* per sample: value, ts_us, ntags, metric\0, (key\0 value\0) x ntags */
    size_t plen, pcap;
    hj_job_done_fn done;
    void *ud;
    hj_job_result_t res;
};

/* The threadpool side of the sink: appends samples to the packed list. */
static int pack_sink(void *ud, const ioc_sample_t *s, size_t n)
{
    hj_job_t *job = ud;
    for (size_t i = 0; i < n; i++) {
        uint32_t ntags = (uint32_t)s[i].ntags;
        size_t need = sizeof(double) + sizeof(int64_t) + sizeof ntags + strlen(s[i].metric) + 1;
        for (size_t t = 0; t < ntags; t++)
            need += strlen(s[i].tags[t].key) + strlen(s[i].tags[t].value) + 2;
        if (need > job->max_packed - job->plen)
            return IOC_ETOOBIG;
        if (job->plen + need > job->pcap) {
            size_t cap = job->pcap ? job->pcap * 2 : 65536;
            while (cap < job->plen + need)
                cap *= 2;
            char *p = realloc(job->packed, cap);
            if (!p)
                return IOC_ENOMEM;
            job->packed = p;
            job->pcap = cap;
        }
        char *o = job->packed + job->plen;
        memcpy(o, &s[i].value, sizeof(double));
        memcpy(o + sizeof(double), &s[i].ts_us, sizeof(int64_t));
        memcpy(o + sizeof(double) + sizeof(int64_t), &ntags, sizeof ntags);
        o += sizeof(double) + sizeof(int64_t) + sizeof ntags;
        o = stpcpy(o, s[i].metric) + 1;
        for (size_t t = 0; t < ntags; t++) {
            o = stpcpy(o, s[i].tags[t].key) + 1;
            o = stpcpy(o, s[i].tags[t].value) + 1;
        }
        job->plen += need;
    }
    return IOC_OK;
}

static void work(uv_work_t *req)
{
    hj_job_t *job = req->data;
    hj_job_result_t *r = &job->res;
    r->status = hj_map(job->cfg, job->body, job->len, job->now_us, pack_sink, job, &r->st,
                       r->err, sizeof r->err);
    if (r->status == IOC_ETOOBIG)
        snprintf(r->err, sizeof r->err, "samples of one body over %zu bytes (4 x max_body)",
                 job->max_packed);
    free(job->body);
    job->body = NULL;
}

static void after_work(uv_work_t *req, int status)
{
    hj_job_t *job = req->data;
    (void)status;
    job->done(job->ud, job);
}

int hj_job_start(uv_loop_t *loop, const hj_map_cfg_t *cfg, char *body, size_t len,
                 int64_t now_us, size_t max_packed, size_t idx, uint64_t round,
                 hj_job_done_fn done, void *ud)
{
    hj_job_t *job = calloc(1, sizeof *job);
    if (!job) {
        free(body);
        return IOC_ENOMEM;
    }
    job->req.data = job;
    job->cfg = cfg;
    job->body = body;
    job->len = len;
    job->now_us = now_us;
    job->max_packed = max_packed;
    job->done = done;
    job->ud = ud;
    job->res.idx = idx;
    job->res.round = round;
    if (uv_queue_work(loop, &job->req, work, after_work) != 0) {
        free(body);
        free(job);
        return IOC_EIO;
    }
    return IOC_OK;
}

const hj_job_result_t *hj_job_result(const hj_job_t *job)
{
    return &job->res;
}

int hj_job_emit(hj_job_t *job, hj_sink_fn sink, void *ud)
{
    /* Loop thread only, and the sink does not come back here: one set of chunk arrays will do. */
    static ioc_sample_t samples[CHUNK];
    static ioc_tag_t tags[CHUNK][HJ_MAX_TAGS + 1];
    size_t n = 0, off = 0;
    int rc = IOC_OK;
    while (off < job->plen && rc == IOC_OK) {
        const char *p = job->packed + off;
        uint32_t ntags;
        ioc_sample_t *s = &samples[n];
        memcpy(&s->value, p, sizeof(double));
        memcpy(&s->ts_us, p + sizeof(double), sizeof(int64_t));
        memcpy(&ntags, p + sizeof(double) + sizeof(int64_t), sizeof ntags);
        p += sizeof(double) + sizeof(int64_t) + sizeof ntags;
        s->metric = p;
        p += strlen(p) + 1;
        for (uint32_t t = 0; t < ntags; t++) {
            tags[n][t].key = p;
            p += strlen(p) + 1;
            tags[n][t].value = p;
            p += strlen(p) + 1;
        }
        s->tags = tags[n];
        s->ntags = ntags;
        off = (size_t)(p - job->packed);
        if (++n == CHUNK || off >= job->plen) {
            rc = sink(ud, samples, n);
            n = 0;
        }
    }
    return rc;
}

void hj_job_free(hj_job_t *job)
{
    free(job->body);
    free(job->packed);
    free(job);
}

/* Window cells: each series' latest value for gauge aggregations, time buckets (count and a
 * log-bucket sketch) for counting ones; amortised O(1) per sample, aged at each tick. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "ioc/error.h"

#define SK_HALF 290           /* bins per sign */
#define SK_ZERO SK_HALF       /* index of the zero bin */
#define SK_MIN 1e-3           /* smaller magnitudes count as 0 */
#define SK_GAMMA 1.1
#define RESUM_US (60LL * 1000000)

static int64_t window_us(const eng_ind_t *ind) { return (int64_t)ind->window_ms * 1000; }

static bool is_gauge(expr_agg_t agg) { return !expr_agg_counts_samples(agg); }

static bool has_sketch(expr_agg_t agg) { return agg == AGG_P50 || agg == AGG_P95; }

int eng_cell_init(eng_cell_t *c, expr_agg_t agg)
{
    memset(c, 0, sizeof *c);
    c->agg = agg;
    if (is_gauge(agg))
        return IOC_OK;
    if (!(c->ring = calloc(ENG_BUCKETS, sizeof *c->ring)))
        return IOC_ENOMEM;
    for (int i = 0; i < ENG_BUCKETS; i++)
        c->ring[i].idx = -1;
    if (has_sketch(agg) && !(c->wsk = calloc(1, sizeof *c->wsk))) {
        free(c->ring);
        c->ring = NULL;
        return IOC_ENOMEM;
    }
    return IOC_OK;
}

void eng_cell_free(eng_cell_t *c)
{
    for (int i = 0; c->ring && i < ENG_BUCKETS; i++)
        free(c->ring[i].sk);
    free(c->ring);
    free(c->wsk);
    c->ring = NULL;
    c->wsk = NULL;
}

static int sk_index(double v)
{
    double a = fabs(v);
    if (!(a >= SK_MIN))
        return SK_ZERO;
    int k = (int)floor(log(a / SK_MIN) / log(SK_GAMMA));
    if (k >= SK_HALF)
        k = SK_HALF - 1;
    return v > 0 ? SK_ZERO + 1 + k : SK_ZERO - 1 - k;
}

static double sk_value(int i)
{
    if (i == SK_ZERO)
        return 0;
    int k = i > SK_ZERO ? i - SK_ZERO - 1 : SK_ZERO - 1 - i;
    double m = SK_MIN * pow(SK_GAMMA, k + 0.5);
    return i > SK_ZERO ? m : -m;
}

void eng_sketch_add(eng_sketch_t *s, double v, int32_t delta)
{
    s->n[sk_index(v)] += (uint32_t)delta;
}

double eng_sketch_quantile(const eng_sketch_t *s, double q)
{
    uint64_t total = 0, seen = 0;
    for (int i = 0; i < ENG_SK_BINS; i++)
        total += s->n[i];
    if (total == 0)
        return NAN;
    uint64_t rank = (uint64_t)floor(q * (double)(total - 1));
    for (int i = 0; i < ENG_SK_BINS; i++) {
        seen += s->n[i];
        if (seen > rank)
            return sk_value(i);
    }
    return sk_value(ENG_SK_BINS - 1);
}

/* Removes a bucket from the window's totals and empties it. */
static void expire_bucket(eng_cell_t *c, eng_bucket_t *b)
{
    c->wcount -= b->count;
    if (b->sk && b->count) {
        for (int i = 0; i < ENG_SK_BINS; i++)
            c->wsk->n[i] -= b->sk->n[i];
        memset(b->sk, 0, sizeof *b->sk);
    }
    b->count = 0;
}

static void unlink_sv(eng_cell_t *c, eng_sv_t *sv)
{
    if (sv->prev)
        sv->prev->next = sv->next;
    else
        c->head = sv->next;
    if (sv->next)
        sv->next->prev = sv->prev;
    else
        c->tail = sv->prev;
    sv->prev = sv->next = NULL;
}

/* Inserts by ts, walking back from the tail (samples mostly come in time order). */
static void insert_sv(eng_cell_t *c, eng_sv_t *sv)
{
    eng_sv_t *after = c->tail;
    while (after && after->ts > sv->ts)
        after = after->prev;
    sv->prev = after;
    sv->next = after ? after->next : c->head;
    if (sv->next)
        sv->next->prev = sv;
    else
        c->tail = sv;
    if (after)
        after->next = sv;
    else
        c->head = sv;
}

static void add_gauge(eng_cell_t *c, eng_sv_t *sv, int64_t ts, double v)
{
    if (sv->live) {
        if (ts < sv->ts)
            return; /* an older value of this series: its latest stands */
        double old = sv->v;
        c->sum += v - old;
        if ((old <= c->min && v > old) || (old >= c->max && v < old))
            c->stale_extremes = true;
        unlink_sv(c, sv);
    } else {
        sv->live = true;
        c->sum += v;
        if (c->nlive++ == 0)
            c->min = c->max = v;
    }
    if (v < c->min)
        c->min = v;
    if (v > c->max)
        c->max = v;
    sv->v = v;
    sv->ts = ts;
    insert_sv(c, sv);
}

static void add_counted(eng_cell_t *c, const eng_ind_t *ind, int64_t ts, double v, int64_t now)
{
    int64_t bidx = ts / ind->bucket_us, cur = now / ind->bucket_us;
    if (bidx <= cur - (int64_t)ind->nbuckets)
        return;
    eng_bucket_t *b = &c->ring[bidx % ind->nbuckets];
    if (b->idx != bidx) {
        expire_bucket(c, b);
        b->idx = bidx;
    }
    b->count++;
    c->wcount++;
    if (c->wsk) {
        if (!b->sk && !(b->sk = calloc(1, sizeof *b->sk)))
            return; /* out of memory: counted, not in the sketch */
        eng_sketch_add(b->sk, v, 1);
        eng_sketch_add(c->wsk, v, 1);
    }
}

void eng_cell_add(eng_cell_t *c, const eng_ind_t *ind, eng_sv_t *sv, int64_t ts, double v,
                  int64_t now)
{
    if (ts <= now - window_us(ind))
        return;
    if (ts > c->newest_ts)
        c->newest_ts = ts;
    if (sv)
        add_gauge(c, sv, ts, v);
    else
        add_counted(c, ind, ts, v, now);
}

static void recompute(eng_cell_t *c)
{
    c->sum = 0;
    c->min = INFINITY;
    c->max = -INFINITY;
    for (eng_sv_t *s = c->head; s; s = s->next) {
        c->sum += s->v;
        if (s->v < c->min)
            c->min = s->v;
        if (s->v > c->max)
            c->max = s->v;
    }
    c->stale_extremes = false;
}

void eng_cell_age(eng_cell_t *c, const eng_ind_t *ind, int64_t now)
{
    int64_t cutoff = now - window_us(ind);
    if (c->ring) {
        int64_t cur = now / ind->bucket_us;
        for (uint32_t i = 0; i < ind->nbuckets; i++)
            if (c->ring[i].count && c->ring[i].idx <= cur - (int64_t)ind->nbuckets)
                expire_bucket(c, &c->ring[i]);
        return;
    }
    while (c->head && c->head->ts <= cutoff) {
        eng_sv_t *s = c->head;
        unlink_sv(c, s);
        s->live = false;
        c->nlive--;
        c->sum -= s->v;
        if (s->v <= c->min || s->v >= c->max)
            c->stale_extremes = true;
    }
    if (c->nlive == 0) {
        c->sum = c->min = c->max = 0;
        c->stale_extremes = false;
    } else if (c->stale_extremes || now >= c->resum_us) {
        recompute(c);
        c->resum_us = now + RESUM_US;
    }
}

bool eng_cells_value(eng_cell_t *const *cells, size_t n, const eng_ind_t *ind, double *out)
{
    expr_agg_t agg = n ? cells[0]->agg : AGG_AVG;
    double sum = 0, best = 0;
    size_t live = 0;
    uint64_t count = 0;
    int64_t last_ts = INT64_MIN;
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        const eng_cell_t *c = cells[i];
        sum += c->sum;
        live += c->nlive;
        count += c->wcount;
        if (!c->nlive)
            continue;
        if (agg == AGG_MIN && (!any || c->min < best))
            best = c->min;
        else if (agg == AGG_MAX && (!any || c->max > best))
            best = c->max;
        else if (agg == AGG_LAST && c->tail->ts > last_ts) {
            last_ts = c->tail->ts;
            best = c->tail->v;
        }
        any = true;
    }
    switch (agg) {
    case AGG_AVG:
        *out = live ? sum / (double)live : 0;
        return live > 0;
    case AGG_SUM:
        *out = sum;
        return live > 0;
    case AGG_MIN:
    case AGG_MAX:
    case AGG_LAST:
        *out = best;
        return any;
    case AGG_COUNT:
        *out = (double)count;
        return true;
    case AGG_RATE:
        *out = (double)count / ((double)ind->window_ms / 1000.0);
        return true;
    case AGG_P50:
    case AGG_P95: {
        if (count == 0)
            return false;
        double q = agg == AGG_P50 ? 0.5 : 0.95;
        if (n == 1) {
            *out = eng_sketch_quantile(cells[0]->wsk, q);
            return true;
        }
        eng_sketch_t *m = calloc(1, sizeof *m);
        if (!m)
            return false;
        for (size_t i = 0; i < n; i++)
            for (int b = 0; b < ENG_SK_BINS; b++)
                m->n[b] += cells[i]->wsk->n[b];
        *out = eng_sketch_quantile(m, q);
        free(m);
        return true;
    }
    }
    return false;
}

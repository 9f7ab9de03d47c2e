/* Deterministic random numbers for the simulator: xoshiro256** seeded by splitmix64. */
#include <math.h>

#include "sim.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(sim_rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

void sim_rng_seed(sim_rng_t *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

double sim_rng_unit(sim_rng_t *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

double sim_rng_range(sim_rng_t *r, double lo, double hi)
{
    return lo + (hi - lo) * sim_rng_unit(r);
}

int64_t sim_rng_int(sim_rng_t *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

double sim_rng_gauss(sim_rng_t *r)
{
    double u1 = 1.0 - sim_rng_unit(r); /* (0, 1]: log stays finite */
    double u2 = sim_rng_unit(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

int64_t sim_rng_poisson(sim_rng_t *r, double mean)
{
    if (!(mean > 0.0))
        return 0;
    if (mean >= 30.0) {
        double v = mean + sqrt(mean) * sim_rng_gauss(r);
        return v < 0.0 ? 0 : (int64_t)llround(v);
    }
    double limit = exp(-mean), p = 1.0;
    int64_t k = -1;
    do {
        k++;
        p *= sim_rng_unit(r);
    } while (p > limit);
    return k;
}

int64_t sim_rng_binomial(sim_rng_t *r, int64_t n, double p)
{
    if (n <= 0 || p <= 0.0)
        return 0;
    if (p >= 1.0)
        return n;
    if (n > 64) {
        double mean = (double)n * p;
        double v = llround(mean + sqrt(mean * (1.0 - p)) * sim_rng_gauss(r));
        return v < 0.0 ? 0 : v > (double)n ? n : (int64_t)v;
    }
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        k += sim_rng_unit(r) < p;
    return k;
}

double sim_hash_unit(uint64_t a, uint64_t b)
{
    uint64_t x = a ^ (b * 0xd1342543de82ef95ull);
    return (double)(splitmix64(&x) >> 11) * 0x1.0p-53;
}

/* Open-addressing (linear probing) hash map with string keys; no deletion needed by its users. */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/hashmap.h"
#include "ioc/error.h"

void hashmap_init(hashmap_t *m) { memset(m, 0, sizeof *m); }

void hashmap_free(hashmap_t *m)
{
    free(m->slots);
    hashmap_init(m);
}

/* Reads 8 bytes without alignment requirements. */
static uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v * 0x9e3779b97f4a7c15ULL;
    h = (h << 31) | (h >> 33);
    return h * 0xff51afd7ed558ccdULL;
}

/* A word-at-a-time multiply-xor hash with a random per-process seed: series keys (30-100 bytes,
 * from writers' input) are hashed once or twice per sample, so a byte-at-a-time hash (FNV)
 * showed up as a fifth of ingest's CPU; the seed keeps collisions from being chosen ahead. */
uint64_t hashmap_hash(const char *key)
{
    static uint64_t seed;
    if (!seed && getrandom(&seed, sizeof seed, 0) != sizeof seed)
        seed = 0x243f6a8885a308d3ULL;
    const unsigned char *p = (const unsigned char *)key;
    size_t n = strlen(key);
    uint64_t h = seed ^ n;
    for (; n >= 8; p += 8, n -= 8)
        h = mix(h, load64(p));
    uint64_t tail = 0;
    memcpy(&tail, p, n);
    h = mix(h, tail);
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    return h ^ (h >> 32);
}

static struct hashmap_slot *find(const hashmap_t *m, const char *key, uint64_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct hashmap_slot *s = &m->slots[i];
        if (!s->key || (s->hash == h && strcmp(s->key, key) == 0))
            return s;
    }
}

void *hashmap_get(const hashmap_t *m, const char *key)
{
    if (!m->cap)
        return NULL;
    struct hashmap_slot *s = find(m, key, hashmap_hash(key));
    return s->key ? s->value : NULL;
}

static int grow(hashmap_t *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    struct hashmap_slot *old = m->slots;
    size_t ocap = m->cap;
    m->slots = calloc(ncap, sizeof *m->slots);
    if (!m->slots) {
        m->slots = old;
        return IOC_ENOMEM;
    }
    m->cap = ncap;
    for (size_t i = 0; i < ocap; i++) {
        if (old[i].key)
            *find(m, old[i].key, old[i].hash) = old[i];
    }
    free(old);
    return IOC_OK;
}

int hashmap_put(hashmap_t *m, const char *key, void *value)
{
    /* Keep the load factor under 0.7 so probes stay short. */
    if ((m->count + 1) * 10 > m->cap * 7) {
        int rc = grow(m);
        if (rc)
            return rc;
    }
    uint64_t h = hashmap_hash(key);
    struct hashmap_slot *s = find(m, key, h);
    if (!s->key) {
        s->key = key;
        s->hash = h;
        m->count++;
    }
    s->value = value;
    return IOC_OK;
}

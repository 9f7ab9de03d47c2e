/* Password-guessing throttle: waits that grow with failures per (account, client address), and a
 * leaky bucket per address. A real user on another address is never held up by an attacker. */
#include <stdio.h>
#include <string.h>

#include "auth/auth_int.h"

void auth_throttle_init(auth_throttle_t *t)
{
    memset(t, 0, sizeof *t);
}

static void pair_key(char *buf, size_t size, const char *addr, const char *account)
{
    snprintf(buf, size, "%s\x1f%s", addr, account);
}

static const auth_thr_ent_t *find(const auth_thr_ent_t *tab, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (tab[i].key[0] && !strcmp(tab[i].key, key))
            return &tab[i];
    return NULL;
}

/* The entry for key, or a free one, or the least recently used one, reset for key. */
static auth_thr_ent_t *slot(auth_thr_ent_t *tab, size_t n, const char *key)
{
    auth_thr_ent_t *e = (auth_thr_ent_t *)find(tab, n, key), *lru = &tab[0];

    if (e)
        return e;
    for (size_t i = 0; i < n; i++) {
        if (!tab[i].key[0]) {
            lru = &tab[i];
            break;
        }
        if (tab[i].last_ms < lru->last_ms)
            lru = &tab[i];
    }
    memset(lru, 0, sizeof *lru);
    snprintf(lru->key, sizeof lru->key, "%s", key);
    return lru;
}

/* An address's bucket level at now_ms (it leaks one failure per AUTH_THR_ADDR_LEAK_MS). */
static uint32_t level(const auth_thr_ent_t *e, int64_t now_ms)
{
    int64_t leaked = (now_ms - e->last_ms) / AUTH_THR_ADDR_LEAK_MS;
    return leaked >= e->fails ? 0 : e->fails - (uint32_t)leaked;
}

uint32_t auth_throttle_check(const auth_throttle_t *t, const char *addr, const char *account,
                             int64_t now_ms)
{
    char key[sizeof t->pairs[0].key];
    const auth_thr_ent_t *e;
    int64_t wait_ms = 0;

    pair_key(key, sizeof key, addr, account);
    if ((e = find(t->pairs, AUTH_THR_PAIRS, key)) && e->fails >= AUTH_THR_FREE &&
        now_ms - e->last_ms < AUTH_THR_FORGET_MS) {
        uint32_t shift = e->fails - AUTH_THR_FREE;
        int64_t w = shift >= 10 ? AUTH_THR_MAX_WAIT_S : 1ll << shift;
        w = (w > AUTH_THR_MAX_WAIT_S ? AUTH_THR_MAX_WAIT_S : w) * 1000;
        wait_ms = e->last_ms + w - now_ms;
    }
    if ((e = find(t->addrs, AUTH_THR_ADDRS, addr))) {
        uint32_t lv = level(e, now_ms);
        if (lv >= AUTH_THR_ADDR_BURST) {
            /* Wait until the level is one below the burst. */
            int64_t w = (int64_t)(lv - AUTH_THR_ADDR_BURST + 1) * AUTH_THR_ADDR_LEAK_MS -
                        (now_ms - e->last_ms) % AUTH_THR_ADDR_LEAK_MS;
            if (w > wait_ms)
                wait_ms = w;
        }
    }
    return wait_ms <= 0 ? 0 : (uint32_t)((wait_ms + 999) / 1000);
}

void auth_throttle_fail(auth_throttle_t *t, const char *addr, const char *account, int64_t now_ms)
{
    char key[sizeof t->pairs[0].key];
    auth_thr_ent_t *e;

    pair_key(key, sizeof key, addr, account);
    e = slot(t->pairs, AUTH_THR_PAIRS, key);
    if (now_ms - e->last_ms >= AUTH_THR_FORGET_MS)
        e->fails = 0;
    e->fails++;
    e->last_ms = now_ms;
    e = slot(t->addrs, AUTH_THR_ADDRS, addr);
    /* Keep the remainder of the current leak period: leak whole periods only. */
    uint32_t lv = level(e, now_ms);
    int64_t rem = e->fails ? (now_ms - e->last_ms) % AUTH_THR_ADDR_LEAK_MS : 0;
    e->fails = lv + 1;
    e->last_ms = now_ms - rem;
}

void auth_throttle_ok(auth_throttle_t *t, const char *addr, const char *account)
{
    char key[sizeof t->pairs[0].key];
    auth_thr_ent_t *e;

    pair_key(key, sizeof key, addr, account);
    if ((e = (auth_thr_ent_t *)find(t->pairs, AUTH_THR_PAIRS, key)))
        memset(e, 0, sizeof *e);
}

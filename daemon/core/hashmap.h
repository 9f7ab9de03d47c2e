/* Open-addressing hash map from NUL-terminated string keys to pointers. */
#ifndef IOCD_HASHMAP_H
#define IOCD_HASHMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct hashmap {
    struct hashmap_slot {
        const char *key; /* borrowed: the value usually owns it */
        uint64_t hash;
        void *value;
    } *slots;
    size_t cap;   /* power of two */
    size_t count;
} hashmap_t;

/* Initialises an empty map. */
void hashmap_init(hashmap_t *m);
/* Frees the slot array (not the keys or values). */
void hashmap_free(hashmap_t *m);
/* Returns the value stored under key, or NULL. */
void *hashmap_get(const hashmap_t *m, const char *key);
/* Stores value under key (the key string must live as long as the entry). Replaces an existing
 * value. Returns 0 or IOC_ENOMEM. */
int hashmap_put(hashmap_t *m, const char *key, void *value);
/* 64-bit hash of a string, seeded at random per process (word at a time). */
uint64_t hashmap_hash(const char *key);

#endif

/* Config module internals: key paths, the position scanner and the validation context. */
#ifndef IOCD_CONFIG_INT_H
#define IOCD_CONFIG_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

#define CFG_PATH_MAX 8
#define CFG_MAX_ENTRIES 1024 /* most collectors, or tokens, one file may hold */

/* One step of a key path: an object key (key != NULL) or an array index. */
typedef struct cfg_seg {
    const char *key; /* not NUL-terminated: keylen bytes */
    size_t keylen;
    size_t index;
} cfg_seg_t;

/* Where an error points: the key, its value, or the object that lacks the key. */
typedef enum cfg_at { CFG_AT_KEY, CFG_AT_VALUE, CFG_AT_PARENT } cfg_at_t;

/* The state of one validation run: the text, where errors go, and the current key path. */
typedef struct cfg_ctx {
    const char *name;
    const char *text;
    size_t len;
    char *err;
    size_t errlen;
    cfg_seg_t path[CFG_PATH_MAX];
    int depth;
    config_t *cfg;
} cfg_ctx_t;

/* Finds the byte offset of the path's last key (want_value false) or of its value in a JSON
 * text that may hold comments; nth picks a repeated last key (0: the first). The empty path is
 * the root value. Returns 0 or IOC_ENOTFOUND. */
int cfg_locate_off(const char *text, size_t len, const cfg_seg_t *segs, int n, bool want_value,
                   int nth, size_t *off);
/* Fills offs[0..count) with the offsets of the first count elements of the array at the path,
 * in one pass. Returns 0 or IOC_ENOTFOUND. */
int cfg_locate_items(const char *text, size_t len, const cfg_seg_t *segs, int n, size_t *offs,
                     size_t count);
/* 1-based line and column (in UTF-8 characters) of a byte offset. */
void cfg_linecol(const char *text, size_t len, size_t off, int *line, int *column);
/* The same for n offsets in rising order, in one pass over the text. */
void cfg_linecols(const char *text, size_t len, const size_t *offs, size_t n, int *lines,
                  int *columns);

/* Path stack: push an object key or an array index, pop the last step. */
void cfg_push_key(cfg_ctx_t *c, const char *key);
void cfg_push_index(cfg_ctx_t *c, size_t index);
void cfg_pop(cfg_ctx_t *c);

/* Writes "name:line:column: path: message" for the current path and returns IOC_EINVAL.
 * nth picks a repeated last key (for duplicates). */
int cfg_fail(cfg_ctx_t *c, cfg_at_t at, int nth, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Checks that v (at the current path) is an object with no repeated key and, if known is a
 * NULL-terminated list, no key outside it (with a "did you mean" hint). Returns 0 or
 * IOC_EINVAL. */
int cfg_check_object(cfg_ctx_t *c, const cJSON *v, const char *const *known);
/* Fails with "required key missing" unless obj has key. Returns 0 or IOC_EINVAL. */
int cfg_require(cfg_ctx_t *c, const cJSON *obj, const char *key);

/* Typed getters for obj.key. An absent key leaves *out as it is and returns 0; a present one
 * of the wrong type or out of range fails naming the path. Strings are copied (the old *out
 * is freed); an empty string is refused. */
int cfg_get_string(cfg_ctx_t *c, const cJSON *obj, const char *key, char **out);
int cfg_get_bool(cfg_ctx_t *c, const cJSON *obj, const char *key, bool *out);
int cfg_get_uint(cfg_ctx_t *c, const cJSON *obj, const char *key, uint64_t min, uint64_t max,
                 uint64_t *out);
/* Duration strings; zero_ok allows "0s" below min. */
int cfg_get_duration(cfg_ctx_t *c, const cJSON *obj, const char *key, uint64_t min, uint64_t max,
                     bool zero_ok, uint64_t *out);
/* Size strings, or a plain integer number of bytes. */
int cfg_get_size(cfg_ctx_t *c, const cJSON *obj, const char *key, uint64_t min, uint64_t max,
                 uint64_t *out);
/* True for one of the roles viewer, operator, analyst, admin, writer. */
bool cfg_role_valid(const char *role);

/* Validates the parsed document into c->cfg. Returns 0 or IOC_EINVAL/IOC_ENOMEM. */
int cfg_check_root(cfg_ctx_t *c, const cJSON *root);
/* Validates the top-level "collectors" array into c->cfg (the path holds "collectors"). */
int cfg_check_collectors(cfg_ctx_t *c, const cJSON *arr);

#endif

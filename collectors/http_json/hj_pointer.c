/* RFC 6901 JSON pointers over cJSON trees (our own: cJSON_Utils is unsafe on untrusted input). */
#include <string.h>

#include "hj.h"

int hj_pointer_check(const char *ptr, size_t *bad_off)
{
    size_t i = 0;
    if (ptr[0] != '\0' && ptr[0] != '/') {
        *bad_off = 0;
        return -1;
    }
    for (; ptr[i]; i++) {
        if (ptr[i] == '~' && ptr[i + 1] != '0' && ptr[i + 1] != '1') {
            *bad_off = i;
            return -1;
        }
    }
    return 0;
}

/* Returns 1 if key equals the escaped token tok[0..n) once ~1 -> '/' and ~0 -> '~'. */
static int token_equals(const char *key, const char *tok, size_t n)
{
    size_t i = 0;
    for (; i < n; i++, key++) {
        char c = tok[i];
        if (c == '~') {
            if (i + 1 >= n || (tok[i + 1] != '0' && tok[i + 1] != '1'))
                return 0;
            c = tok[++i] == '0' ? '~' : '/';
        }
        if (*key != c)
            return 0;
    }
    return *key == '\0';
}

/* Parses an array index token: digits only, no leading zero; returns -1 if it is not one. */
static long token_index(const char *tok, size_t n)
{
    long v = 0;
    if (n == 0 || n > 9 || (n > 1 && tok[0] == '0'))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (tok[i] < '0' || tok[i] > '9')
            return -1;
        v = v * 10 + (tok[i] - '0');
    }
    return v;
}

const cJSON *hj_pointer_step(const cJSON *node, const char **p)
{
    const char *tok = *p;
    const cJSON *child = NULL;
    if (*tok != '/')
        return NULL;
    tok++;
    size_t n = strcspn(tok, "/");
    *p = tok + n;
    if (cJSON_IsObject(node)) {
        for (child = node->child; child; child = child->next)
            if (child->string && token_equals(child->string, tok, n))
                return child;
    } else if (cJSON_IsArray(node)) {
        long idx = token_index(tok, n);
        for (child = node->child; child && idx > 0; child = child->next)
            idx--;
        return idx == 0 ? child : NULL;
    }
    return NULL;
}

const cJSON *hj_pointer_get(const cJSON *root, const char *ptr)
{
    const cJSON *node = root;
    while (node && *ptr)
        node = hj_pointer_step(node, &ptr);
    return node;
}

/* The string hash map: many keys, replacement, lookups of absent keys, keys of every length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/hashmap.h"

static void test_many_keys(void **state)
{
    (void)state;
    enum { N = 50000 };
    hashmap_t m;
    hashmap_init(&m);
    char **keys = calloc(N, sizeof *keys);
    for (int i = 0; i < N; i++) {
        keys[i] = malloc(64);
        /* keys of growing length exercise every tail size of the word-at-a-time hash */
        snprintf(keys[i], 64, "traffic.speed\x1f{\"id\":\"%0*d\"}", 1 + i % 20, i);
        assert_int_equal(hashmap_put(&m, keys[i], &keys[i]), 0);
    }
    assert_int_equal(m.count, N);
    for (int i = 0; i < N; i++)
        assert_ptr_equal(hashmap_get(&m, keys[i]), &keys[i]);
    assert_null(hashmap_get(&m, "traffic.speed\x1f{\"id\":\"missing\"}"));
    assert_null(hashmap_get(&m, ""));
    int replaced = 7;
    assert_int_equal(hashmap_put(&m, keys[5], &replaced), 0);
    assert_int_equal(m.count, N);
    assert_ptr_equal(hashmap_get(&m, keys[5]), &replaced);
    hashmap_free(&m);
    for (int i = 0; i < N; i++)
        free(keys[i]);
    free(keys);
}

static void test_hash_spreads_similar_keys(void **state)
{
    (void)state;
    /* Keys differing in one byte anywhere must not collide in the low bits the table uses. */
    char a[40], b[40];
    int same = 0;
    for (int pos = 0; pos < 39; pos++) {
        memset(a, 'x', 39);
        a[39] = '\0';
        memcpy(b, a, sizeof a);
        b[pos] = 'y';
        if ((hashmap_hash(a) & 0xffff) == (hashmap_hash(b) & 0xffff))
            same++;
    }
    assert_true(same <= 1);
    assert_int_equal(hashmap_hash("abc"), hashmap_hash("abc"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_hash_spreads_similar_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for the password-guessing throttle: per (account, address) waits, the per-address
 * bucket, no lock-out from other addresses, forgetting, and the bounded tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "auth/auth_int.h"

static int setup(void **state)
{
    auth_throttle_t *t = calloc(1, sizeof *t);
    auth_throttle_init(t);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

static void test_free_attempts_then_growing_waits(void **state)
{
    auth_throttle_t *t = *state;
    int64_t now = 1000000;

    for (int i = 0; i < AUTH_THR_FREE; i++) {
        assert_int_equal(auth_throttle_check(t, "10.0.0.1", "alice", now), 0);
        auth_throttle_fail(t, "10.0.0.1", "alice", now);
    }
    assert_int_equal(auth_throttle_check(t, "10.0.0.1", "alice", now), 1);
    assert_int_equal(auth_throttle_check(t, "10.0.0.1", "alice", now + 999), 1);
    assert_int_equal(auth_throttle_check(t, "10.0.0.1", "alice", now + 1000), 0);
    auth_throttle_fail(t, "10.0.0.1", "alice", now + 1000);
    assert_int_equal(auth_throttle_check(t, "10.0.0.1", "alice", now + 1000), 2);
    for (int i = 0; i < 20; i++)
        auth_throttle_fail(t, "10.0.0.1", "alice", now + 2000);
    assert_int_equal(auth_throttle_check(t, "10.0.0.1", "alice", now + 2000), AUTH_THR_MAX_WAIT_S);
}

static void test_other_address_and_account_unaffected(void **state)
{
    auth_throttle_t *t = *state;

    for (int i = 0; i < 10; i++)
        auth_throttle_fail(t, "10.0.0.66", "alice", 5000);
    assert_true(auth_throttle_check(t, "10.0.0.66", "alice", 5000) > 0);
    /* The real alice on her own address is not held up; the attacker may try another name. */
    assert_int_equal(auth_throttle_check(t, "10.0.0.7", "alice", 5000), 0);
    assert_int_equal(auth_throttle_check(t, "10.0.0.66", "bob", 5000), 0);
}

static void test_address_bucket(void **state)
{
    auth_throttle_t *t = *state;
    char name[16];
    int64_t now = 100000;

    /* Spraying many accounts from one address: each pair stays under its free attempts. */
    for (int i = 0; i < AUTH_THR_ADDR_BURST; i++) {
        snprintf(name, sizeof name, "user%d", i);
        assert_int_equal(auth_throttle_check(t, "10.9.9.9", name, now), 0);
        auth_throttle_fail(t, "10.9.9.9", name, now);
    }
    uint32_t w = auth_throttle_check(t, "10.9.9.9", "fresh", now);
    assert_int_equal(w, AUTH_THR_ADDR_LEAK_MS / 1000);
    assert_int_equal(auth_throttle_check(t, "10.9.9.9", "fresh", now + AUTH_THR_ADDR_LEAK_MS), 0);
    assert_int_equal(auth_throttle_check(t, "10.9.9.8", "fresh", now), 0);
}

static void test_success_and_forgetting(void **state)
{
    auth_throttle_t *t = *state;

    for (int i = 0; i < 8; i++)
        auth_throttle_fail(t, "a", "carol", 0);
    assert_true(auth_throttle_check(t, "a", "carol", 0) > 0);
    assert_int_equal(auth_throttle_check(t, "a", "carol", AUTH_THR_FORGET_MS), 0);
    auth_throttle_fail(t, "a", "carol", AUTH_THR_FORGET_MS);
    assert_int_equal(auth_throttle_check(t, "a", "carol", AUTH_THR_FORGET_MS), 0);

    for (int i = 0; i < 8; i++)
        auth_throttle_fail(t, "b", "dave", 0);
    auth_throttle_ok(t, "b", "dave");
    assert_int_equal(auth_throttle_check(t, "b", "dave", 0), 0);
}

static void test_tables_bounded(void **state)
{
    auth_throttle_t *t = *state;
    char addr[32];

    /* More addresses than slots: the oldest are forgotten, the newest kept. */
    for (int i = 0; i < AUTH_THR_ADDRS + 100; i++) {
        snprintf(addr, sizeof addr, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        for (int k = 0; k < AUTH_THR_FREE; k++)
            auth_throttle_fail(t, addr, "eve", i);
    }
    assert_true(auth_throttle_check(t, addr, "eve", AUTH_THR_ADDRS + 100) > 0);
    assert_int_equal(auth_throttle_check(t, "10.0.0.0", "eve", AUTH_THR_ADDRS + 100), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_free_attempts_then_growing_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_address_and_account_unaffected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_address_bucket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_success_and_forgetting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tables_bounded, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

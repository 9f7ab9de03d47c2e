/* The spool on a real libuv loop: ordered appends and replay, the size cap, misuse, close. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "helper_spool.h"
#include "ioc/error.h"
#include "store/spool.h"
#include "store/spool_disk.h"

typedef struct ctx {
    char root[PATH_MAX];
    char dir[PATH_MAX + 8];
    uv_loop_t loop;
    spool_t *sp;
    unsigned appended_ok, appended_full, next_cb; /* append completions, in order */
    int statuses[2000];
    unsigned replayed, expect_first;
    int last_peek;
    bool closed;
} ctx_t;

static int setup(void **state)
{
    static ctx_t c;
    memset(&c, 0, sizeof c);
    snprintf(c.root, sizeof c.root, "%s", tmpdir_new());
    snprintf(c.dir, sizeof c.dir, "%s/spool", c.root);
    assert_int_equal(uv_loop_init(&c.loop), 0);
    *state = &c;
    return 0;
}

static int teardown(void **state)
{
    ctx_t *c = *state;
    assert_int_equal(uv_loop_close(&c->loop), 0);
    tmpdir_remove(c->root);
    return 0;
}

static void on_append(void *ud, int status)
{
    ctx_t *c = ud;
    assert_true(c->next_cb < 2000);
    c->statuses[c->next_cb++] = status;
    if (status == 0)
        c->appended_ok++;
    else if (status == IOC_EFULL)
        c->appended_full++;
}

static void append_range(ctx_t *c, unsigned from, unsigned to)
{
    unsigned char buf[1500];
    for (unsigned i = from; i < to; i++) {
        rec_fill(i, buf);
        assert_int_equal(spool_append(c->sp, buf, rec_len(i), on_append, c), 0);
    }
}

/* Peeks, checks, pops and peeks again until the spool reports empty. */
static void on_peek(void *ud, int status, const void *rec, size_t len)
{
    ctx_t *c = ud;
    c->last_peek = status;
    if (status != 0)
        return;
    rec_expect(c->expect_first + c->replayed, rec, len);
    uint64_t before = spool_records(c->sp);
    assert_int_equal(spool_pop(c->sp), 0);
    assert_int_equal(spool_records(c->sp), before - 1);
    assert_int_equal(spool_pop(c->sp), IOC_EINVAL); /* one pop per peek */
    c->replayed++;
    assert_int_equal(spool_peek(c->sp, on_peek, c), 0);
}

static void on_closed(void *ud)
{
    ((ctx_t *)ud)->closed = true;
}

static void close_spool(ctx_t *c)
{
    spool_close(c->sp, on_closed, c);
    assert_int_equal(spool_append(c->sp, "x", 1, on_append, c), IOC_ECLOSED);
    assert_int_equal(spool_peek(c->sp, on_peek, c), IOC_ECLOSED);
    assert_false(c->closed);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    assert_true(c->closed);
    c->sp = NULL;
    c->closed = false;
}

static void replay(ctx_t *c, unsigned first)
{
    c->replayed = 0;
    c->expect_first = first;
    c->last_peek = 1;
    assert_int_equal(spool_peek(c->sp, on_peek, c), 0);
    assert_int_equal(spool_peek(c->sp, on_peek, c), IOC_EAGAIN);
    assert_int_equal(spool_pop(c->sp), IOC_EINVAL);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    assert_int_equal(c->last_peek, IOC_ENOTFOUND);
}

static void test_thousand_in_order(void **state)
{
    ctx_t *c = *state;
    spool_opts_t o = {.dir = c->dir, .max_bytes = 64 << 20, .segment_bytes = 64 << 10};
    uint64_t bytes = 0;
    assert_int_equal(spool_open(&c->loop, &o, &c->sp), 0);
    append_range(c, 0, 1000);
    for (unsigned i = 0; i < 1000; i++)
        bytes += SPOOL_REC_HEADER + rec_len(i);
    /* In flight counts already. */
    assert_int_equal(spool_records(c->sp), 1000);
    assert_int_equal(spool_bytes(c->sp), bytes);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    assert_int_equal(c->appended_ok, 1000);
    assert_int_equal(spool_records(c->sp), 1000);
    assert_int_equal(spool_bytes(c->sp), bytes);
    assert_true(seg_count(c->dir) > 5);

    replay(c, 0);
    assert_int_equal(c->replayed, 1000);
    assert_int_equal(spool_records(c->sp), 0);
    assert_int_equal(spool_bytes(c->sp), 0);
    assert_int_equal(seg_count(c->dir), 0);
    spool_stats_t st;
    spool_get_stats(c->sp, &st);
    assert_int_equal(st.records_appended, 1000);
    assert_int_equal(st.records_popped, 1000);
    assert_int_equal(st.rejected_full + st.write_errors + st.corrupt_cuts, 0);
    close_spool(c);
}

static void test_reopen_keeps_order(void **state)
{
    ctx_t *c = *state;
    spool_opts_t o = {.dir = c->dir, .max_bytes = 64 << 20, .segment_bytes = 16 << 10};
    assert_int_equal(spool_open(&c->loop, &o, &c->sp), 0);
    append_range(c, 0, 100);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    close_spool(c);
    assert_int_equal(spool_open(&c->loop, &o, &c->sp), 0);
    assert_int_equal(spool_records(c->sp), 100);
    /* Appends queued behind a replay come out after the old records. */
    append_range(c, 100, 150);
    replay(c, 0);
    assert_int_equal(c->replayed, 150);
    assert_int_equal(c->appended_ok, 150);
    close_spool(c);
}

static uint64_t bytes_of(unsigned from, unsigned to)
{
    uint64_t n = 0;
    for (unsigned i = from; i < to; i++)
        n += SPOOL_REC_HEADER + rec_len(i);
    return n;
}

static void test_cap(void **state)
{
    ctx_t *c = *state;
    const unsigned fit = 10;
    spool_opts_t o = {.dir = c->dir, .max_bytes = bytes_of(0, fit)};
    spool_stats_t st;
    assert_int_equal(spool_open(&c->loop, &o, &c->sp), 0);
    append_range(c, 0, fit + 2);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    assert_int_equal(c->appended_ok, fit);
    assert_int_equal(c->appended_full, 2);
    /* Completions came in call order: the refused ones last. */
    for (unsigned i = 0; i < fit + 2; i++)
        assert_int_equal(c->statuses[i], i < fit ? 0 : IOC_EFULL);
    assert_int_equal(spool_bytes(c->sp), o.max_bytes);
    spool_get_stats(c->sp, &st);
    assert_int_equal(st.rejected_full, 2);
    assert_int_equal(st.records_appended, fit);
    close_spool(c);

    /* Still full after reopen; nothing acknowledged was lost; after the replay there is room. */
    assert_int_equal(spool_open(&c->loop, &o, &c->sp), 0);
    assert_int_equal(spool_records(c->sp), fit);
    append_range(c, 0, 1);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    assert_int_equal(c->appended_full, 3);
    replay(c, 0);
    assert_int_equal(c->replayed, fit);
    append_range(c, 0, fit);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    assert_int_equal(c->appended_ok, 2 * fit);
    assert_int_equal(c->appended_full, 3);
    close_spool(c);
}

static void test_bad_use(void **state)
{
    ctx_t *c = *state;
    spool_opts_t o = {.dir = c->dir, .max_bytes = 1 << 20};
    spool_opts_t zero = {.dir = c->dir};
    spool_t *sp;
    assert_int_equal(spool_open(&c->loop, &zero, &sp), IOC_EINVAL);
    assert_int_equal(spool_open(&c->loop, &o, &c->sp), 0);
    assert_int_equal(spool_append(c->sp, "x", 1, NULL, NULL), IOC_EINVAL);
    assert_int_equal(spool_peek(c->sp, NULL, NULL), IOC_EINVAL);
    assert_int_equal(spool_pop(c->sp), IOC_EINVAL);
    /* An empty spool answers a peek with IOC_ENOTFOUND. */
    replay(c, 0);
    assert_int_equal(c->replayed, 0);
    close_spool(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_thousand_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_use, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

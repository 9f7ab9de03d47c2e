/* The spool's disk core: order across segments and reopen, the cursor, torn and corrupt tails,
 * disk errors (RLIMIT_FSIZE stands in for a full disk). */
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "helper_spool.h"
#include "ioc/error.h"
#include "store/spool_disk.h"

typedef struct fixture {
    char root[PATH_MAX];
    char dir[PATH_MAX + 8];
} fixture_t;

static int setup(void **state)
{
    static fixture_t f;
    snprintf(f.root, sizeof f.root, "%s", tmpdir_new());
    snprintf(f.dir, sizeof f.dir, "%s/spool", f.root);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    tmpdir_remove(f->root);
    return 0;
}

static void append_range(spool_disk_t *d, unsigned from, unsigned to)
{
    unsigned char buf[1500];
    for (unsigned i = from; i < to; i++) {
        rec_fill(i, buf);
        assert_int_equal(spool_disk_append(d, buf, rec_len(i)), 0);
    }
}

/* Reads and consumes records from..to-1, checking each. */
static void consume_range(spool_disk_t *d, unsigned from, unsigned to)
{
    for (unsigned i = from; i < to; i++) {
        const void *rec;
        size_t len;
        assert_int_equal(spool_disk_read(d, &rec, &len), 0);
        rec_expect(i, rec, len);
        assert_int_equal(spool_disk_consume(d), 0);
    }
}

static uint64_t bytes_of(unsigned from, unsigned to)
{
    uint64_t n = 0;
    for (unsigned i = from; i < to; i++)
        n += SPOOL_REC_HEADER + rec_len(i);
    return n;
}

static void expect_empty(spool_disk_t *d)
{
    const void *rec;
    size_t len;
    assert_int_equal(spool_disk_read(d, &rec, &len), IOC_ENOTFOUND);
    assert_int_equal(spool_disk_consume(d), IOC_EINVAL);
}

static void test_order_segments_cursor(void **state)
{
    fixture_t *f = *state;
    spool_disk_t *d;
    spool_disk_stats_t st;
    const unsigned n = 300;
    assert_int_equal(spool_disk_open(f->dir, 8192, &d), 0);
    append_range(d, 0, n);
    spool_disk_get_stats(d, &st);
    assert_int_equal(st.records, n);
    assert_int_equal(st.bytes, bytes_of(0, n));
    spool_disk_close(d);
    int segs = seg_count(f->dir);
    assert_true(segs >= 10);
    for (int k = 0; k < segs; k++)
        assert_true(file_size(seg_path(f->dir, k)) <= 8192);

    /* Reopen, consume a third: the segments they filled are deleted. */
    assert_int_equal(spool_disk_open(f->dir, 8192, &d), 0);
    spool_disk_get_stats(d, &st);
    assert_int_equal(st.records, n);
    assert_int_equal(st.corrupt_cuts, 0);
    consume_range(d, 0, 100);
    spool_disk_get_stats(d, &st);
    assert_int_equal(st.records, n - 100);
    assert_int_equal(st.bytes, bytes_of(100, n));
    assert_int_equal(seg_count(f->dir), (int)st.segments);
    assert_true(seg_count(f->dir) < segs);
    /* A read without consume is returned again after reopen. */
    const void *rec;
    size_t len;
    assert_int_equal(spool_disk_read(d, &rec, &len), 0);
    rec_expect(100, rec, len);
    spool_disk_close(d);

    /* The cursor survived: consumed records are not returned again. */
    assert_int_equal(spool_disk_open(f->dir, 8192, &d), 0);
    spool_disk_get_stats(d, &st);
    assert_int_equal(st.records, n - 100);
    assert_int_equal(st.bytes, bytes_of(100, n));
    consume_range(d, 100, n);
    expect_empty(d);
    assert_int_equal(seg_count(f->dir), 0);
    /* Appends after a full drain go on in a new segment, also after reopen. */
    append_range(d, n, n + 3);
    spool_disk_close(d);
    assert_int_equal(spool_disk_open(f->dir, 8192, &d), 0);
    spool_disk_get_stats(d, &st);
    assert_int_equal(st.records, 3);
    consume_range(d, n, n + 3);
    expect_empty(d);
    spool_disk_close(d);
}

static void test_torn_tail(void **state)
{
    fixture_t *f = *state;
    spool_disk_t *d;
    spool_disk_stats_t st;
    assert_int_equal(spool_disk_open(f->dir, 1 << 20, &d), 0);
    append_range(d, 1, 11);
    spool_disk_close(d);
    const char *seg = seg_path(f->dir, 0);
    uint64_t good = bytes_of(1, 10);
    /* Power cut in the middle of record 10's payload. */
    assert_int_equal(truncate(seg, (off_t)(good + SPOOL_REC_HEADER + 5)), 0);
    assert_int_equal(spool_disk_open(f->dir, 1 << 20, &d), 0);
    spool_disk_get_stats(d, &st);
    assert_int_equal(st.corrupt_cuts, 1);
    assert_int_equal(st.bytes_cut, SPOOL_REC_HEADER + 5);
    assert_int_equal(st.records, 9);
    assert_int_equal(file_size(seg), good);
    append_range(d, 100, 102);
    spool_disk_close(d);

    assert_int_equal(spool_disk_open(f->dir, 1 << 20, &d), 0);
    spool_disk_get_stats(d, &st);
    assert_int_equal(st.corrupt_cuts, 0);
    assert_int_equal(st.records, 11);
    consume_range(d, 1, 10);
    consume_range(d, 100, 102);
    expect_empty(d);
    spool_disk_close(d);
}

static void test_flipped_byte(void **state)
{
    fixture_t *f = *state;
    spool_disk_t *d;
    spool_disk_stats_t st;
    assert_int_equal(spool_disk_open(f->dir, 1 << 20, &d), 0);
    append_range(d, 1, 11);
    spool_disk_close(d);
    const char *seg = seg_path(f->dir, 0);
    uint64_t size = file_size(seg), at = bytes_of(1, 6);
    file_flip(seg, at + SPOOL_REC_HEADER + rec_len(6) / 2); /* inside record 6's payload */
    assert_int_equal(spool_disk_open(f->dir, 1 << 20, &d), 0);
    spool_disk_get_stats(d, &st);
    assert_int_equal(st.corrupt_cuts, 1);
    assert_int_equal(st.bytes_cut, size - at);
    assert_int_equal(st.records, 5);
    append_range(d, 200, 201);
    consume_range(d, 1, 6);
    consume_range(d, 200, 201);
    expect_empty(d);
    spool_disk_close(d);
}

/* A bad record in an older segment cuts that segment only; later segments are kept. */
static void test_corrupt_older_segment(void **state)
{
    fixture_t *f = *state;
    spool_disk_t *d;
    spool_disk_stats_t st;
    assert_int_equal(spool_disk_open(f->dir, 4096, &d), 0);
    append_range(d, 0, 60);
    spool_disk_close(d);
    assert_true(seg_count(f->dir) >= 3);
    /* The first segment holds records 0..k-1. */
    uint64_t size0 = file_size(seg_path(f->dir, 0));
    unsigned k = 0;
    while (bytes_of(0, k + 1) <= size0)
        k++;
    assert_int_equal(bytes_of(0, k), size0);
    assert_true(k >= 3);
    file_flip(seg_path(f->dir, 0), bytes_of(0, 2) + 1); /* record 2's magic */
    assert_int_equal(spool_disk_open(f->dir, 4096, &d), 0);
    spool_disk_get_stats(d, &st);
    assert_int_equal(st.corrupt_cuts, 1);
    assert_int_equal(st.bytes_cut, size0 - bytes_of(0, 2));
    assert_int_equal(st.records, 60 - (k - 2));
    consume_range(d, 0, 2);
    consume_range(d, k, 60);
    expect_empty(d);
    spool_disk_close(d);
}

/* Corruption that appears after the scan is cut when the read meets it. */
static void test_corrupt_at_read(void **state)
{
    fixture_t *f = *state;
    spool_disk_t *d;
    spool_disk_stats_t st;
    assert_int_equal(spool_disk_open(f->dir, 1 << 20, &d), 0);
    append_range(d, 1, 6);
    consume_range(d, 1, 3);
    file_flip(seg_path(f->dir, 0), bytes_of(1, 4) + SPOOL_REC_HEADER); /* record 4 */
    consume_range(d, 3, 4);
    const void *rec;
    size_t len;
    assert_int_equal(spool_disk_read(d, &rec, &len), IOC_ENOTFOUND);
    spool_disk_get_stats(d, &st);
    assert_int_equal(st.corrupt_cuts, 1);
    assert_int_equal(st.bytes_cut, bytes_of(4, 6));
    assert_int_equal(st.records, 0);
    assert_int_equal(st.bytes, 0);
    append_range(d, 300, 302);
    consume_range(d, 300, 302);
    expect_empty(d);
    spool_disk_close(d);
}

static void test_bad_cursor_replays(void **state)
{
    fixture_t *f = *state;
    spool_disk_t *d;
    spool_disk_stats_t st;
    char path[PATH_MAX + 16];
    assert_int_equal(spool_disk_open(f->dir, 1 << 20, &d), 0);
    append_range(d, 1, 6);
    consume_range(d, 1, 3);
    spool_disk_close(d);
    snprintf(path, sizeof path, "%s/cursor", f->dir);
    file_flip(path, 4);
    /* An unreadable cursor replays from the oldest record: twice is fine, lost is not. */
    assert_int_equal(spool_disk_open(f->dir, 1 << 20, &d), 0);
    spool_disk_get_stats(d, &st);
    assert_int_equal(st.records, 5);
    consume_range(d, 1, 6);
    spool_disk_close(d);
}

static void test_disk_full(void **state)
{
    fixture_t *f = *state;
    spool_disk_t *d;
    spool_disk_stats_t st;
    unsigned char buf[1000];
    struct rlimit old, lim;
    assert_int_equal(spool_disk_open(f->dir, 1 << 20, &d), 0);
    append_range(d, 1, 2); /* creates the segment and the directory entries */
    uint64_t first = bytes_of(1, 2);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = first + 5 * (SPOOL_REC_HEADER + sizeof buf) + 500;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    unsigned ok = 0;
    int rc;
    memset(buf, 0xAB, sizeof buf);
    while ((rc = spool_disk_append(d, buf, sizeof buf)) == 0)
        ok++;
    assert_int_equal(rc, IOC_EIO);
    assert_int_equal(ok, 5);
    /* The partial record was cut off; a second failure is counted too. */
    const char *seg = seg_path(f->dir, 0);
    assert_int_equal(file_size(seg), first + 5 * (SPOOL_REC_HEADER + sizeof buf));
    assert_int_equal(spool_disk_append(d, buf, sizeof buf), IOC_EIO);
    spool_disk_get_stats(d, &st);
    assert_int_equal(st.write_errors, 2);
    assert_int_equal(st.records, 6);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_DFL);

    /* Everything acknowledged before reads back, and appends work again. */
    consume_range(d, 1, 2);
    for (unsigned i = 0; i < ok; i++) {
        const void *rec;
        size_t len;
        assert_int_equal(spool_disk_read(d, &rec, &len), 0);
        assert_int_equal(len, sizeof buf);
        assert_memory_equal(rec, buf, len);
        assert_int_equal(spool_disk_consume(d), 0);
    }
    append_range(d, 400, 401);
    spool_disk_close(d);
    assert_int_equal(spool_disk_open(f->dir, 1 << 20, &d), 0);
    spool_disk_get_stats(d, &st);
    assert_int_equal(st.corrupt_cuts, 0);
    assert_int_equal(st.records, 1);
    consume_range(d, 400, 401);
    spool_disk_close(d);
}

static void test_bad_args(void **state)
{
    fixture_t *f = *state;
    spool_disk_t *d;
    assert_int_equal(spool_disk_open("", 0, &d), IOC_EINVAL);
    assert_int_equal(spool_disk_open("/proc/iocd-no-such/spool", 0, &d), IOC_EIO);
    assert_int_equal(spool_disk_open(f->dir, 0, &d), 0);
    assert_int_equal(spool_disk_append(d, "", (size_t)SPOOL_REC_MAX + 1), IOC_ETOOBIG);
    expect_empty(d);
    spool_disk_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_order_segments_cursor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_older_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_at_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_cursor_replays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for batches: building, the binary record round trip, corrupt input, batch ids. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include <cmocka.h>

#include "ingest/batch.h"
#include "ioc/error.h"

static batch_t *make_sample_batch(void)
{
    batch_t *b = batch_new(0x0123456789abcdefULL);
    assert_non_null(b);
    assert_int_equal(batch_add_series(b, "traffic.speed", "{\"district\":\"Tân An\",\"id\":\"s1\"}"), 0);
    assert_int_equal(batch_add_series(b, "dịch_vụ_công.hồ_sơ", "{\"huyện\":\"Đức Hòa\"}"), 1);
    assert_int_equal(batch_add_series(b, "lighting.power", "{}"), 2);
    assert_int_equal(batch_add_sample(b, 0, 1764000000000000LL, 42.5), 0);
    assert_int_equal(batch_add_sample(b, 1, -5, -0.0), 0);
    assert_int_equal(batch_add_sample(b, 2, INT64_MAX, 1e300), 0);
    assert_int_equal(batch_add_sample(b, 0, 0, NAN), 0);
    return b;
}

static void test_grows(void **state)
{
    (void)state;
    batch_t *b = batch_new(7);
    assert_non_null(b);
    assert_int_equal(batch_add_series(b, "m", "{}"), 0);
    for (int i = 0; i < 100000; i++)
        assert_int_equal(batch_add_sample(b, 0, i, i * 0.5), 0);
    assert_int_equal(b->nsamples, 100000);
    assert_true(b->samples_cap >= 100000);
    assert_int_equal(b->samples[99999].ts_us, 99999);
    assert_true(b->samples[12345].value == 6172.5);
    for (int i = 1; i < 1000; i++)
        assert_int_equal(batch_add_series(b, "m", "{}"), i);
    assert_int_equal(b->nseries, 1000);
    batch_free(b);
    batch_free(NULL);
}

static void test_round_trip(void **state)
{
    (void)state;
    batch_t *b = make_sample_batch();
    strbuf_t sb;
    strbuf_init(&sb, 0);
    assert_int_equal(batch_encode(b, &sb), 0);

    batch_t *d = NULL;
    assert_int_equal(batch_decode(sb.data, sb.len, &d), 0);
    assert_non_null(d);
    assert_true(d->id == 0x0123456789abcdefULL);
    assert_int_equal(d->nseries, 3);
    assert_string_equal(d->series[0].tags_json, "{\"district\":\"Tân An\",\"id\":\"s1\"}");
    assert_string_equal(d->series[1].metric, "dịch_vụ_công.hồ_sơ");
    assert_string_equal(d->series[1].tags_json, "{\"huyện\":\"Đức Hòa\"}");
    assert_string_equal(d->series[2].metric, "lighting.power");
    assert_string_equal(d->series[2].tags_json, "{}");
    assert_int_equal(d->nsamples, 4);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(d->samples[i].series, b->samples[i].series);
        assert_true(d->samples[i].ts_us == b->samples[i].ts_us);
        assert_memory_equal(&d->samples[i].value, &b->samples[i].value, sizeof(double));
    }
    assert_true(signbit(d->samples[1].value));
    assert_true(isnan(d->samples[3].value));

    /* Re-encoding the decoded batch gives the same bytes. */
    strbuf_t sb2;
    strbuf_init(&sb2, 0);
    assert_int_equal(batch_encode(d, &sb2), 0);
    assert_int_equal(sb2.len, sb.len);
    assert_memory_equal(sb2.data, sb.data, sb.len);

    strbuf_free(&sb2);
    strbuf_free(&sb);
    batch_free(d);
    batch_free(b);
}

static void test_empty_round_trip(void **state)
{
    (void)state;
    batch_t *b = batch_new(1);
    strbuf_t sb;
    strbuf_init(&sb, 0);
    assert_int_equal(batch_encode(b, &sb), 0);
    assert_int_equal(sb.len, 1 + 8 + 4 + 4);
    batch_t *d = NULL;
    assert_int_equal(batch_decode(sb.data, sb.len, &d), 0);
    assert_int_equal(d->nseries, 0);
    assert_int_equal(d->nsamples, 0);
    assert_true(d->id == 1);
    batch_free(d);
    strbuf_free(&sb);
    batch_free(b);
}

/* Every proper prefix of a valid record is refused, reading only the given bytes. */
static void test_truncated(void **state)
{
    (void)state;
    batch_t *b = make_sample_batch();
    strbuf_t sb;
    strbuf_init(&sb, 0);
    assert_int_equal(batch_encode(b, &sb), 0);
    for (size_t n = 0; n < sb.len; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, sb.data, n);
        batch_t *d = (batch_t *)0x1;
        assert_int_equal(batch_decode(copy, n, &d), IOC_ECORRUPT);
        assert_null(d);
        free(copy);
    }
    /* One byte too many is refused as well. */
    strbuf_append(&sb, "x", 1);
    batch_t *d = NULL;
    assert_int_equal(batch_decode(sb.data, sb.len, &d), IOC_ECORRUPT);
    strbuf_free(&sb);
    batch_free(b);
}

static void test_corrupt_fields(void **state)
{
    (void)state;
    batch_t *b = make_sample_batch();
    strbuf_t sb;
    strbuf_init(&sb, 0);
    assert_int_equal(batch_encode(b, &sb), 0);
    uint8_t *rec = (uint8_t *)sb.data;
    batch_t *d = NULL;

    rec[0] = 2; /* unknown version */
    assert_int_equal(batch_decode(rec, sb.len, &d), IOC_ECORRUPT);
    rec[0] = 1;

    rec[9] = 0xff; /* nseries far beyond the record */
    assert_int_equal(batch_decode(rec, sb.len, &d), IOC_ECORRUPT);
    rec[9] = 3;

    rec[13] = 0xf0; /* first metric length beyond the record */
    assert_int_equal(batch_decode(rec, sb.len, &d), IOC_ECORRUPT);
    rec[13] = (uint8_t)strlen("traffic.speed");

    rec[17] = '\0'; /* NUL inside a metric */
    assert_int_equal(batch_decode(rec, sb.len, &d), IOC_ECORRUPT);
    rec[17] = 't';

    size_t first_sample = sb.len - 4 * 20;
    rec[first_sample] = 3; /* series index out of range */
    assert_int_equal(batch_decode(rec, sb.len, &d), IOC_ECORRUPT);
    rec[first_sample] = 0;

    assert_int_equal(batch_decode(rec, sb.len, &d), 0);
    batch_free(d);
    strbuf_free(&sb);
    batch_free(b);
}

static void test_garbage(void **state)
{
    (void)state;
    srand(12345);
    uint8_t buf[256];
    int accepted = 0;
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = (size_t)(rand() % (int)sizeof buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)rand();
        if (n)
            buf[0] = 1;
        batch_t *d = NULL;
        int rc = batch_decode(buf, n, &d);
        assert_true(rc == 0 || rc == IOC_ECORRUPT);
        if (rc == 0) {
            accepted++;
            batch_free(d);
        }
    }
    /* Random bytes almost never frame exactly. */
    assert_true(accepted < 10);
}

static void test_encode_bad_index(void **state)
{
    (void)state;
    batch_t *b = batch_new(3);
    assert_int_equal(batch_add_series(b, "m", "{}"), 0);
    assert_int_equal(batch_add_sample(b, 1, 0, 1.0), 0);
    strbuf_t sb;
    strbuf_init(&sb, 0);
    assert_int_equal(batch_encode(b, &sb), IOC_EINVAL);
    strbuf_free(&sb);
    batch_free(b);
}

static void test_next_id(void **state)
{
    (void)state;
    char dir[] = "/tmp/iocd-batch-id-XXXXXX", err[256], path[128];
    assert_non_null(mkdtemp(dir));
    assert_int_equal(batch_id_init(dir, err, sizeof err), 0);
    uint64_t first = batch_next_id(), prev = first;
    for (int i = 0; i < 100000; i++) {
        uint64_t id = batch_next_id();
        assert_true(id > prev);
        prev = id;
    }
    assert_true(first < (1ull << 63));
    /* A restart (whatever the clock says) takes a higher epoch: every new id is above the old. */
    assert_int_equal(batch_id_init(dir, err, sizeof err), 0);
    uint64_t after = batch_next_id();
    assert_true(after > prev);
    assert_int_equal(after >> 43, 2);
    assert_int_equal(after >> 31 & 0xfff, first >> 31 & 0xfff); /* same instance bits */
    /* A damaged file is an error that names it, not a silent restart from epoch 1. */
    snprintf(path, sizeof path, "%s/batch_epoch", dir);
    FILE *f = fopen(path, "w");
    fputs("garbage", f);
    fclose(f);
    assert_int_equal(batch_id_init(dir, err, sizeof err), IOC_EIO);
    assert_non_null(strstr(err, "batch_epoch"));
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grows),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_empty_round_trip),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_corrupt_fields),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_encode_bad_index),
        cmocka_unit_test(test_next_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

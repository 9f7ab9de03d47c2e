/* Hand-written cases for the line protocol parser: escapes, types, precisions, errors, limits. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_lp.h"
#include "ingest/lineproto.h"

#define NOW_US INT64_C(1700000000123456)

/* Parses `len` bytes from an exact-size heap copy (a sanitizer build sees any over-read). */
static size_t parse_n(const char *text, size_t len, lp_precision_t prec, got_t *g, lp_error_t *e)
{
    char *body = malloc(len ? len : 1);
    assert_non_null(body);
    memcpy(body, text, len);
    size_t bad = lp_parse(body, len, prec, NOW_US, got_fn, g, e);
    free(body);
    return bad;
}

static size_t parse(const char *text, lp_precision_t prec, got_t *g, lp_error_t *e)
{
    return parse_n(text, strlen(text), prec, g, e);
}

/* Asserts that `text` (one line) is refused with exactly `msg` and yields no sample. */
static void expect_error(const char *text, const char *msg)
{
    got_t g = {0};
    lp_error_t e;
    size_t bad = parse(text, LP_NS, &g, &e);
    if (bad != 1 || strcmp(e.msg, msg) != 0)
        print_message("input [%s]: %zu bad, msg [%s], want [%s]\n", text, bad, e.msg, msg);
    assert_int_equal(bad, 1);
    assert_int_equal(e.line, 1);
    assert_string_equal(e.msg, msg);
    assert_int_equal(g.n, 0);
    got_free(&g);
}

/* Asserts that sample `series` was seen with `value` at `ts`. */
static void expect_sample(const got_t *g, const char *series, double value, int64_t ts)
{
    long i = got_find(g, series);
    if (i < 0)
        print_message("no sample %s\n", series);
    assert_true(i >= 0);
    assert_true(g->s[i].value == value);
    assert_int_equal(g->s[i].ts_us, ts);
}

static void test_naming_and_types(void **state)
{
    (void)state;
    got_t g = {0};
    lp_error_t e;
    assert_int_equal(parse("traffic,id=s1,district=d1 speed=42.5,value=7i,count=3u,ok=true,"
                           "down=F,note=\"x\" 1700000000000000000",
                           LP_NS, &g, &e),
                     0);
    assert_int_equal(e.line, 0);
    assert_int_equal(g.n, 5);
    assert_int_equal(g.calls, 1);
    expect_sample(&g, "traffic.speed{district=d1,id=s1}", 42.5, INT64_C(1700000000000000));
    expect_sample(&g, "traffic{district=d1,id=s1}", 7, INT64_C(1700000000000000));
    expect_sample(&g, "traffic.count{district=d1,id=s1}", 3, INT64_C(1700000000000000));
    expect_sample(&g, "traffic.ok{district=d1,id=s1}", 1, INT64_C(1700000000000000));
    expect_sample(&g, "traffic.down{district=d1,id=s1}", 0, INT64_C(1700000000000000));
    assert_int_equal(got_find(&g, "traffic.note{district=d1,id=s1}"), -1);
    got_free(&g);
}

static void test_booleans(void **state)
{
    (void)state;
    static const char *truths[] = {"t", "T", "true", "True", "TRUE"};
    static const char *lies[] = {"f", "F", "false", "False", "FALSE"};
    char line[64];
    for (size_t i = 0; i < 5; i++) {
        got_t g = {0};
        lp_error_t e;
        snprintf(line, sizeof line, "m a=%s,b=%s", truths[i], lies[i]);
        assert_int_equal(parse(line, LP_NS, &g, &e), 0);
        expect_sample(&g, "m.a{}", 1, NOW_US);
        expect_sample(&g, "m.b{}", 0, NOW_US);
        got_free(&g);
    }
    expect_error("m a=tRUE", "field \"a\": invalid value \"tRUE\"");
    expect_error("m a=yes", "field \"a\": invalid value \"yes\"");
}

static void test_numbers(void **state)
{
    (void)state;
    got_t g = {0};
    lp_error_t e;
    assert_int_equal(parse("m a=1.5e3,b=-2E-2,c=.5,d=5.,e=1e+2,f=-0.64,g=9223372036854775807i,"
                           "h=-9223372036854775808i,i=18446744073709551615u,j=0u,k=000123,"
                           "l=1.7976931348623157e308,m=123456789012345678901234567890,n=0.1",
                           LP_NS, &g, &e),
                     0);
    expect_sample(&g, "m.a{}", 1500, NOW_US);
    expect_sample(&g, "m.b{}", -0.02, NOW_US);
    expect_sample(&g, "m.c{}", 0.5, NOW_US);
    expect_sample(&g, "m.d{}", 5, NOW_US);
    expect_sample(&g, "m.e{}", 100, NOW_US);
    expect_sample(&g, "m.f{}", -0.64, NOW_US);
    expect_sample(&g, "m.g{}", 9223372036854775807.0, NOW_US);
    expect_sample(&g, "m.h{}", -9223372036854775808.0, NOW_US);
    expect_sample(&g, "m.i{}", 18446744073709551615.0, NOW_US);
    expect_sample(&g, "m.j{}", 0, NOW_US);
    expect_sample(&g, "m.k{}", 123, NOW_US);
    expect_sample(&g, "m.l{}", 1.7976931348623157e308, NOW_US);
    expect_sample(&g, "m.m{}", 123456789012345678901234567890.0, NOW_US);
    expect_sample(&g, "m.n{}", 0.1, NOW_US);
    got_free(&g);
    /* Values off the exact fast path must still round correctly. */
    assert_int_equal(parse("m a=1e23,b=9007199254740993,c=4.9e-324,d=2.2250738585072011e-308,"
                           "e=0.30000000000000004,f=-1e-23,g=1e-400",
                           LP_NS, &g, &e),
                     0);
    expect_sample(&g, "m.a{}", 1e23, NOW_US);
    expect_sample(&g, "m.b{}", 9007199254740993.0, NOW_US);
    expect_sample(&g, "m.c{}", 4.9e-324, NOW_US);
    expect_sample(&g, "m.d{}", 2.2250738585072011e-308, NOW_US);
    expect_sample(&g, "m.e{}", 0.30000000000000004, NOW_US);
    expect_sample(&g, "m.f{}", -1e-23, NOW_US);
    expect_sample(&g, "m.g{}", 0, NOW_US);
    got_free(&g);

    expect_error("m speed=12x", "field \"speed\": invalid number \"12x\"");
    expect_error("m v=NaN", "field \"v\": invalid value \"NaN\"");
    expect_error("m v=nan", "field \"v\": invalid value \"nan\"");
    expect_error("m v=Inf", "field \"v\": invalid value \"Inf\"");
    expect_error("m v=-Inf", "field \"v\": invalid number \"-Inf\"");
    expect_error("m v=+1", "field \"v\": invalid number \"+1\"");
    expect_error("m v=0x10", "field \"v\": invalid number \"0x10\"");
    expect_error("m v=1e", "field \"v\": invalid number \"1e\"");
    expect_error("m v=1.2.3", "field \"v\": invalid number \"1.2.3\"");
    expect_error("m v=1e400", "field \"v\": number out of range \"1e400\"");
    expect_error("m v=9223372036854775808i", "field \"v\": number out of range \"9223372036854775808i\"");
    expect_error("m v=-9223372036854775809i", "field \"v\": number out of range \"-9223372036854775809i\"");
    expect_error("m v=18446744073709551616u", "field \"v\": number out of range \"18446744073709551616u\"");
    expect_error("m v=-1u", "field \"v\": invalid number \"-1u\"");
    expect_error("m v=1.0i", "field \"v\": invalid number \"1.0i\"");
    expect_error("m v=", "field \"v\": missing value");
    expect_error("m v=,w=1", "field \"v\": missing value");
}

static void test_escapes(void **state)
{
    (void)state;
    got_t g = {0};
    lp_error_t e;
    /* measurement: "\," and "\ " unescape, "\=" stays; keys and tag values also unescape "\=";
     * a backslash before anything else is kept. */
    assert_int_equal(parse("c\\,p\\ u\\=x,re\\,g\\=i\\ on=a\\,b\\=c\\ d,h\\ost=two\\\\ words "
                           "f\\,k\\=y\\ z=1,value=2",
                           LP_NS, &g, &e),
                     0);
    assert_int_equal(g.n, 2);
    expect_sample(&g, "c,p u\\=x.f,k=y z{h\\ost=two\\ words,re,g=i on=a,b=c d}", 1, NOW_US);
    expect_sample(&g, "c,p u\\=x{h\\ost=two\\ words,re,g=i on=a,b=c d}", 2, NOW_US);
    got_free(&g);

    /* string fields: escaped quote and backslash; separators inside quotes are content. */
    assert_int_equal(parse("m s=\"a \\\"q\\\" b\\\\\",t=\"x,y=z w\",v=3 5000", LP_NS, &g, &e), 0);
    assert_int_equal(g.n, 1);
    expect_sample(&g, "m.v{}", 3, 5);
    got_free(&g);
    expect_error("m s=\"a\\\"", "field \"s\": unterminated string");
    expect_error("m s=\"a\"b", "field \"s\": unexpected text after string");
}

static void test_precisions(void **state)
{
    (void)state;
    static const struct {
        lp_precision_t prec;
        const char *ts;
        int64_t us;
    } cases[] = {
        {LP_S, "1700000000", INT64_C(1700000000000000)},
        {LP_MS, "1700000000123", INT64_C(1700000000123000)},
        {LP_US, "1700000000123456", INT64_C(1700000000123456)},
        {LP_NS, "1700000000123456789", INT64_C(1700000000123456)},
        {LP_NS, "-1", -1},
        {LP_NS, "-1000", -1},
        {LP_S, "-2", -2000000},
    };
    char line[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        got_t g = {0};
        lp_error_t e;
        snprintf(line, sizeof line, "m v=1  %s  ", cases[i].ts);
        assert_int_equal(parse(line, cases[i].prec, &g, &e), 0);
        expect_sample(&g, "m.v{}", 1, cases[i].us);
        got_free(&g);
        assert_int_equal(parse("m v=1", cases[i].prec, &g, &e), 0);
        expect_sample(&g, "m.v{}", 1, NOW_US);
        got_free(&g);
    }
    got_t g = {0};
    lp_error_t e;
    assert_int_equal(parse("m v=1 9223372036854775807", LP_S, &g, &e), 1);
    assert_string_equal(e.msg, "timestamp out of range \"9223372036854775807\"");
    assert_int_equal(parse("m v=1 9223372036854775", LP_MS, &g, &e), 0);
    expect_sample(&g, "m.v{}", 1, INT64_C(9223372036854775000));
    got_free(&g);
    assert_int_equal(parse("m v=1 9223372036854776", LP_MS, &g, &e), 1);
    assert_string_equal(e.msg, "timestamp out of range \"9223372036854776\"");
    assert_int_equal(g.n, 0);
    expect_error("m v=1 12a", "invalid timestamp \"12a\"");
    expect_error("m v=1 -", "invalid timestamp \"-\"");
    expect_error("m v=1 1.5", "invalid timestamp \"1.5\"");
    expect_error("m v=1 9223372036854775808", "timestamp out of range \"9223372036854775808\"");
    expect_error("m v=1 1 2", "unexpected text after timestamp at column 9");

    assert_int_equal(lp_precision_parse("ns"), LP_NS);
    assert_int_equal(lp_precision_parse("n"), LP_NS);
    assert_int_equal(lp_precision_parse("us"), LP_US);
    assert_int_equal(lp_precision_parse("u"), LP_US);
    assert_int_equal(lp_precision_parse("ms"), LP_MS);
    assert_int_equal(lp_precision_parse("s"), LP_S);
    assert_int_equal(lp_precision_parse("m"), -1);
    assert_int_equal(lp_precision_parse(""), -1);
    assert_int_equal(lp_precision_parse(NULL), -1);
}

static void test_vietnamese(void **state)
{
    (void)state;
    got_t g = {0};
    lp_error_t e;
    assert_int_equal(parse("giao_thông,huyện=Thủ\\ Thừa,xã=Đức\\ Hòa,ghi_chú=Tân\\,An tốc_độ=38.5,"
                           "tên=\"Quốc lộ 1A\" 1700000000",
                           LP_S, &g, &e),
                     0);
    assert_int_equal(g.n, 1);
    expect_sample(&g, "giao_thông.tốc_độ{ghi_chú=Tân,An,huyện=Thủ Thừa,xã=Đức Hòa}", 38.5,
                  INT64_C(1700000000000000));
    got_free(&g);

    expect_error("m\xff v=1", "measurement: invalid UTF-8 at column 2");
    expect_error("m,k\xc0\xaf=v v=1", "tag key: invalid UTF-8 at column 4");
    expect_error("m,huyện=Th\xed\xa0\x80 v=1", "tag \"huyện\": invalid UTF-8 in value at column 13");
    expect_error("m f\xf4\x90\x80\x80=1", "field key: invalid UTF-8 at column 4");
    expect_error("m s=\"ab\xe1\x80\"", "field \"s\": invalid UTF-8 in string at column 8");
    expect_error("m,k=\xe1\x80", "tag \"k\": invalid UTF-8 in value at column 5");
    expect_error("m,k=a\x01 v=1", "tag \"k\": invalid character in value at column 6");
    expect_error("\tm v=1", "measurement: invalid character at column 1");
}

static void test_bad_lines_reported_good_kept(void **state)
{
    (void)state;
    got_t g = {0};
    lp_error_t e;
    const char *body = "m v=1 1000\n"
                       "m v=oops 2000\n"
                       "m v=3 3000\n"
                       "m,a=1,a=2 v=4 4000\n"
                       "m v=5 5000";
    assert_int_equal(parse(body, LP_NS, &g, &e), 2);
    assert_int_equal(e.line, 2);
    assert_string_equal(e.msg, "field \"v\": invalid value \"oops\"");
    assert_int_equal(g.n, 3);
    expect_sample(&g, "m.v{}", 1, 1);
    expect_sample(&g, "m.v{}", 1, 1);
    assert_true(g.s[1].value == 3 && g.s[1].ts_us == 3);
    assert_true(g.s[2].value == 5 && g.s[2].ts_us == 5);
    got_free(&g);

    /* A string field spanning lines counts its newlines. */
    assert_int_equal(parse("m s=\"a\nb\r\nc\",v=1 1000\nm v=x\n", LP_NS, &g, &e), 1);
    assert_int_equal(e.line, 4);
    assert_int_equal(g.n, 1);
    expect_sample(&g, "m.v{}", 1, 1);
    got_free(&g);
}

static void test_crlf_comments_blank(void **state)
{
    (void)state;
    got_t g = {0};
    lp_error_t e;
    const char *body = "# comment, with = signs and \"quotes\r\n"
                       "\r\n"
                       "   \r\n"
                       "\n"
                       "m v=1 1000000000\r\n"
                       "  # indented comment\r\n"
                       "   m v=2   \r\n"
                       "m v=bad\r\n"
                       "m v=3\r";
    assert_int_equal(parse(body, LP_NS, &g, &e), 1);
    assert_int_equal(e.line, 8);
    assert_string_equal(e.msg, "field \"v\": invalid value \"bad\"");
    assert_int_equal(g.n, 3);
    assert_true(g.s[0].value == 1 && g.s[0].ts_us == 1000000);
    assert_true(g.s[1].value == 2 && g.s[1].ts_us == NOW_US);
    assert_true(g.s[2].value == 3 && g.s[2].ts_us == NOW_US);
    got_free(&g);

    assert_int_equal(parse("", LP_NS, &g, &e), 0);
    assert_int_equal(e.line, 0);
    assert_int_equal(lp_parse(NULL, 0, LP_NS, NOW_US, got_fn, &g, &e), 0);
    assert_int_equal(parse("\n\n# only comments\n", LP_NS, &g, &e), 0);
    assert_int_equal(g.calls, 0);
}

static void test_structure_errors(void **state)
{
    (void)state;
    expect_error("cpu", "missing fields");
    expect_error("cpu ", "missing fields");
    expect_error("cpu,a=b", "missing fields");
    expect_error("cpu,a=b   ", "missing fields");
    expect_error("cpu,a=1,b=2,a=3 v=1", "duplicate tag \"a\"");
    expect_error("cpu,k=1,j=1,i=1,h=1,g=1,f=1,e=1,d=1,c=1,b=1,a=1,f=2 v=1", "duplicate tag \"f\"");
    expect_error(",a=b v=1", "missing measurement");
    expect_error("cpu, v=1", "missing tag key at column 5");
    expect_error("cpu,a v=1", "tag \"a\": missing \"=\"");
    expect_error("cpu,a= v=1", "tag \"a\": missing value");
    expect_error("cpu,a=b=c v=1", "tag \"a\": unescaped \"=\" in value");
    expect_error("cpu v=1,", "missing field key at column 9");
    expect_error("cpu =1", "missing field key at column 5");
    expect_error("cpu v", "field \"v\": missing \"=\"");
    expect_error("cpu v=1,w", "field \"w\": missing \"=\"");
}

static void test_only_strings_no_samples(void **state)
{
    (void)state;
    got_t g = {0};
    lp_error_t e;
    assert_int_equal(parse("m s=\"only text\"\nm v=1", LP_NS, &g, &e), 0);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.n, 1);
    got_free(&g);
}

/* Appends printf text to a growing buffer. */
static void cat(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    va_list ap;
    char tmp[64];
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (*len + (size_t)n + 1 > *cap) {
        *cap = (*len + (size_t)n + 1) * 2;
        *buf = realloc(*buf, *cap);
        assert_non_null(*buf);
    }
    memcpy(*buf + *len, tmp, (size_t)n + 1);
    *len += (size_t)n;
}

static void test_limits(void **state)
{
    (void)state;
    got_t g = {0};
    lp_error_t e;
    char *buf = NULL;
    size_t len = 0, cap = 0;

    for (int ntags = 256; ntags <= 257; ntags++) {
        len = 0;
        cat(&buf, &len, &cap, "m");
        for (int i = 0; i < ntags; i++)
            cat(&buf, &len, &cap, ",t%d=v", i);
        cat(&buf, &len, &cap, " v=1");
        size_t bad = parse_n(buf, len, LP_NS, &g, &e);
        assert_int_equal(bad, ntags > 256);
        if (bad)
            assert_string_equal(e.msg, "more than 256 tags");
        else
            assert_int_equal(g.s[0].series[0], 'm');
        got_free(&g);
    }
    for (int nfields = 1024; nfields <= 1025; nfields++) {
        len = 0;
        cat(&buf, &len, &cap, "m ");
        for (int i = 0; i < nfields; i++)
            cat(&buf, &len, &cap, "%sf%d=%di", i ? "," : "", i, i);
        size_t bad = parse_n(buf, len, LP_NS, &g, &e);
        assert_int_equal(bad, nfields > 1024);
        if (bad) {
            assert_string_equal(e.msg, "more than 1024 fields");
            assert_int_equal(g.n, 0);
        } else {
            assert_int_equal(g.n, 1024);
            expect_sample(&g, "m.f1023{}", 1023, NOW_US);
        }
        got_free(&g);
    }

    /* A line of exactly 65536 bytes is fine; one more byte is refused and the next line kept. */
    for (size_t line = 65536; line <= 65537; line++) {
        len = 0;
        cat(&buf, &len, &cap, "m s=\"");
        while (len < line - 5)
            cat(&buf, &len, &cap, "x");
        cat(&buf, &len, &cap, "\",v=1\nm v=2");
        size_t bad = parse_n(buf, len, LP_NS, &g, &e);
        assert_int_equal(bad, line > 65536);
        assert_int_equal(g.n, line > 65536 ? 1 : 2);
        if (bad) {
            assert_int_equal(e.line, 1);
            assert_string_equal(e.msg, "line longer than 65536 bytes");
        }
        got_free(&g);
    }
    /* ... also when a string field's newlines make the line long (the rest of that string is
     * then read as lines of its own, each refused). */
    len = 0;
    cat(&buf, &len, &cap, "m s=\"");
    while (len < 70000)
        cat(&buf, &len, &cap, "0123456789abcde\n");
    cat(&buf, &len, &cap, "\",v=1\nm v=2");
    assert_true(parse_n(buf, len, LP_NS, &g, &e) > 1);
    assert_int_equal(g.n, 1);
    assert_string_equal(e.msg, "line longer than 65536 bytes");
    assert_int_equal(e.line, 1);
    free(buf);
    got_free(&g);
}

static void test_not_nul_terminated(void **state)
{
    (void)state;
    got_t g = {0};
    lp_error_t e;
    /* len stops mid-token: the parser must see only those bytes. */
    assert_int_equal(parse_n("cpu value=12", 11, LP_NS, &g, &e), 0);
    expect_sample(&g, "cpu{}", 1, NOW_US);
    got_free(&g);
    assert_int_equal(parse_n("cpu value=1.5e3 1000", 13, LP_NS, &g, &e), 0);
    expect_sample(&g, "cpu{}", 1.5, NOW_US);
    got_free(&g);
    assert_int_equal(parse_n("cpu value=1 12345", 14, LP_NS, &g, &e), 0);
    assert_true(g.s[0].ts_us == 0);
    got_free(&g);
    assert_int_equal(parse_n("cpu,a=b\\ c v=1", 9, LP_NS, &g, &e), 1);
    assert_string_equal(e.msg, "missing fields");
    assert_int_equal(parse_n("cpu s=\"abc\" 1", 9, LP_NS, &g, &e), 1);
    assert_string_equal(e.msg, "field \"s\": unterminated string");
    assert_int_equal(parse_n("cpu v=t", 7, LP_NS, &g, &e), 0);
    assert_int_equal(parse_n("cpu v=1 \xe1\x80\x80", 9, LP_NS, &g, &e), 1);
    assert_string_equal(e.msg, "invalid timestamp \"?\"");
    got_free(&g);
}

static void test_stop(void **state)
{
    (void)state;
    got_t g = {.stop_after = 2};
    lp_error_t e;
    assert_int_equal(parse("m v=1\nm v=2\nm v=oops\nm v=4", LP_NS, &g, &e), 0);
    assert_int_equal(g.calls, 2);
    assert_int_equal(g.n, 2);
    assert_int_equal(e.line, 0);
    got_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_naming_and_types),
        cmocka_unit_test(test_booleans),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_precisions),
        cmocka_unit_test(test_vietnamese),
        cmocka_unit_test(test_bad_lines_reported_good_kept),
        cmocka_unit_test(test_crlf_comments_blank),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_only_strings_no_samples),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_not_nul_terminated),
        cmocka_unit_test(test_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

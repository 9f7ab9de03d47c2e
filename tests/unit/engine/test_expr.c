/* Expressions: evaluation by hand, parse errors with their columns, status in both directions,
 * and config errors located as file:line:column: indicators[i].key. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "helper_engine.h"
#include "ioc/error.h"

static uv_loop_t loop;

static double eval(const char *text, const double *vals, bool *ok)
{
    expr_t *e;
    int col;
    char err[256];
    bool has[EXPR_MAX_TERMS];
    double out = NAN;
    if (expr_parse(text, &e, &col, err, sizeof err))
        fail_msg("%s: column %d: %s", text, col, err);
    for (size_t i = 0; i < EXPR_MAX_TERMS; i++)
        has[i] = true;
    *ok = expr_eval(e, vals, has, &out);
    expr_free(e);
    return out;
}

static void test_eval(void **state)
{
    (void)state;
    bool ok;
    const double v[] = {30, 10, 4};
    assert_float_equal(eval("1 + 2 * 3", v, &ok), 7, 0);
    assert_true(ok);
    assert_float_equal(eval("(1 + 2) * 3 - -1", v, &ok), 10, 0);
    assert_float_equal(eval("10 / 4 / 5", v, &ok), 0.5, 1e-12);
    assert_float_equal(eval("2 - 3 - 4", v, &ok), -5, 0);
    assert_float_equal(eval("1.5e2 + .5", v, &ok), 150.5, 0);
    /* terms in order of first use: a=30, b=10 */
    assert_float_equal(eval("100 * sum(a) / (sum(a) + sum(b))", v, &ok), 75, 1e-12);
    assert_true(ok);
    assert_float_equal(eval("avg(a{d=\"x\"}) - avg(a{d='y'}) + count(b)", v, &ok), 30 - 10 + 4, 0);
    eval("sum(a) / (sum(b) - sum(b))", v, &ok);
    assert_false(ok); /* division by zero: no data */
}

static void test_terms_shared_and_sorted(void **state)
{
    (void)state;
    expr_t *e;
    int col;
    char err[256];
    assert_int_equal(expr_parse("sum(m{b=\"2\", a=\"1\"}) + sum(m{a='1',b='2'}) + p95(m)", &e,
                                &col, err, sizeof err), 0);
    assert_int_equal(expr_nterms(e), 2);
    const expr_term_t *t = expr_term(e, 0);
    assert_int_equal(t->agg, AGG_SUM);
    assert_string_equal(t->metric, "m");
    assert_int_equal(t->nfilters, 2);
    assert_string_equal(t->filters[0].key, "a");
    assert_string_equal(t->filters[1].value, "2");
    assert_int_equal(expr_term(e, 1)->agg, AGG_P95);
    double vals[2] = {3, 1};
    bool has[2] = {true, false};
    double out;
    assert_false(expr_eval(e, vals, has, &out)); /* a term without data: no data */
    has[1] = true;
    assert_true(expr_eval(e, vals, has, &out));
    assert_float_equal(out, 7, 0);
    expr_free(e);
}

static void expect_error(const char *text, int column, const char *msg)
{
    expr_t *e = NULL;
    int col = -1;
    char err[256];
    assert_int_equal(expr_parse(text, &e, &col, err, sizeof err), IOC_EINVAL);
    assert_null(e);
    if (col != column || strstr(err, msg) == NULL)
        fail_msg("%s: got column %d \"%s\", want column %d \"%s\"", text, col, err, column, msg);
}

static void test_parse_errors(void **state)
{
    (void)state;
    expect_error("sum(x", 6, "expected ')'");
    expect_error("100 * (sum(a) + 1", 18, "expected ')'");
    expect_error("(1 + 2", 7, "expected ')', found the end");
    expect_error("1 +", 4, "expected a number");
    expect_error("", 1, "empty expression");
    expect_error("sum(a) sum(b)", 8, "unexpected 's'");
    expect_error("mean(a)", 1, "unknown aggregation \"mean\"");
    expect_error("sum()", 5, "expected a metric name");
    expect_error("sum(a{d=x})", 9, "expected a quoted tag value, found 'x'");
    expect_error("sum(a{d=\x01})", 9, "expected a quoted tag value, found byte 0x01");
    expect_error("sum(a{d=\"x\" e=\"y\"})", 13, "expected ',' or '}'");
    expect_error("sum(a{d=\"x})", 9, "unterminated string");
    expect_error("sum(a{d=\"1\",d=\"2\"})", 13, "given twice");
    expect_error("1 + x", 5, "expected a number, '(' or an aggregate");
    expect_error("2 * 1e", 6, "exponent");
    /* columns count UTF-8 characters, not bytes */
    expect_error("sum(đèn{d=\"Tân An\"}) )", 22, "unexpected ')'");
    char deep[200];
    memset(deep, '(', 100);
    strcpy(deep + 100, "1");
    expect_error(deep, 33, "nested too deeply (at most 32 levels)");
}

static void test_status(void **state)
{
    (void)state;
    config_t *cfg = helper_config(
        "[{\"id\":\"hi\",\"name\":{\"vi\":\"h\"},\"metric\":\"m\",\"agg\":\"avg\","
        "  \"target\":{\"op\":\">=\",\"value\":95},\"thresholds\":{\"warn\":90,\"crit\":80}},"
        " {\"id\":\"lo\",\"name\":{\"vi\":\"l\"},\"metric\":\"m\",\"agg\":\"avg\","
        "  \"better\":\"lower\",\"thresholds\":{\"warn\":10,\"crit\":20}},"
        " {\"id\":\"t\",\"name\":{\"vi\":\"t\"},\"metric\":\"m\",\"agg\":\"avg\","
        "  \"target\":{\"op\":\"<\",\"value\":5}},"
        " {\"id\":\"n\",\"name\":{\"vi\":\"n\"},\"metric\":\"m\",\"agg\":\"avg\"}]");
    eng_ind_t *inds;
    size_t n;
    char err[256];
    assert_int_equal(eng_inds_parse(cfg, &inds, &n, err, sizeof err), 0);
    assert_int_equal(n, 4);
    assert_int_equal(eng_status_of(&inds[0], true, 95), ST_OK);
    assert_int_equal(eng_status_of(&inds[0], true, 90), ST_OK);
    assert_int_equal(eng_status_of(&inds[0], true, 89.9), ST_WARN);
    assert_int_equal(eng_status_of(&inds[0], true, 80), ST_WARN);
    assert_int_equal(eng_status_of(&inds[0], true, 79), ST_CRIT);
    assert_int_equal(eng_status_of(&inds[0], false, 100), ST_NODATA);
    assert_int_equal(eng_status_of(&inds[1], true, 5), ST_OK);
    assert_int_equal(eng_status_of(&inds[1], true, 15), ST_WARN);
    assert_int_equal(eng_status_of(&inds[1], true, 20.5), ST_CRIT);
    assert_int_equal(eng_status_of(&inds[2], true, 4.9), ST_OK); /* target only */
    assert_int_equal(eng_status_of(&inds[2], true, 5), ST_WARN);
    assert_int_equal(eng_status_of(&inds[3], true, -1e9), ST_OK);
    assert_string_equal(eng_status_name(ST_NODATA), "no-data");
    eng_inds_free(inds, n);
    config_free(cfg);
}

static void expect_config(const char *indicators, const char *want)
{
    const char *got = helper_config_error(indicators);
    if (strcmp(got, want) != 0)
        fail_msg("got  \"%s\"\nwant \"%s\"", got, want);
}

static void test_config_errors(void **state)
{
    (void)state;
    /* t.json is "{\n\"indicators\": " + the text + "\n}": the text starts on line 2, column 16 */
    expect_config("[{\"id\":\"a\",\"name\":{\"vi\":\"x\"},\"metric\":\"m\",\"agg\":\"avg\"},\n"
                  "{\"id\":\"b\",\"name\":{\"vi\":\"y\"},\n"
                  " \"expr\":\"100 * (sum(m) / 2\"}]",
                  "t.json:4:2: indicators[1].expr: column 18: expected ')', found the end");
    expect_config("[{\"id\":\"a\",\"name\":{\"vi\":\"x\"},\"metric\":\"m\",\"agg\":\"avg\",\"windw\":\"1m\"}]",
                  "t.json:2:69: indicators[0].windw: unknown key");
    expect_config("[{\"id\":\"a\",\"name\":{\"vi\":\"x\"},\"metric\":\"m\",\"agg\":\"avg\"},"
                  " {\"id\":\"a\",\"name\":{\"vi\":\"x\"},\"metric\":\"m\",\"agg\":\"avg\"}]",
                  "t.json:2:72: indicators[1].id: duplicate id \"a\" (also indicators[0])");
    expect_config("[{\"id\":\"A b\",\"name\":{\"vi\":\"x\"},\"metric\":\"m\",\"agg\":\"avg\"}]",
                  "t.json:2:17: indicators[0].id: expected 1 to 64 of a-z, 0-9, '_', '.', '-'");
    expect_config("[{\"id\":\"a\",\"name\":{\"en\":\"x\"},\"metric\":\"m\",\"agg\":\"avg\"}]",
                  "t.json:2:26: indicators[0].name: required key \"vi\" missing");
    expect_config("[{\"id\":\"a\",\"name\":{\"vi\":\"x\"},\"metric\":\"m\",\"agg\":\"median\"}]",
                  "t.json:2:57: indicators[0].agg: expected one of avg, sum, min, max, last, "
                  "count, rate, p50, p95");
    expect_config("[{\"id\":\"a\",\"name\":{\"vi\":\"x\"},\"metric\":\"m\",\"agg\":\"avg\","
                  "\"thresholds\":{\"warn\":5,\"crit\":9}}]",
                  "t.json:2:69: indicators[0].thresholds: needs a direction: \"better\": "
                  "\"higher\" or \"lower\" (or a target)");
    expect_config("[{\"id\":\"a\",\"name\":{\"vi\":\"x\"},\"metric\":\"m\",\"agg\":\"avg\","
                  "\"better\":\"higher\",\"thresholds\":{\"warn\":5,\"crit\":9}}]",
                  "t.json:2:110: indicators[0].thresholds.crit: must be lower than warn when "
                  "higher is better");
    expect_config("[{\"id\":\"a\",\"name\":{\"vi\":\"x\"},\"metric\":\"m\",\"agg\":\"avg\","
                  "\"window\":\"5 min\"}]",
                  "t.json:2:69: indicators[0].window: expected a duration such as \"5m\"");
    expect_config("[{\"id\":\"a\",\"name\":{\"vi\":\"x\"},\"expr\":\"sum(m)\",\"agg\":\"avg\"}]",
                  "t.json:2:60: indicators[0].agg: not allowed with \"expr\"");
    expect_config("[{\"id\":\"a\",\"name\":{\"vi\":\"x\"},\"agg\":\"avg\"}]",
                  "t.json:2:16: indicators[0]: required key \"metric\" (or \"expr\") missing");
    expect_config("[{\"id\":\"a\",\"name\":{\"vi\":\"x\"},\"metric\":\"m\",\"agg\":\"avg\","
                  "\"target\":{\"op\":\"=>\",\"value\":1}}]",
                  "t.json:2:79: indicators[0].target.op: expected \">=\", \">\", \"<=\" or \"<\"");
    expect_config("[{\"id\":\"ok\",\"name\":{\"vi\":\"Tỉ lệ\",\"en\":\"Share\"},\"unit\":\"%\","
                  "\"expr\":\"100 * sum(a) / sum(b)\",\"filter\":{\"district\":\"Tân An\"},"
                  "\"window\":\"10m\",\"group_by\":[\"district\"],"
                  "\"target\":{\"op\":\">=\",\"value\":90},\"thresholds\":{\"warn\":90,\"crit\":80}}]",
                  "");
}

/* An expression indicator end to end, with the indicator's filter applied to every term. */
static void test_expr_indicator(void **state)
{
    (void)state;
    engine_t *e = helper_engine(&loop,
        "[{\"id\":\"share\",\"name\":{\"vi\":\"s\"},\"group_by\":[\"d\"],\"filter\":{\"k\":\"1\"},"
        "  \"expr\":\"100 * sum(on) / (sum(on) + sum(off))\","
        "  \"target\":{\"op\":\">=\",\"value\":60},\"thresholds\":{\"warn\":60,\"crit\":40}}]");
    engine_on_sample(e, helper_series("on", "{\"d\":\"x\",\"k\":\"1\"}"), T0 - SEC, 30);
    engine_on_sample(e, helper_series("off", "{\"d\":\"x\",\"k\":\"1\"}"), T0 - SEC, 10);
    engine_on_sample(e, helper_series("on", "{\"d\":\"y\",\"k\":\"1\"}"), T0 - SEC, 10);
    engine_on_sample(e, helper_series("off", "{\"d\":\"y\",\"k\":\"1\"}"), T0 - SEC, 30);
    engine_on_sample(e, helper_series("off", "{\"d\":\"y\",\"k\":\"2\"}"), T0 - SEC, 1000);
    engine_on_sample(e, helper_series("on", "{\"d\":\"z\",\"k\":\"1\"}"), T0 - SEC, 5);
    helper_tick(e, T0);
    eng_group_t *x = helper_group(e, "share", "x"), *y = helper_group(e, "share", "y");
    eng_group_t *z = helper_group(e, "share", "z"), *all = helper_group(e, "share", "");
    assert_float_equal(x->value, 75, 1e-12);
    assert_int_equal(x->status, ST_OK);
    assert_float_equal(y->value, 25, 1e-12);
    assert_int_equal(y->status, ST_CRIT);
    assert_false(z->has); /* sum(off) has no series in z */
    assert_int_equal(z->status, ST_NODATA);
    assert_float_equal(all->value, 100.0 * 45 / 85, 1e-12);
    assert_int_equal(all->status, ST_WARN);
    helper_engine_close(&loop, e);
}

int main(void)
{
    uv_loop_init(&loop);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval),          cmocka_unit_test(test_terms_shared_and_sorted),
        cmocka_unit_test(test_parse_errors),  cmocka_unit_test(test_status),
        cmocka_unit_test(test_config_errors), cmocka_unit_test(test_expr_indicator),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    uv_loop_close(&loop);
    return rc;
}

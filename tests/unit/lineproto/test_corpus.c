/* Runs the decode cases of InfluxData's line-protocol corpus through lp_parse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "helper_lp.h"
#include "ingest/lineproto.h"

/* What iocd does instead of what the corpus expects. */
typedef enum dev_kind {
    DEV_REJECT,  /* we report the line as bad */
    DEV_NOW_US,  /* we accept it and stamp it with now_us exactly */
} dev_kind_t;

/* Cases where iocd deliberately differs from the corpus, each with the reason. */
typedef struct deviation {
    const char *key;
    dev_kind_t kind;
    const char *why;
} deviation_t;

static const deviation_t deviations[] = {
    {"d2968e6b9b0b309f305736677940b36c", DEV_REJECT,
     "\"m,k=x\\x01y v=1\": control bytes in tag values are refused, as the grammar's key rule "
     "says; they would end up in PostgreSQL text and on dashboards (NUL cannot be stored at all)"},
    {"12cbe04300d26145a19219958aabbd46", DEV_NOW_US,
     "no timestamp, precision 1s: InfluxDB truncates the server time to the precision; "
     "lineproto.h gives such lines now_us as it is"},
    {"7d5cc2f47bfbcc3890e3d077a950aa1a", DEV_NOW_US,
     "no timestamp, precision 1ms: as above, now_us is not truncated"},
    {NULL, DEV_REJECT, NULL},
};

static const deviation_t *find_deviation(const char *key)
{
    for (size_t i = 0; deviations[i].key; i++)
        if (strcmp(deviations[i].key, key) == 0)
            return &deviations[i];
    return NULL;
}

/* Reads a whole file; returns a malloc'd NUL-terminated buffer. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* cJSON keeps numbers as doubles, which cannot hold nanosecond times exactly: quote the values
 * of "time" and "defaultTime" so they stay text. */
static char *quote_times(const char *in)
{
    size_t n = strlen(in);
    char *out = malloc(n * 2 + 1), *o = out;
    assert_non_null(out);
    for (const char *p = in; *p;) {
        size_t klen = strncmp(p, "\"time\": ", 8) == 0          ? 8
                      : strncmp(p, "\"defaultTime\": ", 15) == 0 ? 15
                                                                 : 0;
        if (klen && (p == in || p[-1] != '\\')) {
            memcpy(o, p, klen);
            o += klen;
            p += klen;
            *o++ = '"';
            while (*p == '-' || (*p >= '0' && *p <= '9'))
                *o++ = *p++;
            *o++ = '"';
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

/* A string or {"binary": base64} as bytes; malloc'd. */
static char *text_of(const cJSON *v, size_t *len)
{
    if (cJSON_IsString(v)) {
        *len = strlen(v->valuestring);
        return strdup(v->valuestring);
    }
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(v, "binary");
    assert_true(cJSON_IsString(b));
    char *out = b64_decode(b->valuestring, len);
    assert_non_null(out);
    return out;
}

static int64_t floor_us(int64_t ns)
{
    return ns / 1000 - (ns % 1000 < 0);
}

static int sample_cmp(const void *a, const void *b)
{
    const got_sample_t *x = a, *y = b;
    int c = strcmp(x->series, y->series);
    if (c)
        return c;
    if (x->ts_us != y->ts_us)
        return x->ts_us < y->ts_us ? -1 : 1;
    return (x->value > y->value) - (x->value < y->value);
}

/* The samples the corpus output means under iocd's naming rule. */
static void expected_samples(const cJSON *result, got_t *want)
{
    const cJSON *pt;
    cJSON_ArrayForEach(pt, result) {
        size_t nlen;
        char *name = text_of(cJSON_GetObjectItemCaseSensitive(pt, "name"), &nlen);
        const cJSON *tags = cJSON_GetObjectItemCaseSensitive(pt, "tags");
        const cJSON *fields = cJSON_GetObjectItemCaseSensitive(pt, "fields");
        const cJSON *time = cJSON_GetObjectItemCaseSensitive(pt, "time");
        assert_true(cJSON_IsString(time));
        size_t ntags = (size_t)cJSON_GetArraySize(tags), i = 0, klen;
        ioc_tag_t *t = calloc(ntags + 1, sizeof *t);
        const cJSON *it;
        cJSON_ArrayForEach(it, tags) {
            t[i].key = text_of(cJSON_GetObjectItemCaseSensitive(it, "key"), &klen);
            t[i].value = text_of(cJSON_GetObjectItemCaseSensitive(it, "value"), &klen);
            i++;
        }
        cJSON_ArrayForEach(it, fields) {
            char *key = text_of(cJSON_GetObjectItemCaseSensitive(it, "key"), &klen);
            const cJSON *val = cJSON_GetObjectItemCaseSensitive(it, "value");
            const cJSON *num = val->child;
            if (strcmp(num->string, "string") != 0 && strcmp(num->string, "binary") != 0) {
                double v = cJSON_IsBool(num) ? (cJSON_IsTrue(num) ? 1.0 : 0.0) : num->valuedouble;
                char *metric = malloc(nlen + klen + 2);
                if (strcmp(key, "value") == 0)
                    strcpy(metric, name);
                else
                    sprintf(metric, "%s.%s", name, key);
                ioc_sample_t s = {.metric = metric, .tags = t, .ntags = ntags, .value = v,
                                  .ts_us = floor_us(strtoll(time->valuestring, NULL, 10))};
                got_fn(want, &s, 1);
                free(metric);
            }
            free(key);
        }
        for (i = 0; i < ntags; i++) {
            free((char *)t[i].key);
            free((char *)t[i].value);
        }
        free(t);
        free(name);
    }
}

static lp_precision_t precision_of(const char *p)
{
    if (strcmp(p, "1ns") == 0)
        return LP_NS;
    if (strcmp(p, "1µs") == 0)
        return LP_US;
    if (strcmp(p, "1ms") == 0)
        return LP_MS;
    assert_string_equal(p, "1s");
    return LP_S;
}

/* The line number in a corpus error such as "... at line 2:11: ...", or 0. */
static size_t corpus_error_line(const char *msg)
{
    const char *at = strstr(msg, "at line ");
    return at ? (size_t)strtoul(at + 8, NULL, 10) : 0;
}

/* Runs one case; returns 0 if it matched, 1 (after printing why) if not. */
static int run_case(const char *key, const cJSON *c)
{
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(c, "input");
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(c, "output");
    const cJSON *err_out = cJSON_GetObjectItemCaseSensitive(out, "error");
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(in, "defaultTime");
    const deviation_t *dev = find_deviation(key);
    size_t len, bad, eline;
    got_t got = {0}, want = {0};
    lp_error_t err;
    int fails = 0;

    assert_true(cJSON_IsString(dt));
    char *text = text_of(cJSON_GetObjectItemCaseSensitive(in, "text"), &len);
    /* An exact-size copy so a sanitizer build catches any read past len. */
    char *body = malloc(len ? len : 1);
    memcpy(body, text, len);
    bad = lp_parse(body, len, precision_of(cJSON_GetObjectItemCaseSensitive(in, "precision")->valuestring),
                   floor_us(strtoll(dt->valuestring, NULL, 10)), got_fn, &got, &err);
    if (dev && dev->kind == DEV_REJECT) {
        if (bad == 0) {
            printf("case %s: deviation (%s) no longer holds: no error\n", key, dev->why);
            fails = 1;
        }
    } else if (dev) {
        int64_t now = floor_us(strtoll(dt->valuestring, NULL, 10));
        if (bad != 0 || got.n == 0) {
            printf("case %s: deviation (%s): %zu bad lines, %zu samples\n", key, dev->why, bad, got.n);
            fails = 1;
        }
        for (size_t i = 0; i < got.n; i++)
            if (got.s[i].ts_us != now) {
                printf("case %s: deviation (%s): ts %lld\n", key, dev->why, (long long)got.s[i].ts_us);
                fails = 1;
            }
    } else if (cJSON_IsString(err_out)) {
        eline = corpus_error_line(err_out->valuestring);
        if (bad == 0 || (eline && err.line != eline)) {
            printf("case %s: want error (%s), got %zu bad, line %zu\n", key, err_out->valuestring, bad, err.line);
            fails = 1;
        }
    } else if (bad) {
        printf("case %s: unexpected error line %zu: %s\n", key, err.line, err.msg);
        fails = 1;
    } else {
        expected_samples(cJSON_GetObjectItemCaseSensitive(out, "result"), &want);
        if (got.n)
            qsort(got.s, got.n, sizeof *got.s, sample_cmp);
        if (want.n)
            qsort(want.s, want.n, sizeof *want.s, sample_cmp);
        if (got.n != want.n) {
            printf("case %s: want %zu samples, got %zu\n", key, want.n, got.n);
            fails = 1;
        }
        for (size_t i = 0; !fails && i < got.n; i++) {
            if (sample_cmp(&got.s[i], &want.s[i]) != 0) {
                printf("case %s: sample %zu: want %s %.17g @%lld, got %s %.17g @%lld\n", key, i,
                       want.s[i].series, want.s[i].value, (long long)want.s[i].ts_us, got.s[i].series,
                       got.s[i].value, (long long)got.s[i].ts_us);
                fails = 1;
            }
        }
    }
    if (fails)
        printf("  input: %.200s\n", text);
    got_free(&got);
    got_free(&want);
    free(body);
    free(text);
    return fails;
}

static void test_corpus_decode(void **state)
{
    (void)state;
    const char *dir = getenv("IOCD_FIXTURES");
    char path[4096];
    assert_non_null(dir);
    snprintf(path, sizeof path, "%s/lineprotocol/corpus-nonfuzz.json", dir);
    char *raw = slurp(path);
    char *quoted = quote_times(raw);
    cJSON *root = cJSON_Parse(quoted);
    assert_non_null(root);
    const cJSON *decode = cJSON_GetObjectItemCaseSensitive(root, "decode");
    const cJSON *c;
    int cases = 0, fails = 0, seen_dev = 0;

    cJSON_ArrayForEach(c, decode) {
        cases++;
        seen_dev += find_deviation(c->string) != NULL;
        fails += run_case(c->string, c);
    }
    printf("corpus: %d decode cases, %d deliberate deviations, %d failures\n", cases, seen_dev, fails);
    cJSON_Delete(root);
    free(quoted);
    free(raw);
    assert_int_equal(cases, 240);
    assert_int_equal(seen_dev, (int)(sizeof deviations / sizeof deviations[0]) - 1);
    assert_int_equal(fails, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

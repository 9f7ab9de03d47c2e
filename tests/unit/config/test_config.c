/* Config parsing: good files give the right struct, bad ones the exact positioned message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "ioc/error.h"

static config_t *parse_ok(const char *text)
{
    char err[512] = "";
    config_t *cfg = NULL;
    int rc = config_parse("t.json", text, strlen(text), &cfg, err, sizeof err);
    if (rc != 0)
        fail_msg("rc=%d err=%s", rc, err);
    assert_non_null(cfg);
    return cfg;
}

static const char full_text[] =
    "// iocd test config: a comment with a \"quote\n"
    "{\n"
    "  \"state_dir\": \"/var/lib/iocd\", /* a block comment with a \" quote\n"
    "     spanning lines */\n"
    "  \"database\": {\"dsn\": \"host=/run/pg dbname=ioc\"},\n"
    "  \"http\": {\"listen\": \"0.0.0.0:9443\", \"tls\": {\"cert\": \"c.pem\", \"key\": \"k.pem\"},\n"
    "           \"dashboards\": \"/srv/dash\"},\n"
    "  \"auth\": {\"anonymous_role\": \"viewer\",\n"
    "           \"tokens\": [{\"name\": \"gw\", \"role\": \"writer\",\n"
    "                       \"sha256\": "
    "\"00112233445566778899aabbccddeeffFFEEDDCCBBAA99887766554433221100\"}]},\n"
    "  \"collectors\": [\n"
    "    {\"plugin\": \"simulator\", \"name\": \"city\", \"interval\": \"1s\", \"seed\": 42},\n"
    "    {\"plugin\": \"http_json\", \"name\": \"orion\", \"interval\": \"2m\", \"enabled\": false,\n"
    "     \"url\": \"http://broker:1026/v2 // not a comment\"},\n"
    "    {\"plugin\": \"mqtt\", \"name\": \"lights\", \"timeout\": \"5s\"}\n"
    "  ],\n"
    "  \"indicators\": [{\"id\": \"traffic.avg_speed\"}], \"alerts\": [], \"reports\": [],\n"
    "  \"retention\": {\"raw\": \"30d\"},\n"
    "  \"ingest\": {\"batch_max_samples\": 5000, \"batch_max_delay\": \"50ms\",\n"
    "             \"queue_max_batches\": 8, \"max_series\": 200000},\n"
    "  \"spool\": {\"max_bytes\": \"512MiB\"},\n"
    "  \"log\": {\"level\": \"debug\"},\n"
    "  \"plugin_dir\": \"/usr/lib/iocd/collectors\"\n"
    "}\n";

static void test_full(void **state)
{
    (void)state;
    static const uint8_t sha[32] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                    0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
                                    0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88,
                                    0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00};
    unsetenv("IOCD_DATABASE_DSN");
    config_t *cfg = parse_ok(full_text);
    assert_string_equal(cfg->path, "t.json");
    assert_string_equal(cfg->state_dir, "/var/lib/iocd");
    assert_string_equal(cfg->db_dsn, "host=/run/pg dbname=ioc");
    assert_string_equal(cfg->http_host, "0.0.0.0");
    assert_int_equal(cfg->http_port, 9443);
    assert_string_equal(cfg->tls_cert, "c.pem");
    assert_string_equal(cfg->tls_key, "k.pem");
    assert_string_equal(cfg->dashboards_dir, "/srv/dash");
    assert_string_equal(cfg->plugin_dir, "/usr/lib/iocd/collectors");
    assert_string_equal(cfg->log_level, "debug");
    assert_string_equal(cfg->anonymous_role, "viewer");
    assert_int_equal(cfg->ntokens, 1);
    assert_string_equal(cfg->tokens[0].name, "gw");
    assert_string_equal(cfg->tokens[0].role, "writer");
    assert_memory_equal(cfg->tokens[0].sha256, sha, 32);

    assert_int_equal(cfg->ncollectors, 3);
    config_collector_t *c = cfg->collectors;
    assert_string_equal(c[0].plugin, "simulator");
    assert_string_equal(c[0].name, "city");
    assert_int_equal(c[0].interval_ms, 1000);
    assert_int_equal(c[0].timeout_ms, 1000);
    assert_true(c[0].enabled);
    assert_int_equal(c[0].line, 12);
    assert_int_equal(c[0].column, 5);
    assert_int_equal(cJSON_GetObjectItem(c[0].json, "seed")->valueint, 42);
    assert_string_equal(c[1].name, "orion");
    assert_int_equal(c[1].interval_ms, 120000);
    assert_int_equal(c[1].timeout_ms, 60000);
    assert_false(c[1].enabled);
    assert_string_equal(cJSON_GetObjectItem(c[1].json, "url")->valuestring,
                        "http://broker:1026/v2 // not a comment");
    assert_int_equal(c[1].line, 13);
    assert_int_equal(c[2].line, 15);
    assert_int_equal(c[2].column, 5);
    assert_int_equal(c[2].interval_ms, 10000);
    assert_int_equal(c[2].timeout_ms, 5000);
    assert_true(c[2].enabled);

    assert_int_equal(cJSON_GetArraySize(cfg->indicators), 1);
    assert_true(cJSON_IsArray(cfg->alerts));
    assert_int_equal(cJSON_GetArraySize(cfg->reports), 0);
    assert_int_equal(cfg->retention_raw_ms, 30ULL * 86400000);
    assert_int_equal(cfg->batch_max_samples, 5000);
    assert_int_equal(cfg->batch_max_delay_ms, 50);
    assert_int_equal(cfg->queue_max_batches, 8);
    assert_int_equal(cfg->max_series, 200000);
    assert_int_equal(cfg->spool_max_bytes, 512ULL << 20);
    config_free(cfg);
}

static void test_defaults(void **state)
{
    (void)state;
    unsetenv("IOCD_DATABASE_DSN");
    config_t *cfg = parse_ok("{}");
    assert_string_equal(cfg->state_dir, "./state");
    assert_null(cfg->db_dsn);
    assert_string_equal(cfg->http_host, "127.0.0.1");
    assert_int_equal(cfg->http_port, 8080);
    assert_null(cfg->tls_cert);
    assert_null(cfg->tls_key);
    assert_null(cfg->dashboards_dir);
    assert_null(cfg->plugin_dir);
    assert_string_equal(cfg->log_level, "info");
    assert_null(cfg->anonymous_role);
    assert_int_equal(cfg->ntokens, 0);
    assert_int_equal(cfg->ncollectors, 0);
    assert_int_equal(cfg->batch_max_samples, 20000);
    assert_int_equal(cfg->batch_max_delay_ms, 200);
    assert_int_equal(cfg->queue_max_batches, 16);
    assert_int_equal(cfg->max_series, 1000000);
    assert_int_equal(cfg->spool_max_bytes, 1ULL << 30);
    assert_int_equal(cfg->retention_raw_ms, 90ULL * 86400000);
    assert_null(cfg->indicators);
    assert_null(cfg->alerts);
    assert_null(cfg->reports);
    config_free(cfg);
}

static void test_values(void **state)
{
    (void)state;
    config_t *cfg = parse_ok("{\"http\": {\"listen\": \"[::1]:8443\"}, \"retention\": {\"raw\": \"0s\"},"
                             " \"spool\": {\"max_bytes\": 1048576}, \"state_dir\": \"rel/dir\"}");
    assert_string_equal(cfg->http_host, "::1");
    assert_int_equal(cfg->http_port, 8443);
    assert_int_equal(cfg->retention_raw_ms, 0);
    assert_int_equal(cfg->spool_max_bytes, 1048576);
    assert_string_equal(cfg->state_dir, "rel/dir");
    config_free(cfg);
    cfg = parse_ok("\xEF\xBB\xBF{\"http\": {\"listen\": \":0\"}}");
    assert_string_equal(cfg->http_host, "0.0.0.0");
    assert_int_equal(cfg->http_port, 0);
    config_free(cfg);
}

static void test_env_dsn(void **state)
{
    (void)state;
    setenv("IOCD_DATABASE_DSN", "host=/tmp/env dbname=x", 1);
    config_t *cfg = parse_ok("{\"database\": {\"dsn\": \"host=file\"}}");
    assert_string_equal(cfg->db_dsn, "host=/tmp/env dbname=x");
    config_free(cfg);
    cfg = parse_ok("{}");
    assert_string_equal(cfg->db_dsn, "host=/tmp/env dbname=x");
    config_free(cfg);
    setenv("IOCD_DATABASE_DSN", "", 1);
    cfg = parse_ok("{\"database\": {\"dsn\": \"host=file\"}}");
    assert_string_equal(cfg->db_dsn, "host=file");
    config_free(cfg);
    unsetenv("IOCD_DATABASE_DSN");
}

static void test_locate(void **state)
{
    (void)state;
    int line = 0, col = 0;
    config_t *cfg = parse_ok(full_text);
    assert_int_equal(config_locate(cfg, "state_dir", &line, &col), 0);
    assert_int_equal(line, 3);
    assert_int_equal(col, 3);
    assert_int_equal(config_locate(cfg, "collectors[1].enabled", &line, &col), 0);
    assert_int_equal(line, 13);
    assert_int_equal(col, 64);
    assert_int_equal(config_locate(cfg, "auth.tokens[0].sha256", &line, &col), 0);
    assert_int_equal(line, 10);
    assert_int_equal(col, 24);
    assert_int_equal(config_locate(cfg, "indicators[0].id", &line, &col), 0);
    assert_int_equal(line, 17);
    assert_int_equal(col, 19);
    assert_int_equal(config_locate(cfg, "collectors[3]", &line, &col), IOC_ENOTFOUND);
    assert_int_equal(config_locate(cfg, "http.nope", &line, &col), IOC_ENOTFOUND);
    assert_int_equal(config_locate(cfg, "http..tls", &line, &col), IOC_ENOTFOUND);
    assert_int_equal(config_locate(cfg, "collectors[x]", &line, &col), IOC_ENOTFOUND);
    config_free(cfg);

    /* Columns count characters, escaped keys match their decoded form. */
    cfg = parse_ok("{\"state_dir\": \"Hà Nội\", \"collectors\": [{\"plugin\": \"a\", \"name\": \"x\", "
                   "\"d\\u00e9j\\u00e0\": [1, {\"k\": 2}]}]}");
    assert_int_equal(config_locate(cfg, "collectors[0].déjà[1].k", &line, &col), 0);
    assert_int_equal(line, 1);
    assert_int_equal(col, 92);
    config_free(cfg);
}

typedef struct bad_case {
    const char *text;
    const char *want;
} bad_case_t;

static const bad_case_t bad_cases[] = {
    /* a typo'd top-level key, with a hint */
    {"{\n  \"state_dir\": \"x\",\n  \"colectors\": []\n}",
     "t.json:3:3: colectors: unknown key (did you mean \"collectors\"?)"},
    {"{\"xyzzy\": 1}", "t.json:1:2: xyzzy: unknown key"},
    /* a wrong type deep in collectors[1] */
    {"{\"collectors\": [\n  {\"plugin\": \"a\", \"name\": \"x\"},\n"
     "  {\"plugin\": \"b\", \"name\": \"y\", \"enabled\": \"yes\"}\n]}",
     "t.json:3:43: collectors[1].enabled: expected true or false"},
    {"{\"collectors\": [{\"plugin\": \"a\", \"name\": \"x\"}, {\"plugin\": 7, \"name\": \"y\"}]}",
     "t.json:1:58: collectors[1].plugin: expected a string"},
    /* durations */
    {"{\"collectors\": [{\"plugin\": \"a\", \"name\": \"x\",\n  \"interval\": \"10x\"}]}",
     "t.json:2:15: collectors[0].interval: expected a duration: a whole number with ms, s, m, "
     "h or d, e.g. \"10s\""},
    {"{\"collectors\": [{\"plugin\": \"a\", \"name\": \"x\", \"interval\": \"50ms\"}]}",
     "t.json:1:58: collectors[0].interval: must be at least 100ms"},
    {"{\"retention\": {\"raw\": 30}}",
     "t.json:1:23: retention.raw: expected a duration: a whole number with ms, s, m, h or d, "
     "e.g. \"10s\""},
    {"{\"ingest\": {\"batch_max_delay\": \"2m\"}}",
     "t.json:1:32: ingest.batch_max_delay: must be at most 1m"},
    /* syntax errors on a known line */
    {"{\n  \"a\": 1,\n  \"b\": 2,\n}\n", "t.json:4:1: syntax error: trailing comma before '}'"},
    {"{\n  \"a\": 1\n  \"b\": 2\n}\n", "t.json:3:3: syntax error: missing comma before '\"'"},
    {"{\n  \"state_dir\": \"x\n}", "t.json:2:16: syntax error: unterminated string"},
    {"{\"a\": 1", "t.json:1:8: syntax error: unexpected end of file"},
    {"{\"a\": 1} 2", "t.json:1:10: syntax error: unexpected '2'"},
    {"{\n  /* never closed\n  \"a\": 1\n}", "t.json:2:3: syntax error: unterminated /* comment"},
    /* a comment containing a quote does not start a string */
    {"{\n  // it's a \"quote\n  \"log\": {\"level\": \"loud\"}\n}",
     "t.json:3:20: log.level: unknown level (use error, warn, info or debug)"},
    {"{ /* \" */ \"http\": {\"listn\": \":80\"}}",
     "t.json:1:20: http.listn: unknown key (did you mean \"listen\"?)"},
    /* columns count UTF-8 characters */
    {"{\"state_dir\": \"Hà Nội\", \"spool\": {\"max_bytes\": \"1TB\"}}",
     "t.json:1:48: spool.max_bytes: expected a size: bytes, or a whole number with B, KB, MB, "
     "GB, KiB, MiB or GiB, e.g. \"1GiB\""},
    /* duplicates, missing keys, ranges, enums */
    {"{\"state_dir\": \"a\",\n \"state_dir\": \"b\"}", "t.json:2:2: state_dir: duplicate key"},
    {"{\"collectors\": [{\"plugin\": \"a\", \"name\": \"x\", \"k\": 1, \"k\": 2}]}",
     "t.json:1:54: collectors[0].k: duplicate key"},
    {"{\"collectors\": [{\"plugin\": \"a\", \"name\": \"x\"}, {\"plugin\": \"a\", \"name\": \"x\"}]}",
     "t.json:1:71: collectors[1].name: name \"x\" is already used by collectors[0]"},
    {"{\"collectors\": [{\"name\": \"x\"}]}",
     "t.json:1:17: collectors[0].plugin: required key missing"},
    {"{\"collectors\": [{\"plugin\": \"Sim\", \"name\": \"x\"}]}",
     "t.json:1:28: collectors[0].plugin: must be 1 to 64 of a-z, 0-9 and _"},
    {"{\"collectors\": {}}", "t.json:1:16: collectors: expected an array"},
    {"{\"collectors\": [7]}", "t.json:1:17: collectors[0]: expected an object"},
    {"{\"indicators\": {}}", "t.json:1:16: indicators: expected an array"},
    {"{\"ingest\": {\"batch_max_samples\": 0}}",
     "t.json:1:34: ingest.batch_max_samples: must be between 1 and 1000000"},
    {"{\"ingest\": {\"max_series\": 1.5}}", "t.json:1:27: ingest.max_series: expected a whole number"},
    {"{\"http\": {\"listen\": \"localhost:80\"}}",
     "t.json:1:21: http.listen: \"localhost\" is not an IPv4 address"},
    {"{\"http\": {\"listen\": \"127.0.0.1:65536\"}}",
     "t.json:1:21: http.listen: the port must be a number from 0 to 65535"},
    {"{\"http\": {\"tls\": {\"cert\": \"c.pem\"}}}", "t.json:1:18: http.tls.key: required key missing"},
    {"{\"auth\": {\"anonymous_role\": \"guest\"}}",
     "t.json:1:29: auth.anonymous_role: unknown role (use viewer, operator, analyst, admin or "
     "writer)"},
    {"{\"auth\": {\"tokens\": [{\"name\": \"a\", \"role\": \"admin\", \"sha256\": \"abc\"}]}}",
     "t.json:1:63: auth.tokens[0].sha256: expected 64 hex digits (the SHA-256 of the token)"},
    {"{\"state_dir\": \"\"}", "t.json:1:15: state_dir: must not be empty"},
    {"[1, 2]", "t.json:1:1: top level: expected an object"},
};

static void test_bad(void **state)
{
    (void)state;
    unsetenv("IOCD_DATABASE_DSN");
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const char *text = bad_cases[i].text;
        size_t len = strlen(text);
        char err[512] = "";
        config_t *cfg = (config_t *)&err; /* must be reset to NULL */
        int rc = config_parse("t.json", text, len, &cfg, err, sizeof err);
        if (rc != IOC_EINVAL || cfg != NULL || strcmp(err, bad_cases[i].want) != 0)
            fail_msg("case %zu: rc=%d\n got: %s\nwant: %s", i, rc, err, bad_cases[i].want);
    }
}

static void test_nul_byte(void **state)
{
    (void)state;
    static const char text[] = "{\"a\":\0 1}";
    char err[256];
    config_t *cfg;
    assert_int_equal(config_parse("t.json", text, sizeof text - 1, &cfg, err, sizeof err),
                     IOC_EINVAL);
    assert_null(cfg);
    assert_string_equal(err, "t.json:1:6: syntax error: NUL byte");
}

static void test_too_big(void **state)
{
    (void)state;
    size_t len = (4u << 20) + 1;
    char *text = malloc(len);
    char err[256];
    config_t *cfg;
    assert_non_null(text);
    memset(text, ' ', len);
    text[0] = '{';
    text[len - 1] = '}';
    assert_int_equal(config_parse("big.json", text, len, &cfg, err, sizeof err), IOC_ETOOBIG);
    assert_null(cfg);
    assert_string_equal(err, "big.json: file too large (over 4194304 bytes)");
    assert_int_equal(config_parse("big.json", text, len - 1, &cfg, err, sizeof err), IOC_EINVAL);
    assert_string_equal(err, "big.json:1:4194305: syntax error: unexpected end of file");
    free(text);
}

static void test_load_files(void **state)
{
    (void)state;
    char path[] = "/tmp/iocd_test_config_XXXXXX";
    char err[512];
    config_t *cfg = NULL;
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, full_text, strlen(full_text)), (ssize_t)strlen(full_text));
    close(fd);
    unsetenv("IOCD_DATABASE_DSN");
    assert_int_equal(config_load(path, &cfg, err, sizeof err), 0);
    assert_string_equal(cfg->path, path);
    assert_int_equal(cfg->ncollectors, 3);
    config_free(cfg);
    unlink(path);
    assert_int_equal(config_load(path, &cfg, err, sizeof err), IOC_ENOTFOUND);
    assert_null(cfg);
    assert_non_null(strstr(err, "cannot open"));

    /* The shipped configs stay valid. */
    assert_int_equal(config_load(IOCD_SOURCE_DIR "/config/demo.json", &cfg, err, sizeof err), 0);
    assert_string_equal(cfg->state_dir, "./state");
    assert_string_equal(cfg->http_host, "127.0.0.1");
    assert_int_equal(cfg->http_port, 8080);
    assert_int_equal(cfg->ncollectors, 1);
    assert_string_equal(cfg->collectors[0].plugin, "simulator");
    assert_string_equal(cfg->collectors[0].name, "city");
    assert_int_equal(cfg->collectors[0].interval_ms, 1000);
    assert_int_equal(cJSON_GetObjectItem(cfg->collectors[0].json, "seed")->valueint, 42);
    assert_true(cJSON_IsArray(cfg->indicators));
    assert_int_equal(cfg->retention_raw_ms, 30ULL * 86400000);
    config_free(cfg);
    int rc = config_load(IOCD_SOURCE_DIR "/config/iocd.example.jsonc", &cfg, err, sizeof err);
    if (rc != 0)
        fail_msg("example: %s", err);
    assert_true(cfg->ncollectors >= 1);
    config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),     cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_values),   cmocka_unit_test(test_env_dsn),
        cmocka_unit_test(test_locate),   cmocka_unit_test(test_bad),
        cmocka_unit_test(test_nul_byte), cmocka_unit_test(test_too_big),  cmocka_unit_test(test_load_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* http_json instance configuration: defaults, and errors that name the key. */
#include <stdio.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "helper_rec.h"

/* Parses config text; returns the code, err and warn filled. */
static int parse(const char *json, hj_http_cfg_t *http, hj_map_cfg_t *map, char *err,
                 char *warn, cJSON **keep)
{
    *keep = cJSON_Parse(json);
    if (!*keep)
        fail_msg("test config is not JSON: %s", json);
    err[0] = '\0';
    return hj_config_parse(*keep, http, map, warn, 256, err, 256);
}

static void test_defaults_and_options(void **state)
{
    hj_http_cfg_t http;
    hj_map_cfg_t map;
    char err[256], warn[256];
    cJSON *keep;
    (void)state;
    assert_int_equal(parse("{\"plugin\": \"http_json\", \"name\": \"orion\", \"interval\": \"30s\","
                           " \"format\": \"ngsi-v2\", \"url\": \"http://broker:1026/v2/entities\"}",
                           &http, &map, err, warn, &keep), IOC_OK);
    assert_int_equal(http.nurls, 1);
    assert_string_equal(http.urls[0], "http://broker:1026/v2/entities");
    assert_true(http.tls_verify);
    assert_int_equal(http.max_body, 8u << 20);
    assert_int_equal(http.timeout_ms, 27000); /* 90% of the host's default timeout (interval) */
    assert_int_equal(map.format, HJ_FORMAT_NGSI_V2);
    assert_string_equal(map.items, "");
    assert_string_equal(warn, "");
    cJSON_Delete(keep);

    assert_int_equal(parse("{\"name\": \"v\", \"urls\": [\"https://a/x\", \"http://b/y\"],"
                           " \"timeout\": \"2s\", \"max_body\": \"64KiB\", \"tls_verify\": false,"
                           " \"headers\": {\"Fiware-Service\": \"longan\", \"X-Empty\": \"\"},"
                           " \"bearer_token\": \"t0k\", \"items\": \"/data\","
                           " \"metrics\": [{\"metric\": \"a.b\", \"value\": \"/v\"}]}",
                           &http, &map, err, warn, &keep), IOC_OK);
    assert_int_equal(http.nurls, 2);
    assert_int_equal(http.timeout_ms, 1800);
    assert_int_equal(http.max_body, 65536);
    assert_false(http.tls_verify);
    assert_non_null(strstr(warn, "tls_verify is false"));
    assert_string_equal(http.bearer, "t0k");
    assert_int_equal(map.format, HJ_FORMAT_JSON);
    assert_int_equal(map.nmetrics, 1);
    cJSON_Delete(keep);
}

static void test_errors_name_the_key(void **state)
{
    static const struct { const char *json, *err; } cases[] = {
        {"{\"url\": \"http://x\", \"format\": \"ngsi-v2\", \"intreval\": \"1s\"}",
         "unknown key \"intreval\""},
        {"{\"format\": \"ngsi-v2\"}", "url: give either"},
        {"{\"format\": \"ngsi-v2\", \"url\": \"http://x\", \"urls\": [\"http://y\"]}",
         "url: give either"},
        {"{\"format\": \"ngsi-v2\", \"url\": \"ftp://x\"}", "url: must start with http://"},
        {"{\"format\": \"ngsi-v2\", \"urls\": [\"http://x\", 3]}", "urls[1]: must be a string"},
        {"{\"format\": \"ngsi-v2\", \"urls\": [\"http://x y\"]}", "urls[0]: space or control"},
        {"{\"format\": \"ngsi-v3\", \"url\": \"http://x\"}", "format: must be"},
        {"{\"url\": \"http://x\"}", "metrics: required with format json"},
        {"{\"url\": \"http://x\", \"metrics\": []}", "metrics: must be an array of 1 to 64"},
        {"{\"url\": \"http://x\", \"metrics\": [{\"metric\": \"m\"}]}",
         "metrics[0]: needs both \"metric\" and \"value\""},
        {"{\"url\": \"http://x\", \"metrics\": [{\"metric\": \"m\", \"value\": \"v\"}]}",
         "metrics[0].value: bad JSON pointer at offset 0"},
        {"{\"url\": \"http://x\", \"metrics\": [{\"metric\": \"m\", \"value\": \"/v\", \"unit\": 1}]}",
         "metrics[0].unit: unknown key"},
        {"{\"url\": \"http://x\", \"metrics\": [{\"metric\": \"m\", \"value\": \"/v\","
         " \"value_map\": {\"on\": \"1\"}}]}", "metrics[0].value_map.on: must be a number"},
        {"{\"url\": \"http://x\", \"metrics\": [{\"metric\": \"m\", \"value\": \"/v\"}],"
         " \"time\": \"/t~2\"}", "time: bad JSON pointer at offset 2"},
        {"{\"url\": \"http://x\", \"format\": \"ngsi-ld\", \"metrics\": []}",
         "metrics: not used with format ngsi-ld"},
        {"{\"url\": \"http://x\", \"format\": \"ngsi-v2\", \"tags\": {\"id\": \"/x\"}}",
         "tags.id: reserved"},
        {"{\"url\": \"http://x\", \"format\": \"ngsi-v2\", \"tags\": {\"d\": 5}}",
         "tags.d: must be a JSON pointer"},
        {"{\"url\": \"http://x\", \"format\": \"ngsi-v2\", \"value_map\": {\"powerState\": "
         "{\"on\": true}}}", "value_map.powerState.on: must be a number"},
        {"{\"url\": \"http://x\", \"format\": \"ngsi-v2\", \"username\": \"u\"}",
         "password: basic auth needs both"},
        {"{\"url\": \"http://x\", \"format\": \"ngsi-v2\", \"username\": \"u\", \"password\": \"p\","
         " \"bearer_token\": \"t\"}", "bearer_token: give either"},
        {"{\"url\": \"http://x\", \"format\": \"ngsi-v2\", \"bearer_token\": \"a\\r\\nX: y\"}",
         "bearer_token: control character at offset 1"},
        {"{\"url\": \"http://x\", \"format\": \"ngsi-v2\", \"headers\": {\"Bad Name\": \"v\"}}",
         "headers.Bad Name: not a valid header name"},
        {"{\"url\": \"http://x\", \"format\": \"ngsi-v2\", \"headers\": {\"X\": \"a\\nb\"}}",
         "headers.X: must be a string without line breaks"},
        {"{\"url\": \"http://x\", \"format\": \"ngsi-v2\", \"max_body\": \"8 MiB\"}",
         "max_body: must be a size"},
        {"{\"url\": \"http://x\", \"format\": \"ngsi-v2\", \"max_body\": 10}", "max_body: must be a size"},
        {"{\"url\": \"http://x\", \"format\": \"ngsi-v2\", \"tls_verify\": \"no\"}",
         "tls_verify: must be true or false"},
        {"{\"url\": \"http://x\", \"format\": \"ngsi-v2\", \"timeout\": \"soon\"}",
         "timeout: must be a duration"},
    };
    hj_http_cfg_t http;
    hj_map_cfg_t map;
    char err[256], warn[256];
    cJSON *keep;
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = parse(cases[i].json, &http, &map, err, warn, &keep);
        if (rc != IOC_EINVAL || strncmp(err, cases[i].err, strlen(cases[i].err)) != 0)
            fail_msg("case %zu: %s\n  got rc=%d err=\"%s\"\n  want \"%s...\"", i, cases[i].json,
                     rc, err, cases[i].err);
        cJSON_Delete(keep);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_options),
        cmocka_unit_test(test_errors_name_the_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

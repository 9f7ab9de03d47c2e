/* Tests of the mqtt plugin's pure parts: topic filters with named wildcards, payloads, config. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../../collectors/mqtt/mqtt.h"

static char err[512];

/* Matches topic against filter text; returns the match code, tags as "k=v;k=v" in out. */
static int match(const char *filter, const char *topic, char *out, size_t outlen)
{
    mqtt_pattern_t p;
    char buf[MQTT_MAX_TOPIC + 1];
    ioc_tag_t tags[MQTT_MAX_TAGS];
    size_t n;
    assert_int_equal(mqtt_pattern_parse(filter, &p, err, sizeof err), IOC_OK);
    int rc = mqtt_pattern_match(&p, topic, buf, sizeof buf, tags, MQTT_MAX_TAGS, &n);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(out + strlen(out), outlen - strlen(out), "%s%s=%s", i ? ";" : "", tags[i].key,
                 tags[i].value);
    mqtt_pattern_free(&p);
    return rc;
}

static void test_pattern_filter(void **st)
{
    (void)st;
    mqtt_pattern_t p;
    assert_int_equal(mqtt_pattern_parse("longan/+district/light/+id/power", &p, err, sizeof err),
                     IOC_OK);
    assert_string_equal(p.filter, "longan/+/light/+/power");
    assert_int_equal(p.nlevels, 5);
    assert_int_equal(p.nnamed, 2);
    assert_string_equal(p.levels[1].text, "district");
    mqtt_pattern_free(&p);
    assert_int_equal(mqtt_pattern_parse("a/+/+k/#", &p, err, sizeof err), IOC_OK);
    assert_string_equal(p.filter, "a/+/+/#");
    assert_int_equal(p.nnamed, 1);
    assert_int_equal(p.levels[3].kind, MQTT_LEVEL_HASH);
    mqtt_pattern_free(&p);
    assert_int_equal(mqtt_pattern_parse("#", &p, err, sizeof err), IOC_OK);
    assert_string_equal(p.filter, "#");
    mqtt_pattern_free(&p);
}

static void test_pattern_errors(void **st)
{
    (void)st;
    mqtt_pattern_t p;
    static const struct { const char *text, *msg; } cases[] = {
        {"", "1 to 1024"},
        {"a/b+/c", "level 2: '+' and '#' may only start a level"},
        {"a/#/b", "level 2: '#' must be a whole level and the last one"},
        {"a/#x", "level 2: '#'"},
        {"a/+dis-trict", "level 2: a wildcard name"},
        {"a/+x/b/+x", "wildcard name \"x\" used twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(mqtt_pattern_parse(cases[i].text, &p, err, sizeof err), IOC_EINVAL);
        if (!strstr(err, cases[i].msg))
            fail_msg("\"%s\": error \"%s\" lacks \"%s\"", cases[i].text, err, cases[i].msg);
        assert_null(p.filter);
    }
    char deep[200] = "";
    for (int i = 0; i < MQTT_MAX_LEVELS + 1; i++)
        strcat(deep, i ? "/a" : "a");
    assert_int_equal(mqtt_pattern_parse(deep, &p, err, sizeof err), IOC_EINVAL);
    assert_non_null(strstr(err, "more than 32 levels"));
}

static void test_match_named(void **st)
{
    (void)st;
    char tags[512];
    const char *f = "longan/+district/light/+id/power";
    assert_int_equal(match(f, "longan/Tân An/light/TA-0042/power", tags, sizeof tags), 1);
    assert_string_equal(tags, "district=Tân An;id=TA-0042");
    assert_int_equal(match(f, "longan/Bến Lức/light/7/power", tags, sizeof tags), 1);
    assert_string_equal(tags, "district=Bến Lức;id=7");
    assert_int_equal(match(f, "longan/x/light/7/energy", tags, sizeof tags), 0);
    assert_int_equal(match(f, "longan/x/light/7", tags, sizeof tags), 0);
    assert_int_equal(match(f, "longan/x/light/7/power/extra", tags, sizeof tags), 0);
    assert_int_equal(match(f, "hcm/x/light/7/power", tags, sizeof tags), 0);
    /* A named level must not be empty: it would be an empty tag value. */
    assert_int_equal(match(f, "longan//light/7/power", tags, sizeof tags), IOC_EINVAL);
    /* An unnamed '+' may match an empty level, as MQTT says. */
    assert_int_equal(match("a/+/c", "a//c", tags, sizeof tags), 1);
    assert_string_equal(tags, "");
}

static void test_match_hash_and_dollar(void **st)
{
    (void)st;
    char tags[512];
    assert_int_equal(match("site/+site/#", "site/s1/a/b/c", tags, sizeof tags), 1);
    assert_string_equal(tags, "site=s1");
    assert_int_equal(match("site/+site/#", "site/s2", tags, sizeof tags), 1);
    assert_string_equal(tags, "site=s2");
    assert_int_equal(match("site/+site/#", "site", tags, sizeof tags), 0);
    assert_int_equal(match("#", "any/thing", tags, sizeof tags), 1);
    assert_int_equal(match("#", "$SYS/broker/uptime", tags, sizeof tags), 0);
    assert_int_equal(match("+x/broker/uptime", "$SYS/broker/uptime", tags, sizeof tags), 0);
    assert_int_equal(match("$SYS/#", "$SYS/broker/uptime", tags, sizeof tags), 1);
    char longtopic[MQTT_MAX_TOPIC + 10];
    memset(longtopic, 'a', sizeof longtopic - 1);
    longtopic[sizeof longtopic - 1] = '\0';
    assert_int_equal(match("#", longtopic, tags, sizeof tags), IOC_ETOOBIG);
}

/* Parses payload text with the given pointers; returns the code, value and time through out. */
static int parse(const char *vp, const char *tp, mqtt_time_unit_t unit, const char *payload,
                 size_t len, double *v, int64_t *ts)
{
    const mqtt_payload_spec_t spec = {.value_ptr = vp, .time_ptr = tp, .time_unit = unit,
                                      .max_len = 1024};
    *v = -999.0;
    return mqtt_payload_parse(&spec, payload, len, v, ts, err, sizeof err);
}

#define PARSE(vp, tp, unit, text, v, ts) parse(vp, tp, unit, text, strlen(text), v, ts)

static void test_payload_plain(void **st)
{
    (void)st;
    double v;
    int64_t ts = 5;
    assert_int_equal(PARSE(NULL, NULL, MQTT_TIME_S, "42.5", &v, &ts), IOC_OK);
    assert_true(v == 42.5);
    assert_int_equal(ts, 0);
    assert_int_equal(PARSE(NULL, NULL, MQTT_TIME_S, " -7e2 \r\n", &v, &ts), IOC_OK);
    assert_true(v == -700.0);
    /* Not NUL-terminated: only len bytes count. */
    assert_int_equal(parse(NULL, NULL, MQTT_TIME_S, "123456", 3, &v, &ts), IOC_OK);
    assert_true(v == 123.0);
    static const char *const bad[] = {"", "  ", "abc", "12abc", "nan", "inf", "1e999", "0x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (PARSE(NULL, NULL, MQTT_TIME_S, bad[i], &v, &ts) != IOC_EINVAL)
            fail_msg("\"%s\" was taken as %g", bad[i], v);
        assert_string_equal(err, "payload is not a number");
    }
    assert_int_equal(parse(NULL, NULL, MQTT_TIME_S, "12\0" "3", 4, &v, &ts), IOC_EINVAL);
    assert_non_null(strstr(err, "NUL"));
    char big[1100];
    memset(big, '1', sizeof big);
    assert_int_equal(parse(NULL, NULL, MQTT_TIME_S, big, sizeof big, &v, &ts), IOC_ETOOBIG);
    assert_non_null(strstr(err, "over max_payload"));
}

static void test_payload_json(void **st)
{
    (void)st;
    double v;
    int64_t ts;
    const char *doc = "{\"power\": 120.5, \"on\": true, \"name\": \"x\", \"a/b\": {\"m~n\": [1, 2, 3]},"
                      " \"t\": 1700000000, \"tms\": 1700000000123, \"iso\": \"2024-05-01T07:30:00.25+07:00\","
                      " \"badiso\": \"2024-02-30T00:00:00Z\"}";
    assert_int_equal(PARSE("/power", NULL, MQTT_TIME_S, doc, &v, &ts), IOC_OK);
    assert_true(v == 120.5);
    assert_int_equal(ts, 0);
    assert_int_equal(PARSE("/on", NULL, MQTT_TIME_S, doc, &v, &ts), IOC_OK);
    assert_true(v == 1.0);
    assert_int_equal(PARSE("/a~1b/m~0n/2", NULL, MQTT_TIME_S, doc, &v, &ts), IOC_OK);
    assert_true(v == 3.0);
    assert_int_equal(PARSE("/power", "/t", MQTT_TIME_S, doc, &v, &ts), IOC_OK);
    assert_int_equal(ts, 1700000000000000LL);
    assert_int_equal(PARSE("/power", "/tms", MQTT_TIME_MS, doc, &v, &ts), IOC_OK);
    assert_int_equal(ts, 1700000000123000LL);
    assert_int_equal(PARSE("/power", "/iso", MQTT_TIME_S, doc, &v, &ts), IOC_OK);
    assert_int_equal(ts, 1714523400250000LL);
    assert_int_equal(PARSE("", NULL, MQTT_TIME_S, "17.25", &v, &ts), IOC_OK);
    assert_true(v == 17.25);

    assert_int_equal(PARSE("/missing", NULL, MQTT_TIME_S, doc, &v, &ts), IOC_EINVAL);
    assert_string_equal(err, "no value at \"/missing\"");
    assert_int_equal(PARSE("/name", NULL, MQTT_TIME_S, doc, &v, &ts), IOC_EINVAL);
    assert_string_equal(err, "value at \"/name\" is not a number");
    assert_int_equal(PARSE("/a~1b/m~0n/3", NULL, MQTT_TIME_S, doc, &v, &ts), IOC_EINVAL);
    assert_int_equal(PARSE("/a~1b/m~0n/01", NULL, MQTT_TIME_S, doc, &v, &ts), IOC_EINVAL);
    assert_int_equal(PARSE("/power", "/nope", MQTT_TIME_S, doc, &v, &ts), IOC_EINVAL);
    assert_string_equal(err, "no time at \"/nope\"");
    assert_int_equal(PARSE("/power", "/badiso", MQTT_TIME_S, doc, &v, &ts), IOC_EINVAL);
    assert_string_equal(err, "bad time at \"/badiso\"");
    assert_int_equal(PARSE("/power", "/name", MQTT_TIME_S, doc, &v, &ts), IOC_EINVAL);
    assert_int_equal(PARSE("/power", NULL, MQTT_TIME_S, "{\"power\": 1", &v, &ts), IOC_EINVAL);
    assert_string_equal(err, "payload is not JSON");
    assert_int_equal(PARSE("/power", NULL, MQTT_TIME_S, "42", &v, &ts), IOC_EINVAL);
}

static void test_rfc3339(void **st)
{
    (void)st;
    int64_t us;
    assert_int_equal(mqtt_parse_rfc3339("1970-01-01T00:00:01Z", &us), IOC_OK);
    assert_int_equal(us, 1000000);
    assert_int_equal(mqtt_parse_rfc3339("2024-03-12T10:00:00.123456789-01:30", &us), IOC_OK);
    assert_int_equal(us, 1710243000123456LL);
    static const char *const bad[] = {"2024-03-12", "2024-03-12T10:00:00", "2024-13-01T00:00:00Z",
                                      "2024-03-12T10:00:00.Z", "2024-03-12T10:00:00Zjunk",
                                      "1969-12-31T23:59:59Z", "2024-03-12T25:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (mqtt_parse_rfc3339(bad[i], &us) != IOC_EINVAL)
            fail_msg("\"%s\" was accepted as %lld", bad[i], (long long)us);
}

/* Parses config text; returns the code (err holds the message). */
static int config(const char *text, mqtt_config_t *cfg)
{
    cJSON *obj = cJSON_Parse(text);
    assert_non_null(obj);
    int rc = mqtt_config_parse(obj, "lights", cfg, err, sizeof err);
    cJSON_Delete(obj);
    return rc;
}

static void test_config_ok(void **st)
{
    (void)st;
    mqtt_config_t cfg;
    assert_int_equal(config("{\"plugin\": \"mqtt\", \"name\": \"lights\", \"interval\": \"5s\","
                            " \"url\": \"mqtt://127.0.0.1:1884\", \"subscribe\": ["
                            "{\"topic\": \"longan/+district/light/+id/power\", \"metric\": \"lighting.power\","
                            " \"tags\": {\"source\": \"cms\"}},"
                            "{\"topic\": \"longan/+d/light/+i/power\", \"metric\": \"lighting.power_json\","
                            " \"value\": \"/p\", \"time\": \"/t\", \"time_unit\": \"ms\"}]}", &cfg),
                     IOC_OK);
    assert_string_equal(cfg.host, "127.0.0.1");
    assert_int_equal(cfg.port, 1884);
    assert_false(cfg.tls);
    assert_string_equal(cfg.client_id, "iocd-lights");
    assert_false(cfg.clean_session);
    assert_int_equal(cfg.keepalive_s, 30);
    assert_int_equal(cfg.nsubs, 2);
    assert_int_equal(cfg.nfilters, 1); /* both subscribe to longan/+/light/+/power */
    assert_string_equal(cfg.filters[0], "longan/+/light/+/power");
    assert_int_equal(cfg.subs[0].ntags, 1);
    assert_string_equal(cfg.subs[0].tags[0].key, "source");
    assert_null(cfg.subs[0].value_ptr);
    assert_string_equal(cfg.subs[1].value_ptr, "/p");
    assert_int_equal(cfg.subs[1].time_unit, MQTT_TIME_MS);
    mqtt_config_free(&cfg);

    assert_int_equal(config("{\"url\": \"mqtts://[::1]\", \"client_id\": \"c1\", \"keepalive\": \"1m\","
                            " \"reconnect_max\": \"2m\", \"username\": \"u\", \"password\": \"p\","
                            " \"tls\": {\"ca_file\": \"/etc/ca.pem\"},"
                            " \"subscribe\": [{\"topic\": \"#\", \"metric\": \"m\"}]}", &cfg), IOC_OK);
    assert_string_equal(cfg.host, "::1");
    assert_int_equal(cfg.port, 8883);
    assert_true(cfg.tls);
    assert_true(cfg.tls_verify);
    assert_int_equal(cfg.keepalive_s, 60);
    assert_int_equal(cfg.reconnect_max_ms, 120000);
    assert_string_equal(cfg.client_id, "c1");
    assert_string_equal(cfg.ca_file, "/etc/ca.pem");
    mqtt_config_free(&cfg);
}

static void test_config_errors(void **st)
{
    (void)st;
    mqtt_config_t cfg;
    static const struct { const char *text, *msg; } cases[] = {
        {"{\"subscribe\": [{\"topic\": \"a\", \"metric\": \"m\"}]}", "url: is required"},
        {"{\"url\": \"mqtt://h\"}", "subscribe: is required"},
        {"{\"url\": \"http://h\", \"subscribe\": []}", "url: must start with mqtt://"},
        {"{\"url\": \"mqtt://u:pw@h\", \"subscribe\": []}", "url: must not carry credentials"},
        {"{\"url\": \"mqtt://h:70000\", \"subscribe\": []}", "url: port must be"},
        {"{\"url\": \"mqtt://h/x\", \"subscribe\": []}", "url: must not have a path"},
        {"{\"url\": \"mqtt://h\", \"subscribe\": []}", "subscribe: must be an array of 1 to 256"},
        {"{\"url\": \"mqtt://h\", \"subscribe\": [{\"topic\": \"a\", \"metric\": \"m\"},"
         " {\"topic\": \"a/b+\", \"metric\": \"m\"}]}", "subscribe[1].topic: level 2"},
        {"{\"url\": \"mqtt://h\", \"subscribe\": [{\"topic\": \"a\"}]}", "subscribe[0]: metric is required"},
        {"{\"url\": \"mqtt://h\", \"subscribe\": [{\"topic\": \"a\", \"metric\": \"m\", \"vale\": \"/x\"}]}",
         "subscribe[0].vale: unknown key"},
        {"{\"url\": \"mqtt://h\", \"subscribe\": [{\"topic\": \"a\", \"metric\": \"m\", \"value\": \"x\"}]}",
         "subscribe[0].value: must be a JSON pointer"},
        {"{\"url\": \"mqtt://h\", \"subscribe\": [{\"topic\": \"a\", \"metric\": \"m\", \"time\": \"/t\"}]}",
         "subscribe[0]: time needs value"},
        {"{\"url\": \"mqtt://h\", \"subscribe\": [{\"topic\": \"a/+id\", \"metric\": \"m\", \"tags\": {\"id\": \"x\"}}]}",
         "subscribe[0].tags.id: is also a named wildcard"},
        {"{\"url\": \"mqtt://h\", \"subscribe\": [{\"topic\": \"a\", \"metric\": \"m\", \"tags\": {\"k\": 1}}]}",
         "subscribe[0].tags.k: must be a string"},
        {"{\"url\": \"mqtt://h\", \"keepalive\": \"1s\", \"subscribe\": [{\"topic\": \"a\", \"metric\": \"m\"}]}",
         "keepalive: must be a duration"},
        {"{\"url\": \"mqtt://h\", \"tls\": {\"ca_file\": \"x\"}, \"subscribe\": [{\"topic\": \"a\", \"metric\": \"m\"}]}",
         "tls: needs an mqtts:// url"},
        {"{\"url\": \"mqtts://h\", \"tls\": {\"verfy\": false}, \"subscribe\": [{\"topic\": \"a\", \"metric\": \"m\"}]}",
         "tls.verfy: unknown key"},
        {"{\"url\": \"mqtt://h\", \"passwd\": \"x\", \"subscribe\": [{\"topic\": \"a\", \"metric\": \"m\"}]}",
         "unknown key \"passwd\""},
        {"{\"url\": \"mqtt://h\", \"password\": \"x\", \"subscribe\": [{\"topic\": \"a\", \"metric\": \"m\"}]}",
         "password: needs username"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = config(cases[i].text, &cfg);
        if (rc != IOC_EINVAL || !strstr(err, cases[i].msg))
            fail_msg("case %zu: rc=%d error \"%s\" lacks \"%s\"", i, rc, err, cases[i].msg);
        assert_null(cfg.host);
        assert_null(cfg.subs);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pattern_filter),
        cmocka_unit_test(test_pattern_errors),
        cmocka_unit_test(test_match_named),
        cmocka_unit_test(test_match_hash_and_dollar),
        cmocka_unit_test(test_payload_plain),
        cmocka_unit_test(test_payload_json),
        cmocka_unit_test(test_rfc3339),
        cmocka_unit_test(test_config_ok),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

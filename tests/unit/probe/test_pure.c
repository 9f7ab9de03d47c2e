/* Tests of the probe plugin's pure parts: addresses, requests, status lines, config errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../../collectors/probe/probe.h"

static char err[1024];

/* Parses address text for kind into t (freed by the caller); returns the code. */
static int addr(const char *text, probe_kind_t kind, probe_target_t *t)
{
    memset(t, 0, sizeof *t);
    err[0] = '\0';
    return probe_address_parse(text, kind, t, err, sizeof err);
}

static void test_addresses(void **st)
{
    probe_target_t t;
    (void)st;
    assert_int_equal(addr("10.0.0.5:554", PROBE_RTSP, &t), IOC_OK);
    assert_string_equal(t.host, "10.0.0.5");
    assert_int_equal(t.port, 554);
    assert_true(t.numeric);
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)&t.addr;
    assert_int_equal(v4->sin_family, AF_INET);
    assert_int_equal(ntohs(v4->sin_port), 554);
    assert_int_equal(ntohl(v4->sin_addr.s_addr), 0x0a000005);
    probe_target_free(&t);

    assert_int_equal(addr("[fd00::5]:8554", PROBE_RTSP, &t), IOC_OK);
    assert_string_equal(t.host, "fd00::5");
    assert_int_equal(t.port, 8554);
    assert_int_equal(((const struct sockaddr_in6 *)&t.addr)->sin6_family, AF_INET6);
    probe_target_free(&t);

    assert_int_equal(addr("cam-01.longan.gov.vn", PROBE_HTTP, &t), IOC_OK);
    assert_int_equal(t.port, 80);
    assert_false(t.numeric);
    assert_false(t.resolved);
    probe_target_free(&t);
    assert_int_equal(addr("cam-01", PROBE_RTSP, &t), IOC_OK);
    assert_int_equal(t.port, 554);
    probe_target_free(&t);

    assert_int_equal(addr("10.0.0.5", PROBE_TCP, &t), IOC_EINVAL);
    assert_string_equal(err, "a tcp target needs a port, e.g. \"10.0.0.5:8000\"");
    assert_int_equal(addr("fd00::5", PROBE_TCP, &t), IOC_EINVAL);
    assert_string_equal(err, "an IPv6 address needs brackets, e.g. \"[fd00::5]:554\"");
    assert_int_equal(addr("[fd00::5", PROBE_TCP, &t), IOC_EINVAL);
    assert_string_equal(err, "unterminated [IPv6] address");
    assert_int_equal(addr("[10.0.0.5]:80", PROBE_TCP, &t), IOC_EINVAL);
    assert_string_equal(err, "not an IPv6 address inside [ ]");
    assert_int_equal(addr("[::1]x", PROBE_TCP, &t), IOC_EINVAL);
    assert_string_equal(err, "expected :port after ]");
    assert_int_equal(addr("a b:80", PROBE_TCP, &t), IOC_EINVAL);
    assert_non_null(strstr(err, "host must be an IP address or a name"));
    assert_int_equal(addr(":80", PROBE_TCP, &t), IOC_EINVAL);
    assert_non_null(strstr(err, "host must be"));
    static const char *const bad_ports[] = {"h:0", "h:65536", "h:", "h:-1", "h:8x", "h:123456"};
    for (size_t i = 0; i < sizeof bad_ports / sizeof *bad_ports; i++) {
        assert_int_equal(addr(bad_ports[i], PROBE_TCP, &t), IOC_EINVAL);
        assert_string_equal(err, "port must be a number from 1 to 65535");
    }
    assert_int_equal(addr("h:65535", PROBE_TCP, &t), IOC_OK);
    assert_int_equal(t.port, 65535);
    probe_target_free(&t);
}

static void test_requests(void **st)
{
    probe_target_t t;
    (void)st;
    assert_int_equal(addr("10.0.0.5:554", PROBE_RTSP, &t), IOC_OK);
    t.kind = PROBE_RTSP;
    assert_int_equal(probe_request_build(&t, "/Streaming/Channels/101", err, sizeof err), IOC_OK);
    assert_string_equal(t.request, "OPTIONS rtsp://10.0.0.5/Streaming/Channels/101 RTSP/1.0\r\n"
                                   "CSeq: 1\r\nUser-Agent: iocd-probe/1.0\r\n\r\n");
    assert_int_equal(t.request_len, strlen(t.request));
    probe_target_free(&t);

    assert_int_equal(addr("[fd00::5]:8080", PROBE_HTTP, &t), IOC_OK);
    t.kind = PROBE_HTTP;
    assert_int_equal(probe_request_build(&t, "/health?full=1", err, sizeof err), IOC_OK);
    assert_string_equal(t.request, "GET /health?full=1 HTTP/1.1\r\nHost: [fd00::5]:8080\r\n"
                                   "User-Agent: iocd-probe/1.0\r\nAccept: */*\r\n"
                                   "Connection: close\r\n\r\n");
    assert_int_equal(probe_request_build(&t, "health", err, sizeof err), IOC_EINVAL);
    assert_string_equal(err, "must start with '/' (at most 1024 bytes)");
    assert_int_equal(probe_request_build(&t, "/a b", err, sizeof err), IOC_EINVAL);
    assert_string_equal(err, "must not hold spaces or control bytes (percent-encode them)");
    assert_int_equal(probe_request_build(&t, "/a\r\nX: y", err, sizeof err), IOC_EINVAL);
    probe_target_free(&t);
}

static int status(probe_kind_t kind, const char *text, int *code)
{
    *code = -1;
    return probe_status_parse(kind, text, strlen(text), code);
}

static void test_status_lines(void **st)
{
    int code;
    (void)st;
    assert_int_equal(status(PROBE_HTTP, "HTTP/1.1 200 OK\r\n", &code), 1);
    assert_int_equal(code, 200);
    assert_int_equal(status(PROBE_HTTP, "HTTP/1.0 503\r\n", &code), 1);
    assert_int_equal(code, 503);
    assert_int_equal(status(PROBE_RTSP, "RTSP/1.0 401 Unauthorized\r\n", &code), 1);
    assert_int_equal(code, 401);
    /* incomplete: more bytes are needed, at every cut */
    const char *full = "HTTP/1.1 404 Not Found";
    for (size_t n = 0; n < 13; n++) {
        code = -1;
        assert_int_equal(probe_status_parse(PROBE_HTTP, full, n, &code), 0);
        assert_int_equal(code, -1);
    }
    assert_int_equal(probe_status_parse(PROBE_HTTP, full, 13, &code), 1);
    assert_int_equal(code, 404);
    assert_int_equal(status(PROBE_HTTP, "RTSP/1.0 200 OK\r\n", &code), IOC_EINVAL);
    assert_int_equal(status(PROBE_RTSP, "HTTP/1.1 200 OK\r\n", &code), IOC_EINVAL);
    assert_int_equal(status(PROBE_HTTP, "HTTP/2.0 200 OK\r\n", &code), IOC_EINVAL);
    assert_int_equal(status(PROBE_HTTP, "HTTP/1.1 20 OK\r\n", &code), IOC_EINVAL);
    assert_int_equal(status(PROBE_HTTP, "HTTP/1.1 2000 OK\r\n", &code), IOC_EINVAL);
    assert_int_equal(status(PROBE_HTTP, "SSH-2.0-OpenSSH_9.2\r\n", &code), IOC_EINVAL);
    assert_int_equal(status(PROBE_RTSP, "RTSP/1.1 200 OK\r\n", &code), IOC_EINVAL);
}

static void test_status_ok(void **st)
{
    probe_target_t t = {.kind = PROBE_HTTP};
    (void)st;
    assert_true(probe_status_ok(&t, 200));
    assert_true(probe_status_ok(&t, 302));
    assert_false(probe_status_ok(&t, 401));
    assert_false(probe_status_ok(&t, 500));
    t.kind = PROBE_RTSP;
    assert_true(probe_status_ok(&t, 200));
    assert_false(probe_status_ok(&t, 401));
    t.expect[t.nexpect++] = 401;
    assert_true(probe_status_ok(&t, 401));
    assert_false(probe_status_ok(&t, 200));
}

/* Parses config text; returns the code, err holds the message. */
static int parse(const char *text, probe_config_t *cfg)
{
    cJSON *j = cJSON_Parse(text);
    if (!j)
        fail_msg("test config is not JSON: %s", text);
    err[0] = '\0';
    int rc = probe_config_parse(j, cfg, err, sizeof err);
    cJSON_Delete(j);
    return rc;
}

static void expect_error(const char *text, const char *msg)
{
    probe_config_t cfg;
    assert_int_equal(parse(text, &cfg), IOC_EINVAL);
    if (strcmp(err, msg) != 0)
        fail_msg("config %s\n  error: %s\n  want:  %s", text, err, msg);
    assert_int_equal(cfg.ntargets, 0);
    assert_null(cfg.targets);
}

static void test_config_ok(void **st)
{
    probe_config_t cfg;
    (void)st;
    assert_int_equal(parse("{\"plugin\": \"probe\", \"name\": \"cams\", \"interval\": \"30s\", "
                           "\"timeout\": \"20s\", \"concurrency\": 64, \"target_timeout\": \"2s\", "
                           "\"tags\": {\"source\": \"vms\", \"district\": \"Long An\"}, "
                           "\"targets\": [{\"name\": \"cam-TA-001\", \"kind\": \"rtsp\", "
                           "\"address\": \"10.0.0.5:554\", \"tags\": {\"district\": \"Tân An\"}},"
                           "{\"address\": \"10.0.0.6:8000\"}]}", &cfg), IOC_OK);
    assert_int_equal(cfg.ntargets, 2);
    assert_int_equal(cfg.concurrency, 64);
    assert_int_equal(cfg.target_timeout_ms, 2000);
    assert_int_equal(cfg.round_ms, 18000);
    const probe_target_t *t = &cfg.targets[0];
    assert_int_equal(t->kind, PROBE_RTSP);
    assert_int_equal(t->ntags, 4);
    assert_string_equal(t->tags[0].key, "target");
    assert_string_equal(t->tags[0].value, "cam-TA-001");
    assert_string_equal(t->tags[1].key, "kind");
    assert_string_equal(t->tags[1].value, "rtsp");
    assert_string_equal(t->tags[2].key, "district");
    assert_string_equal(t->tags[2].value, "Tân An");
    assert_string_equal(t->tags[3].key, "source");
    t = &cfg.targets[1];
    assert_string_equal(t->name, "10.0.0.6:8000");
    assert_int_equal(t->kind, PROBE_TCP);
    assert_null(t->request);
    assert_int_equal(t->ntags, 4);
    probe_config_free(&cfg);

    /* defaults: the host's timeout is the interval (10 s), capped at 60 s */
    assert_int_equal(parse("{\"targets\": [{\"address\": \"h:1\"}]}", &cfg), IOC_OK);
    assert_int_equal(cfg.concurrency, 256);
    assert_int_equal(cfg.round_ms, 9000);
    assert_int_equal(cfg.target_timeout_ms, 3000);
    probe_config_free(&cfg);
    assert_int_equal(parse("{\"interval\": \"5m\", \"targets\": [{\"address\": \"h:1\"}]}", &cfg),
                     IOC_OK);
    assert_int_equal(cfg.round_ms, 54000);
    probe_config_free(&cfg);
    assert_int_equal(parse("{\"interval\": \"1s\", \"targets\": [{\"address\": \"h:1\"}]}", &cfg),
                     IOC_OK);
    assert_int_equal(cfg.round_ms, 900);
    assert_int_equal(cfg.target_timeout_ms, 450);
    probe_config_free(&cfg);
}

static void test_config_errors(void **st)
{
    (void)st;
    expect_error("{\"targets\": []}",
                 "targets: at least one target is required (in targets or targets_file)");
    expect_error("{\"target\": []}", "unknown key \"target\" (known: targets, targets_file, tags, "
                 "concurrency, target_timeout)");
    expect_error("{\"targets\": {}}", "targets: must be an array of {kind, address, ...}");
    expect_error("{\"targets\": [{\"address\": \"h:1\"}, 5]}",
                 "targets[1]: must be an object with kind and address");
    expect_error("{\"targets\": [{\"adress\": \"h:1\"}]}", "targets[0].unknown key \"adress\" "
                 "(known: name, kind, address, path, expect_status, tags)");
    expect_error("{\"targets\": [{\"kind\": \"rtsp\"}]}",
                 "targets[0].address: is required (e.g. \"10.0.0.5:554\")");
    expect_error("{\"targets\": [{\"kind\": \"icmp\", \"address\": \"h:1\"}]}",
                 "targets[0].kind: must be \"tcp\", \"http\" or \"rtsp\"");
    expect_error("{\"targets\": [{\"kind\": \"tcp\", \"address\": \"h:1\", \"path\": \"/\"}]}",
                 "targets[0].path: only for http and rtsp targets");
    expect_error("{\"targets\": [{\"kind\": \"http\", \"address\": \"h\", \"path\": \"x\"}]}",
                 "targets[0].path: must start with '/' (at most 1024 bytes)");
    expect_error("{\"targets\": [{\"kind\": \"http\", \"address\": \"h\", \"expect_status\": 99}]}",
                 "targets[0].expect_status: must be a status code (100-599) or an array of 1 to "
                 "16 of them");
    expect_error("{\"targets\": [{\"kind\": \"http\", \"address\": \"h\", \"expect_status\": []}]}",
                 "targets[0].expect_status: must be a status code (100-599) or an array of 1 to "
                 "16 of them");
    expect_error("{\"targets\": [{\"address\": \"h:1\", \"expect_status\": 200}]}",
                 "targets[0].expect_status: only for http and rtsp targets");
    expect_error("{\"targets\": [{\"name\": \"\", \"address\": \"h:1\"}]}",
                 "targets[0].name: must be a string of 1 to 256 bytes");
    expect_error("{\"targets\": [{\"address\": \"h:1\", \"tags\": {\"kind\": \"cam\"}}]}",
                 "targets[0].tags.kind: is set by the probe (the target's name and kind)");
    expect_error("{\"tags\": {\"target\": \"x\"}, \"targets\": [{\"address\": \"h:1\"}]}",
                 "tags.target: is set by the probe (the target's name and kind)");
    expect_error("{\"targets\": [{\"address\": \"h:1\", \"tags\": {\"district\": 5}}]}",
                 "targets[0].tags.district: must be a string of 1 to 256 bytes");
    expect_error("{\"targets\": [{\"name\": \"a\", \"address\": \"h:1\"}, {\"address\": \"h:2\"}, "
                 "{\"name\": \"a\", \"address\": \"h:3\"}]}",
                 "targets[2].name: \"a\" is already the name of targets[0]");
    expect_error("{\"concurrency\": 0, \"targets\": [{\"address\": \"h:1\"}]}",
                 "concurrency: must be a whole number from 1 to 4096");
    expect_error("{\"concurrency\": 2.5, \"targets\": [{\"address\": \"h:1\"}]}",
                 "concurrency: must be a whole number from 1 to 4096");
    expect_error("{\"target_timeout\": \"5\", \"targets\": [{\"address\": \"h:1\"}]}",
                 "target_timeout: must be a duration from \"10ms\" to \"10m\"");
    expect_error("{\"interval\": \"5s\", \"target_timeout\": \"5s\", \"targets\": "
                 "[{\"address\": \"h:1\"}]}", "target_timeout: 5000ms is more than a round may "
                 "take (4500ms: 90% of the collector's timeout)");
    char many[2048] = "{\"tags\": {\"z\": \"1\"}, \"targets\": [{\"address\": \"h:1\", \"tags\": {";
    for (int i = 0; i < 30; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%s\"k%d\": \"v\"",
                 i ? "," : "", i);
    strcat(many, "}}]}");
    expect_error(many, "targets[0].tags: too many (at most 32 with target and kind)");
    expect_error("{\"targets_file\": \"/nonexistent/targets.jsonl\"}",
                 "targets_file: /nonexistent/targets.jsonl: No such file or directory");
    expect_error("{\"targets_file\": \"/tmp\"}",
                 "targets_file: /tmp: must be a regular file of at most 64 MiB");
}

/* Writes text to a temporary file; returns its path (static buffer). */
static const char *temp_file(const char *text)
{
    static char path[64];
    strcpy(path, "/tmp/iocd-probe-pure-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_targets_file(void **st)
{
    char cfgtext[256], want[512];
    probe_config_t cfg;
    (void)st;
    const char *path = temp_file("# name kind address\n\n"
                                 "{\"name\": \"f1\", \"kind\": \"rtsp\", \"address\": \"10.0.0.1\"}\n"
                                 "   \n"
                                 "{\"name\": \"f2\", \"address\": \"10.0.0.2:80\"}\n");
    snprintf(cfgtext, sizeof cfgtext, "{\"targets\": [{\"name\": \"c1\", \"address\": \"h:1\"}], "
             "\"targets_file\": \"%s\", \"tags\": {\"source\": \"file\"}}", path);
    assert_int_equal(parse(cfgtext, &cfg), IOC_OK);
    assert_int_equal(cfg.ntargets, 3);
    assert_string_equal(cfg.targets[1].name, "f1");
    assert_int_equal(cfg.targets[1].port, 554);
    assert_string_equal(cfg.targets[2].tags[2].value, "file");
    probe_config_free(&cfg);
    unlink(path);

    path = temp_file("{\"name\": \"f1\", \"address\": \"10.0.0.1:1\"}\n# x\n"
                     "{\"name\": \"f2\", \"address\": \"10.0.0.2:99999\"}\n");
    snprintf(cfgtext, sizeof cfgtext, "{\"targets_file\": \"%s\"}", path);
    snprintf(want, sizeof want, "targets_file: %s:3: address: port must be a number from 1 to "
             "65535", path);
    expect_error(cfgtext, want);
    unlink(path);

    path = temp_file("{\"name\": \"f1\", \"address\": \"10.0.0.1:1\"} trailing\n");
    snprintf(cfgtext, sizeof cfgtext, "{\"targets_file\": \"%s\"}", path);
    snprintf(want, sizeof want, "targets_file: %s:1: not one JSON object (column 41)", path);
    expect_error(cfgtext, want);
    unlink(path);

    char *longline = malloc(PROBE_MAX_LINE + 64);
    snprintf(longline, PROBE_MAX_LINE + 64, "{\"name\": \"%0*d\", \"address\": \"h:1\"}\n",
             PROBE_MAX_LINE, 7);
    path = temp_file(longline);
    free(longline);
    snprintf(cfgtext, sizeof cfgtext, "{\"targets_file\": \"%s\"}", path);
    snprintf(want, sizeof want, "targets_file: %s:1: line over 64 KiB", path);
    expect_error(cfgtext, want);
    unlink(path);

    path = temp_file("\n{\"name\": \"c1\", \"address\": \"10.0.0.1:1\"}\n");
    snprintf(cfgtext, sizeof cfgtext, "{\"targets\": [{\"name\": \"c1\", \"address\": \"h:1\"}], "
             "\"targets_file\": \"%s\"}", path);
    snprintf(want, sizeof want, "targets_file: %s:2: name: \"c1\" is already the name of "
             "targets[0]", path);
    expect_error(cfgtext, want);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_status_lines),
        cmocka_unit_test(test_status_ok),
        cmocka_unit_test(test_config_ok),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_targets_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

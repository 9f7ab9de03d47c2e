/* Web server tests: a real uv loop serving real HTTP over loopback to a client thread. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "helper_client.h"
#include "web/web.h"

#define BIG_LEN (1u << 20)
#define SECRET "TOPSECRET-7f3a"

typedef struct fx {
    uv_loop_t loop;
    web_t *w;
    int port;
    char dir[64];          /* temp dir: secret.txt, www/ */
    uv_timer_t timer;      /* the async handlers' timer */
    uv_timer_t wait;       /* run_until's poll */
    web_req_t *pending;
    uint64_t started_ms;
    atomic_int *flag;
    uint64_t deadline;
    atomic_int cancelled, closed, client_done;
    int body_terminated;
    char *big;
} fx_t;

typedef struct client_job {
    int port;
    const char *req;
    size_t len;
    hc_resp_t resp;
    int rc;
    int hangup_ms;         /* >0: send, wait this long, close without reading */
    bool until_eof;        /* read every response until the server closes */
} client_job_t;

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void wait_tick(uv_timer_t *t)
{
    fx_t *f = t->data;

    if (atomic_load(f->flag) || uv_now(&f->loop) > f->deadline)
        uv_stop(&f->loop);
}

/* Runs the loop until *flag is set or ms pass. Returns the flag. */
static int run_until(fx_t *f, atomic_int *flag, unsigned ms)
{
    f->flag = flag;
    uv_update_time(&f->loop);
    f->deadline = uv_now(&f->loop) + ms;
    uv_timer_start(&f->wait, wait_tick, 1, 1);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    uv_timer_stop(&f->wait);
    return atomic_load(flag);
}

static void client_main(void *arg)
{
    client_job_t *j = arg;
    int fd;

    if (!j->hangup_ms && !j->until_eof) {
        j->rc = hc_request(j->port, j->req, j->len, &j->resp);
        return;
    }
    fd = hc_connect(j->port);
    if (j->until_eof) {
        j->rc = fd < 0 ? -1 : hc_send(fd, j->req, j->len);
        if (!j->rc)
            j->rc = hc_read_all(fd, &j->resp);
        if (fd >= 0)
            close(fd);
        return;
    }
    j->rc = fd < 0 ? -1 : hc_send(fd, j->req, j->len);
    usleep((useconds_t)j->hangup_ms * 1000);
    if (fd >= 0)
        close(fd);
}

/* Sends a raw request from a client thread while the loop serves; fills j->resp. */
static void exchange(fx_t *f, client_job_t *j)
{
    void *t;

    j->port = f->port;
    if (!j->len)
        j->len = strlen(j->req);
    t = hc_spawn(client_main, j, &f->client_done);
    assert_non_null(t);
    assert_true(run_until(f, &f->client_done, 15000));
    hc_join(t);
}

/* GETs a path; returns the response (caller frees with hc_free). */
static hc_resp_t get(fx_t *f, const char *method, const char *path)
{
    char req[9000];
    client_job_t j = {0};

    snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", method,
             path);
    j.req = req;
    exchange(f, &j);
    return j.resp;
}

static void h_text(web_req_t *req, void *ud)
{
    web_respond(req, 200, "text/plain", ud, strlen(ud));
}

static void h_path(web_req_t *req, void *ud)
{
    char out[256];
    int n = snprintf(out, sizeof out, "%s %s", web_req_method(req), web_req_path(req));

    (void)ud;
    web_respond(req, 200, "text/plain", out, (size_t)n);
}

static void h_echo(web_req_t *req, void *ud)
{
    fx_t *f = ud;
    size_t len;
    const char *body = web_req_body(req, &len);

    f->body_terminated = body[len] == '\0';
    web_respond(req, 200, "application/octet-stream", body, len);
}

static void h_query(web_req_t *req, void *ud)
{
    char out[512];
    const char *name = web_req_query(req, "name"), *x = web_req_query(req, "x"),
               *e = web_req_query(req, "empty");
    int n = snprintf(out, sizeof out, "name=%s|x=%s|empty=%s|missing=%s", name ? name : "(null)",
                     x ? x : "(null)", e ? e : "(null)",
                     web_req_query(req, "missing") ? "set" : "(null)");

    (void)ud;
    web_respond(req, 200, "text/plain", out, (size_t)n);
}

static void h_headers(web_req_t *req, void *ud)
{
    char out[1024];
    const char *names[] = {"Authorization", "content-type", "origin", "cookie", "host",
                           "user-agent", "x-forwarded-for", "x-custom-thing", "x-absent"};
    size_t i, off = 0;
    const char *v;

    (void)ud;
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        v = web_req_header(req, names[i]);
        off += (size_t)snprintf(out + off, sizeof out - off, "%s=%s\n", names[i],
                                v ? v : "(null)");
    }
    off += (size_t)snprintf(out + off, sizeof out - off, "peer=%s\n", web_req_peer(req));
    web_respond(req, 200, "text/plain", out, off);
}

static void on_late(uv_timer_t *t)
{
    fx_t *f = t->data;
    char out[64];
    int n = snprintf(out, sizeof out, "late after %llu ms",
                     (unsigned long long)(uv_now(&f->loop) - f->started_ms));
    web_req_t *req = f->pending;

    f->pending = NULL;
    web_respond(req, 200, "text/plain", out, (size_t)n);
}

static void on_cancel(void *ud)
{
    fx_t *f = ud;

    uv_timer_stop(&f->timer);
    f->pending = NULL;
    atomic_fetch_add(&f->cancelled, 1);
}

/* Answers 50 ms later from a uv timer; /api/slow waits 60 s (for cancel tests). */
static void h_async(web_req_t *req, void *ud)
{
    fx_t *f = ud;

    f->pending = req;
    f->started_ms = uv_now(&f->loop);
    web_req_on_cancel(req, on_cancel, f);
    uv_timer_start(&f->timer, on_late, strcmp(web_req_path(req), "/api/slow") ? 50 : 60000, 0);
}

static void h_big(web_req_t *req, void *ud)
{
    fx_t *f = ud;

    web_respond(req, 200, "application/octet-stream", f->big, BIG_LEN);
}

static void on_closed(void *ud)
{
    atomic_store(&((fx_t *)ud)->closed, 1);
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    char p[256], www[128];
    web_opts_t opts = {.host = "127.0.0.1", .port = 0};
    size_t i;

    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/iocd-web-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(p, sizeof p, "%s/secret.txt", f->dir);
    write_file(p, SECRET "\n");
    snprintf(www, sizeof www, "%s/www", f->dir);
    assert_int_equal(mkdir(www, 0755), 0);
    snprintf(p, sizeof p, "%s/index.html", www);
    write_file(p, "<h1>IOC Long An</h1>");
    snprintf(p, sizeof p, "%s/app.js", www);
    write_file(p, "console.log('trung tâm');");
    snprintf(p, sizeof p, "%s/style.css", www);
    write_file(p, "body{}");
    snprintf(p, sizeof p, "%s/data.json", www);
    write_file(p, "{\"a\":1}");
    snprintf(p, sizeof p, "%s/sub", www);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/sub/index.html", www);
    write_file(p, "sub index");
    snprintf(p, sizeof p, "%s/empty", www);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/evil", www);
    assert_int_equal(symlink(f->dir, p), 0); /* a link out of the root */

    f->big = malloc(BIG_LEN);
    assert_non_null(f->big);
    for (i = 0; i < BIG_LEN; i++)
        f->big[i] = (char)('a' + (i * 7 + i / 1000) % 26);

    assert_int_equal(uv_loop_init(&f->loop), 0);
    uv_timer_init(&f->loop, &f->timer);
    f->timer.data = f;
    uv_timer_init(&f->loop, &f->wait);
    f->wait.data = f;
    opts.static_dir = www;
    assert_int_equal(web_create(&f->loop, &opts, &f->w), 0);
    f->port = web_port(f->w);
    assert_true(f->port > 0);
    assert_int_equal(web_route(f->w, "GET", "/api/exact", h_text, "exact", 0), 0);
    assert_int_equal(web_route(f->w, "*", "/api/pre/*", h_path, NULL, 0), 0);
    assert_int_equal(web_route(f->w, "POST", "/api/echo", h_echo, f, 1024), 0);
    assert_int_equal(web_route(f->w, "GET", "/api/query", h_query, NULL, 0), 0);
    assert_int_equal(web_route(f->w, "GET", "/api/headers", h_headers, NULL, 0), 0);
    assert_int_equal(web_route(f->w, "GET", "/api/async", h_async, f, 0), 0);
    assert_int_equal(web_route(f->w, "GET", "/api/slow", h_async, f, 0), 0);
    assert_int_equal(web_route(f->w, "GET", "/api/big", h_big, f, 0), 0);
    assert_int_equal(web_route(f->w, "DELETE", "/api/exact", h_text, "deleted", 0), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    char cmd[128];

    if (f->w) {
        web_close(f->w, on_closed, f);
        assert_true(run_until(f, &f->closed, 5000));
    }
    uv_close((uv_handle_t *)&f->timer, NULL);
    uv_close((uv_handle_t *)&f->wait, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    /* every handle lws opened on our loop is closed again */
    assert_int_equal(uv_loop_close(&f->loop), 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f->big);
    free(f);
    return 0;
}

static void assert_security_headers(hc_resp_t *r)
{
    assert_string_equal(hc_header(r, "x-content-type-options"), "nosniff");
    assert_string_equal(hc_header(r, "referrer-policy"), "no-referrer");
    assert_string_equal(hc_header(r, "x-frame-options"), "DENY");
    assert_string_equal(hc_header(r, "content-security-policy"),
                        "default-src 'self'; img-src 'self' data:; style-src 'self' "
                        "'unsafe-inline'; connect-src 'self' ws: wss:; frame-ancestors 'none'");
}

static void assert_body(hc_resp_t *r, const char *want)
{
    assert_int_equal(r->body_len, strlen(want));
    assert_memory_equal(r->body, want, r->body_len);
}

static void test_routes_exact_and_prefix(void **state)
{
    fx_t *f = *state;
    hc_resp_t r;

    r = get(f, "GET", "/api/exact");
    assert_int_equal(r.status, 200);
    assert_body(&r, "exact");
    assert_string_equal(hc_header(&r, "content-type"), "text/plain");
    assert_security_headers(&r);
    hc_free(&r);

    r = get(f, "DELETE", "/api/exact");
    assert_int_equal(r.status, 200);
    assert_body(&r, "deleted");
    hc_free(&r);

    r = get(f, "PUT", "/api/pre/a/b");
    assert_int_equal(r.status, 411); /* PUT without a length */
    hc_free(&r);

    r = get(f, "GET", "/api/pre/districts/ben-luc");
    assert_int_equal(r.status, 200);
    assert_body(&r, "GET /api/pre/districts/ben-luc");
    hc_free(&r);

    r = get(f, "GET", "/api/exactly"); /* not the exact route, no such file */
    assert_int_equal(r.status, 404);
    assert_security_headers(&r);
    hc_free(&r);
}

static void test_404_and_405(void **state)
{
    fx_t *f = *state;
    hc_resp_t r;
    client_job_t j = {0};

    r = get(f, "GET", "/no/such/thing");
    assert_int_equal(r.status, 404);
    assert_security_headers(&r);
    hc_free(&r);

    r = get(f, "DELETE", "/no/such/thing");
    assert_int_equal(r.status, 404);
    hc_free(&r);

    j.req = "POST /api/exact HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
    exchange(f, &j);
    assert_int_equal(j.resp.status, 405);
    assert_string_equal(hc_header(&j.resp, "allow"), "GET, HEAD, DELETE");
    assert_security_headers(&j.resp);
    hc_free(&j.resp);

    r = get(f, "GET", "/api/echo");
    assert_int_equal(r.status, 405);
    assert_string_equal(hc_header(&r, "allow"), "POST");
    hc_free(&r);
}

static void test_413_by_content_length(void **state)
{
    fx_t *f = *state;
    client_job_t j = {0};

    j.req = "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
            "Content-Length: 10000000\r\n\r\n";
    exchange(f, &j);
    assert_int_equal(j.rc, 0);
    assert_int_equal(j.resp.status, 413);
    assert_security_headers(&j.resp);
    hc_free(&j.resp);
}

static void test_413_by_actual_size(void **state)
{
    fx_t *f = *state;
    client_job_t j = {0};
    char req[8192];
    size_t off;
    int i;

    off = (size_t)snprintf(req, sizeof req,
                           "POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (i = 0; i < 5; i++) { /* 5 x 256 bytes > 1024 */
        off += (size_t)snprintf(req + off, sizeof req - off, "100\r\n");
        memset(req + off, 'z', 256);
        off += 256;
        off += (size_t)snprintf(req + off, sizeof req - off, "\r\n");
    }
    off += (size_t)snprintf(req + off, sizeof req - off, "0\r\n\r\n");
    j.req = req;
    j.len = off;
    exchange(f, &j);
    assert_int_equal(j.rc, 0);
    assert_int_equal(j.resp.status, 413);
    hc_free(&j.resp);
}

static void test_chunked_body_decoded(void **state)
{
    fx_t *f = *state;
    client_job_t j = {0};

    j.req = "POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n";
    exchange(f, &j);
    assert_int_equal(j.resp.status, 200);
    assert_body(&j.resp, "hello, world");
    hc_free(&j.resp);

    memset(&j, 0, sizeof j);
    j.req = "POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            "zz\r\nhello\r\n0\r\n\r\n";
    exchange(f, &j);
    assert_int_equal(j.resp.status, 400);
    hc_free(&j.resp);
}

static void test_post_body_intact(void **state)
{
    fx_t *f = *state;
    client_job_t j = {0};
    const char *body = "{\"name\":\"Tốc độ trung bình\",\"district\":\"Bến Lức\",\"v\":[1,2,3]}";
    char req[1024];

    snprintf(req, sizeof req,
             "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
             strlen(body), body);
    j.req = req;
    f->body_terminated = 0;
    exchange(f, &j);
    assert_int_equal(j.resp.status, 200);
    assert_body(&j.resp, body);
    assert_int_equal(f->body_terminated, 1);
    hc_free(&j.resp);

    memset(&j, 0, sizeof j);
    j.req = "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
    exchange(f, &j);
    assert_int_equal(j.resp.status, 200);
    assert_int_equal(j.resp.body_len, 0);
    hc_free(&j.resp);
}

static void test_async_response(void **state)
{
    fx_t *f = *state;
    hc_resp_t r;
    uint64_t t0 = uv_hrtime();
    unsigned long ms;

    r = get(f, "GET", "/api/async");
    assert_int_equal(r.status, 200);
    assert_true((uv_hrtime() - t0) / 1000000 >= 45);
    assert_int_equal(sscanf(r.body, "late after %lu ms", &ms), 1);
    assert_true(ms >= 49 && ms < 1000);
    assert_security_headers(&r);
    assert_int_equal(atomic_load(&f->cancelled), 0);
    hc_free(&r);
}

static void test_client_gone_before_async_response(void **state)
{
    fx_t *f = *state;
    client_job_t j = {0};
    void *t;
    hc_resp_t r;

    j.req = "GET /api/slow HTTP/1.1\r\nHost: x\r\n\r\n";
    j.len = strlen(j.req);
    j.port = f->port;
    j.hangup_ms = 50;
    t = hc_spawn(client_main, &j, &f->client_done);
    assert_non_null(t);
    assert_true(run_until(f, &f->cancelled, 5000));
    assert_true(run_until(f, &f->client_done, 5000));
    hc_join(t);
    assert_int_equal(atomic_load(&f->cancelled), 1);
    assert_null(f->pending);
    /* the server still serves */
    r = get(f, "GET", "/api/exact");
    assert_int_equal(r.status, 200);
    hc_free(&r);
}

static void test_query_decoding(void **state)
{
    fx_t *f = *state;
    hc_resp_t r;
    char path[9000];

    r = get(f, "GET",
            "/api/query?name=T%E1%BB%91c+%C4%91%E1%BB%99&x=a%26b%3Dc&empty=&other=1");
    assert_int_equal(r.status, 200);
    assert_body(&r, "name=Tốc độ|x=a&b=c|empty=|missing=(null)");
    hc_free(&r);

    memset(path, 0, sizeof path);
    strcpy(path, "/api/query?name=");
    memset(path + strlen(path), 'q', 8300);
    r = get(f, "GET", path);
    assert_int_equal(r.status, 414);
    hc_free(&r);
}

static void test_headers(void **state)
{
    fx_t *f = *state;
    client_job_t j = {0};

    j.req = "GET /api/headers HTTP/1.1\r\nHost: ioc.longan.gov.vn\r\n"
            "Authorization: Bearer s3cr3t\r\nContent-Type: application/json\r\n"
            "Origin: http://ioc.longan.gov.vn\r\nCookie: sid=abc\r\nUser-Agent: test/1.0\r\n"
            "X-Forwarded-For: 10.0.0.7\r\nX-Custom-Thing: hello\r\nConnection: close\r\n\r\n";
    exchange(f, &j);
    assert_int_equal(j.resp.status, 200);
    assert_body(&j.resp, "Authorization=Bearer s3cr3t\ncontent-type=application/json\n"
                         "origin=http://ioc.longan.gov.vn\ncookie=sid=abc\n"
                         "host=ioc.longan.gov.vn\nuser-agent=test/1.0\n"
                         "x-forwarded-for=10.0.0.7\nx-custom-thing=hello\nx-absent=(null)\n"
                         "peer=127.0.0.1\n");
    hc_free(&j.resp);
}

static void test_static_files(void **state)
{
    fx_t *f = *state;
    hc_resp_t r;

    r = get(f, "GET", "/");
    assert_int_equal(r.status, 200);
    assert_body(&r, "<h1>IOC Long An</h1>");
    assert_string_equal(hc_header(&r, "content-type"), "text/html; charset=utf-8");
    assert_security_headers(&r);
    hc_free(&r);

    r = get(f, "GET", "/app.js");
    assert_int_equal(r.status, 200);
    assert_body(&r, "console.log('trung tâm');");
    assert_string_equal(hc_header(&r, "content-type"), "text/javascript; charset=utf-8");
    hc_free(&r);

    r = get(f, "GET", "/style.css");
    assert_string_equal(hc_header(&r, "content-type"), "text/css; charset=utf-8");
    hc_free(&r);

    r = get(f, "GET", "/data.json");
    assert_string_equal(hc_header(&r, "content-type"), "application/json");
    hc_free(&r);

    r = get(f, "GET", "/sub/");
    assert_int_equal(r.status, 200);
    assert_body(&r, "sub index");
    hc_free(&r);

    r = get(f, "GET", "/sub");
    assert_int_equal(r.status, 200);
    assert_body(&r, "sub index");
    hc_free(&r);

    r = get(f, "GET", "/empty/"); /* a directory without index.html: no listing */
    assert_int_equal(r.status, 404);
    hc_free(&r);

    r = get(f, "HEAD", "/app.js");
    assert_int_equal(r.status, 200);
    assert_string_equal(hc_header(&r, "content-length"), "26");
    assert_int_equal(r.body_len, 0);
    hc_free(&r);

    r = get(f, "POST", "/app.js");
    assert_int_equal(r.status, 404);
    hc_free(&r);
}

static void test_static_traversal(void **state)
{
    fx_t *f = *state;
    const char *attempts[] = {
        "/../etc/passwd",      "/../secret.txt",       "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",    "/%252e%252e/secret.txt", "/.%2e/secret.txt",
        "/..\\secret.txt",     "/%2e%2e%5csecret.txt", "/..%5c..%5cetc/passwd",
        "/%00/../secret.txt",  "/app.js%00.html",      "/..%252fsecret.txt",
        "/sub/%00/x",
        "/evil/secret.txt",    "/evil/",               "/./../secret.txt",
        "/sub/../../secret.txt",
    };
    size_t i;
    hc_resp_t r;

    for (i = 0; i < sizeof attempts / sizeof attempts[0]; i++) {
        r = get(f, "GET", attempts[i]);
        print_message("%-28s -> %d\n", attempts[i], r.status);
        if (r.status != 0 && r.status != 400 && r.status != 403 && r.status != 404)
            fail_msg("%s gave %d", attempts[i], r.status);
        if (r.raw && (strstr(r.raw, SECRET) || strstr(r.raw, "root:")))
            fail_msg("%s leaked a file", attempts[i]);
        hc_free(&r);
    }
}

static void test_big_response(void **state)
{
    fx_t *f = *state;
    hc_resp_t r = get(f, "GET", "/api/big");

    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, BIG_LEN);
    assert_memory_equal(r.body, f->big, BIG_LEN);
    hc_free(&r);
}

static void test_keepalive_two_requests(void **state)
{
    fx_t *f = *state;
    client_job_t j = {0};

    /* two pipelined requests on one connection; the second closes it */
    j.req = "GET /api/exact HTTP/1.1\r\nHost: x\r\n\r\n"
            "GET /api/pre/two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    j.until_eof = true;
    exchange(f, &j);
    assert_int_equal(j.resp.status, 200);
    assert_non_null(strstr(j.resp.raw, "\r\n\r\nexact"));
    assert_non_null(strstr(j.resp.raw, "GET /api/pre/two"));
    hc_free(&j.resp);
}

static void test_close_with_request_pending(void **state)
{
    fx_t *f = *state;
    client_job_t j = {0};
    void *t;

    j.req = "GET /api/slow HTTP/1.1\r\nHost: x\r\n\r\n";
    j.len = strlen(j.req);
    j.port = f->port;
    t = hc_spawn(client_main, &j, &f->client_done);
    assert_non_null(t);
    /* wait until the handler holds the request */
    while (!f->pending)
        uv_run(&f->loop, UV_RUN_ONCE);
    web_close(f->w, on_closed, f);
    f->w = NULL;
    assert_int_equal(atomic_load(&f->cancelled), 1);
    assert_true(run_until(f, &f->closed, 5000));
    assert_true(run_until(f, &f->client_done, 5000)); /* the client saw the connection close */
    hc_join(t);
    assert_int_not_equal(j.resp.status, 200);
    hc_free(&j.resp);
}

static void tls_client(void *arg)
{
    client_job_t *j = arg;
    char cmd[512];

    snprintf(cmd, sizeof cmd, "curl -sk -v --http2 https://127.0.0.1:%d/api/exact > %s 2>&1",
             j->port, j->req);
    j->rc = system(cmd);
}

static void test_tls_http1_only(void **state)
{
    fx_t *f = *state;
    web_opts_t opts = {.host = "127.0.0.1", .port = 0};
    char cert[128], key[128], out[128], cmd[512], text[8192] = "";
    client_job_t j = {0};
    web_t *w2;
    FILE *fp;
    void *t;

    if (system("command -v openssl >/dev/null && command -v curl >/dev/null"))
        skip();
    snprintf(cert, sizeof cert, "%s/cert.pem", f->dir);
    snprintf(key, sizeof key, "%s/key.pem", f->dir);
    snprintf(out, sizeof out, "%s/curl.out", f->dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 2 "
             "-subj /CN=localhost >/dev/null 2>&1",
             key, cert);
    assert_int_equal(system(cmd), 0);
    opts.tls_cert = cert;
    opts.tls_key = key;
    assert_int_equal(web_create(&f->loop, &opts, &w2), 0);
    assert_int_equal(web_route(w2, "GET", "/api/exact", h_text, "over tls", 0), 0);
    j.port = web_port(w2);
    j.req = out;
    t = hc_spawn(tls_client, &j, &f->client_done);
    assert_non_null(t);
    assert_true(run_until(f, &f->client_done, 15000));
    hc_join(t);
    atomic_store(&f->closed, 0);
    web_close(w2, on_closed, f);
    assert_true(run_until(f, &f->closed, 5000));
    fp = fopen(out, "r");
    assert_non_null(fp);
    text[fread(text, 1, sizeof text - 1, fp)] = '\0';
    fclose(fp);
    assert_int_equal(j.rc, 0);
    assert_non_null(strstr(text, "ALPN: server accepted http/1.1"));
    assert_non_null(strstr(text, "< HTTP/1.1 200"));
    assert_non_null(strstr(text, "over tls"));
}

static void test_port_in_use(void **state)
{
    fx_t *f = *state;
    web_opts_t opts = {.host = "127.0.0.1", .port = f->port};
    web_t *w2 = NULL;

    assert_int_equal(web_create(&f->loop, &opts, &w2), -3 /* IOC_EIO */);
    assert_null(w2);
    opts.host = "not-an-ip";
    opts.port = 0;
    assert_int_equal(web_create(&f->loop, &opts, &w2), -2 /* IOC_EINVAL */);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_routes_exact_and_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_404_and_405, setup, teardown),
        cmocka_unit_test_setup_teardown(test_413_by_content_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_413_by_actual_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunked_body_decoded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_body_intact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_gone_before_async_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_decoding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_static_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_static_traversal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_two_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_request_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_http1_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_port_in_use, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

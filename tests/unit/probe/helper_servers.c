/* Local peers for the probe tests on their own thread and uv loop (see helper_servers.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <uv.h>

#include "helper_servers.h"

#define REQ_MAX 4096
#define FILLERS 4

typedef enum peer_kind { PEER_TCP, PEER_HTTP200, PEER_HTTP500, PEER_RTSP, NPEERS } peer_kind_t;

typedef struct peer {
    ts_servers_t *s;
    peer_kind_t kind;
    int port;
    uv_tcp_t tcp;
} peer_t;

struct ts_servers {
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t stop;
    peer_t peers[NPEERS];
    int silent_fd, full_fd, fillers[FILLERS];
    ts_seen_t seen;
};

typedef struct conn {
    peer_t *peer;
    uv_tcp_t tcp;
    uv_write_t wr;
    char req[REQ_MAX + 1];
    size_t len;
    char resp[256];
    bool answered;
} conn_t;

static void on_conn_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_written(uv_write_t *w, int status)
{
    conn_t *c = w->data;
    (void)status;
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

/* Checks that a request is what the probe must send, and builds the answer. */
static void answer(conn_t *c)
{
    ts_seen_t *seen = &c->peer->s->seen;
    char want[128];
    c->answered = true;
    if (c->peer->kind == PEER_RTSP) {
        snprintf(want, sizeof want, "OPTIONS rtsp://127.0.0.1:%d/", c->peer->port);
        const char *cseq = strstr(c->req, "\r\nCSeq: ");
        bool ok = strncmp(c->req, want, strlen(want)) == 0 && strstr(c->req, " RTSP/1.0\r\n") &&
                  cseq;
        if (ok) {
            atomic_fetch_add(&seen->rtsp_options, 1);
            snprintf(c->resp, sizeof c->resp, "RTSP/1.0 200 OK\r\nCSeq: %d\r\n"
                     "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n\r\n", atoi(cseq + 8));
        } else {
            atomic_fetch_add(&seen->malformed, 1);
            snprintf(c->resp, sizeof c->resp, "RTSP/1.0 405 Method Not Allowed\r\nCSeq: 0\r\n\r\n");
        }
    } else {
        snprintf(want, sizeof want, "\r\nHost: 127.0.0.1:%d\r\n", c->peer->port);
        bool ok = strncmp(c->req, "GET /", 5) == 0 && strstr(c->req, " HTTP/1.1\r\n") &&
                  strstr(c->req, want);
        atomic_fetch_add(ok ? &seen->http_gets : &seen->malformed, 1);
        if (c->peer->kind == PEER_HTTP200)
            snprintf(c->resp, sizeof c->resp,
                     "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        else
            snprintf(c->resp, sizeof c->resp, "HTTP/1.1 500 Internal Server Error\r\n"
                     "Content-Length: 0\r\nConnection: close\r\n\r\n");
    }
    uv_buf_t b = uv_buf_init(c->resp, (unsigned)strlen(c->resp));
    c->wr.data = c;
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0)
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn_t *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->req + c->len, (unsigned)(REQ_MAX - c->len));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = st->data;
    (void)buf;
    if (nread < 0 || (nread > 0 && c->peer->kind == PEER_TCP)) {
        if (nread > 0)
            atomic_fetch_add(&c->peer->s->seen.malformed, 1); /* a tcp probe sends nothing */
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        return;
    }
    c->len += (size_t)nread;
    c->req[c->len] = '\0';
    if (!c->answered && (strstr(c->req, "\r\n\r\n") || c->len == REQ_MAX)) {
        uv_read_stop(st);
        answer(c);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    peer_t *p = server->data;
    if (status < 0)
        return;
    conn_t *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->peer = p;
    uv_tcp_init(&p->s->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        return;
    }
    atomic_fetch_add(&p->s->seen.accepted, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static int bound_port(int fd)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    return ntohs(a.sin_port);
}

/* A plain socket bound to 127.0.0.1 on a free port. */
static int raw_socket(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    *port = bound_port(fd);
    return fd;
}

/* Starts a non-blocking connect to port; returns the socket. */
static int start_connect(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(fd >= 0);
    int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
    assert_true(rc == 0 || errno == EINPROGRESS);
    return fd;
}

/* Fills the accept queue of a backlog-0 listener so that later connects hang (Linux drops SYNs
 * to a full queue), and checks that they do. */
static void fill_backlog(ts_servers_t *s, int port)
{
    for (int i = 0; i < FILLERS; i++)
        s->fillers[i] = start_connect(port);
    usleep(200000);
    int probe = start_connect(port);
    struct pollfd pfd = {.fd = probe, .events = POLLOUT};
    int n = poll(&pfd, 1, 300);
    close(probe);
    if (n != 0)
        fail_msg("a connect to the full listener completed: cannot make a black hole here");
}

/* Closes every handle: connections free themselves, listeners and the async are in s. */
static void on_stop_handle(uv_handle_t *h, void *arg)
{
    ts_servers_t *s = arg;
    bool own = h == (uv_handle_t *)&s->stop;
    for (int k = 0; k < NPEERS; k++)
        own = own || h == (uv_handle_t *)&s->peers[k].tcp;
    if (!uv_is_closing(h))
        uv_close(h, own ? NULL : on_conn_closed);
}

static void on_stop(uv_async_t *a)
{
    uv_walk(a->loop, on_stop_handle, a->data);
}

static void run(void *arg)
{
    ts_servers_t *s = arg;
    uv_run(&s->loop, UV_RUN_DEFAULT);
}

ts_servers_t *ts_start(ts_ports_t *ports, ts_seen_t **seen)
{
    ts_servers_t *s = calloc(1, sizeof *s);
    assert_non_null(s);
    assert_int_equal(uv_loop_init(&s->loop), 0);
    assert_int_equal(uv_async_init(&s->loop, &s->stop, on_stop), 0);
    s->stop.data = s;
    for (int k = 0; k < NPEERS; k++) {
        peer_t *p = &s->peers[k];
        struct sockaddr_in a;
        p->s = s;
        p->kind = (peer_kind_t)k;
        uv_ip4_addr("127.0.0.1", 0, &a);
        assert_int_equal(uv_tcp_init(&s->loop, &p->tcp), 0);
        p->tcp.data = p;
        assert_int_equal(uv_tcp_bind(&p->tcp, (struct sockaddr *)&a, 0), 0);
        assert_int_equal(uv_listen((uv_stream_t *)&p->tcp, 1024, on_connection), 0);
        uv_os_fd_t fd;
        assert_int_equal(uv_fileno((uv_handle_t *)&p->tcp, &fd), 0);
        p->port = bound_port(fd);
    }
    ports->tcp = s->peers[PEER_TCP].port;
    ports->http200 = s->peers[PEER_HTTP200].port;
    ports->http500 = s->peers[PEER_HTTP500].port;
    ports->rtsp = s->peers[PEER_RTSP].port;
    s->silent_fd = raw_socket(&ports->silent);
    assert_int_equal(listen(s->silent_fd, 128), 0);
    s->full_fd = raw_socket(&ports->full);
    assert_int_equal(listen(s->full_fd, 0), 0);
    fill_backlog(s, ports->full);
    close(raw_socket(&ports->closed));
    *seen = &s->seen;
    assert_int_equal(uv_thread_create(&s->thread, run, s), 0);
    return s;
}

void ts_stop(ts_servers_t *s)
{
    uv_async_send(&s->stop);
    uv_thread_join(&s->thread);
    assert_int_equal(uv_loop_close(&s->loop), 0);
    for (int i = 0; i < FILLERS; i++)
        close(s->fillers[i]);
    close(s->silent_fd);
    close(s->full_fd);
    free(s);
}

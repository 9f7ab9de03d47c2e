/* WebSocket fan-out load client: N clients subscribe to "indicators" on one hub (iocd, the Node
 * baseline or the C floor), then a producer emits K updates at a steady, jittered rate whose
 * marker value is the wall-clock time of production; every receipt is recorded.
 *
 *   ws_load --port P --clients N --updates K --token T
 *           (--write-token W | --feed)  [--interval-ms 500] [--jitter-ms 250]
 *           [--out FILE] [--hold]
 *
 * --write-token: the producer POSTs "bench value=<marker>" to iocd's /api/v1/write (the update
 * is produced when the request is sent). --feed: the producer is one more WebSocket connection
 * on path /feed that sends the update frame itself. --hold: after every client has its
 * snapshot, print "ready" and wait for a line on stdin (the caller measures the hub's RSS).
 * The marker is the production time in microseconds modulo 1e9. --out gets one line per
 * receipt: "<update index> <latency us> <receipt CLOCK_MONOTONIC us>". One epoll thread; the
 * summary (name=value lines) goes to stdout. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define BUF 8192           /* per-connection receive buffer: the largest frame we accept */
#define MARK_MOD 1000000000LL
#define MAX_CONNECTING 256 /* handshakes in flight at once */

enum state { CONNECTING, HANDSHAKE, SUBSCRIBED, READY, DEAD };

typedef struct conn {
    int fd;
    enum state st;
    size_t len;
    unsigned char buf[BUF];
} conn_t;

typedef struct rec {
    uint32_t update;
    uint32_t lat_us;
    uint64_t mono_us;
} rec_t;

static struct {
    int port, clients, updates, interval_ms, jitter_ms;
    const char *token, *write_token, *out;
    bool feed, hold;
} opt = {.interval_ms = 500, .jitter_ms = 250};

static int ep;
static conn_t *conns;
static int nready, ndead, nconnecting, next_conn;
static rec_t *recs;
static size_t nrecs, maxrecs;
static int64_t *marks; /* marker of each update sent */
static int nsent;
static int prod_fd = -1;
static size_t nresp204, nresp_bad;

static int64_t now_us(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *what)
{
    fprintf(stderr, "ws_load: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void raise_nofile(int need)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        die("getrlimit");
    if (rl.rlim_cur < (rlim_t)need) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)need ? rl.rlim_max : (rlim_t)need;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            die("setrlimit");
    }
    if (rl.rlim_cur < (rlim_t)need) {
        fprintf(stderr, "ws_load: RLIMIT_NOFILE hard limit %llu below %d\n",
                (unsigned long long)rl.rlim_max, need);
        exit(1);
    }
}

static int tcp_connect(bool block)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | (block ? 0 : SOCK_NONBLOCK), 0);

    if (fd < 0)
        die("socket");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS)
        die("connect");
    return fd;
}

/* Writes all of len bytes (small messages: the socket buffer takes them at once). */
static void send_all(int fd, const void *p, size_t len)
{
    const char *c = p;
    ssize_t n;

    while (len) {
        n = send(fd, c, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN)
            continue;
        if (n < 0)
            die("send");
        c += n;
        len -= (size_t)n;
    }
}

/* Sends a masked client text frame (opcode 1) or pong (10). */
static void send_frame(int fd, int opcode, const char *payload, size_t len)
{
    unsigned char f[16 + 4096];
    size_t h = 2;
    const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};

    if (len > 4096)
        len = 4096;
    f[0] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        f[1] = (unsigned char)(0x80 | len);
    } else {
        f[1] = 0x80 | 126;
        f[2] = (unsigned char)(len >> 8);
        f[3] = (unsigned char)len;
        h = 4;
    }
    memcpy(f + h, mask, 4);
    for (size_t i = 0; i < len; i++)
        f[h + 4 + i] = (unsigned char)payload[i] ^ mask[i % 4];
    send_all(fd, f, h + 4 + len);
}

static void send_upgrade(int fd, const char *path)
{
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ioc.v1\r\n"
                     "Authorization: Bearer %s\r\n\r\n",
                     path, opt.port, opt.token ? opt.token : "");
    send_all(fd, req, (size_t)n);
}

static void watch(int fd, uint32_t events, uint64_t data, int op)
{
    struct epoll_event ev = {.events = events, .data.u64 = data};

    if (epoll_ctl(ep, op, fd, &ev) < 0)
        die("epoll_ctl");
}

static void start_conn(int i)
{
    conns[i].fd = tcp_connect(false);
    conns[i].st = CONNECTING;
    nconnecting++;
    watch(conns[i].fd, EPOLLOUT | EPOLLIN, (uint64_t)i, EPOLL_CTL_ADD);
}

static void kill_conn(conn_t *c, const char *why)
{
    if (c->st == DEAD)
        return;
    if (c->st < READY)
        nconnecting--;
    if (ndead < 5)
        fprintf(stderr, "ws_load: client %ld: %s\n", (long)(c - conns), why);
    close(c->fd);
    c->st = DEAD;
    ndead++;
}

/* Records the receipt of an update frame carrying "value":<marker>. */
static void on_update(const unsigned char *p, size_t len, int64_t mono, int64_t real)
{
    static const char key[] = "\"value\":";
    const unsigned char *v = memmem(p, len, key, sizeof key - 1);
    char num[32];
    size_t n = 0;
    int64_t mark;
    int u;

    if (!v)
        return;
    v += sizeof key - 1;
    while (v + n < p + len && n < sizeof num - 1 && (v[n] == '.' || v[n] == 'e' || v[n] == '+' ||
                                                      (v[n] >= '0' && v[n] <= '9')))
        n++;
    memcpy(num, v, n);
    num[n] = '\0';
    mark = (int64_t)strtod(num, NULL);
    for (u = nsent - 1; u >= 0 && marks[u] != mark; u--)
        ;
    if (u < 0 || nrecs == maxrecs)
        return;
    recs[nrecs++] = (rec_t){(uint32_t)u, (uint32_t)(((real - mark) % MARK_MOD + MARK_MOD) % MARK_MOD),
                            (uint64_t)mono};
}

/* Consumes whole frames from c->buf. */
static void parse_frames(conn_t *c, int64_t mono, int64_t real)
{
    size_t off = 0;

    while (c->len - off >= 2) {
        unsigned char *f = c->buf + off;
        size_t h = 2, plen = f[1] & 0x7f;
        int opcode = f[0] & 0x0f;

        if (plen == 126) {
            if (c->len - off < 4)
                break;
            plen = (size_t)f[2] << 8 | f[3];
            h = 4;
        } else if (plen == 127) {
            kill_conn(c, "frame over 64 KiB");
            return;
        }
        if (h + plen > BUF) {
            kill_conn(c, "frame larger than the buffer");
            return;
        }
        if (c->len - off < h + plen)
            break;
        if (opcode == 9) {
            send_frame(c->fd, 10, (const char *)f + h, plen);
        } else if (opcode == 8) {
            kill_conn(c, "closed by the server");
            return;
        } else if (opcode == 1 && plen > 20 && !memcmp(f + h, "{\"type\":\"snapshot\"", 18)) {
            if (c->st == SUBSCRIBED) {
                c->st = READY;
                nready++;
                nconnecting--;
            }
        } else if (opcode == 1 && plen > 20 && !memcmp(f + h, "{\"type\":\"update\"", 16)) {
            on_update(f + h, plen, mono, real);
        }
        off += h + plen;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
}

static void on_handshake(conn_t *c)
{
    static const char sub[] = "{\"op\":\"subscribe\",\"topics\":[\"indicators\"]}";
    unsigned char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    size_t hl;

    if (!end)
        return;
    if (c->len < 12 || memcmp(c->buf + 9, "101", 3)) {
        kill_conn(c, "upgrade refused");
        return;
    }
    hl = (size_t)(end + 4 - c->buf);
    memmove(c->buf, c->buf + hl, c->len - hl);
    c->len -= hl;
    c->st = SUBSCRIBED;
    send_frame(c->fd, 1, sub, sizeof sub - 1);
}

static void on_event(conn_t *c, uint32_t events, int64_t mono, int64_t real)
{
    ssize_t n;
    int err = 0;
    socklen_t el = sizeof err;

    if (c->st == CONNECTING && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            errno = err;
            kill_conn(c, strerror(err));
            return;
        }
        c->st = HANDSHAKE;
        watch(c->fd, EPOLLIN, (uint64_t)(c - conns), EPOLL_CTL_MOD);
        send_upgrade(c->fd, "/ws");
        return;
    }
    for (;;) {
        n = recv(c->fd, c->buf + c->len, BUF - c->len, 0);
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            kill_conn(c, n == 0 ? "connection closed" : strerror(errno));
            return;
        }
        c->len += (size_t)n;
        if (c->st == HANDSHAKE)
            on_handshake(c);
        if (c->st >= SUBSCRIBED && c->st != DEAD)
            parse_frames(c, mono, real);
        if (c->st == DEAD || (size_t)n < BUF)
            return;
    }
}

/* Reads what the producer connection got: HTTP answers (iocd) or nothing of interest (feed). */
static void on_producer(void)
{
    char buf[4096];
    ssize_t n;

    while ((n = recv(prod_fd, buf, sizeof buf, 0)) > 0) {
        if (opt.feed)
            continue;
        for (char *p = buf; (p = memmem(p, (size_t)(buf + n - p), "HTTP/1.1 ", 9)); p += 9) {
            if (p + 12 <= buf + n && !memcmp(p + 9, "204", 3))
                nresp204++;
            else
                nresp_bad++;
        }
    }
    if (n == 0) {
        fprintf(stderr, "ws_load: the producer connection was closed\n");
        exit(1);
    }
}

/* Emits update number u, stamping it with the production time. */
static void produce(int u)
{
    char body[64], req[1024], frame[512];
    int64_t mark = now_us(CLOCK_REALTIME) % MARK_MOD;
    int bl, n;

    marks[u] = mark;
    nsent = u + 1;
    if (opt.feed) {
        n = snprintf(frame, sizeof frame,
                     "{\"type\":\"update\",\"seq\":%d,\"items\":[{\"indicator\":\"bench.marker\","
                     "\"group\":\"\",\"ts\":\"2025-01-01T00:00:00.000Z\",\"value\":%lld,"
                     "\"status\":\"ok\"}]}",
                     u + 2, (long long)mark);
        send_frame(prod_fd, 1, frame, (size_t)n);
        return;
    }
    bl = snprintf(body, sizeof body, "bench value=%lld\n", (long long)mark);
    n = snprintf(req, sizeof req,
                 "POST /api/v1/write HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
                 "Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s",
                 opt.port, opt.write_token, bl, body);
    send_all(prod_fd, req, (size_t)n);
}

static void open_producer(void)
{
    char buf[1024];
    ssize_t n;

    prod_fd = tcp_connect(true);
    if (opt.feed) {
        send_upgrade(prod_fd, "/feed");
        n = recv(prod_fd, buf, sizeof buf - 1, 0);
        if (n < 12 || memcmp(buf + 9, "101", 3)) {
            fprintf(stderr, "ws_load: the feed upgrade was refused\n");
            exit(1);
        }
    }
    fcntl(prod_fd, F_SETFL, O_NONBLOCK);
    watch(prod_fd, EPOLLIN, UINT64_MAX, EPOLL_CTL_ADD);
}

/* Runs the loop until `until` (CLOCK_MONOTONIC us), or until done() if until is 0. */
static void run_loop(int64_t until, bool (*done)(void))
{
    struct epoll_event evs[1024];
    int64_t mono, real;
    int n, timeout;

    for (;;) {
        while (next_conn < opt.clients && nconnecting < MAX_CONNECTING)
            start_conn(next_conn++);
        mono = now_us(CLOCK_MONOTONIC);
        if ((until && mono >= until) || (!until && done()))
            return;
        timeout = until ? (int)((until - mono + 999) / 1000) : 100;
        n = epoll_wait(ep, evs, 1024, timeout);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int i = 0; i < n; i++) {
            mono = now_us(CLOCK_MONOTONIC);
            real = now_us(CLOCK_REALTIME);
            if (evs[i].data.u64 == UINT64_MAX)
                on_producer();
            else
                on_event(&conns[evs[i].data.u64], evs[i].events, mono, real);
        }
    }
}

static bool all_settled(void)
{
    return next_conn == opt.clients && nconnecting == 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static void usage(void)
{
    fprintf(stderr, "usage: ws_load --port P --clients N --updates K --token T "
                    "(--write-token W | --feed) [--interval-ms 500] [--jitter-ms 250] "
                    "[--out FILE] [--hold]\n");
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--feed")) {
            opt.feed = true;
            continue;
        }
        if (!strcmp(a, "--hold")) {
            opt.hold = true;
            continue;
        }
        if (!v)
            usage();
        i++;
        if (!strcmp(a, "--port"))
            opt.port = atoi(v);
        else if (!strcmp(a, "--clients"))
            opt.clients = atoi(v);
        else if (!strcmp(a, "--updates"))
            opt.updates = atoi(v);
        else if (!strcmp(a, "--interval-ms"))
            opt.interval_ms = atoi(v);
        else if (!strcmp(a, "--jitter-ms"))
            opt.jitter_ms = atoi(v);
        else if (!strcmp(a, "--token"))
            opt.token = v;
        else if (!strcmp(a, "--write-token"))
            opt.write_token = v;
        else if (!strcmp(a, "--out"))
            opt.out = v;
        else
            usage();
    }
    if (opt.port <= 0 || opt.clients <= 0 || opt.updates <= 0 || opt.interval_ms <= 0 ||
        opt.jitter_ms < 0 || (!opt.feed && !opt.write_token))
        usage();
}

int main(int argc, char **argv)
{
    int64_t t0, next, drain;
    uint32_t *lat;
    char line[16];
    struct rusage ru;
    FILE *out;

    parse_args(argc, argv);
    raise_nofile(opt.clients + 64);
    srand((unsigned)getpid());
    if ((ep = epoll_create1(0)) < 0)
        die("epoll_create1");
    conns = calloc((size_t)opt.clients, sizeof *conns);
    marks = calloc((size_t)opt.updates, sizeof *marks);
    maxrecs = (size_t)opt.clients * (size_t)opt.updates;
    recs = malloc(maxrecs * sizeof *recs);
    if (!conns || !marks || !recs)
        die("calloc");

    t0 = now_us(CLOCK_MONOTONIC);
    run_loop(0, all_settled);
    printf("connect_s=%.2f\nclients_ready=%d\nclients_failed=%d\n",
           (now_us(CLOCK_MONOTONIC) - t0) / 1e6, nready, ndead);
    fflush(stdout);
    if (opt.hold) {
        printf("ready\n");
        fflush(stdout);
        if (!fgets(line, sizeof line, stdin))
            return 1;
    }
    open_producer();
    getrusage(RUSAGE_SELF, &ru);
    double cpu0 = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    next = now_us(CLOCK_MONOTONIC) + 200000;
    for (int u = 0; u < opt.updates; u++) {
        run_loop(next, NULL);
        produce(u);
        next += (opt.interval_ms + (opt.jitter_ms ? rand() % (opt.jitter_ms + 1) : 0)) * 1000LL;
    }
    drain = now_us(CLOCK_MONOTONIC) + 2000000LL + opt.interval_ms * 1000LL;
    run_loop(drain, NULL);
    getrusage(RUSAGE_SELF, &ru);
    double cpu1 = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;

    lat = malloc((nrecs ? nrecs : 1) * sizeof *lat);
    if (!lat)
        die("malloc");
    for (size_t i = 0; i < nrecs; i++)
        lat[i] = recs[i].lat_us;
    qsort(lat, nrecs, sizeof *lat, cmp_u32);
    printf("updates=%d\nreceipts=%zu\nexpected=%zu\n", opt.updates, nrecs,
           (size_t)nready * (size_t)opt.updates);
    if (nrecs)
        printf("p50_ms=%.3f\np99_ms=%.3f\nmax_ms=%.3f\n", lat[nrecs / 2] / 1e3,
               lat[(nrecs * 99) / 100] / 1e3, lat[nrecs - 1] / 1e3);
    printf("client_cpu_s=%.3f\n", cpu1 - cpu0);
    if (!opt.feed)
        printf("write_204=%zu\nwrite_other=%zu\n", nresp204, nresp_bad);
    if (opt.out) {
        if (!(out = fopen(opt.out, "w")))
            die(opt.out);
        for (size_t i = 0; i < nrecs; i++)
            fprintf(out, "%u %u %llu\n", recs[i].update, recs[i].lat_us,
                    (unsigned long long)recs[i].mono_us);
        fclose(out);
    }
    free(lat);
    return nrecs ? 0 : 1;
}

/* The floor of this machine for WebSocket fan-out: a minimal broadcaster with epoll and plain
 * write(). Clients upgrade on /ws (subprotocol ioc.v1) and get a snapshot frame for their first
 * message; each text frame the feeder sends on /feed is framed once and written to every
 * client with one write() each, no queues. On SIGTERM prints its burst times (first to last
 * write of one broadcast) as name=value lines.  floor_hub PORT */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <signal.h>
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

#define BUF 4096
#define MAX_BURSTS 4096
#define MAX_FDS (1 << 20)

typedef struct peer {
    int fd;
    bool upgraded, feeder, greeted;
    size_t len;
    unsigned char buf[BUF];
} peer_t;

static const char snapshot[] = "{\"type\":\"snapshot\",\"seq\":1,\"topics\":[\"indicators\"],\"items\":[]}";
static int ep;
static peer_t **peers; /* by fd */
static int maxfd;
static volatile sig_atomic_t stop;
static double bursts[MAX_BURSTS];
static int nbursts;
static long short_writes;

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static void drop(peer_t *p)
{
    peers[p->fd] = NULL;
    close(p->fd);
    free(p);
}

/* Writes a server text frame with one write(); counts a short or failed write. */
static void write_frame(int fd, const unsigned char *frame, size_t len)
{
    ssize_t n = write(fd, frame, len);

    if (n < 0 || (size_t)n < len)
        short_writes++;
}

/* Frames payload into out (server frames are not masked). Returns the frame length. */
static size_t frame_text(unsigned char *out, const unsigned char *payload, size_t len)
{
    size_t h = 2;

    out[0] = 0x81;
    if (len < 126) {
        out[1] = (unsigned char)len;
    } else {
        out[1] = 126;
        out[2] = (unsigned char)(len >> 8);
        out[3] = (unsigned char)len;
        h = 4;
    }
    memcpy(out + h, payload, len);
    return h + len;
}

static void broadcast(const unsigned char *payload, size_t len)
{
    unsigned char frame[BUF + 4];
    size_t flen = frame_text(frame, payload, len);
    double t0 = mono_ms();

    for (int fd = 0; fd <= maxfd; fd++)
        if (peers[fd] && peers[fd]->upgraded && !peers[fd]->feeder)
            write_frame(fd, frame, flen);
    if (nbursts < MAX_BURSTS)
        bursts[nbursts++] = mono_ms() - t0;
}

/* Answers the upgrade request in p->buf, if complete. Returns false to drop the peer. */
static bool upgrade(peer_t *p)
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char *end = memmem(p->buf, p->len, "\r\n\r\n", 4), md[EVP_MAX_MD_SIZE];
    char key[128], accept[64], resp[512];
    const char *k;
    unsigned mdlen;
    size_t kl;
    int n;

    if (!end)
        return p->len < BUF;
    *end = '\0';
    k = strcasestr((char *)p->buf, "\r\nSec-WebSocket-Key:");
    if (!k)
        return false;
    k += 20;
    while (*k == ' ')
        k++;
    kl = strcspn(k, "\r\n");
    if (kl > 64)
        return false;
    memcpy(key, k, kl);
    memcpy(key + kl, guid, sizeof guid);
    EVP_Digest(key, kl + sizeof guid - 1, md, &mdlen, EVP_sha1(), NULL);
    EVP_EncodeBlock((unsigned char *)accept, md, (int)mdlen);
    p->feeder = !strncmp((char *)p->buf, "GET /feed ", 10);
    n = snprintf(resp, sizeof resp,
                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: ioc.v1\r\n\r\n", accept);
    write_frame(p->fd, (unsigned char *)resp, (size_t)n);
    p->len -= (size_t)(end + 4 - p->buf);
    memmove(p->buf, end + 4, p->len);
    p->upgraded = true;
    return true;
}

/* Handles the complete client frames in p->buf (masked). Returns false to drop the peer. */
static bool frames(peer_t *p)
{
    unsigned char out[BUF + 4];
    size_t off = 0;

    while (p->len - off >= 6) {
        unsigned char *f = p->buf + off, *mask;
        size_t h = 2, plen = f[1] & 0x7f;
        int opcode = f[0] & 0x0f;

        if (plen == 126) {
            plen = (size_t)f[2] << 8 | f[3];
            h = 4;
        } else if (plen == 127 || !(f[1] & 0x80)) {
            return false;
        }
        if (h + 4 + plen > BUF)
            return false;
        if (p->len - off < h + 4 + plen)
            break;
        mask = f + h;
        for (size_t i = 0; i < plen; i++)
            f[h + 4 + i] ^= mask[i % 4];
        if (opcode == 8)
            return false;
        if (opcode == 1 && p->feeder) {
            broadcast(f + h + 4, plen);
        } else if (opcode == 1 && !p->greeted) {
            p->greeted = true;
            write_frame(p->fd, out, frame_text(out, (const unsigned char *)snapshot, sizeof snapshot - 1));
        }
        off += h + 4 + plen;
    }
    memmove(p->buf, p->buf + off, p->len - off);
    p->len -= off;
    return true;
}

static void on_readable(peer_t *p)
{
    ssize_t n = read(p->fd, p->buf + p->len, BUF - p->len);

    if (n <= 0) {
        drop(p);
        return;
    }
    p->len += (size_t)n;
    if (!p->upgraded && !upgrade(p)) {
        drop(p);
        return;
    }
    if (p->upgraded && !frames(p))
        drop(p);
}

static void on_accept(int lfd)
{
    struct epoll_event ev = {.events = EPOLLIN};
    int fd, one = 1;
    peer_t *p;

    while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
        if (fd >= MAX_FDS || !(p = calloc(1, sizeof *p))) {
            close(fd);
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        p->fd = fd;
        peers[fd] = p;
        if (fd > maxfd)
            maxfd = fd;
        ev.data.fd = fd;
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    struct epoll_event evs[256], ev = {.events = EPOLLIN};
    struct rlimit rl;
    int lfd, one = 1, n;

    if (argc != 2) {
        fprintf(stderr, "usage: floor_hub PORT\n");
        return 2;
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    peers = calloc(MAX_FDS, sizeof *peers);
    sa.sin_port = htons((uint16_t)atoi(argv[1]));
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (!peers || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 4096) < 0) {
        perror("floor_hub");
        return 1;
    }
    signal(SIGTERM, on_term);
    signal(SIGPIPE, SIG_IGN);
    ep = epoll_create1(0);
    ev.data.fd = lfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    maxfd = -1;
    printf("listening port=%s\n", argv[1]);
    fflush(stdout);
    while (!stop) {
        n = epoll_wait(ep, evs, 256, 200);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.fd == lfd)
                on_accept(lfd);
            else if (peers[evs[i].data.fd])
                on_readable(peers[evs[i].data.fd]);
        }
    }
    qsort(bursts, (size_t)nbursts, sizeof *bursts, cmp_double);
    printf("bursts=%d\nshort_writes=%ld\n", nbursts, short_writes);
    if (nbursts)
        printf("burst_p50_ms=%.3f\nburst_max_ms=%.3f\n", bursts[nbursts / 2], bursts[nbursts - 1]);
    return 0;
}

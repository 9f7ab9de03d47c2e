/* A blocking RFC 6455 WebSocket test client (handshake, masked frames, ping answers). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helper_wsclient.h"

static int fill(wsc_t *c, size_t need, int timeout_ms)
{
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    ssize_t n;

    while (c->len < need) {
        if (need > c->cap) {
            size_t ncap = need < 2 * c->cap ? 2 * c->cap : need + 4096;
            unsigned char *nb = realloc(c->buf, ncap);
            if (!nb)
                return -1;
            c->buf = nb;
            c->cap = ncap;
        }
        if (poll(&pfd, 1, timeout_ms) <= 0)
            return -1;
        n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n <= 0)
            return -1;
        c->len += (size_t)n;
    }
    return 0;
}

static void consume(wsc_t *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

int wsc_connect(wsc_t *c, int port, const char *extra_headers, int rcvbuf)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    char req[2048];
    unsigned char *end;
    int n, status = -1;

    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0)
        return -1;
    if (rcvbuf > 0)
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        return -1;
    n = snprintf(req, sizeof req,
                 "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ioc.v1\r\n%s\r\n",
                 port, extra_headers ? extra_headers : "");
    if (send(c->fd, req, (size_t)n, MSG_NOSIGNAL) != n)
        return -1;
    for (;;) {
        if (fill(c, c->len + 1, 5000) < 0)
            return -1;
        end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (end)
            break;
    }
    char head[64]; /* the status line, NUL-terminated: the buffer itself is not */
    size_t hl = (size_t)(end - c->buf) < sizeof head - 1 ? (size_t)(end - c->buf) : sizeof head - 1;
    memcpy(head, c->buf, hl);
    head[hl] = '\0';
    sscanf(head, "HTTP/1.%*d %d", &status); /* lws refuses in HTTP/1.0 */
    consume(c, (size_t)(end + 4 - c->buf));
    return status;
}

int wsc_send(wsc_t *c, int opcode, const void *data, size_t len, bool fin)
{
    unsigned char *f = malloc(len + 14), mask[4] = {0x12, 0x34, 0x56, 0x78};
    size_t h = 2, i;
    ssize_t n;

    if (!f)
        return -1;
    f[0] = (unsigned char)((fin ? 0x80 : 0) | opcode);
    if (len < 126) {
        f[1] = (unsigned char)(0x80 | len);
    } else if (len < 65536) {
        f[1] = 0x80 | 126;
        f[2] = (unsigned char)(len >> 8);
        f[3] = (unsigned char)len;
        h = 4;
    } else {
        f[1] = 0x80 | 127;
        for (i = 0; i < 8; i++)
            f[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        h = 10;
    }
    memcpy(f + h, mask, 4);
    for (i = 0; i < len; i++)
        f[h + 4 + i] = ((const unsigned char *)data)[i] ^ mask[i & 3];
    n = send(c->fd, f, h + 4 + len, MSG_NOSIGNAL);
    free(f);
    return n == (ssize_t)(h + 4 + len) ? 0 : -1;
}

int wsc_text(wsc_t *c, const char *text)
{
    return wsc_send(c, 1, text, strlen(text), true);
}

int wsc_recv(wsc_t *c, char **msg, int timeout_ms)
{
    uint64_t len;
    size_t h;
    int op, i;

    *msg = NULL;
    for (;;) {
        if (fill(c, 2, timeout_ms) < 0)
            return -1;
        op = c->buf[0] & 0x0f;
        len = c->buf[1] & 0x7f;
        h = 2;
        if (len == 126) {
            if (fill(c, 4, timeout_ms) < 0)
                return -1;
            len = (uint64_t)c->buf[2] << 8 | c->buf[3];
            h = 4;
        } else if (len == 127) {
            if (fill(c, 10, timeout_ms) < 0)
                return -1;
            for (len = 0, i = 0; i < 8; i++)
                len = len << 8 | c->buf[2 + i];
            h = 10;
        }
        if (fill(c, h + len, timeout_ms) < 0)
            return -1;
        if (op == 9) { /* ping: answer with the same payload */
            wsc_send(c, 10, c->buf + h, len, true);
            consume(c, h + len);
            continue;
        }
        if (op == 1 || op == 8) {
            *msg = malloc(len + 1);
            if (!*msg)
                return -1;
            memcpy(*msg, c->buf + h, len);
            (*msg)[len] = '\0';
        }
        consume(c, h + len);
        if (op == 1 || op == 8)
            return op;
    }
}

void wsc_close(wsc_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

/* A blocking HTTP/1.1 test client run in its own thread while the test's uv loop serves. */
#include "helper_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int hc_connect(int port)
{
    struct sockaddr_in sa;
    struct timeval tv = {10, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int hc_send(int fd, const char *data, size_t len)
{
    ssize_t n;

    while (len) {
        n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Parses the status line and headers once the blank line has arrived. */
static void parse_head(hc_resp_t *r)
{
    char *end = strstr(r->raw, "\r\n\r\n");
    const char *cl;

    if (!end)
        return;
    r->head_len = (size_t)(end - r->raw) + 4;
    if (!strncmp(r->raw, "HTTP/1.", 7))
        r->status = atoi(r->raw + 9);
    cl = hc_header(r, "content-length");
    r->content_length = cl ? atol(cl) : -1;
}

int hc_read(int fd, hc_resp_t *r, bool head_only)
{
    char buf[65536];
    ssize_t n;
    char *p;

    memset(r, 0, sizeof *r);
    r->content_length = -1;
    for (;;) {
        if (r->head_len && (head_only || (r->content_length >= 0 &&
                                          r->len - r->head_len >= (size_t)r->content_length)))
            break;
        n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            break;
        p = realloc(r->raw, r->len + (size_t)n + 1);
        if (!p)
            return -1;
        r->raw = p;
        memcpy(r->raw + r->len, buf, (size_t)n);
        r->len += (size_t)n;
        r->raw[r->len] = '\0';
        if (!r->head_len)
            parse_head(r);
    }
    if (!r->head_len)
        return -1;
    r->body = r->raw + r->head_len;
    r->body_len = r->len - r->head_len;
    return 0;
}

int hc_read_all(int fd, hc_resp_t *r)
{
    char buf[65536];
    ssize_t n;
    char *p;

    memset(r, 0, sizeof *r);
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
        p = realloc(r->raw, r->len + (size_t)n + 1);
        if (!p)
            return -1;
        r->raw = p;
        memcpy(r->raw + r->len, buf, (size_t)n);
        r->len += (size_t)n;
        r->raw[r->len] = '\0';
    }
    if (!r->raw)
        return -1;
    parse_head(r);
    r->body = r->raw + r->head_len;
    r->body_len = r->len - r->head_len;
    return 0;
}

int hc_request(int port, const char *req, size_t len, hc_resp_t *r)
{
    int fd = hc_connect(port), rc;

    if (fd < 0)
        return -1;
    rc = hc_send(fd, req, len);
    if (rc == 0)
        rc = hc_read(fd, r, !strncmp(req, "HEAD ", 5));
    close(fd);
    return rc;
}

const char *hc_header(hc_resp_t *r, const char *name)
{
    size_t nlen = strlen(name), i;
    static __thread char val[512];
    char *line = strstr(r->raw, "\r\n"), *eol;

    while (line && line < r->raw + r->head_len - 2) {
        line += 2;
        eol = strstr(line, "\r\n");
        if (!eol)
            break;
        if (!strncasecmp(line, name, nlen) && line[nlen] == ':') {
            const char *v = line + nlen + 1;
            while (*v == ' ')
                v++;
            for (i = 0; v + i < eol && i < sizeof val - 1; i++)
                val[i] = v[i];
            val[i] = '\0';
            return val;
        }
        line = eol;
    }
    return NULL;
}

void hc_free(hc_resp_t *r)
{
    free(r->raw);
    memset(r, 0, sizeof *r);
}

struct hc_thread {
    pthread_t tid;
    void (*fn)(void *);
    void *arg;
    atomic_int *done;
};

static void *thread_main(void *p)
{
    struct hc_thread *t = p;

    t->fn(t->arg);
    atomic_store(t->done, 1);
    return NULL;
}

void *hc_spawn(void (*fn)(void *), void *arg, atomic_int *done)
{
    struct hc_thread *t = calloc(1, sizeof *t);

    if (!t)
        return NULL;
    t->fn = fn;
    t->arg = arg;
    t->done = done;
    atomic_store(done, 0);
    if (pthread_create(&t->tid, NULL, thread_main, t)) {
        free(t);
        return NULL;
    }
    return t;
}

void hc_join(void *thread)
{
    struct hc_thread *t = thread;

    pthread_join(t->tid, NULL);
    free(t);
}

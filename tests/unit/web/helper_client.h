/* A blocking HTTP/1.1 test client run in its own thread while the test's uv loop serves. */
#ifndef IOCD_TEST_WEB_HELPER_CLIENT_H
#define IOCD_TEST_WEB_HELPER_CLIENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct hc_resp {
    char *raw;          /* whole response, NUL-terminated; owned */
    size_t len, head_len;
    int status;         /* 0 if no status line arrived */
    long content_length;
    const char *body;   /* points into raw */
    size_t body_len;
} hc_resp_t;

/* Connects to 127.0.0.1:port (10 s receive timeout). Returns the fd or -1. */
int hc_connect(int port);
/* Sends everything. Returns 0 or -1. */
int hc_send(int fd, const char *data, size_t len);
/* Reads one response (up to Content-Length, or EOF). Returns 0, or -1 if no header arrived. */
int hc_read(int fd, hc_resp_t *r, bool head_only);
/* Reads everything until the server closes; parses the first response's head. */
int hc_read_all(int fd, hc_resp_t *r);
/* Connects, sends `req`, reads the response, closes. Returns 0 or -1. */
int hc_request(int port, const char *req, size_t len, hc_resp_t *r);
/* A response header's value (thread-local copy, valid until the next call), or NULL. */
const char *hc_header(hc_resp_t *r, const char *name);
void hc_free(hc_resp_t *r);

/* Runs fn(arg) in a new thread that sets *done when it returns. Returns a handle for hc_join. */
void *hc_spawn(void (*fn)(void *), void *arg, atomic_int *done);
void hc_join(void *thread);

#endif

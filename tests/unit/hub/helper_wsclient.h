/* A blocking RFC 6455 WebSocket test client (handshake, masked frames, ping answers). */
#ifndef IOCD_TEST_HUB_HELPER_WSCLIENT_H
#define IOCD_TEST_HUB_HELPER_WSCLIENT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct wsc {
    int fd;
    unsigned char *buf; /* bytes read and not yet consumed; owned */
    size_t len, cap;
} wsc_t;

/* Connects to 127.0.0.1:port, sends the upgrade to /ws for protocol ioc.v1 with
 * extra_headers (each "Name: value\r\n", may be NULL) and reads the response head. Returns the
 * HTTP status (101 when upgraded), or -1 if nothing came back. rcvbuf > 0 sets SO_RCVBUF. */
int wsc_connect(wsc_t *c, int port, const char *extra_headers, int rcvbuf);
/* Sends one masked frame with the given opcode (1 text, 9 ping...), FIN set if fin.
 * Returns 0 or -1. */
int wsc_send(wsc_t *c, int opcode, const void *data, size_t len, bool fin);
/* Sends a text message. Returns 0 or -1. */
int wsc_text(wsc_t *c, const char *text);
/* Reads the next text or close frame, answering pings. Returns the opcode (1 text, 8 close),
 * or -1 on timeout/EOF/error. *msg is a NUL-terminated copy (caller frees) for a text frame. */
int wsc_recv(wsc_t *c, char **msg, int timeout_ms);
/* Closes the socket and frees the buffer. */
void wsc_close(wsc_t *c);

#endif

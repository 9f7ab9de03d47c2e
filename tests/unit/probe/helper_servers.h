/* Local peers for the probe tests, served by a thread with its own uv loop: a TCP listener, HTTP
 * servers answering 200 and 500, an RTSP responder, and listeners that never answer. */
#ifndef HELPER_SERVERS_H
#define HELPER_SERVERS_H

#include <stdatomic.h>

typedef struct ts_servers ts_servers_t;

/* Ports on 127.0.0.1 and what the peers saw. */
typedef struct ts_ports {
    int tcp;       /* accepts, then closes when the peer does */
    int http200;   /* answers any request "HTTP/1.1 200 OK" */
    int http500;   /* answers any request "HTTP/1.1 500 Internal Server Error" */
    int rtsp;      /* answers OPTIONS "RTSP/1.0 200 OK" with the request's CSeq; else 405 */
    int silent;    /* the kernel accepts connections, nobody reads or answers */
    int full;      /* accept queue full: connection attempts hang */
    int closed;    /* nothing listens: connection refused */
} ts_ports_t;

typedef struct ts_seen {
    atomic_int accepted;   /* connections accepted by tcp, http200, http500 and rtsp */
    atomic_int http_gets;  /* requests to the HTTP servers of the form the probe must send */
    atomic_int rtsp_options; /* well-formed OPTIONS requests (URL and CSeq) */
    atomic_int malformed;  /* requests that were not what a probe must send */
} ts_seen_t;

/* Starts the peers; fails the test if it cannot. Free with ts_stop. */
ts_servers_t *ts_start(ts_ports_t *ports, ts_seen_t **seen);
/* Stops the thread and closes every socket. */
void ts_stop(ts_servers_t *s);

#endif

/* The probe collector's internal interfaces: targets, config, and the round runner. */
#ifndef IOCD_PROBE_H
#define IOCD_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "ioc/collector.h"

#define PROBE_MAX_TARGETS 100000   /* targets per instance (config and file together) */
#define PROBE_MAX_TAGS 32          /* tags per target, target and kind included */
#define PROBE_MAX_TAG_LEN 256      /* bytes in a tag key or value (ingest's limit) */
#define PROBE_MAX_HOST 253         /* bytes in a host name */
#define PROBE_MAX_PATH 1024        /* bytes in an HTTP/RTSP path */
#define PROBE_MAX_EXPECT 16        /* codes in expect_status */
#define PROBE_MAX_CONCURRENCY 4096
#define PROBE_DEFAULT_CONCURRENCY 256
#define PROBE_MAX_LINE 65536       /* bytes in one line of targets_file */
#define PROBE_MAX_FILE (64u << 20) /* bytes in targets_file */
#define PROBE_STATUS_MAX 512       /* bytes read while looking for the status line */

typedef enum probe_kind {
    PROBE_TCP,  /* up when the TCP connection is established */
    PROBE_HTTP, /* up when GET path answers an expected status (default 2xx or 3xx) */
    PROBE_RTSP  /* up when OPTIONS answers an expected status (default 200) */
} probe_kind_t;

/* One checked target. Every string is owned by the target. */
typedef struct probe_target {
    char *name;
    probe_kind_t kind;
    char *host;            /* without brackets for IPv6 */
    uint16_t port;
    char *request;         /* the bytes sent after connecting (HTTP/RTSP); NULL for tcp */
    size_t request_len;
    int expect[PROBE_MAX_EXPECT]; /* accepted status codes; none: the kind's default */
    size_t nexpect;
    ioc_tag_t *tags;       /* target=<name>, kind=<kind>, then the static tags; one block
                            * with the strings it points to */
    size_t ntags;
    /* address: set at parse time for a numeric host, else by the runner's look-ups */
    struct sockaddr_storage addr;
    bool numeric;
    bool resolved;
    uint64_t resolved_ms;  /* loop time of the last successful look-up */
} probe_target_t;

/* A checked instance configuration. */
typedef struct probe_config {
    probe_target_t *targets;
    size_t ntargets;
    unsigned concurrency;
    uint64_t target_timeout_ms; /* whole probe of one target: look-up, connect, answer */
    uint64_t round_ms;          /* budget of a round: 90% of the host's collect timeout */
    uint64_t dns_ttl_ms;        /* how long a looked-up address is reused */
} probe_config_t;

/* Returns "tcp", "http" or "rtsp" (static). */
const char *probe_kind_name(probe_kind_t kind);
/* Splits "host:port", "[v6]:port" or "host" (the kind's default port: http 80, rtsp 554; tcp
 * needs one) into t->host, t->port and, for a numeric address, t->addr. Returns IOC_OK, or
 * IOC_EINVAL/IOC_ENOMEM with the reason (without the key) in err. */
int probe_address_parse(const char *text, probe_kind_t kind, probe_target_t *t, char *err,
                        size_t errlen);
/* Builds t->request for an http (GET path) or rtsp (OPTIONS rtsp://host:port/path) target; does
 * nothing for tcp. path must start with '/' and hold no spaces or control bytes. Returns IOC_OK,
 * IOC_EINVAL (err names the problem) or IOC_ENOMEM. */
int probe_request_build(probe_target_t *t, const char *path, char *err, size_t errlen);
/* Looks for the status line in the first len bytes of an answer ("HTTP/1.x NNN ..." for http,
 * "RTSP/1.0 NNN ..." for rtsp). Returns 1 with *code set when it is complete, 0 when more bytes
 * are needed, IOC_EINVAL when the answer is not such a status line. */
int probe_status_parse(probe_kind_t kind, const char *buf, size_t len, int *code);
/* True when code counts as up for t: one of t->expect, else 200-399 (http) or 200 (rtsp). */
bool probe_status_ok(const probe_target_t *t, int code);
/* Frees what a target owns (not t itself). */
void probe_target_free(probe_target_t *t);

/* Validates an instance's config entry (host keys plugin/name/interval/timeout/enabled are read
 * only for the round budget) and reads targets_file. Returns IOC_OK, or IOC_EINVAL/IOC_ENOMEM
 * with a message naming the key ("targets[3].address: ...", "targets_file: /x:12: kind: ...").
 * On success *out owns everything: free it with probe_config_free. */
int probe_config_parse(const cJSON *obj, probe_config_t *out, char *err, size_t errlen);
/* Frees what probe_config_parse allocated (not cfg itself); safe on a zeroed struct. */
void probe_config_free(probe_config_t *cfg);

/* Why a probe ended. */
typedef enum probe_outcome {
    PROBE_UP,
    PROBE_TIMEOUT,      /* no connection or no answer within the target's timeout */
    PROBE_REFUSED,      /* connection refused (port closed) */
    PROBE_UNREACHABLE,  /* no route, network down, host unreachable */
    PROBE_DNS,          /* the host name did not resolve */
    PROBE_BAD_STATUS,   /* answered with a status not expected */
    PROBE_BAD_ANSWER,   /* answered something that is not a status line */
    PROBE_CLOSED,       /* the peer closed or reset before answering */
    PROBE_ERROR,        /* a local error (e.g. out of file descriptors) */
    PROBE_NOUTCOMES
} probe_outcome_t;

/* Returns a short static name for an outcome ("timeout", "refused", ...). */
const char *probe_outcome_name(probe_outcome_t o);

/* The result of one target in a round. */
typedef struct probe_result {
    const probe_target_t *target;
    probe_outcome_t outcome;
    int status;         /* HTTP/RTSP status when one was read, else 0 */
    double latency_ms;  /* connect start to established (tcp) or to the status line */
    int64_t ts_us;      /* host wall time when the probe started */
} probe_result_t;

typedef struct probe_round_stats {
    size_t probed, up, skipped;
    size_t outcomes[PROBE_NOUTCOMES];
    uint64_t elapsed_ms;
} probe_round_stats_t;

typedef struct probe_runner_events {
    void *ud;
    /* One target finished (called on the loop, once per probed target per round). */
    void (*result)(void *ud, const probe_result_t *r);
    /* The round ended: every started target reported, and targets that could not be started
     * with their full timeout before the budget ran out are counted as skipped. */
    void (*round_done)(void *ud, const probe_round_stats_t *st);
} probe_runner_events_t;

typedef struct probe_runner probe_runner_t;

/* Creates a runner for cfg (borrowed, must outlive it; its targets' addresses are updated by
 * look-ups) on loop. now_us gives wall time for result stamps. Returns IOC_OK or IOC_ENOMEM. */
int probe_runner_new(uv_loop_t *loop, probe_config_t *cfg, const probe_runner_events_t *ev,
                     int64_t (*now_us)(void *ud), probe_runner_t **out);
/* Starts a round over every target, beginning where the last round's skipped targets begin.
 * A round still running is abandoned without round_done (its remaining probes end silently). */
void probe_runner_round(probe_runner_t *r);
/* Ends any round silently, closes every handle and frees r; done(ud) runs once all handles are
 * closed and every look-up has come back (later on the loop, never from inside this call). */
void probe_runner_close(probe_runner_t *r, void (*done)(void *ud), void *ud);

#endif

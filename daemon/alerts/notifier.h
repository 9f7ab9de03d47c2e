/* Notification channels for alerts behind one interface (webhooks now; more can be added):
 * a channel takes a message and reports each delivery attempt to the delivery log. */
#ifndef IOCD_NOTIFIER_H
#define IOCD_NOTIFIER_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

/* One notification to one target. Strings are copied by send. */
typedef struct notify_msg {
    const char *channel;  /* "webhook" */
    const char *target;   /* e.g. the webhook URL */
    uint64_t timeout_ms;  /* per attempt */
    uint32_t retries;     /* attempts after the first */
    const char *body;     /* JSON */
    int64_t alert_id;
    const char *rule_id;
    const char *event;    /* "firing", "resolved", "repeat", "flapping" */
} notify_msg_t;

/* One delivery attempt, for the delivery log. Strings valid during the callback only. */
typedef struct notify_result {
    int64_t alert_id;
    const char *rule_id, *channel, *target, *event;
    uint32_t attempt;     /* 1 for the first */
    bool ok;
    bool final;           /* no more attempts follow */
    long status;          /* e.g. the HTTP status; 0 if none */
    const char *error;    /* "" when ok */
} notify_result_t;

typedef void (*notify_log_fn)(void *ud, const notify_result_t *r);

/* A channel. Implementations put this first in their struct. */
typedef struct notify_channel {
    const char *name;
    /* Starts delivering (never blocks). Returns 0, or IOC_EFULL when the channel's bounded
     * queue is full (the message is dropped and logged as a failed final attempt). */
    int (*send)(struct notify_channel *ch, const notify_msg_t *m);
    /* Abandons what is in flight and frees the channel after its handles close. */
    void (*close)(struct notify_channel *ch, void (*done)(void *ud), void *ud);
} notify_channel_t;

#define NOTIFIER_MAX_CHANNELS 4

typedef struct notifier {
    notify_channel_t *ch[NOTIFIER_MAX_CHANNELS];
    int n, closing;
    void (*done)(void *ud);
    void *done_ud;
} notifier_t;

/* Adds a channel (the notifier owns it). Returns 0 or IOC_EFULL. */
int notifier_add(notifier_t *n, notify_channel_t *ch);
/* Sends through the channel named m->channel. Returns 0, IOC_ENOTFOUND or the channel's code. */
int notifier_send(notifier_t *n, const notify_msg_t *m);
/* Closes every channel; done runs when all are freed. */
void notifier_close(notifier_t *n, void (*done)(void *ud), void *ud);

/* The webhook channel: a JSON POST per message with libcurl's multi interface on the loop,
 * a timeout per attempt, retries with exponential back-off (1s, 2s, 4s... up to 60s), at most
 * `max_jobs` messages in flight or waiting. Each attempt is reported to log. Returns 0 or
 * ioc_err_t (e.g. libcurl without an asynchronous resolver). */
int notify_webhook_create(uv_loop_t *loop, uint32_t max_jobs, notify_log_fn log, void *ud,
                          notify_channel_t **out);

#endif

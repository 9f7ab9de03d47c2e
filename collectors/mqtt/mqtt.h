/* The mqtt collector's internal interfaces: topic filters, payload parsing, config, connection. */
#ifndef IOCD_MQTT_H
#define IOCD_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ioc/collector.h"

#define MQTT_MAX_LEVELS 32       /* levels in one topic filter */
#define MQTT_MAX_TOPIC 1024      /* bytes in a topic filter or a received topic we match */
#define MQTT_MAX_TAGS 64         /* static tags plus named wildcards (ingest's limit) */
#define MQTT_MAX_TAG_LEN 256     /* bytes in a tag key or value (ingest's limit) */
#define MQTT_MAX_POINTER 256     /* bytes in a JSON pointer from the config */
#define MQTT_MAX_SUBS 256        /* entries in `subscribe` */

typedef enum mqtt_level_kind {
    MQTT_LEVEL_LITERAL, /* must equal the topic level */
    MQTT_LEVEL_PLUS,    /* any one level; a tag when named */
    MQTT_LEVEL_HASH     /* the rest of the topic, zero or more levels; last only */
} mqtt_level_kind_t;

typedef struct mqtt_level {
    mqtt_level_kind_t kind;
    char *text; /* the literal, or the tag name of a named '+'; NULL otherwise (owned) */
} mqtt_level_t;

/* A parsed topic filter with named wildcards, e.g. "longan/+district/light/+id/power". */
typedef struct mqtt_pattern {
    mqtt_level_t levels[MQTT_MAX_LEVELS];
    size_t nlevels;
    size_t nnamed; /* named '+' levels */
    char *filter;  /* what the broker is sent: named wildcards become plain '+' (owned) */
} mqtt_pattern_t;

/* Parses an MQTT topic filter whose '+' levels may carry a tag name ([A-Za-z0-9_], e.g.
 * "+district"). Returns IOC_OK, IOC_EINVAL or IOC_ENOMEM with the reason in err. On success
 * *out owns its strings: free them with mqtt_pattern_free. */
int mqtt_pattern_parse(const char *text, mqtt_pattern_t *out, char *err, size_t errlen);
/* Frees what mqtt_pattern_parse allocated (not p itself). */
void mqtt_pattern_free(mqtt_pattern_t *p);
/* Matches a received topic against p. buf (buflen bytes) is scratch space that the tag values
 * written to tags[0..*ntags) point into; maxtags must be at least p->nnamed. Returns 1 on a
 * match, 0 when the topic does not match, IOC_EINVAL when it matches but a named level is empty
 * or longer than MQTT_MAX_TAG_LEN, IOC_ETOOBIG when the topic does not fit buf. */
int mqtt_pattern_match(const mqtt_pattern_t *p, const char *topic, char *buf, size_t buflen,
                       ioc_tag_t *tags, size_t maxtags, size_t *ntags);

/* Checks an RFC 6901 JSON pointer ("" or "/a/0/b~1c"). Returns IOC_OK or IOC_EINVAL. */
int mqtt_pointer_check(const char *ptr);
/* Resolves an RFC 6901 pointer in root (hand-written; cJSON_Utils is not used on payloads).
 * Returns the item (borrowed from root) or NULL when the pointer does not resolve. */
const cJSON *mqtt_pointer_get(const cJSON *root, const char *ptr);

typedef enum mqtt_time_unit {
    MQTT_TIME_S, MQTT_TIME_MS, MQTT_TIME_US, MQTT_TIME_NS
} mqtt_time_unit_t;

/* How a payload becomes a value and a time. */
typedef struct mqtt_payload_spec {
    const char *value_ptr;      /* NULL: the payload is a plain number; else JSON and a pointer */
    const char *time_ptr;       /* NULL: no time in the payload (the sample is stamped now) */
    mqtt_time_unit_t time_unit; /* for a numeric time */
    size_t max_len;             /* longer payloads are refused */
} mqtt_payload_spec_t;

/* Parses one payload (len bytes, not NUL-terminated) into *value and *ts_us (0 = now).
 * A time is an RFC 3339 string or a number in spec->time_unit since the epoch. Returns IOC_OK,
 * IOC_EINVAL (why says what is wrong: "not a number", "no value at /x", ...), IOC_ETOOBIG or
 * IOC_ENOMEM. */
int mqtt_payload_parse(const mqtt_payload_spec_t *spec, const void *payload, size_t len,
                       double *value, int64_t *ts_us, char *why, size_t whylen);
/* Parses an RFC 3339 date-time ("2024-05-01T07:30:00.25+07:00") into µs since the epoch.
 * Returns IOC_OK or IOC_EINVAL. */
int mqtt_parse_rfc3339(const char *s, int64_t *us);

/* One entry of `subscribe`. */
typedef struct mqtt_sub {
    mqtt_pattern_t pattern;
    char *metric;         /* owned */
    char *value_ptr;      /* owned; NULL: plain number */
    char *time_ptr;       /* owned; NULL: now */
    mqtt_time_unit_t time_unit;
    ioc_tag_t *tags;      /* static tags; keys and values owned */
    size_t ntags;
} mqtt_sub_t;

/* A checked instance configuration. */
typedef struct mqtt_config {
    bool tls;
    char *host;           /* without brackets for IPv6 */
    int port;
    char *username, *password, *client_id;
    char *ca_file, *ca_path, *cert_file, *key_file;
    bool tls_verify;
    bool clean_session;
    int keepalive_s;
    uint64_t connect_timeout_ms, reconnect_min_ms, reconnect_max_ms;
    size_t max_payload;
    mqtt_sub_t *subs;
    size_t nsubs;
    char **filters;       /* distinct broker filters of subs, owned */
    size_t nfilters;
} mqtt_config_t;

/* Validates an instance's config entry (host keys plugin/name/interval/timeout/enabled are
 * skipped). name is the instance name, used for the default client_id "iocd-<name>". Returns
 * IOC_OK, or IOC_EINVAL/IOC_ENOMEM with a message naming the key (e.g. "subscribe[1].topic: ...")
 * in err. On success *out owns everything: free it with mqtt_config_free. */
int mqtt_config_parse(const cJSON *obj, const char *name, mqtt_config_t *out, char *err,
                      size_t errlen);
/* Frees what mqtt_config_parse allocated (not cfg itself); safe on a zeroed struct. */
void mqtt_config_free(mqtt_config_t *cfg);

/* A broker connection driven by the host's libuv loop. */
typedef struct mqtt_conn mqtt_conn_t;

typedef struct mqtt_conn_events {
    void *ud;
    /* A PUBLISH arrived (topic NUL-terminated, payload len bytes; both borrowed). */
    void (*message)(void *ud, const char *topic, const void *payload, size_t len);
} mqtt_conn_events_t;

/* Creates the connection (not yet connecting). cfg is borrowed and must outlive the
 * connection. Returns IOC_OK, IOC_ENOMEM or IOC_EINVAL (err says why, e.g. a TLS file). */
int mqtt_conn_new(const ioc_host_services_t *svc, ioc_host_t *host, const mqtt_config_t *cfg,
                  const mqtt_conn_events_t *ev, mqtt_conn_t **out, char *err, size_t errlen);
/* Starts connecting; reconnects with capped, jittered back-off for as long as it runs. */
int mqtt_conn_start(mqtt_conn_t *c);
/* True while the broker has accepted the session (CONNACK received). */
bool mqtt_conn_connected(const mqtt_conn_t *c);
/* Microseconds (host clock) since the connection was last up, or since start; 0 when up. */
int64_t mqtt_conn_down_for_us(const mqtt_conn_t *c);
/* Number of successful connections so far. */
uint64_t mqtt_conn_connects(const mqtt_conn_t *c);
/* Disconnects, closes every handle and frees c; done(ud) runs once all handles are closed
 * (possibly later on the loop, never from inside this call). */
void mqtt_conn_close(mqtt_conn_t *c, void (*done)(void *ud), void *ud);

#endif

/* The mqtt collector's exported descriptor: messages become samples; `collect` reports health. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt.h"

#define COMPLAIN_EVERY_US (60LL * 1000000)
#define LOG_TOPIC_MAX 160

typedef struct mqtt_instance {
    const ioc_host_services_t *svc;
    ioc_host_t *host;
    mqtt_config_t cfg;
    mqtt_conn_t *conn;
    void (*closed)(ioc_host_t *host);
    /* counters, for the logs */
    uint64_t messages, samples, bad, unmatched, refused;
    uint64_t bad_unlogged;
    int64_t last_bad_log_us, last_down_log_us;
} mqtt_instance_t;

/* Copies a topic for a log line: at most LOG_TOPIC_MAX bytes, no quotes or control bytes. */
static const char *log_topic(char *out, size_t outlen, const char *topic)
{
    size_t n = 0;
    for (; topic[n] && n + 1 < outlen && n < LOG_TOPIC_MAX; n++)
        out[n] = (topic[n] == '"' || (unsigned char)topic[n] < 0x20) ? '?' : topic[n];
    out[n] = '\0';
    return out;
}

/* Counts a payload or topic that gives no sample; logs the first, then once a minute. */
static void bad(mqtt_instance_t *inst, const char *topic, const char *why)
{
    char t[LOG_TOPIC_MAX + 1];
    int64_t now = inst->svc->now_us(inst->host);
    inst->bad++;
    if (inst->last_bad_log_us && now - inst->last_bad_log_us < COMPLAIN_EVERY_US) {
        inst->bad_unlogged++;
        return;
    }
    inst->last_bad_log_us = now;
    inst->svc->log(inst->host, IOC_LOG_WARN,
                   "event=bad_payload topic=\"%s\" detail=\"%s\" bad_payloads=%llu "
                   "not_logged=%llu", log_topic(t, sizeof t, topic), why,
                   (unsigned long long)inst->bad, (unsigned long long)inst->bad_unlogged);
    inst->bad_unlogged = 0;
}

/* Turns one message into a sample for one matching subscription. */
static void handle(mqtt_instance_t *inst, const mqtt_sub_t *sub, const char *topic,
                   ioc_tag_t *tags, size_t ntags, const void *payload, size_t len)
{
    char why[160];
    double value;
    int64_t ts;
    const mqtt_payload_spec_t spec = {
        .value_ptr = sub->value_ptr, .time_ptr = sub->time_ptr, .time_unit = sub->time_unit,
        .max_len = inst->cfg.max_payload};
    if (mqtt_payload_parse(&spec, payload, len, &value, &ts, why, sizeof why) != IOC_OK) {
        bad(inst, topic, why);
        return;
    }
    if (sub->ntags)
        memcpy(tags + ntags, sub->tags, sub->ntags * sizeof *tags);
    const ioc_sample_t s = {.metric = sub->metric, .tags = tags, .ntags = ntags + sub->ntags,
                            .value = value, .ts_us = ts};
    /* The host counts what it refuses (dropped or invalid) and logs it rate-limited. */
    if (inst->svc->emit(inst->host, &s, 1) == IOC_OK)
        inst->samples++;
    else
        inst->refused++;
}

static void on_message(void *ud, const char *topic, const void *payload, size_t len)
{
    mqtt_instance_t *inst = ud;
    char buf[MQTT_MAX_TOPIC + 1];
    ioc_tag_t tags[MQTT_MAX_TAGS];
    bool matched = false;
    inst->messages++;
    for (size_t i = 0; i < inst->cfg.nsubs; i++) {
        const mqtt_sub_t *sub = &inst->cfg.subs[i];
        size_t ntags;
        int m = mqtt_pattern_match(&sub->pattern, topic, buf, sizeof buf, tags, MQTT_MAX_TAGS,
                                   &ntags);
        if (m == IOC_ETOOBIG) {
            bad(inst, topic, "topic longer than 1024 bytes");
            return;
        }
        if (m == 0)
            continue;
        matched = true;
        if (m < 0)
            bad(inst, topic, "a named wildcard's topic level is empty or over 256 bytes");
        else
            handle(inst, sub, topic, tags, ntags, payload, len);
    }
    if (!matched)
        inst->unmatched++;
}

static int mqtt_init(const ioc_host_services_t *svc, ioc_host_t *host, void **state_out,
                     char *err, size_t errlen)
{
    int rc;
    if (svc->abi_version != IOC_COLLECTOR_ABI_VERSION || svc->size < sizeof(ioc_host_services_t)) {
        snprintf(err, errlen, "host services ABI %u (size %u), mqtt needs ABI %u (size %zu)",
                 svc->abi_version, svc->size, IOC_COLLECTOR_ABI_VERSION, sizeof(ioc_host_services_t));
        return IOC_EABI;
    }
    mqtt_instance_t *inst = calloc(1, sizeof *inst);
    if (!inst) {
        snprintf(err, errlen, "out of memory");
        return IOC_ENOMEM;
    }
    inst->svc = svc;
    inst->host = host;
    rc = mqtt_config_parse(svc->config(host), svc->name(host), &inst->cfg, err, errlen);
    if (rc)
        goto fail;
    const mqtt_conn_events_t ev = {.ud = inst, .message = on_message};
    rc = mqtt_conn_new(svc, host, &inst->cfg, &ev, &inst->conn, err, errlen);
    if (rc)
        goto fail;
    svc->log(host, IOC_LOG_INFO, "broker=%s:%d tls=%s client_id=\"%s\" subscriptions=%zu filters=%zu",
             inst->cfg.host, inst->cfg.port, inst->cfg.tls ? "on" : "off", inst->cfg.client_id,
             inst->cfg.nsubs, inst->cfg.nfilters);
    *state_out = inst;
    return IOC_OK;
fail:
    mqtt_config_free(&inst->cfg);
    free(inst);
    return rc;
}

static int mqtt_start(void *state)
{
    mqtt_instance_t *inst = state;
    return mqtt_conn_start(inst->conn);
}

/* Health, every interval: IOC_OK while connected, IOC_EIO while not (the host counts it and
 * shows it on /metrics); a long outage and unlogged bad payloads are logged once a minute. */
static void mqtt_collect(void *state)
{
    mqtt_instance_t *inst = state;
    int64_t now = inst->svc->now_us(inst->host);
    int64_t down = mqtt_conn_down_for_us(inst->conn);
    bool up = mqtt_conn_connected(inst->conn);
    if (!up && down >= COMPLAIN_EVERY_US && now - inst->last_down_log_us >= COMPLAIN_EVERY_US) {
        inst->last_down_log_us = now;
        inst->svc->log(inst->host, IOC_LOG_WARN,
                       "event=still_disconnected broker=%s:%d down_for_s=%lld", inst->cfg.host,
                       inst->cfg.port, (long long)(down / 1000000));
    }
    if (inst->bad_unlogged && now - inst->last_bad_log_us >= COMPLAIN_EVERY_US) {
        inst->last_bad_log_us = now;
        inst->svc->log(inst->host, IOC_LOG_WARN, "event=bad_payloads bad_payloads=%llu "
                       "not_logged=%llu", (unsigned long long)inst->bad,
                       (unsigned long long)inst->bad_unlogged);
        inst->bad_unlogged = 0;
    }
    inst->svc->log(inst->host, IOC_LOG_DEBUG,
                   "event=health connected=%d connects=%llu messages=%llu samples=%llu "
                   "bad_payloads=%llu unmatched=%llu refused=%llu", up,
                   (unsigned long long)mqtt_conn_connects(inst->conn),
                   (unsigned long long)inst->messages, (unsigned long long)inst->samples,
                   (unsigned long long)inst->bad, (unsigned long long)inst->unmatched,
                   (unsigned long long)inst->refused);
    inst->svc->collect_done(inst->host, up ? IOC_OK : IOC_EIO);
}

static void on_conn_closed(void *ud)
{
    mqtt_instance_t *inst = ud;
    void (*closed)(ioc_host_t *) = inst->closed;
    ioc_host_t *host = inst->host;
    mqtt_config_free(&inst->cfg);
    free(inst);
    closed(host);
}

static void mqtt_stop(void *state, void (*closed)(ioc_host_t *host), ioc_host_t *host)
{
    mqtt_instance_t *inst = state;
    inst->closed = closed;
    inst->host = host;
    mqtt_conn_close(inst->conn, on_conn_closed, inst);
}

IOC_COLLECTOR_EXPORT const ioc_collector_desc_t ioc_collector = {
    .magic = IOC_COLLECTOR_MAGIC,
    .abi_version = IOC_COLLECTOR_ABI_VERSION,
    .name = "mqtt",
    .version = "1.0.0",
    .init = mqtt_init,
    .start = mqtt_start,
    .collect = mqtt_collect,
    .stop = mqtt_stop,
};

/* Parser of client messages on /ws: subscribe, unsubscribe and ping, with errors that name
 * the key, the topic's index or the byte where the JSON breaks. */
#include <stdio.h>
#include <string.h>

#include "hub/hub_int.h"
#include "ingest/utf8.h"
#include "ioc/error.h"

#define ECHO_MAX 40 /* bytes of a client's key or op name quoted back in an error */

/* Copies at most ECHO_MAX bytes of a client string for an error message, as printable ASCII
 * (other bytes become '?'), so the error frame is valid UTF-8 whatever the client sent. */
static const char *echo(char *dst, size_t size, const char *src)
{
    size_t i;

    for (i = 0; src[i] && i < ECHO_MAX && i + 1 < size; i++)
        dst[i] = src[i] >= 0x20 && src[i] < 0x7f && src[i] != '"' ? src[i] : '?';
    dst[i] = '\0';
    return dst;
}

/* Checks one topic's syntax. Returns NULL or what is wrong with it. */
static const char *topic_error(const char *t)
{
    const unsigned char *p;

    if (!strcmp(t, "indicators") || !strcmp(t, "alerts"))
        return NULL;
    if (strncmp(t, "indicator:", 10))
        return "unknown topic (expected \"indicators\", \"alerts\" or \"indicator:<id>\")";
    if (!t[10])
        return "empty indicator id";
    if (strlen(t + 10) > HUB_MAX_ID)
        return "indicator id over 128 bytes";
    for (p = (const unsigned char *)t + 10; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return "control character in indicator id";
    if (!utf8_valid(t, strlen(t)))
        return "indicator id is not valid UTF-8";
    return NULL;
}

static int parse_topics(const cJSON *arr, hub_op_t *op, char *err, size_t errlen)
{
    const cJSON *t;
    const char *why;
    int n, i = 0;

    if (!cJSON_IsArray(arr)) {
        snprintf(err, errlen, "key \"topics\": expected an array of topic strings");
        return IOC_EINVAL;
    }
    n = cJSON_GetArraySize(arr);
    if (n < 1 || n > HUB_MAX_TOPICS) {
        snprintf(err, errlen, "key \"topics\": expected 1 to %d topics, got %d", HUB_MAX_TOPICS,
                 n);
        return IOC_EINVAL;
    }
    cJSON_ArrayForEach(t, arr) {
        if (!cJSON_IsString(t)) {
            snprintf(err, errlen, "topics[%d]: expected a string", i);
            return IOC_EINVAL;
        }
        why = strlen(t->valuestring) > HUB_MAX_TOPIC ? "topic over 138 bytes"
                                                     : topic_error(t->valuestring);
        if (why) {
            snprintf(err, errlen, "topics[%d]: %s", i, why);
            return IOC_EINVAL;
        }
        snprintf(op->topics[op->ntopics++], sizeof op->topics[0], "%s", t->valuestring);
        i++;
    }
    return IOC_OK;
}

int hub_op_parse(const char *data, size_t len, hub_op_t *op, char *err, size_t errlen)
{
    char buf[WEB_WS_MAX_MSG + 1], q[ECHO_MAX + 1];
    cJSON *root = NULL, *it;
    const char *name, *at;
    bool want_topics;
    int rc = IOC_EINVAL;

    memset(op, 0, offsetof(hub_op_t, topics));
    err[0] = '\0';
    if (len > WEB_WS_MAX_MSG) {
        snprintf(err, errlen, "message over %d bytes", WEB_WS_MAX_MSG);
        return IOC_ETOOBIG;
    }
    /* cJSON reads until a NUL: never hand it the frame itself (CVE-2023-53154) */
    memcpy(buf, data, len);
    buf[len] = '\0';
    if (memchr(buf, '\0', len)) {
        snprintf(err, errlen, "NUL byte at byte %zu", (size_t)((char *)memchr(buf, 0, len) - buf));
        goto out;
    }
    root = cJSON_ParseWithOpts(buf, &at, 1);
    if (!root) {
        at = cJSON_GetErrorPtr();
        snprintf(err, errlen, "not valid JSON (at byte %zu)",
                 at && at >= buf && at <= buf + len ? (size_t)(at - buf) : len);
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "expected a JSON object like {\"op\":\"subscribe\",...}");
        goto out;
    }
    it = cJSON_GetObjectItemCaseSensitive(root, "op");
    if (!cJSON_IsString(it)) {
        snprintf(err, errlen, "key \"op\": %s", it ? "expected a string" : "missing");
        goto out;
    }
    name = it->valuestring;
    if (!strcmp(name, "subscribe"))
        op->kind = HUB_OP_SUBSCRIBE;
    else if (!strcmp(name, "unsubscribe"))
        op->kind = HUB_OP_UNSUBSCRIBE;
    else if (!strcmp(name, "ping"))
        op->kind = HUB_OP_PING;
    else {
        snprintf(err, errlen, "key \"op\": unknown op \"%s\" (subscribe, unsubscribe, ping)",
                 echo(q, sizeof q, name));
        goto out;
    }
    want_topics = op->kind != HUB_OP_PING;
    cJSON_ArrayForEach(it, root) {
        if (!strcmp(it->string, "op") || (want_topics && !strcmp(it->string, "topics")))
            continue;
        snprintf(err, errlen, "unknown key \"%s\" for op \"%s\"", echo(q, sizeof q, it->string),
                 name);
        goto out;
    }
    if (want_topics) {
        it = cJSON_GetObjectItemCaseSensitive(root, "topics");
        if (!it) {
            snprintf(err, errlen, "key \"topics\": missing");
            goto out;
        }
        if (parse_topics(it, op, err, errlen) < 0)
            goto out;
    }
    rc = IOC_OK;
out:
    cJSON_Delete(root);
    return rc;
}

/* Probe targets: addresses, the request bytes of each kind, and status lines of answers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "probe.h"

#define USER_AGENT "iocd-probe/1.0"

const char *probe_kind_name(probe_kind_t kind)
{
    switch (kind) {
    case PROBE_HTTP:
        return "http";
    case PROBE_RTSP:
        return "rtsp";
    default:
        return "tcp";
    }
}

const char *probe_outcome_name(probe_outcome_t o)
{
    static const char *const names[PROBE_NOUTCOMES] = {
        "up", "timeout", "refused", "unreachable", "dns", "bad_status", "bad_answer", "closed",
        "error"};
    return (unsigned)o < PROBE_NOUTCOMES ? names[o] : "unknown";
}

static int fail(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return IOC_EINVAL;
}

/* Host names: letters, digits, '-', '.', '_' (no spaces, no control bytes, no '/', '@'). */
static bool host_name_ok(const char *h, size_t n)
{
    return n > 0 && n <= PROBE_MAX_HOST &&
           strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") >= n;
}

/* Fills t->addr when host is a numeric IPv4 or IPv6 address. */
static void set_numeric(probe_target_t *t)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)&t->addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&t->addr;
    memset(&t->addr, 0, sizeof t->addr);
    if (uv_inet_pton(AF_INET, t->host, &v4->sin_addr) == 0) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(t->port);
        t->numeric = true;
    } else if (uv_inet_pton(AF_INET6, t->host, &v6->sin6_addr) == 0) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(t->port);
        t->numeric = true;
    }
    t->resolved = t->numeric;
}

int probe_address_parse(const char *text, probe_kind_t kind, probe_target_t *t, char *err,
                        size_t errlen)
{
    const char *host = text, *hend, *port = NULL;
    size_t len = strlen(text);
    if (*text == '[') {
        host = text + 1;
        hend = strchr(host, ']');
        if (!hend)
            return fail(err, errlen, "unterminated [IPv6] address");
        if (hend[1] != '\0') {
            if (hend[1] != ':')
                return fail(err, errlen, "expected :port after ]");
            port = hend + 2;
        }
    } else {
        hend = strchr(text, ':');
        if (hend && strchr(hend + 1, ':'))
            return fail(err, errlen, "an IPv6 address needs brackets, e.g. \"[fd00::5]:554\"");
        if (hend)
            port = hend + 1;
        else
            hend = text + len;
    }
    size_t hlen = (size_t)(hend - host);
    if (*text == '[') {
        char v6[64];
        struct in6_addr a;
        if (hlen == 0 || hlen >= sizeof v6)
            return fail(err, errlen, "not an IPv6 address inside [ ]");
        memcpy(v6, host, hlen);
        v6[hlen] = '\0';
        if (uv_inet_pton(AF_INET6, v6, &a) != 0)
            return fail(err, errlen, "not an IPv6 address inside [ ]");
    } else if (!host_name_ok(host, hlen)) {
        return fail(err, errlen, "host must be an IP address or a name of letters, digits, "
                    "'-', '.', '_' (at most 253 bytes)");
    }
    long p = kind == PROBE_HTTP ? 80 : kind == PROBE_RTSP ? 554 : 0;
    if (port) {
        char *end;
        if (*port < '0' || *port > '9' || strlen(port) > 5)
            return fail(err, errlen, "port must be a number from 1 to 65535");
        p = strtol(port, &end, 10);
        if (*end || p < 1 || p > 65535)
            return fail(err, errlen, "port must be a number from 1 to 65535");
    } else if (p == 0) {
        return fail(err, errlen, "a tcp target needs a port, e.g. \"10.0.0.5:8000\"");
    }
    t->host = strndup(host, hlen);
    if (!t->host) {
        snprintf(err, errlen, "out of memory");
        return IOC_ENOMEM;
    }
    t->port = (uint16_t)p;
    set_numeric(t);
    return IOC_OK;
}

int probe_request_build(probe_target_t *t, const char *path, char *err, size_t errlen)
{
    char hostport[PROBE_MAX_HOST + 16];
    bool v6 = strchr(t->host, ':') != NULL;
    size_t plen = strlen(path);
    if (t->kind == PROBE_TCP)
        return IOC_OK;
    if (path[0] != '/' || plen > PROBE_MAX_PATH)
        return fail(err, errlen, "must start with '/' (at most 1024 bytes)");
    for (size_t i = 0; i < plen; i++)
        if ((unsigned char)path[i] <= 0x20 || path[i] == 0x7f)
            return fail(err, errlen, "must not hold spaces or control bytes (percent-encode them)");
    bool default_port = (t->kind == PROBE_HTTP && t->port == 80) ||
                        (t->kind == PROBE_RTSP && t->port == 554);
    if (default_port)
        snprintf(hostport, sizeof hostport, v6 ? "[%s]" : "%s", t->host);
    else
        snprintf(hostport, sizeof hostport, v6 ? "[%s]:%u" : "%s:%u", t->host, t->port);
    size_t cap = plen + strlen(hostport) + 160;
    t->request = malloc(cap);
    if (!t->request) {
        snprintf(err, errlen, "out of memory");
        return IOC_ENOMEM;
    }
    int n;
    if (t->kind == PROBE_HTTP)
        n = snprintf(t->request, cap, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: " USER_AGENT
                     "\r\nAccept: */*\r\nConnection: close\r\n\r\n", path, hostport);
    else
        n = snprintf(t->request, cap, "OPTIONS rtsp://%s%s RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: "
                     USER_AGENT "\r\n\r\n", hostport, path);
    t->request_len = (size_t)n;
    return IOC_OK;
}

int probe_status_parse(probe_kind_t kind, const char *buf, size_t len, int *code)
{
    static const char http[] = "HTTP/1.", rtsp[] = "RTSP/1.0";
    const char *proto = kind == PROBE_RTSP ? rtsp : http;
    size_t plen = strlen(proto), i = plen;
    size_t cmp = len < plen ? len : plen;
    if (memcmp(buf, proto, cmp) != 0)
        return IOC_EINVAL;
    if (kind == PROBE_HTTP) {
        /* HTTP/1.0 or HTTP/1.1 */
        if (len <= i)
            return 0;
        if (buf[i] != '0' && buf[i] != '1')
            return IOC_EINVAL;
        i++;
    }
    /* " NNN" then a space or the end of the line */
    const char *pat = " ddd";
    for (size_t k = 0; k < 4; k++, i++) {
        if (len <= i)
            return 0;
        if (pat[k] == ' ' ? buf[i] != ' ' : (buf[i] < '0' || buf[i] > '9'))
            return IOC_EINVAL;
    }
    if (len <= i)
        return 0;
    if (buf[i] != ' ' && buf[i] != '\r' && buf[i] != '\n')
        return IOC_EINVAL;
    *code = (buf[i - 3] - '0') * 100 + (buf[i - 2] - '0') * 10 + (buf[i - 1] - '0');
    return 1;
}

bool probe_status_ok(const probe_target_t *t, int code)
{
    if (t->nexpect) {
        for (size_t i = 0; i < t->nexpect; i++)
            if (t->expect[i] == code)
                return true;
        return false;
    }
    if (t->kind == PROBE_RTSP)
        return code == 200;
    return code >= 200 && code < 400;
}

void probe_target_free(probe_target_t *t)
{
    free(t->tags);
    free(t->name);
    free(t->host);
    free(t->request);
    memset(t, 0, sizeof *t);
}

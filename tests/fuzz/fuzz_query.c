/* libFuzzer target: query strings and credentials headers as a request brings them. The input is
 * "<query>\xff<cookie>\xff<authorization>": the query is split at '&' and %-decoded into the
 * fragments lws hands the web module, then looked up with web_req_query and the values parsed as
 * the API does (durations, numbers); the headers go through auth_identify. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "web/web_int.h"

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                        : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Splits and %-decodes q[0..n) into "frag\0frag\0..." (as lws_hdr_copy_fragment does). */
static size_t fragments(const uint8_t *q, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (q[i] == '&') {
            out[o++] = '\0';
        } else if (q[i] == '%' && i + 2 < n && hexval(q[i + 1]) >= 0 && hexval(q[i + 2]) >= 0) {
            out[o++] = (char)(hexval(q[i + 1]) * 16 + hexval(q[i + 2]));
            i += 2;
        } else {
            out[o++] = q[i] == '+' ? ' ' : (char)q[i];
        }
    }
    out[o++] = '\0';
    return o;
}

/* A NUL-terminated heap copy (exact size, so over-reads are caught). */
static char *dup_part(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *names[] = {"from", "to", "step", "group", "since", "limit", "indicators",
                                  "format", "", "a"};
    static config_token_t tok = {.name = "t", .role = "viewer"};
    config_t cfg = {.anonymous_role = "viewer", .tokens = &tok, .ntokens = 1};
    const uint8_t *sep1 = memchr(data, 0xff, size), *sep2;
    size_t qlen = sep1 ? (size_t)(sep1 - data) : size;
    web_req_t req = {0};
    auth_ident_t who;
    uint64_t ms;
    char *cookie = NULL, *authz = NULL;

    if (qlen > WEB_MAX_QUERY)
        return 0;
    req.args = malloc(qlen + 1);
    if (!req.args)
        return 0;
    req.args_len = fragments(data, qlen, req.args);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = web_req_query(&req, names[i]);
        if (v && (v < req.args || v > req.args + req.args_len))
            abort(); /* a value must point into the fragments */
        if (v) {
            config_parse_duration(v, &ms);
            strtoll(v, NULL, 10);
        }
    }
    if (sep1) {
        sep2 = memchr(sep1 + 1, 0xff, size - qlen - 1);
        size_t clen = sep2 ? (size_t)(sep2 - sep1 - 1) : size - qlen - 1;
        cookie = dup_part(sep1 + 1, clen);
        if (sep2)
            authz = dup_part(sep2 + 1, size - (size_t)(sep2 + 1 - data));
    }
    int role = auth_identify(&cfg, authz, cookie, &who);
    /* With a non-empty Authorization header only a valid bearer token may give a role. */
    if (authz && *authz && role)
        abort();
    if (!(authz && *authz) && role != ROLE_VIEWER)
        abort(); /* no store: a cookie is never valid, so the anonymous role applies */
    free(cookie);
    free(authz);
    free(req.args);
    return 0;
}

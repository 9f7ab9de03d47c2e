/* `iocctl export`: GET /api/v1/export with the same options, streamed to a file or stdout. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "export.h"

#define MAX_ERROR_BODY 65536

static const char export_usage[] =
    "usage: iocctl export --from TIME --to TIME [--indicators ID,ID] [--step 1m|1h|1d|1w|1mo]\n"
    "                     [--format csv|json|xlsx] [--group NAME|'*'] [--compare month|year]\n"
    "                     [--tz ZONE] [--lang vi|en] [--bom] [--sep ';'] [--layout sheets|long]\n"
    "                     [--output FILE]\n"
    "  TIME is ISO 8601 (2025-01-31, 2025-01-31T08:00, 2025-01-31T08:00:00+07:00); without an\n"
    "  offset it is local time in --tz (default Asia/Ho_Chi_Minh). Needs an analyst or admin\n"
    "  token.\n";

/* Where the body goes: the output while the answer is 200, else a bounded error text. */
typedef struct sink {
    CURL *h;
    FILE *out;
    long status;
    char err[MAX_ERROR_BODY + 1];
    size_t errlen;
    size_t bytes;
} sink_t;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    sink_t *s = ud;
    size_t len = size * n;
    if (!s->status)
        curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->status);
    if (s->status == 200) {
        s->bytes += len;
        return fwrite(p, 1, len, s->out) == len ? len : 0;
    }
    size_t room = MAX_ERROR_BODY - s->errlen, k = len < room ? len : room;
    memcpy(s->err + s->errlen, p, k);
    s->errlen += k;
    s->err[s->errlen] = '\0';
    return len;
}

/* Appends &name=value (URL-encoded) to the query. */
static int add_param(CURL *h, char *q, size_t qlen, const char *name, const char *value)
{
    char *enc;
    size_t used = strlen(q);
    if (!value)
        return 0;
    enc = curl_easy_escape(h, value, 0);
    if (!enc)
        return -1;
    int n = snprintf(q + used, qlen - used, "%s%s=%s", used ? "&" : "", name, enc);
    curl_free(enc);
    return n < 0 || (size_t)n >= qlen - used ? -1 : 0;
}

/* Prints iocd's error answer: {"error": ..., "param": ...}. */
static void print_error(const sink_t *s)
{
    cJSON *o = cJSON_Parse(s->err);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "param");
    if (cJSON_IsString(e))
        fprintf(stderr, "iocctl: export: %ld: %s%s%s\n", s->status,
                cJSON_IsString(p) ? p->valuestring : "", cJSON_IsString(p) ? ": " : "",
                e->valuestring);
    else
        fprintf(stderr, "iocctl: export: %ld: %.200s\n", s->status, s->err);
    cJSON_Delete(o);
}

int iocctl_export(const iocctl_t *c, int argc, char **argv)
{
    static const char *const names[] = {"indicators", "from", "to",  "step",  "format", "group",
                                        "compare",    "tz",   "lang", "sep", "layout"};
    static const struct option opts[] = {
        {"indicators", required_argument, NULL, 0}, {"from", required_argument, NULL, 1},
        {"to", required_argument, NULL, 2},         {"step", required_argument, NULL, 3},
        {"format", required_argument, NULL, 4},     {"group", required_argument, NULL, 5},
        {"compare", required_argument, NULL, 6},    {"tz", required_argument, NULL, 7},
        {"lang", required_argument, NULL, 8},       {"sep", required_argument, NULL, 9},
        {"layout", required_argument, NULL, 10},    {"bom", no_argument, NULL, 'b'},
        {"output", required_argument, NULL, 'o'},   {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *vals[11] = {0}, *output = NULL;
    char query[8192] = "", path[8400], url[10240], part[4096], auth[1024];
    bool bom = false;
    int o, rc = 1;
    optind = 1;
    while ((o = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        if (o >= 0 && o <= 10)
            vals[o] = optarg;
        else if (o == 'b')
            bom = true;
        else if (o == 'o')
            output = optarg;
        else if (o == 'h') {
            fputs(export_usage, stdout);
            return 0;
        } else {
            fputs(export_usage, stderr);
            return 64;
        }
    }
    if (optind != argc || !vals[1] || !vals[2]) {
        fputs(export_usage, stderr);
        return 64;
    }
    sink_t *s = calloc(1, sizeof *s);
    struct curl_slist *hdrs = NULL;
    if (!s || !(s->h = curl_easy_init())) {
        free(s);
        return 1;
    }
    for (int i = 0; i < 11; i++)
        if (add_param(s->h, query, sizeof query, names[i], vals[i]))
            goto out;
    if (bom && add_param(s->h, query, sizeof query, "bom", "1"))
        goto out;
    snprintf(path, sizeof path, "/api/v1/export?%s", query);
    snprintf(url, sizeof url, "%s%s", c->url, path);
    if (output)
        snprintf(part, sizeof part, "%s.part", output);
    s->out = output ? fopen(part, "wb") : stdout;
    if (!s->out) {
        fprintf(stderr, "iocctl: export: cannot create %s\n", part);
        goto out;
    }
    if (c->token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    curl_easy_setopt(s->h, CURLOPT_URL, url);
    curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->h, CURLOPT_CONNECTTIMEOUT, 10L);
    CURLcode cc = curl_easy_perform(s->h);
    if (!s->status)
        curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->status);
    if (cc != CURLE_OK)
        fprintf(stderr, "iocctl: %s: %s\n", url, curl_easy_strerror(cc));
    else if (s->status != 200)
        print_error(s);
    else
        rc = 0;
    if (output) {
        if (fclose(s->out) != 0)
            rc = 1;
        if (rc == 0 && rename(part, output) != 0) {
            fprintf(stderr, "iocctl: export: cannot rename %s\n", part);
            rc = 1;
        }
        if (rc)
            remove(part);
    } else if (fflush(stdout) != 0) {
        rc = 1;
    }
out:
    memset(auth, 0, sizeof auth);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(s->h);
    free(s);
    return rc;
}

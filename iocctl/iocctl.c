/* iocctl: the command-line client; talks to a running iocd over its HTTP API only. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

static const char usage[] =
    "usage: iocctl [--url URL] [--token TOKEN] COMMAND\n"
    "\n"
    "Commands:\n"
    "  status    print iocd's health (GET /healthz); exit 0 if ok, 1 if degraded, 2 if unreachable\n"
    "\n"
    "Options:\n"
    "  --url URL       iocd's base URL (default $IOCD_URL or http://127.0.0.1:8080)\n"
    "  --token TOKEN   API token sent as a bearer token (default $IOCD_TOKEN)\n"
    "  --json          print the raw JSON answer\n";

typedef struct response {
    char *data;
    size_t len;
} response_t;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    response_t *r = ud;
    size_t n = size * nmemb;
    if (r->len + n > (64u << 20))
        return 0; /* refuse absurd answers */
    char *p = realloc(r->data, r->len + n + 1);
    if (!p)
        return 0;
    memcpy(p + r->len, ptr, n);
    r->data = p;
    r->len += n;
    r->data[r->len] = '\0';
    return n;
}

/* GETs base+path; returns the HTTP status (or -1 when unreachable, with the reason printed). */
static long http_get(const char *base, const char *path, const char *token, response_t *out)
{
    char url[2048], auth[1024];
    snprintf(url, sizeof url, "%s%s", base, path);
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    if (!c)
        return -1;
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    long status = -1;
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else
        fprintf(stderr, "iocctl: %s: %s\n", url, curl_easy_strerror(rc));
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return status;
}

static int cmd_status(const char *base, const char *token, int raw)
{
    response_t r = {0};
    long status = http_get(base, "/healthz", token, &r);
    if (status < 0)
        return 2;
    cJSON *o = r.data ? cJSON_Parse(r.data) : NULL;
    int rc = 2;
    if (!o) {
        fprintf(stderr, "iocctl: %s/healthz answered %ld without JSON\n", base, status);
        goto out;
    }
    if (raw) {
        puts(r.data);
    } else {
        for (cJSON *it = o->child; it; it = it->next) {
            if (cJSON_IsString(it))
                printf("%-18s %s\n", it->string, it->valuestring);
            else if (cJSON_IsNumber(it))
                printf("%-18s %.0f\n", it->string, it->valuedouble);
        }
    }
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "status");
    rc = cJSON_IsString(st) && strcmp(st->valuestring, "ok") == 0 ? 0 : 1;
out:
    cJSON_Delete(o);
    free(r.data);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"url", required_argument, NULL, 'u'},
                                         {"token", required_argument, NULL, 't'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *url = getenv("IOCD_URL"), *token = getenv("IOCD_TOKEN");
    int raw = 0, o;
    while ((o = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (o) {
        case 'u': url = optarg; break;
        case 't': token = optarg; break;
        case 'j': raw = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 64;
        }
    }
    if (!url)
        url = "http://127.0.0.1:8080";
    if (optind >= argc) {
        fputs(usage, stderr);
        return 64;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc;
    if (strcmp(argv[optind], "status") == 0) {
        rc = cmd_status(url, token, raw);
    } else {
        fprintf(stderr, "iocctl: unknown command \"%s\"\n%s", argv[optind], usage);
        rc = 64;
    }
    curl_global_cleanup();
    return rc;
}

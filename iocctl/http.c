/* iocctl's HTTP client: one blocking libcurl request per call (fine in a CLI), JSON in and out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <curl/curl.h>

#include "iocctl.h"

#define MAX_ANSWER (64u << 20)

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    response_t *r = ud;
    size_t n = size * nmemb;
    if (r->len + n > MAX_ANSWER)
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

long iocctl_http(const iocctl_t *c, const char *method, const char *path, const char *body,
                 response_t *out)
{
    char url[2048], auth[1024] = "";
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    long status = -1;

    if (!h)
        return -1;
    snprintf(url, sizeof url, "%s%s", c->url, path);
    if (c->token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    if (body) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    else
        fprintf(stderr, "iocctl: %s: %s\n", url, curl_easy_strerror(rc));
    memset(auth, 0, sizeof auth);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return status;
}

cJSON *iocctl_call(const iocctl_t *c, const char *method, const char *path, const cJSON *body,
                   long want)
{
    response_t r = {0};
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    long status = iocctl_http(c, method, path, text, &r);
    cJSON *o = NULL;

    if (text) {
        memset(text, 0, strlen(text)); /* may hold a password */
        cJSON_free(text);
    }
    if (status < 0)
        goto out;
    o = r.len ? cJSON_Parse(r.data) : cJSON_CreateObject();
    if (status != want) {
        const char *err = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "error"));
        const char *field = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "field"));
        fprintf(stderr, "iocctl: %s %s: HTTP %ld", method, path, status);
        if (err)
            fprintf(stderr, ": %s", err);
        if (field)
            fprintf(stderr, " (field \"%s\")", field);
        fputc('\n', stderr);
        cJSON_Delete(o);
        o = NULL;
    } else if (!o) {
        fprintf(stderr, "iocctl: %s %s: the answer is not JSON\n", method, path);
    }
out:
    free(r.data);
    return o;
}

int iocctl_read_password(const char *prompt, char *buf, size_t size)
{
    const char *env = getenv("IOCD_PASSWORD");
    struct termios old, quiet;
    int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;

    if (env) {
        snprintf(buf, size, "%s", env);
        return 0;
    }
    if (tty) {
        fputs(prompt, stderr);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    char *got = fgets(buf, (int)size, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (!got)
        return -1;
    buf[strcspn(buf, "\r\n")] = '\0';
    return buf[0] ? 0 : -1;
}

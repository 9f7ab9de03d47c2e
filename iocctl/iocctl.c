/* iocctl: the command-line client; talks to a running iocd over its HTTP API only. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "export.h"
#include "iocctl.h"

static const char usage[] =
    "usage: iocctl [--url URL] [--token TOKEN] COMMAND\n"
    "\n"
    "Commands:\n"
    "  status    print iocd's health (GET /healthz); exit 0 if ok, 1 if degraded, 2 if unreachable\n"
    "  user add NAME --role ROLE | passwd NAME | disable NAME | enable NAME | list\n"
    "            people (admin token; passwords from $IOCD_PASSWORD or stdin)\n"
    "  token create NAME --role ROLE | revoke NAME | list\n"
    "            runtime API tokens (admin token; a new token is printed once)\n"
    "  rule export [FILE] | import [--skip-existing] FILE\n"
    "            API-managed alert rules as a JSON array (export: viewer token; config-file rules\n"
    "            are left out); import creates each rule, updates an existing id, stops at the\n"
    "            first refused rule (operator token)\n"
    "  export --from TIME --to TIME [--indicators ...] [--step ...] [--format ...] [--output F]\n"
    "            a report (analyst token); `iocctl export --help` for every option\n"
    "\n"
    "Options:\n"
    "  --url URL       iocd's base URL (default $IOCD_URL or http://127.0.0.1:8080)\n"
    "  --token TOKEN   API token sent as a bearer token (default $IOCD_TOKEN)\n"
    "  --json          print the raw JSON answer\n";

static int cmd_status(const char *base, const char *token, int raw)
{
    response_t r = {0};
    iocctl_t c = {.url = base, .token = token, .raw = raw};
    long status = iocctl_http(&c, "GET", "/healthz", NULL, &r);
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
    iocctl_t c = {.url = url, .token = token, .raw = raw};
    if (strcmp(argv[optind], "status") == 0) {
        rc = cmd_status(url, token, raw);
    } else if (strcmp(argv[optind], "user") == 0) {
        rc = iocctl_user(&c, argc - optind, argv + optind);
    } else if (strcmp(argv[optind], "token") == 0) {
        rc = iocctl_token(&c, argc - optind, argv + optind);
    } else if (strcmp(argv[optind], "rule") == 0) {
        rc = iocctl_rule(&c, argc - optind, argv + optind);
    } else if (strcmp(argv[optind], "export") == 0) {
        rc = iocctl_export(&c, argc - optind, argv + optind);
    } else {
        fprintf(stderr, "iocctl: unknown command \"%s\"\n%s", argv[optind], usage);
        rc = 64;
    }
    curl_global_cleanup();
    return rc;
}

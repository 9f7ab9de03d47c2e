/* `iocctl token create|revoke|list`: runtime API tokens, over /api/v1/tokens (admin token). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "iocctl.h"

static int usage(void)
{
    fputs("usage: iocctl token create NAME --role ROLE   (prints the token, once)\n"
          "       iocctl token revoke NAME\n"
          "       iocctl token list\n",
          stderr);
    return 64;
}

static int list(const iocctl_t *c)
{
    cJSON *arr = iocctl_call(c, "GET", "/api/v1/tokens", NULL, 200), *it;
    if (!arr)
        return 1;
    if (c->raw) {
        char *s = cJSON_Print(arr);
        puts(s);
        cJSON_free(s);
    } else {
        printf("%-24s %-9s %-7s %s\n", "NAME", "ROLE", "SOURCE", "CREATED BY");
        cJSON_ArrayForEach(it, arr) {
            const char *by = cJSON_GetStringValue(cJSON_GetObjectItem(it, "created_by"));
            printf("%-24s %-9s %-7s %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(it, "name")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(it, "role")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(it, "source")), by ? by : "-");
        }
    }
    cJSON_Delete(arr);
    return 0;
}

int iocctl_token(const iocctl_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"role", required_argument, NULL, 'r'},
                                         {NULL, 0, NULL, 0}};
    const char *role = NULL, *sub;
    char path[256];
    int o, rc = 1;
    cJSON *body, *ans;

    optind = 0; /* GNU getopt: start over (main stopped at the command) */
    while ((o = getopt_long(argc, argv, "r:", opts, NULL)) != -1) {
        if (o != 'r')
            return usage();
        role = optarg;
    }
    if (optind >= argc)
        return usage();
    sub = argv[optind];
    if (!strcmp(sub, "list"))
        return optind + 1 == argc ? list(c) : usage();
    if (optind + 2 != argc)
        return usage();
    if (!strcmp(sub, "create") && role) {
        if (!(body = cJSON_CreateObject()))
            return 1;
        cJSON_AddStringToObject(body, "name", argv[optind + 1]);
        cJSON_AddStringToObject(body, "role", role);
        ans = iocctl_call(c, "POST", "/api/v1/tokens", body, 201);
        cJSON_Delete(body);
        if (ans) {
            /* The token alone on stdout (for scripts); the note on stderr. */
            const char *tok = cJSON_GetStringValue(cJSON_GetObjectItem(ans, "token"));
            puts(tok ? tok : "");
            fprintf(stderr, "token \"%s\" (%s) created: it is shown only now\n", argv[optind + 1],
                    role);
            rc = 0;
        }
        cJSON_Delete(ans);
        return rc;
    }
    if (!strcmp(sub, "revoke")) {
        snprintf(path, sizeof path, "/api/v1/tokens/%s", argv[optind + 1]);
        ans = iocctl_call(c, "DELETE", path, NULL, 204);
        if (ans)
            printf("revoked %s\n", argv[optind + 1]);
        rc = ans ? 0 : 1;
        cJSON_Delete(ans);
        return rc;
    }
    return usage();
}

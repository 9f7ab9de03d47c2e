/* `iocctl user add|passwd|disable|enable|list`: people, over /api/v1/users (admin token). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "iocctl.h"

#define MAX_PASSWORD 1024

static int usage(void)
{
    fputs("usage: iocctl user add NAME --role ROLE   (password from $IOCD_PASSWORD or stdin)\n"
          "       iocctl user passwd NAME              (new password likewise)\n"
          "       iocctl user disable|enable NAME\n"
          "       iocctl user list\n",
          stderr);
    return 64;
}

/* Sends PUT /api/v1/users/NAME with body; returns the exit code. */
static int change(const iocctl_t *c, const char *name, cJSON *body, const char *done)
{
    char path[256];
    snprintf(path, sizeof path, "/api/v1/users/%s", name);
    cJSON *o = iocctl_call(c, "PUT", path, body, 200);
    cJSON_Delete(o);
    if (o)
        printf("%s %s\n", done, name);
    return o ? 0 : 1;
}

/* Adds body's "password" read from the environment or stdin; returns 0 or prints why not. */
static int add_password(cJSON *body, const char *prompt)
{
    char pw[MAX_PASSWORD + 2];
    if (iocctl_read_password(prompt, pw, sizeof pw)) {
        fputs("iocctl: no password (set IOCD_PASSWORD or give it on stdin)\n", stderr);
        return -1;
    }
    cJSON_AddStringToObject(body, "password", pw);
    memset(pw, 0, sizeof pw);
    return 0;
}

static int list(const iocctl_t *c)
{
    cJSON *arr = iocctl_call(c, "GET", "/api/v1/users", NULL, 200), *it;
    if (!arr)
        return 1;
    if (c->raw) {
        char *s = cJSON_Print(arr);
        puts(s);
        cJSON_free(s);
    } else {
        printf("%-24s %-9s %-9s %s\n", "NAME", "ROLE", "STATE", "SESSIONS");
        cJSON_ArrayForEach(it, arr)
            printf("%-24s %-9s %-9s %d\n",
                   cJSON_GetStringValue(cJSON_GetObjectItem(it, "name")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(it, "role")),
                   cJSON_IsTrue(cJSON_GetObjectItem(it, "disabled")) ? "disabled" : "active",
                   (int)cJSON_GetNumberValue(cJSON_GetObjectItem(it, "sessions")));
    }
    cJSON_Delete(arr);
    return 0;
}

int iocctl_user(const iocctl_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"role", required_argument, NULL, 'r'},
                                         {NULL, 0, NULL, 0}};
    const char *role = NULL, *sub, *name;
    int o, rc = 1;
    cJSON *body;

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
    name = argv[optind + 1];
    if (!(body = cJSON_CreateObject()))
        return 1;
    if (!strcmp(sub, "add")) {
        if (!role) {
            cJSON_Delete(body);
            return usage();
        }
        cJSON_AddStringToObject(body, "name", name);
        cJSON_AddStringToObject(body, "role", role);
        if (add_password(body, "password: ") == 0) {
            cJSON *u = iocctl_call(c, "POST", "/api/v1/users", body, 201);
            if (u)
                printf("added %s (%s)\n", name, role);
            rc = u ? 0 : 1;
            cJSON_Delete(u);
        }
    } else if (!strcmp(sub, "passwd")) {
        if (add_password(body, "new password: ") == 0)
            rc = change(c, name, body, "password changed for");
    } else if (!strcmp(sub, "disable") || !strcmp(sub, "enable")) {
        cJSON_AddBoolToObject(body, "disabled", !strcmp(sub, "disable"));
        rc = change(c, name, body, !strcmp(sub, "disable") ? "disabled" : "enabled");
    } else {
        rc = usage();
    }
    cJSON_Delete(body);
    return rc;
}

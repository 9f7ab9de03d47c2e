/* `iocctl rule export|import`: API-managed alert rules to and from a JSON file. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iocctl.h"

#define RULES_PATH "/api/v1/alert-rules"
#define MAX_FILE (16L << 20)

static int usage(void)
{
    fputs("usage: iocctl rule export [FILE]                   (stdout without FILE)\n"
          "       iocctl rule import [--skip-existing] FILE   (an existing id is updated, or\n"
          "                                                    skipped with --skip-existing)\n"
          "  Rules from iocd's configuration file are read-only and never exported.\n"
          "  export needs a viewer token or better; import an operator or admin token.\n",
          stderr);
    return 64;
}

/* Sends one request; returns the HTTP status (-1 unreachable, reason printed) and sets *out to
 * the parsed answer (caller deletes; NULL when the body is empty or not JSON). */
static long request(const iocctl_t *c, const char *method, const char *path, const cJSON *body,
                 cJSON **out)
{
    response_t r = {0};
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    long status = body && !text ? -1 : iocctl_http(c, method, path, text, &r);
    if (body && !text)
        fputs("iocctl: out of memory\n", stderr);
    *out = r.len ? cJSON_Parse(r.data) : NULL;
    cJSON_free(text);
    free(r.data);
    return status;
}

/* Prints "HTTP status: iocd's error (field "f")" and a hint for 401/403, ending the line. */
static void print_refusal(long status, const cJSON *ans, const char *need)
{
    const char *err = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ans, "error"));
    const char *field = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ans, "field"));
    fprintf(stderr, "HTTP %ld", status);
    if (err)
        fprintf(stderr, ": %s", err);
    if (field)
        fprintf(stderr, " (field \"%s\")", field);
    if (status == 401)
        fputs(" (give a token with --token or IOCD_TOKEN)", stderr);
    else if (status == 403)
        fprintf(stderr, " (this needs %s token)", need);
    fputc('\n', stderr);
}

/* GET /api/v1/alert-rules; returns the array (caller deletes) or NULL, the reason printed. */
static cJSON *get_rules(const iocctl_t *c, const char *need)
{
    cJSON *ans = NULL;
    long status = request(c, "GET", RULES_PATH, NULL, &ans);
    if (status == 200 && cJSON_IsArray(ans))
        return ans;
    if (status >= 0) {
        fputs("iocctl: GET " RULES_PATH ": ", stderr);
        if (status == 200)
            fputs("the answer is not a JSON array\n", stderr);
        else
            print_refusal(status, ans, need);
    }
    cJSON_Delete(ans);
    return NULL;
}

static bool from_config(const cJSON *rule)
{
    const char *src = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rule, "source"));
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rule, "readonly")) ||
           (src && strcmp(src, "config") == 0);
}

static int rule_export(const iocctl_t *c, const char *file)
{
    cJSON *all = get_rules(c, "a viewer or better"), *out = cJSON_CreateArray(), *it;
    char *text = NULL;
    FILE *f;
    int rc = 1, nconfig = 0, n = 0;

    if (!all || !out)
        goto out;
    cJSON_ArrayForEach(it, all) {
        cJSON *copy;
        if (from_config(it)) {
            nconfig++;
            continue;
        }
        if (!(copy = cJSON_Duplicate(it, 1)))
            goto out;
        cJSON_DeleteItemFromObjectCaseSensitive(copy, "source");   /* the server's, not the rule's */
        cJSON_DeleteItemFromObjectCaseSensitive(copy, "readonly");
        cJSON_AddItemToArray(out, copy);
        n++;
    }
    if (!(text = cJSON_Print(out)))
        goto out;
    f = file ? fopen(file, "w") : stdout;
    if (!f) {
        perror(file);
        goto out;
    }
    bool bad = fputs(text, f) < 0 || fputc('\n', f) == EOF;
    bad = (file ? fclose(f) : fflush(f)) != 0 || bad;
    f = NULL;
    if (bad) {
        perror(file ? file : "stdout");
        goto out;
    }
    fprintf(stderr, "iocctl: exported %d rule(s)", n);
    if (nconfig)
        fprintf(stderr, "; left out %d rule(s) from iocd's configuration file (read-only)",
                nconfig);
    fputc('\n', stderr);
    rc = 0;
out:
    cJSON_free(text);
    cJSON_Delete(out);
    cJSON_Delete(all);
    return rc;
}

/* Reads FILE as a JSON array of objects; returns it (caller deletes) or NULL, saying where it
 * fails (line and column, or the rule's index). */
static cJSON *read_file(const char *file)
{
    FILE *f = fopen(file, "rb");
    char *buf = NULL;
    const char *end = NULL;
    cJSON *arr = NULL, *it;
    long len;
    int i = 0;

    if (!f) {
        perror(file);
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
        perror(file);
        goto out;
    }
    if (len > MAX_FILE) {
        fprintf(stderr, "iocctl: %s: larger than %ld bytes\n", file, MAX_FILE);
        goto out;
    }
    if (!(buf = malloc((size_t)len + 1)) || fread(buf, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "iocctl: %s: cannot read it\n", file);
        goto out;
    }
    buf[len] = '\0';
    if (!(arr = cJSON_ParseWithOpts(buf, &end, true))) {
        int line = 1, col = 1;
        const char *at = cJSON_GetErrorPtr();
        for (const char *p = buf; at && p < at && *p; p++, col++)
            if (*p == '\n') {
                line++;
                col = 0;
            }
        fprintf(stderr, "iocctl: %s:%d:%d: invalid JSON\n", file, line, col);
        goto out;
    }
    if (!cJSON_IsArray(arr)) {
        fprintf(stderr, "iocctl: %s: expected a JSON array of rules (as `iocctl rule export` "
                        "writes)\n", file);
        goto fail;
    }
    cJSON_ArrayForEach(it, arr) {
        i++;
        if (!cJSON_IsObject(it)) {
            fprintf(stderr, "iocctl: %s: rule %d: expected a JSON object\n", file, i);
            goto fail;
        }
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        if (id && !cJSON_IsString(id)) {
            fprintf(stderr, "iocctl: %s: rule %d: field \"id\": expected a string\n", file, i);
            goto fail;
        }
    }
    goto out;
fail:
    cJSON_Delete(arr);
    arr = NULL;
out:
    free(buf);
    fclose(f);
    return arr;
}

/* The ids iocd has now, as an object id -> true (caller deletes), or NULL (reason printed). */
static cJSON *existing_ids(const iocctl_t *c)
{
    cJSON *all = get_rules(c, "an operator or admin"), *ids = NULL, *it;
    if (!all || !(ids = cJSON_CreateObject()))
        goto out;
    cJSON_ArrayForEach(it, all) {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "id"));
        if (id && !cJSON_GetObjectItemCaseSensitive(ids, id))
            cJSON_AddTrueToObject(ids, id);
    }
out:
    cJSON_Delete(all);
    return ids;
}

static int rule_import(const iocctl_t *c, const char *file, bool skip_existing)
{
    cJSON *rules = read_file(file), *ids = NULL, *it;
    int rc = 1, i = 0, created = 0, updated = 0, skipped = 0;
    char path[256];

    if (!rules || !(ids = existing_ids(c)))
        goto out;
    cJSON_ArrayForEach(it, rules) {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "id"));
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "name"));
        bool exists = id && cJSON_GetObjectItemCaseSensitive(ids, id);
        cJSON *ans = NULL;
        long status, want = exists ? 200 : 201;
        i++;
        if (exists && skip_existing) {
            skipped++;
            continue;
        }
        if (exists && strlen(id) > sizeof path - sizeof RULES_PATH - 1) {
            fprintf(stderr, "iocctl: %s: rule %d: field \"id\": too long\n", file, i);
            goto out;
        }
        snprintf(path, sizeof path, RULES_PATH "%s%s", exists ? "/" : "", exists ? id : "");
        status = request(c, exists ? "PUT" : "POST", path, it, &ans);
        if (status != want) {
            if (status >= 0) {
                fprintf(stderr, "iocctl: %s: rule %d (id \"%s\", name \"%s\"): %s refused it: ",
                        file, i, id ? id : "(none)", name ? name : "", exists ? "PUT" : "POST");
                print_refusal(status, ans, "an operator or admin");
            }
            cJSON_Delete(ans);
            goto out;
        }
        id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ans, "id"));
        if (id && !exists)
            cJSON_AddTrueToObject(ids, id);
        cJSON_Delete(ans);
        if (exists)
            updated++;
        else
            created++;
    }
    rc = 0;
out:
    if (rules && ids)
        fprintf(rc ? stderr : stdout, "%screated %d, updated %d, skipped %d\n",
                rc ? "iocctl: stopped there; before it: " : "", created, updated, skipped);
    cJSON_Delete(ids);
    cJSON_Delete(rules);
    return rc;
}

int iocctl_rule(const iocctl_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"skip-existing", no_argument, NULL, 's'},
                                         {NULL, 0, NULL, 0}};
    bool skip = false;
    int o;

    optind = 0; /* GNU getopt: start over (main stopped at the command) */
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o != 's')
            return usage();
        skip = true;
    }
    if (optind >= argc)
        return usage();
    if (!strcmp(argv[optind], "export") && !skip && argc - optind <= 2)
        return rule_export(c, argc - optind == 2 && strcmp(argv[optind + 1], "-") ? argv[optind + 1]
                                                                                   : NULL);
    if (!strcmp(argv[optind], "import") && argc - optind == 2)
        return rule_import(c, argv[optind + 1], skip);
    return usage();
}

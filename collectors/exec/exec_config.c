/* Validation of an exec instance's configuration (its entry in `collectors`). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec.h"
#include "ingest/lineproto.h"
#include "../common/plugin_config.h"

#define DEFAULT_INTERVAL_MS 10000ULL
#define HOST_TIMEOUT_CAP_MS 60000ULL
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const host_keys[] = {"plugin", "name", "interval", "timeout", "enabled"};
static const char *const own_keys[] = {"command", "shell", "env", "cwd", "precision",
                                       "max_output"};
/* What the child inherits from iocd's environment (the rest, e.g. IOCD_DATABASE_DSN, stays). */
static const char *const inherited[] = {"PATH", "HOME", "LANG", "LC_ALL", "TZ"};



/* A size: a JSON number of bytes or "8MiB", "500KB", ... Returns 0 or -1. */
static int parse_size(const cJSON *it, uint64_t *bytes)
{
    static const struct { const char *unit; uint64_t mul; } units[] = {
        {"", 1}, {"B", 1}, {"KB", 1000}, {"MB", 1000000}, {"KiB", 1024}, {"MiB", 1048576}};
    char *end;
    if (cJSON_IsNumber(it)) {
        if (!(it->valuedouble >= 0 && it->valuedouble <= EXEC_MAX_MAX_OUTPUT) ||
            it->valuedouble != floor(it->valuedouble))
            return -1;
        *bytes = (uint64_t)it->valuedouble;
        return 0;
    }
    if (!cJSON_IsString(it) || it->valuestring[0] < '0' || it->valuestring[0] > '9')
        return -1;
    unsigned long long v = strtoull(it->valuestring, &end, 10);
    for (size_t i = 0; i < NELEM(units); i++) {
        if (strcmp(end, units[i].unit) == 0 && v <= UINT64_MAX / units[i].mul) {
            *bytes = v * units[i].mul;
            return 0;
        }
    }
    return -1;
}

/* SIGTERM at 80% and SIGKILL at 90% of the host's collect timeout, so the run ends (and says
 * why) before the host gives up on it. The host's default timeout is the interval, at most
 * 60 s. */
static int kill_times(const cJSON *obj, exec_config_t *cfg, char *err, size_t errlen)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "timeout");
    const cJSON *iv = cJSON_GetObjectItemCaseSensitive(obj, "interval");
    uint64_t host_ms = DEFAULT_INTERVAL_MS;
    if (cJSON_IsString(iv) && plugin_parse_duration(iv->valuestring, &host_ms) != 0)
        host_ms = DEFAULT_INTERVAL_MS;
    if (host_ms > HOST_TIMEOUT_CAP_MS)
        host_ms = HOST_TIMEOUT_CAP_MS;
    if (t && (!cJSON_IsString(t) || plugin_parse_duration(t->valuestring, &host_ms) != 0 ||
              host_ms == 0)) {
        snprintf(err, errlen, "timeout: must be a duration such as \"10s\"");
        return IOC_EINVAL;
    }
    cfg->term_ms = host_ms - host_ms / 5;
    cfg->kill_ms = host_ms - host_ms / 10;
    if (cfg->kill_ms <= cfg->term_ms)
        cfg->kill_ms = cfg->term_ms + 1;
    return IOC_OK;
}

/* A non-empty JSON string. */
static bool plain_string(const cJSON *it)
{
    return cJSON_IsString(it) && it->valuestring[0];
}

static int parse_command(const cJSON *obj, exec_config_t *cfg, char *err, size_t errlen)
{
    const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(obj, "command");
    const cJSON *shell = cJSON_GetObjectItemCaseSensitive(obj, "shell");
    size_t n = 0;
    if (shell && !cJSON_IsBool(shell)) {
        snprintf(err, errlen, "shell: must be true or false");
        return IOC_EINVAL;
    }
    if (!cmd) {
        snprintf(err, errlen, "command: required (an array: program and arguments)");
        return IOC_EINVAL;
    }
    if (cJSON_IsTrue(shell)) {
        if (!plain_string(cmd)) {
            snprintf(err, errlen, "command: with \"shell\": true, must be a non-empty string "
                     "for /bin/sh -c");
            return IOC_EINVAL;
        }
        const char *argv[] = {"/bin/sh", "-c", cmd->valuestring};
        cfg->argv = calloc(4, sizeof *cfg->argv);
        if (!cfg->argv)
            return IOC_ENOMEM;
        for (; n < 3; n++)
            if (!(cfg->argv[n] = strdup(argv[n])))
                return IOC_ENOMEM;
        cfg->display = strdup("sh -c");
        return cfg->display ? IOC_OK : IOC_ENOMEM;
    }
    int count = cJSON_GetArraySize(cmd);
    if (!cJSON_IsArray(cmd) || count < 1 || count > EXEC_MAX_ARGS) {
        snprintf(err, errlen, "command: must be an array of 1 to %d strings (program and "
                 "arguments; no shell runs unless \"shell\": true)", EXEC_MAX_ARGS);
        return IOC_EINVAL;
    }
    cfg->argv = calloc((size_t)count + 1, sizeof *cfg->argv);
    if (!cfg->argv)
        return IOC_ENOMEM;
    for (const cJSON *a = cmd->child; a; a = a->next, n++) {
        if (!cJSON_IsString(a) || (n == 0 && !a->valuestring[0])) {
            snprintf(err, errlen, "command[%zu]: must be a %sstring", n, n ? "" : "non-empty ");
            return IOC_EINVAL;
        }
        if (!(cfg->argv[n] = strdup(a->valuestring)))
            return IOC_ENOMEM;
    }
    cfg->display = strdup(cfg->argv[0]);
    return cfg->display ? IOC_OK : IOC_ENOMEM;
}

/* True if path names an executable regular file. */
static bool executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* Looks the program up as execvp will: a name with '/' as is, else in the child's PATH. */
static int check_program(const exec_config_t *cfg, const char *path, char *err, size_t errlen)
{
    const char *prog = cfg->argv[0];
    char full[4096];
    if (strchr(prog, '/')) {
        if (executable(prog))
            return IOC_OK;
        snprintf(err, errlen, "command[0]: \"%.200s\" is not an executable file", prog);
        return IOC_EINVAL;
    }
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, ":");
        snprintf(full, sizeof full, "%.*s/%s", (int)n, p, prog);
        if (n && executable(full))
            return IOC_OK;
        p += n + (p[n] == ':');
    }
    snprintf(err, errlen, "command[0]: \"%.200s\" is not found in PATH (%.200s)", prog, path);
    return IOC_EINVAL;
}

static int add_env(exec_config_t *cfg, size_t *n, const char *name, const char *value)
{
    for (size_t i = 0; i < *n; i++) {
        size_t k = strlen(name);
        if (strncmp(cfg->env[i], name, k) == 0 && cfg->env[i][k] == '=') {
            free(cfg->env[i]);
            cfg->env[i] = cfg->env[--*n];
            cfg->env[*n] = NULL;
            break;
        }
    }
    if (asprintf(&cfg->env[*n], "%s=%s", name, value) < 0) {
        cfg->env[*n] = NULL;
        return IOC_ENOMEM;
    }
    (*n)++;
    return IOC_OK;
}

/* The child's environment: PATH, HOME, LANG, LC_ALL and TZ from iocd, then `env`. */
static int parse_env(const cJSON *obj, exec_config_t *cfg, char *err, size_t errlen)
{
    const cJSON *env = cJSON_GetObjectItemCaseSensitive(obj, "env");
    size_t n = 0;
    int rc;
    if (env && (!cJSON_IsObject(env) || cJSON_GetArraySize(env) > EXEC_MAX_ENV)) {
        snprintf(err, errlen, "env: must be an object of at most %d NAME: \"value\" pairs",
                 EXEC_MAX_ENV);
        return IOC_EINVAL;
    }
    cfg->env = calloc(NELEM(inherited) + EXEC_MAX_ENV + 2, sizeof *cfg->env);
    if (!cfg->env)
        return IOC_ENOMEM;
    for (size_t i = 0; i < NELEM(inherited); i++) {
        const char *v = getenv(inherited[i]);
        if (!v && strcmp(inherited[i], "PATH") == 0)
            v = DEFAULT_PATH;
        if (v && (rc = add_env(cfg, &n, inherited[i], v)) != IOC_OK)
            return rc;
    }
    for (const cJSON *e = env ? env->child : NULL; e; e = e->next) {
        const char *k = e->string;
        size_t klen = strlen(k);
        if (!klen || strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_0123456789")
                         != klen || (k[0] >= '0' && k[0] <= '9')) {
            snprintf(err, errlen, "env.%.64s: not a variable name (letters, digits, _)", k);
            return IOC_EINVAL;
        }
        if (!cJSON_IsString(e)) {
            snprintf(err, errlen, "env.%.64s: must be a string", k);
            return IOC_EINVAL;
        }
        if ((rc = add_env(cfg, &n, k, e->valuestring)) != IOC_OK)
            return rc;
    }
    return IOC_OK;
}

static int parse_rest(const cJSON *obj, exec_config_t *cfg, char *err, size_t errlen)
{
    const cJSON *it;
    uint64_t size;
    cfg->precision = LP_NS;
    cfg->max_output = EXEC_DEFAULT_MAX_OUTPUT;
    if ((it = cJSON_GetObjectItemCaseSensitive(obj, "precision")) &&
        (!cJSON_IsString(it) || (cfg->precision = lp_precision_parse(it->valuestring)) < 0)) {
        snprintf(err, errlen, "precision: must be \"ns\", \"us\", \"ms\" or \"s\"");
        return IOC_EINVAL;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(obj, "max_output"))) {
        if (parse_size(it, &size) != 0 || size < EXEC_MIN_MAX_OUTPUT ||
            size > EXEC_MAX_MAX_OUTPUT) {
            snprintf(err, errlen, "max_output: must be a size from 1KiB to 64MiB, e.g. \"1MiB\"");
            return IOC_EINVAL;
        }
        cfg->max_output = (size_t)size;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(obj, "cwd"))) {
        struct stat st;
        if (!plain_string(it) || stat(it->valuestring, &st) != 0 || !S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "cwd: must name an existing directory");
            return IOC_EINVAL;
        }
        if (!(cfg->cwd = strdup(it->valuestring)))
            return IOC_ENOMEM;
    }
    return IOC_OK;
}

int exec_config_parse(const cJSON *obj, exec_config_t *out, char *err, size_t errlen)
{
    int rc;
    memset(out, 0, sizeof *out);
    for (const cJSON *it = obj->child; it; it = it->next) {
        if (!plugin_in_list(it->string, host_keys, NELEM(host_keys)) &&
            !plugin_in_list(it->string, own_keys, NELEM(own_keys))) {
            snprintf(err, errlen, "unknown key \"%.64s\" (known: command, shell, env, cwd, "
                     "precision, max_output)", it->string);
            return IOC_EINVAL;
        }
    }
    if ((rc = parse_command(obj, out, err, errlen)) != IOC_OK ||
        (rc = parse_env(obj, out, err, errlen)) != IOC_OK ||
        (rc = parse_rest(obj, out, err, errlen)) != IOC_OK ||
        (rc = kill_times(obj, out, err, errlen)) != IOC_OK)
        goto fail;
    const char *path = DEFAULT_PATH;
    for (size_t i = 0; out->env[i]; i++)
        if (strncmp(out->env[i], "PATH=", 5) == 0)
            path = out->env[i] + 5;
    if ((rc = check_program(out, path, err, errlen)) != IOC_OK)
        goto fail;
    return IOC_OK;
fail:
    if (rc == IOC_ENOMEM)
        snprintf(err, errlen, "out of memory");
    exec_config_free(out);
    return rc;
}

void exec_config_free(exec_config_t *cfg)
{
    for (size_t i = 0; cfg->argv && cfg->argv[i]; i++)
        free(cfg->argv[i]);
    for (size_t i = 0; cfg->env && cfg->env[i]; i++)
        free(cfg->env[i]);
    free(cfg->argv);
    free(cfg->env);
    free(cfg->cwd);
    free(cfg->display);
    memset(cfg, 0, sizeof *cfg);
}

/* Reading the config file: size bound, comments, JSON syntax errors, defaults and the env. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"
#include "ioc/error.h"

#define CONFIG_MAX_BYTES (4u << 20)

/* Replaces // and block comments outside strings with spaces (newlines kept, so positions hold).
 * Returns 0, or the offset + 1 of an unterminated block comment. */
static size_t strip_comments(char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (s[i] == '"') {
            for (i++; i < len && s[i] != '"'; i++)
                if (s[i] == '\\')
                    i++;
            i++;
        } else if (s[i] == '/' && i + 1 < len && s[i + 1] == '/') {
            while (i < len && s[i] != '\n')
                s[i++] = ' ';
        } else if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
            size_t start = i;
            s[i++] = ' ';
            s[i++] = ' ';
            while (i < len && !(s[i] == '*' && i + 1 < len && s[i + 1] == '/')) {
                if (s[i] != '\n')
                    s[i] = ' ';
                i++;
            }
            if (i >= len)
                return start + 1;
            s[i++] = ' ';
            s[i++] = ' ';
        } else {
            i++;
        }
    }
    return 0;
}

/* Writes "name:line:column: syntax error: what" for byte offset off. Returns IOC_EINVAL. */
static int syntax_error(const char *name, const char *text, size_t len, size_t off, char *err,
                        size_t errlen, const char *what)
{
    int line, col;
    cfg_linecol(text, len, off, &line, &col);
    snprintf(err, errlen, "%s:%d:%d: syntax error: %s", name, line, col, what);
    return IOC_EINVAL;
}

/* True if the quote at s[idx] opens a string (rather than closing one). */
static bool opens_string(const char *s, size_t idx)
{
    bool in = false;
    for (size_t i = 0; i < idx; i++) {
        if (in && s[i] == '\\')
            i++;
        else if (s[i] == '"')
            in = !in;
    }
    return !in;
}

/* Turns where cJSON stopped (*off, in the comment-free text) into a reason, moving *off to the
 * byte at fault: cJSON reports a failed string one byte past its start. */
static void describe(const char *s, size_t len, size_t *off, char *buf, size_t buflen)
{
    size_t at = *off, back;
    unsigned char ch;
    if (at > 0 && at - 1 < len && s[at - 1] == '"' && opens_string(s, at - 1)) {
        const char *q = s + at;
        while (q < s + len && *q != '"')
            q += *q == '\\' ? 2 : 1;
        *off = at - 1;
        snprintf(buf, buflen, q < s + len ? "bad escape in string" : "unterminated string");
        return;
    }
    back = at > 0 ? at - 1 : 0;
    while (back > 0 && strchr(" \t\r\n", s[back - 1]))
        back--;
    if (at > 0 && at - 1 < len && !strchr(" \t\r\n\"", s[at - 1]) && back > 0 &&
        (s[back - 1] == '{' || s[back - 1] == ','))
        at--; /* a key was expected at at - 1 */
    *off = at;
    if (at >= len) {
        snprintf(buf, buflen, "unexpected end of file");
        return;
    }
    ch = (unsigned char)s[at];
    back = at;
    while (back > 0 && strchr(" \t\r\n", s[back - 1]))
        back--;
    if ((ch == '}' || ch == ']') && back > 0 && s[back - 1] == ',')
        snprintf(buf, buflen, "trailing comma before '%c'", ch);
    else if (ch == '\\')
        snprintf(buf, buflen, "bad escape in string");
    else if (ch == '"' && back > 0 && !strchr("{[,:", s[back - 1]))
        snprintf(buf, buflen, "missing comma before '\"'");
    else if (ch >= 0x20 && ch < 0x7f)
        snprintf(buf, buflen, "unexpected '%c'", ch);
    else
        snprintf(buf, buflen, "unexpected byte 0x%02x", ch);
}

/* Fills the defaults that config.h documents. Returns 0 or IOC_ENOMEM. */
static int set_defaults(config_t *cfg, const char *name)
{
    cfg->path = strdup(name);
    cfg->state_dir = strdup("./state");
    cfg->http_host = strdup("127.0.0.1");
    cfg->log_level = strdup("info");
    cfg->http_port = 8080;
    cfg->batch_max_samples = 20000;
    cfg->batch_max_delay_ms = 200;
    cfg->queue_max_batches = 16;
    cfg->max_series = 1000000;
    cfg->spool_max_bytes = 1ULL << 30;
    cfg->retention_raw_ms = 90ULL * 24 * 3600 * 1000;
    cfg->session_ttl_ms = 12ULL * 3600 * 1000;
    if (!cfg->path || !cfg->state_dir || !cfg->http_host || !cfg->log_level)
        return IOC_ENOMEM;
    return 0;
}

/* Applies IOCD_DATABASE_DSN (when set and not empty). Returns 0 or IOC_ENOMEM. */
static int apply_env(config_t *cfg)
{
    const char *dsn = getenv("IOCD_DATABASE_DSN");
    char *copy;
    if (!dsn || !*dsn)
        return 0;
    copy = strdup(dsn);
    if (!copy)
        return IOC_ENOMEM;
    free(cfg->db_dsn);
    cfg->db_dsn = copy;
    return 0;
}

int config_parse(const char *name, const char *text, size_t len, config_t **out, char *err,
                 size_t errlen)
{
    config_t *cfg = NULL;
    char *clean = NULL;
    const char *end = NULL;
    const char *nul;
    char what[64];
    size_t bad;
    int rc;
    cfg_ctx_t ctx;

    *out = NULL;
    if (len > CONFIG_MAX_BYTES) {
        snprintf(err, errlen, "%s: file too large (over %u bytes)", name, CONFIG_MAX_BYTES);
        return IOC_ETOOBIG;
    }
    if ((nul = memchr(text, '\0', len)) != NULL) {
        rc = syntax_error(name, text, len, (size_t)(nul - text), err, errlen, "NUL byte");
        goto out;
    }
    cfg = calloc(1, sizeof *cfg);
    clean = malloc(len + 1);
    if (!cfg || !clean || (cfg->text = malloc(len + 1)) == NULL ||
        set_defaults(cfg, name) != 0) {
        rc = IOC_ENOMEM;
        snprintf(err, errlen, "%s: out of memory", name);
        goto out;
    }
    memcpy(cfg->text, text, len);
    cfg->text[len] = '\0';
    memcpy(clean, text, len);
    clean[len] = '\0';
    if (len >= 3 && memcmp(clean, "\xEF\xBB\xBF", 3) == 0)
        memset(clean, ' ', 3);
    if ((bad = strip_comments(clean, len)) != 0) {
        rc = syntax_error(name, text, len, bad - 1, err, errlen, "unterminated /* comment");
        goto out;
    }
    cfg->root = cJSON_ParseWithLengthOpts(clean, len + 1, &end, true);
    if (!cfg->root) {
        size_t off = end ? (size_t)(end - clean) : len;
        describe(clean, len, &off, what, sizeof what);
        rc = syntax_error(name, text, len, off, err, errlen, what);
        goto out;
    }
    ctx = (cfg_ctx_t){.name = name, .text = text, .len = len, .err = err, .errlen = errlen,
                      .cfg = cfg};
    rc = cfg_check_root(&ctx, cfg->root);
    if (rc == 0 && apply_env(cfg) != 0) {
        rc = IOC_ENOMEM;
        snprintf(err, errlen, "%s: out of memory", name);
    }
out:
    free(clean);
    if (rc != 0)
        config_free(cfg);
    else
        *out = cfg;
    return rc;
}

int config_load(const char *path, config_t **out, char *err, size_t errlen)
{
    FILE *f = NULL;
    char *buf = NULL;
    size_t len = 0, cap = 65536;
    int rc = 0;

    *out = NULL;
    f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        rc = errno == ENOENT ? IOC_ENOTFOUND : IOC_EIO;
        goto out;
    }
    for (;;) {
        if (len == cap || !buf) {
            char *grown;
            if (buf)
                cap *= 2;
            if (cap > CONFIG_MAX_BYTES + 1)
                cap = CONFIG_MAX_BYTES + 1;
            grown = realloc(buf, cap);
            if (!grown) {
                snprintf(err, errlen, "%s: out of memory", path);
                rc = IOC_ENOMEM;
                goto out;
            }
            buf = grown;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0 || len > CONFIG_MAX_BYTES)
            break;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        rc = IOC_EIO;
        goto out;
    }
    rc = config_parse(path, buf, len, out, err, errlen);
out:
    if (f)
        fclose(f);
    free(buf);
    return rc;
}

void config_free(config_t *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->ntokens; i++) {
        free(cfg->tokens[i].name);
        free(cfg->tokens[i].role);
    }
    free(cfg->tokens);
    for (size_t i = 0; i < cfg->ncollectors; i++) {
        free(cfg->collectors[i].plugin);
        free(cfg->collectors[i].name);
        cJSON_Delete(cfg->collectors[i].json);
    }
    free(cfg->collectors);
    free(cfg->path);
    free(cfg->state_dir);
    free(cfg->db_dsn);
    free(cfg->http_host);
    free(cfg->tls_cert);
    free(cfg->tls_key);
    free(cfg->dashboards_dir);
    free(cfg->frame_ancestors);
    free(cfg->plugin_dir);
    free(cfg->log_level);
    free(cfg->anonymous_role);
    cJSON_Delete(cfg->root);
    free(cfg->text);
    free(cfg);
}

/* iocctl's shared pieces: the HTTP client over libcurl and the command entry points. */
#ifndef IOCCTL_H
#define IOCCTL_H

#include <stddef.h>

#include <cjson/cJSON.h>

typedef struct iocctl {
    const char *url;    /* iocd's base URL */
    const char *token;  /* bearer token, or NULL */
    int raw;            /* --json: print raw answers */
} iocctl_t;

typedef struct response {
    char *data;         /* NUL-terminated body, owned (free), or NULL */
    size_t len;
} response_t;

/* Sends method path with an optional JSON body; returns the HTTP status, or -1 when iocd is
 * unreachable (the reason printed). out->data must be freed by the caller. */
long iocctl_http(const iocctl_t *c, const char *method, const char *path, const char *body,
                 response_t *out);
/* Sends a request with a JSON body (may be NULL) and checks the status is `want`; otherwise
 * prints the status and iocd's error message and returns NULL. Returns the parsed answer
 * (caller deletes; an empty body gives an empty object). */
cJSON *iocctl_call(const iocctl_t *c, const char *method, const char *path, const cJSON *body,
                   long want);
/* Reads a password: IOCD_PASSWORD, else one line of stdin (not echoed on a terminal). Returns
 * 0 or -1. */
int iocctl_read_password(const char *prompt, char *buf, size_t size);

/* `iocctl user add|passwd|disable|enable|list ...`; returns the exit code. */
int iocctl_user(const iocctl_t *c, int argc, char **argv);
/* `iocctl token create|revoke|list ...`; returns the exit code. */
int iocctl_token(const iocctl_t *c, int argc, char **argv);
/* `iocctl rule export [FILE] | import [--skip-existing] FILE`; returns the exit code (0, 1 on
 * a refusal or a bad file, the reason printed; 64 usage). */
int iocctl_rule(const iocctl_t *c, int argc, char **argv);

#endif

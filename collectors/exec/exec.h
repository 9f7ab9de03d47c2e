/* The exec collector's internal interfaces: config and one run of the command. */
#ifndef IOCD_EXEC_H
#define IOCD_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ioc/collector.h"

#define EXEC_MAX_ARGS 256
#define EXEC_MAX_ENV 64
#define EXEC_DEFAULT_MAX_OUTPUT (1u << 20)
#define EXEC_MIN_MAX_OUTPUT 1024u
#define EXEC_MAX_MAX_OUTPUT (64u << 20)
#define EXEC_STDERR_LINE 256 /* longer stderr lines are cut */

/* A checked instance configuration; everything owned (free with exec_config_free). */
typedef struct exec_config {
    char **argv;           /* NULL-terminated; with shell: {"/bin/sh", "-c", command, NULL} */
    char **env;            /* NULL-terminated "NAME=value" for the child */
    char *cwd;             /* NULL: iocd's working directory */
    char *display;         /* the command for logs: argv[0], or "sh -c" */
    int precision;         /* lp_precision_t of timestamps in the output */
    size_t max_output;     /* bytes of stdout per run; more kills the command */
    uint64_t term_ms;      /* SIGTERM this long after the start */
    uint64_t kill_ms;      /* SIGKILL this long after the start */
} exec_config_t;

/* Validates an instance's config entry (host keys plugin/name/interval/timeout/enabled are
 * skipped). Checks that a command without '/' is found in PATH and that one with '/' is an
 * executable file. Returns IOC_OK, or IOC_EINVAL / IOC_ENOMEM with a message naming the key in
 * err. On success *out owns everything: free it with exec_config_free. */
int exec_config_parse(const cJSON *obj, exec_config_t *out, char *err, size_t errlen);
/* Frees what exec_config_parse allocated (not cfg itself); safe on a zeroed struct. */
void exec_config_free(exec_config_t *cfg);

/* How a run ended. */
typedef struct exec_result {
    int status;          /* IOC_OK (exit 0), IOC_EIO (non-zero exit or a signal not ours),
                          * IOC_ETIMEDOUT (killed at the timeout), IOC_ETOOBIG (stdout over
                          * max_output: killed) */
    int64_t exit_status; /* the exit code, when it exited */
    int term_signal;     /* the signal that ended it, or 0 */
    const char *out;     /* stdout (not NUL-terminated; borrowed during the callback) */
    size_t len;
} exec_result_t;

typedef struct exec_run exec_run_t;

typedef struct exec_run_cbs {
    /* One line the command wrote to stderr (NUL-terminated, without the newline, at most
     * EXEC_STDERR_LINE bytes; borrowed). */
    void (*stderr_line)(void *ud, const char *line);
    /* The run ended; the run then closes its handles by itself. */
    void (*done)(void *ud, const exec_result_t *res);
    /* Every handle of the run is closed and its memory freed (after done, or after abort). */
    void (*released)(void *ud);
} exec_run_cbs_t;

/* Starts the command in its own process group, stdin from /dev/null, stdout and stderr piped.
 * Returns IOC_OK (callbacks follow: done once, then released once), or IOC_ENOTFOUND /
 * IOC_EPERM / IOC_EIO with the reason in err (then only released runs, later on the loop), or
 * IOC_ENOMEM (no callback runs). */
int exec_run_start(uv_loop_t *loop, const exec_config_t *cfg, const exec_run_cbs_t *cbs,
                   void *ud, exec_run_t **out, char *err, size_t errlen);
/* Kills the run's process group (SIGKILL) and closes it: `done` does not run, `released`
 * does once the child is reaped and the handles are closed (never from inside this call). */
void exec_run_abort(exec_run_t *r);

#endif

/* One run of the exec collector's command: uv_spawn, bounded stdout, stderr lines, kill at the
 * timeout (SIGTERM, then SIGKILL, to the whole process group). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"

#define READ_CHUNK (64u * 1024)
#define PIPE_GRACE_MS 500  /* after the exit, how long to wait for pipes a grandchild holds */
#define REAP_GRACE_MS 1000 /* after SIGKILL on abort, how long to wait for the exit */

typedef enum phase {
    PH_RUNNING,  /* started, no signal sent */
    PH_TERMED,   /* SIGTERM sent at the timeout */
    PH_KILLED,   /* SIGKILL sent */
    PH_REPORTED  /* done ran (or abort): closing */
} phase_t;

struct exec_run {
    uv_process_t proc;
    uv_pipe_t out, err;
    uv_timer_t timer;
    int open;              /* handles not yet closed */
    bool proc_closing, out_closed, err_closed;
    phase_t phase;
    bool exited, timed_out, overflow, aborting;
    int64_t exit_status;
    int term_signal;
    const exec_config_t *cfg;
    exec_run_cbs_t cbs;
    void *ud;
    char *buf;             /* stdout so far; grows up to cfg->max_output */
    size_t len, cap;
    char chunk[READ_CHUNK];
    char line[EXEC_STDERR_LINE + 1];
    size_t line_len;
    bool line_cut;         /* the current stderr line is over EXEC_STDERR_LINE: rest dropped */
};

static void on_timer(uv_timer_t *t);

static void on_handle_closed(uv_handle_t *h)
{
    exec_run_t *r = h->data;
    if (--r->open > 0)
        return;
    void (*released)(void *) = r->cbs.released;
    void *ud = r->ud;
    free(r->buf);
    free(r);
    released(ud);
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, on_handle_closed);
}

/* Sends sig to the child's process group (it leads its own: UV_PROCESS_DETACHED). */
static void signal_group(exec_run_t *r, int sig)
{
    if (kill(-r->proc.pid, sig) != 0)
        kill(r->proc.pid, sig);
}

/* Closes the pipes, the timer and, once it has exited, the process handle. */
static void close_all(exec_run_t *r)
{
    close_handle((uv_handle_t *)&r->out);
    close_handle((uv_handle_t *)&r->err);
    r->out_closed = r->err_closed = true;
    if (r->exited) {
        close_handle((uv_handle_t *)&r->timer);
        close_handle((uv_handle_t *)&r->proc);
    }
}

/* Reports the run once the child has exited and both pipes are at their end. */
static void maybe_report(exec_run_t *r)
{
    if (r->phase == PH_REPORTED || !r->exited || !r->out_closed || !r->err_closed)
        return;
    exec_result_t res = {.exit_status = r->exit_status, .term_signal = r->term_signal,
                         .out = r->buf ? r->buf : "", .len = r->len};
    if (r->overflow)
        res.status = IOC_ETOOBIG;
    else if (r->timed_out)
        res.status = IOC_ETIMEDOUT;
    else if (r->exit_status != 0 || r->term_signal != 0)
        res.status = IOC_EIO;
    else
        res.status = IOC_OK;
    r->phase = PH_REPORTED;
    close_all(r);
    r->cbs.done(r->ud, &res);
}

static void emit_line(exec_run_t *r)
{
    r->line[r->line_len] = '\0';
    if (r->line_len || r->line_cut)
        r->cbs.stderr_line(r->ud, r->line);
    r->line_len = 0;
    r->line_cut = false;
}

static void alloc_chunk(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    exec_run_t *r = h->data;
    (void)suggested;
    *buf = uv_buf_init(r->chunk, sizeof r->chunk);
}

/* Stops reading a pipe and closes it: its end is reached (or no longer wanted). */
static void end_pipe(exec_run_t *r, uv_pipe_t *p)
{
    if (p == &r->out) {
        if (r->out_closed)
            return;
        r->out_closed = true;
    } else {
        if (r->err_closed)
            return;
        r->err_closed = true;
    }
    uv_read_stop((uv_stream_t *)p);
    close_handle((uv_handle_t *)p);
    maybe_report(r);
}

/* Kills the command at once: its output is over the bound. */
static void overflow(exec_run_t *r)
{
    r->overflow = true;
    if (r->phase < PH_KILLED) {
        r->phase = PH_KILLED;
        signal_group(r, SIGKILL);
    }
    end_pipe(r, &r->out);
}

static void on_stdout(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    exec_run_t *r = s->data;
    if (n < 0) {
        end_pipe(r, &r->out);
        return;
    }
    if ((size_t)n > r->cfg->max_output - r->len) {
        overflow(r);
        return;
    }
    if (r->len + (size_t)n > r->cap) {
        size_t cap = r->cap ? r->cap : READ_CHUNK;
        while (cap < r->len + (size_t)n)
            cap *= 2;
        if (cap > r->cfg->max_output)
            cap = r->cfg->max_output;
        char *p = realloc(r->buf, cap);
        if (!p) {
            overflow(r);
            return;
        }
        r->buf = p;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, buf->base, (size_t)n);
    r->len += (size_t)n;
}

static void on_stderr(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    exec_run_t *r = s->data;
    if (n < 0) {
        emit_line(r);
        end_pipe(r, &r->err);
        return;
    }
    for (ssize_t i = 0; i < n && !r->aborting; i++) {
        char c = buf->base[i];
        if (c == '\n') {
            emit_line(r);
        } else if (r->line_len < EXEC_STDERR_LINE) {
            r->line[r->line_len++] = c == '\r' ? ' ' : c;
        } else {
            r->line_cut = true;
        }
    }
}

static void on_child_exit(uv_process_t *p, int64_t exit_status, int term_signal)
{
    exec_run_t *r = p->data;
    r->exited = true;
    r->exit_status = exit_status;
    r->term_signal = term_signal;
    if (r->aborting) {
        close_all(r);
        return;
    }
    if (!r->out_closed || !r->err_closed)
        uv_timer_start(&r->timer, on_timer, PIPE_GRACE_MS, 0);
    maybe_report(r);
}

/* The timer: SIGTERM at term_ms, SIGKILL at kill_ms; after the exit, the pipes' grace; after
 * an abort, the reaping's grace. */
static void on_timer(uv_timer_t *t)
{
    exec_run_t *r = t->data;
    if (r->aborting) {
        r->exited = true; /* give up waiting: the handle is closed, libuv stops tracking it */
        close_all(r);
        return;
    }
    if (r->exited) {
        /* Something in the process group still holds a pipe: end it, and the pipes. */
        signal_group(r, SIGKILL);
        end_pipe(r, &r->out);
        end_pipe(r, &r->err);
        return;
    }
    r->timed_out = true;
    if (r->phase == PH_RUNNING) {
        r->phase = PH_TERMED;
        signal_group(r, SIGTERM);
        uv_timer_start(&r->timer, on_timer, r->cfg->kill_ms - r->cfg->term_ms, 0);
    } else {
        r->phase = PH_KILLED;
        signal_group(r, SIGKILL);
    }
}

int exec_run_start(uv_loop_t *loop, const exec_config_t *cfg, const exec_run_cbs_t *cbs,
                   void *ud, exec_run_t **out, char *err, size_t errlen)
{
    exec_run_t *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return IOC_ENOMEM;
    }
    r->cfg = cfg;
    r->cbs = *cbs;
    r->ud = ud;
    uv_pipe_init(loop, &r->out, 0);
    uv_pipe_init(loop, &r->err, 0);
    uv_timer_init(loop, &r->timer);
    r->out.data = r->err.data = r->timer.data = r->proc.data = r;
    r->open = 3;
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&r->out},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&r->err},
    };
    uv_process_options_t opt = {
        .exit_cb = on_child_exit, .file = cfg->argv[0], .args = cfg->argv, .env = cfg->env,
        .cwd = cfg->cwd, .flags = UV_PROCESS_DETACHED, .stdio_count = 3, .stdio = stdio};
    int rc = uv_spawn(loop, &r->proc, &opt);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start %s: %s", cfg->display, uv_strerror(rc));
        /* A failed spawn leaves the process handle to be closed like any other. */
        r->open = 4;
        r->exited = true;
        r->phase = PH_REPORTED;
        close_all(r);
        return rc == UV_ENOENT ? IOC_ENOTFOUND : rc == UV_EACCES ? IOC_EPERM : IOC_EIO;
    }
    r->open = 4;
    uv_read_start((uv_stream_t *)&r->out, alloc_chunk, on_stdout);
    uv_read_start((uv_stream_t *)&r->err, alloc_chunk, on_stderr);
    uv_timer_start(&r->timer, on_timer, cfg->term_ms, 0);
    *out = r;
    return IOC_OK;
}

void exec_run_abort(exec_run_t *r)
{
    r->aborting = true;
    r->phase = PH_REPORTED;
    if (!r->exited) {
        signal_group(r, SIGKILL);
        uv_timer_start(&r->timer, on_timer, REAP_GRACE_MS, 0);
    }
    close_handle((uv_handle_t *)&r->out);
    close_handle((uv_handle_t *)&r->err);
    r->out_closed = r->err_closed = true;
    if (r->exited) {
        close_handle((uv_handle_t *)&r->timer);
        close_handle((uv_handle_t *)&r->proc);
    }
}

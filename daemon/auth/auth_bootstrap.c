/* `iocd --bootstrap-admin NAME`: creates the first admin (password from IOCD_BOOTSTRAP_PASSWORD
 * or stdin, never a default) on a loop of its own, with the database migrated first. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "auth/auth_bootstrap.h"
#include "auth/auth_int.h"
#include "ioc/error.h"
#include "store/pgembed.h"
#include "store/store.h"

#define WAIT_MS 60000 /* give up if the database is not ready by then */

typedef struct boot {
    uv_loop_t *loop;
    const char *name;
    char password[AUTH_MAX_PASSWORD + 2];
    pgembed_t *pg;
    store_t *store;
    auth_store_t *auth;
    uv_timer_t timer;
    uint64_t waited_ms;
    bool started;
    int rc;
} boot_t;

/* Reads the password: IOCD_BOOTSTRAP_PASSWORD, else one line of stdin (not echoed on a tty). */
static int read_password(char *buf, size_t size)
{
    const char *env = getenv("IOCD_BOOTSTRAP_PASSWORD");
    struct termios old, quiet;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;

    if (env) {
        snprintf(buf, size, "%s", env);
        return 0;
    }
    if (tty) {
        fputs("password for the new admin: ", stderr);
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
    return 0;
}

static void on_closed_handle(uv_handle_t *h)
{
    (void)h;
}

static void on_pg_stopped(void *ud)
{
    boot_t *b = ud;
    uv_close((uv_handle_t *)&b->timer, on_closed_handle);
}

static void on_store_closed(void *ud)
{
    boot_t *b = ud;
    if (b->pg)
        pgembed_stop(b->pg, on_pg_stopped, b);
    else
        on_pg_stopped(b);
}

static void on_auth_closed(void *ud)
{
    boot_t *b = ud;
    if (b->store)
        store_close(b->store, on_store_closed, b);
    else
        on_store_closed(b);
}

static void finish(boot_t *b, int rc)
{
    b->rc = rc;
    uv_timer_stop(&b->timer);
    if (b->auth)
        auth_store_close(b->auth, on_auth_closed, b);
    else
        on_auth_closed(b);
    b->auth = NULL;
}

static void on_done(void *ud, int status, const char *msg)
{
    boot_t *b = ud;

    if (status)
        fprintf(stderr, "iocd: bootstrap-admin: %s\n",
                status == IOC_EPERM ? "refused: an admin exists already (use iocctl user add)"
                                    : msg ? msg : ioc_strerror(status));
    else
        printf("admin \"%s\" created\n", b->name);
    finish(b, status ? 1 : 0);
}

/* Polls until the auth store is loaded, then creates the admin. */
static void on_tick(uv_timer_t *t)
{
    boot_t *b = t->data;
    int rc;

    b->waited_ms += 100;
    if (b->started)
        return;
    if (!auth_store_ready(b->auth)) {
        if (b->waited_ms >= WAIT_MS) {
            fprintf(stderr, "iocd: bootstrap-admin: the database did not become ready\n");
            finish(b, 1);
        }
        return;
    }
    b->started = true;
    rc = auth_bootstrap_admin(b->auth, b->name, b->password, on_done, b);
    sodium_memzero(b->password, sizeof b->password);
    if (rc)
        on_done(b, rc, NULL);
}

static void start_with(boot_t *b, const char *dsn)
{
    store_opts_t so = {.dsn = dsn};
    auth_opts_t ao = {.dsn = dsn};

    if (store_create(b->loop, &so, &b->store) || auth_store_create(b->loop, &ao, &b->auth)) {
        fprintf(stderr, "iocd: bootstrap-admin: cannot open the database\n");
        finish(b, 1);
        return;
    }
    uv_timer_start(&b->timer, on_tick, 100, 100);
}

static void on_pg_ready(void *ud, int status, const char *dsn)
{
    boot_t *b = ud;

    if (status) {
        fprintf(stderr, "iocd: bootstrap-admin: embedded database: %s\n", ioc_strerror(status));
        finish(b, 1);
        return;
    }
    start_with(b, dsn);
}

int auth_bootstrap_run(const config_t *cfg, const char *name)
{
    boot_t b = {.name = name, .rc = 1};
    uv_loop_t loop;

    if (read_password(b.password, sizeof b.password)) {
        fprintf(stderr, "iocd: bootstrap-admin: no password (set IOCD_BOOTSTRAP_PASSWORD or "
                        "give it on stdin)\n");
        return 1;
    }
    if (!cfg->db_dsn && mkdir(cfg->state_dir, 0700) && errno != EEXIST) {
        fprintf(stderr, "iocd: bootstrap-admin: %s: %s\n", cfg->state_dir, strerror(errno));
        return 1;
    }
    uv_loop_init(&loop);
    b.loop = &loop;
    uv_timer_init(&loop, &b.timer);
    b.timer.data = &b;
    if (cfg->db_dsn)
        start_with(&b, cfg->db_dsn);
    else if (pgembed_start(&loop, cfg->state_dir, on_pg_ready, &b, &b.pg)) {
        fprintf(stderr, "iocd: bootstrap-admin: cannot start the embedded database\n");
        finish(&b, 1);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    sodium_memzero(b.password, sizeof b.password);
    return b.rc;
}

/* The embedded PostgreSQL: initdb, pg_ctl start/stop and CREATE DATABASE, all from the loop. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "ioc/error.h"
#include "store/pg_conn.h"
#include "store/pgembed.h"

#define PGEMBED_USER "postgres"
#define PGEMBED_DB "iocd"

typedef enum pgembed_step {
    STEP_INITDB,
    STEP_START,
    STEP_CREATEDB,
    STEP_READY,
    STEP_FAILED,
    STEP_STOP,
} pgembed_step_t;

struct pgembed {
    uv_loop_t *loop;
    char *bindir, *pgdir, *datadir, *rundir, *serverlog, *dsn, *admin_dsn;
    bool as_user;
    uv_uid_t uid;
    uv_gid_t gid;
    int outfd; /* <pg>/setup.log: output of initdb and pg_ctl */
    pgembed_step_t step;
    pgembed_ready_cb cb;
    void *ud;
    bool child_running;
    bool start_failed; /* pg_ctl start failed: maybe a server left running, so still connect */
    pg_conn_t *conn;
    bool stopping;
    void (*done)(void *ud);
    void *done_ud;
};

static void step_after(pgembed_t *pg, pgembed_step_t step, int64_t exit_status);

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* The newest /usr/lib/postgresql/<major>/bin, or $PG_BINDIR. Caller frees. */
static char *find_bindir(void)
{
    const char *env = getenv("PG_BINDIR");
    if (env && *env)
        return strdup(env);
    DIR *d = opendir("/usr/lib/postgresql");
    if (!d)
        return NULL;
    long best = -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char *end;
        long v = strtol(e->d_name, &end, 10);
        if (end != e->d_name && *end == '\0' && v > best)
            best = v;
    }
    closedir(d);
    if (best < 0)
        return NULL;
    char buf[64];
    snprintf(buf, sizeof buf, "/usr/lib/postgresql/%ld/bin", best);
    return strdup(buf);
}

static void pgembed_free(pgembed_t *pg)
{
    if (pg->outfd >= 0)
        close(pg->outfd);
    free(pg->bindir);
    free(pg->pgdir);
    free(pg->datadir);
    free(pg->rundir);
    free(pg->serverlog);
    free(pg->dsn);
    free(pg->admin_dsn);
    free(pg);
}

static void finish_ready(pgembed_t *pg, int status)
{
    pg->step = status == IOC_OK ? STEP_READY : STEP_FAILED;
    if (status == IOC_OK)
        log_info("pgembed", "event=ready dir=%s", pg->pgdir);
    pg->cb(pg->ud, status, status == IOC_OK ? pg->dsn : NULL);
}

static void on_child_closed(uv_handle_t *h)
{
    free(h);
}

static void on_child_exit(uv_process_t *proc, int64_t exit_status, int term_signal)
{
    pgembed_t *pg = proc->data;
    pgembed_step_t step = pg->step;
    uv_close((uv_handle_t *)proc, on_child_closed);
    pg->child_running = false;
    step_after(pg, step, term_signal ? -term_signal : exit_status);
}

/* Spawns bindir/prog with args (NULL-terminated, args[0] is prog) as the cluster's owner. */
static int spawn(pgembed_t *pg, pgembed_step_t step, char **args)
{
    char *file = join(pg->bindir, args[0]);
    uv_process_t *proc = calloc(1, sizeof *proc);
    int rc = IOC_ENOMEM;
    if (!file || !proc)
        goto out;
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_INHERIT_FD, .data.fd = pg->outfd},
        {.flags = UV_INHERIT_FD, .data.fd = pg->outfd},
    };
    uv_process_options_t o = {
        .exit_cb = on_child_exit,
        .file = file,
        .args = args,
        .cwd = pg->pgdir,
        .stdio_count = 3,
        .stdio = stdio,
    };
    if (pg->as_user) {
        o.flags |= UV_PROCESS_SETUID | UV_PROCESS_SETGID;
        o.uid = pg->uid;
        o.gid = pg->gid;
    }
    pg->step = step;
    proc->data = pg;
    int e = uv_spawn(pg->loop, proc, &o);
    if (e != 0) {
        log_error("pgembed", "event=spawn_failed file=%s error=%s", file, uv_strerror(e));
        uv_close((uv_handle_t *)proc, on_child_closed);
        proc = NULL;
        rc = IOC_EIO;
        goto out;
    }
    pg->child_running = true;
    proc = NULL;
    rc = IOC_OK;
out:
    free(proc);
    free(file);
    return rc;
}

static void run_stop(pgembed_t *pg)
{
    char *args[] = {"pg_ctl", "stop", "-w", "-m", "fast", "-D", pg->datadir, NULL};
    if (spawn(pg, STEP_STOP, args) != IOC_OK)
        step_after(pg, STEP_STOP, -1);
}

static void run_start(pgembed_t *pg)
{
    char opts[1024];
    snprintf(opts, sizeof opts, "-c listen_addresses='' -c unix_socket_directories='%s'",
             pg->rundir);
    char *args[] = {"pg_ctl", "start", "-w", "-t", "120", "-D", pg->datadir, "-l", pg->serverlog,
                    "-o", opts, NULL};
    if (spawn(pg, STEP_START, args) != IOC_OK)
        finish_ready(pg, IOC_EIO);
}

static void db_created(void *ud, int status, PGresult *res)
{
    pgembed_t *pg = ud;
    char q[256];
    pg_conn_free(pg->conn);
    pg->conn = NULL;
    if (status != IOC_OK) {
        log_error("pgembed", "event=createdb_failed error=%s",
                  log_q(q, sizeof q, PQresultErrorMessage(res)));
        finish_ready(pg, IOC_EDB);
        return;
    }
    finish_ready(pg, IOC_OK);
}

static void db_checked(void *ud, int status, PGresult *res)
{
    pgembed_t *pg = ud;
    if (status == IOC_OK && PQntuples(res) == 0) {
        log_info("pgembed", "event=createdb name=" PGEMBED_DB);
        if (pg_conn_send(pg->conn, "CREATE DATABASE " PGEMBED_DB, -1, NULL, NULL, NULL, NULL,
                         db_created, pg) == IOC_OK)
            return;
        status = IOC_EDB;
    }
    db_created(pg, status, res);
}

static void admin_connected(void *ud)
{
    pgembed_t *pg = ud;
    const char *vals[] = {PGEMBED_DB};
    if (pg_conn_send(pg->conn, "SELECT 1 FROM pg_database WHERE datname = $1", 1, NULL, vals,
                     NULL, NULL, db_checked, pg) != IOC_OK) {
        pg_conn_free(pg->conn);
        pg->conn = NULL;
        finish_ready(pg, IOC_EDB);
    }
}

static void admin_broken(void *ud, const char *msg)
{
    pgembed_t *pg = ud;
    char q[256];
    if (pg->start_failed)
        log_error("pgembed", "event=start_failed log=%s", pg->serverlog);
    log_error("pgembed", "event=connect_failed error=%s", log_q(q, sizeof q, msg));
    pg_conn_free(pg->conn);
    pg->conn = NULL;
    finish_ready(pg, IOC_EDB);
}

static void run_createdb(pgembed_t *pg)
{
    static const pg_conn_cbs_t cbs = {.on_connected = admin_connected, .on_broken = admin_broken};
    char err[256], q[300];
    pg->step = STEP_CREATEDB;
    if (pg_conn_start(pg->loop, pg->admin_dsn, &cbs, pg, &pg->conn, err, sizeof err) != IOC_OK) {
        pg->conn = NULL;
        log_error("pgembed", "event=connect_failed error=%s", log_q(q, sizeof q, err));
        finish_ready(pg, IOC_EDB);
    }
}

/* A child finished: go on to the next step, or stop if asked to meanwhile. */
static void step_after(pgembed_t *pg, pgembed_step_t step, int64_t exit_status)
{
    if (step == STEP_STOP) {
        if (exit_status != 0)
            log_warn("pgembed", "event=stop_failed status=%lld log=%s/setup.log",
                     (long long)exit_status, pg->pgdir);
        else
            log_info("pgembed", "event=stopped");
        void (*done)(void *) = pg->done;
        void *ud = pg->done_ud;
        pgembed_free(pg);
        if (done)
            done(ud);
        return;
    }
    if (pg->stopping) {
        run_stop(pg);
        return;
    }
    switch (step) {
    case STEP_INITDB:
        if (exit_status != 0) {
            log_error("pgembed", "event=initdb_failed status=%lld log=%s/setup.log",
                      (long long)exit_status, pg->pgdir);
            finish_ready(pg, IOC_EIO);
            return;
        }
        run_start(pg);
        return;
    case STEP_START:
        /* pg_ctl start also fails when a server this directory holds is still running (an
         * iocd that crashed leaves it): the connection attempt tells which. */
        if (exit_status != 0) {
            log_warn("pgembed", "event=pg_ctl_start_failed status=%lld log=%s",
                     (long long)exit_status, pg->serverlog);
            pg->start_failed = true;
        }
        run_createdb(pg);
        return;
    default:
        return;
    }
}

/* Creates dir (0700) if missing and hands it to the cluster's owner. */
static int make_owned_dir(pgembed_t *pg, const char *dir)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        log_error("pgembed", "event=mkdir_failed dir=%s error=%s", dir, strerror(errno));
        return IOC_EIO;
    }
    if (pg->as_user && chown(dir, pg->uid, pg->gid) != 0) {
        log_error("pgembed", "event=chown_failed dir=%s error=%s", dir, strerror(errno));
        return IOC_EPERM;
    }
    return IOC_OK;
}

/* The cluster's owner must reach <pg> through state_dir and every parent. */
static int check_traversable(const char *state_dir)
{
    char *path = realpath(state_dir, NULL);
    int rc = IOC_OK;
    if (!path)
        return IOC_EIO;
    /* state_dir is ours: open it for traversal; the parents are only checked. */
    chmod(path, 0711);
    for (char *slash = strrchr(path, '/'); slash && slash != path; slash = strrchr(path, '/')) {
        *slash = '\0';
        struct stat st;
        if (stat(path, &st) == 0 && !(st.st_mode & S_IXOTH)) {
            log_error("pgembed", "event=dir_not_traversable dir=%s user=" PGEMBED_USER
                      " hint=\"chmod o+x it or choose another state_dir\"", path);
            rc = IOC_EPERM;
            break;
        }
    }
    free(path);
    return rc;
}

int pgembed_start(uv_loop_t *loop, const char *state_dir, pgembed_ready_cb cb, void *ud,
                  pgembed_t **out)
{
    int rc = IOC_ENOMEM;
    pgembed_t *pg = calloc(1, sizeof *pg);
    if (!pg)
        return IOC_ENOMEM;
    pg->loop = loop;
    pg->cb = cb;
    pg->ud = ud;
    pg->outfd = -1;
    pg->bindir = find_bindir();
    if (!pg->bindir) {
        log_error("pgembed", "event=no_server hint=\"install postgresql or set PG_BINDIR\"");
        rc = IOC_ENOTFOUND;
        goto fail;
    }
    /* Absolute paths: pg_ctl runs the server in its data directory, and libpq takes only an
     * absolute path (leading '/') as a socket directory rather than a host name. */
    char *abs_state = realpath(state_dir, NULL);
    if (!abs_state) {
        log_error("pgembed", "event=bad_state_dir dir=%s error=\"%s\"", state_dir, strerror(errno));
        rc = IOC_EIO;
        goto fail;
    }
    pg->pgdir = join(abs_state, "pg");
    free(abs_state);
    pg->datadir = pg->pgdir ? join(pg->pgdir, "data") : NULL;
    pg->rundir = pg->pgdir ? join(pg->pgdir, "run") : NULL;
    pg->serverlog = pg->pgdir ? join(pg->pgdir, "postgres.log") : NULL;
    if (!pg->datadir || !pg->rundir || !pg->serverlog)
        goto fail;
    if (strpbrk(pg->pgdir, "' \t\n\\")) {
        log_error("pgembed", "event=bad_state_dir dir=%s reason=\"quotes, spaces or backslashes\"",
                  state_dir);
        rc = IOC_EINVAL;
        goto fail;
    }
    size_t n = strlen(pg->rundir) + 64;
    pg->dsn = malloc(n);
    pg->admin_dsn = malloc(n);
    if (!pg->dsn || !pg->admin_dsn)
        goto fail;
    snprintf(pg->dsn, n, "host=%s port=5432 user=postgres dbname=" PGEMBED_DB, pg->rundir);
    snprintf(pg->admin_dsn, n, "host=%s port=5432 user=postgres dbname=postgres", pg->rundir);

    if (geteuid() == 0) {
        struct passwd *pw = getpwnam(PGEMBED_USER);
        if (!pw) {
            log_error("pgembed", "event=no_user user=" PGEMBED_USER
                      " reason=\"PostgreSQL refuses to run as root\"");
            rc = IOC_ENOTFOUND;
            goto fail;
        }
        pg->as_user = true;
        pg->uid = pw->pw_uid;
        pg->gid = pw->pw_gid;
        rc = check_traversable(state_dir);
        if (rc != IOC_OK)
            goto fail;
    }
    rc = make_owned_dir(pg, pg->pgdir);
    if (rc == IOC_OK)
        rc = make_owned_dir(pg, pg->rundir);
    if (rc != IOC_OK)
        goto fail;
    char *setup_log = join(pg->pgdir, "setup.log");
    pg->outfd = setup_log ? open(setup_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : -1;
    free(setup_log);
    if (pg->outfd < 0) {
        rc = IOC_EIO;
        goto fail;
    }

    char *version = join(pg->datadir, "PG_VERSION");
    bool initialised = version && access(version, F_OK) == 0;
    free(version);
    if (initialised) {
        run_start(pg);
    } else {
        log_info("pgembed", "event=initdb dir=%s", pg->datadir);
        char *args[] = {"initdb", "-D", pg->datadir, "-U", "postgres", "--auth=trust",
                        "-E", "UTF8", "--locale=C.UTF-8", NULL};
        rc = spawn(pg, STEP_INITDB, args);
        if (rc != IOC_OK)
            goto fail;
    }
    *out = pg;
    return IOC_OK;
fail:
    pgembed_free(pg);
    return rc;
}

void pgembed_stop(pgembed_t *pg, void (*done)(void *ud), void *ud)
{
    if (pg->stopping)
        return;
    pg->stopping = true;
    pg->done = done;
    pg->done_ud = ud;
    if (pg->child_running)
        return; /* step_after stops once the child is done */
    if (pg->conn) {
        pg_conn_free(pg->conn);
        pg->conn = NULL;
    }
    run_stop(pg);
}

/* The embedded PostgreSQL: a private cluster under state_dir, Unix socket only. */
#ifndef IOCD_PGEMBED_H
#define IOCD_PGEMBED_H

#include <uv.h>

typedef struct pgembed pgembed_t;

/* Called once the cluster is up (status 0, dsn to connect with, valid while pgembed lives)
 * or failed to start (status < 0, dsn NULL; the reason is logged). */
typedef void (*pgembed_ready_cb)(void *ud, int status, const char *dsn);

/* Starts (after initdb on first run) the cluster in <state_dir>/pg with child processes on
 * the loop (uv_spawn; nothing blocks). When running as root the cluster runs as the
 * `postgres` user. Returns 0 (cb will run) or an ioc_err_t. */
int pgembed_start(uv_loop_t *loop, const char *state_dir, pgembed_ready_cb cb, void *ud,
                  pgembed_t **out);
/* Stops the cluster (pg_ctl stop -m fast) and frees pg; `done` runs once it has stopped. */
void pgembed_stop(pgembed_t *pg, void (*done)(void *ud), void *ud);

#endif

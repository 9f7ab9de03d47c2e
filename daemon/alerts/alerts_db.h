/* The alerts module's own PostgreSQL connection: a bounded FIFO of parameterised commands,
 * run one at a time on the loop, reconnecting with back-off when the database goes away. */
#ifndef IOCD_ALERTS_DB_H
#define IOCD_ALERTS_DB_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>
#include <uv.h>

#define ADB_MAX_PARAMS 16
#define ADB_QUEUE_MAX 2048 /* commands waiting; more are refused (IOC_EFULL) */

typedef struct adb adb_t;

/* A command's completion: status 0 with its result, or IOC_EDB (res may be NULL when the
 * connection broke or the module closed). res is freed after the callback. */
typedef void (*adb_cb)(void *ud, int status, PGresult *res);

/* Starts connecting to dsn (copied). on_ready runs after every (re)connection, before queued
 * commands are sent (to run start-up queries first, use adb_send_first). Returns 0 or ioc_err_t. */
int adb_create(uv_loop_t *loop, const char *dsn, void (*on_ready)(void *ud), void *ud,
               adb_t **out);
/* Queues sql with nparams text parameters (copied; a NULL value is SQL NULL). A command with
 * `retry` is sent again after a reconnection if the connection broke while it ran; otherwise
 * its callback gets IOC_EDB. cb may be NULL. Returns 0, IOC_EFULL when the queue is full, or
 * IOC_ENOMEM; no callback runs then. */
int adb_send(adb_t *db, const char *sql, int nparams, const char *const *params, bool retry,
             adb_cb cb, void *ud);
/* The same, put at the head of the queue (start-up loads that must run before the rest). */
int adb_send_first(adb_t *db, const char *sql, int nparams, const char *const *params,
                   adb_cb cb, void *ud);
/* True while connected. */
bool adb_up(const adb_t *db);
/* Commands waiting. */
size_t adb_queued(const adb_t *db);
/* Fails every queued command's callback with IOC_ECLOSED, closes the connection and frees. */
void adb_close(adb_t *db, void (*done)(void *ud), void *ud);

#endif

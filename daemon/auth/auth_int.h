/* Private definitions of the auth module: the in-memory tables, the database queue, password
 * hashing jobs and the guessing throttle. */
#ifndef IOCD_AUTH_INT_H
#define IOCD_AUTH_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <sodium.h>
#include <uv.h>

#include "auth/auth_store.h"
#include "store/pg_conn.h"

#define AUTH_MAX_USERS 10000
#define AUTH_MAX_SESSIONS 20000       /* live sessions in all */
#define AUTH_MAX_USER_SESSIONS 32     /* per person: a new log-in ends the oldest beyond this */
#define AUTH_MAX_TOKENS 1000          /* live runtime API tokens */
#define AUTH_SESSION_BUCKETS 4096
#define AUTH_MAX_HASHING 4            /* argon2id jobs in flight (64 MiB each) */
#define AUTH_DB_QUEUE 1024            /* database commands waiting */
#define AUTH_MIN_PASSWORD 8
#define AUTH_MAX_PASSWORD 1024
#define AUTH_SWEEP_MS 60000           /* expired sessions are dropped this often */
#define AUTH_DIGEST crypto_hash_sha256_BYTES

/* Principal ids: kind in the top bits, a per-process counter below. */
#define AUTH_PRINCIPAL_SESSION (1ull << 62)
#define AUTH_PRINCIPAL_TOKEN (2ull << 62)

typedef struct auth_user {
    struct auth_user *next;
    char name[AUTH_MAX_NAME + 1];
    int role;
    char *pwhash;             /* argon2id string, owned */
    bool disabled;
    uint32_t nsessions;
} auth_user_t;

typedef struct auth_sess {
    struct auth_sess *next;   /* hash chain */
    uint8_t digest[AUTH_DIGEST]; /* SHA-256 of the cookie value */
    auth_user_t *user;
    int64_t created_us, expires_us;
    uint64_t principal;
} auth_sess_t;

typedef struct auth_tok {
    struct auth_tok *next;
    char name[AUTH_MAX_NAME + 1];
    int role;
    uint8_t digest[AUTH_DIGEST];
    char created_by[AUTH_MAX_NAME + 16];
    int64_t created_us;
    uint64_t principal;
} auth_tok_t;

/* One database command (parameters copied), run in order on the store's connection. */
typedef void (*auth_db_cb)(void *ud, int status, PGresult *res);

/* Guessing throttle: failures per (account, address) pair and per address, in fixed tables. */
#define AUTH_THR_PAIRS 4096
#define AUTH_THR_ADDRS 4096
#define AUTH_THR_FREE 5               /* failures per pair before waits start */
#define AUTH_THR_MAX_WAIT_S 900       /* longest wait per pair */
#define AUTH_THR_FORGET_MS 3600000    /* a pair's failures are forgotten after an hour */
#define AUTH_THR_ADDR_BURST 30        /* failures per address before waits start */
#define AUTH_THR_ADDR_LEAK_MS 20000   /* an address's count drops by one this often */

typedef struct auth_thr_ent {
    char key[AUTH_MAX_NAME + 72];     /* address, or address "\x1f" account; "" = free */
    uint32_t fails;                   /* pairs: failures; addresses: bucket level */
    int64_t last_ms;
} auth_thr_ent_t;

typedef struct auth_throttle {
    auth_thr_ent_t pairs[AUTH_THR_PAIRS];
    auth_thr_ent_t addrs[AUTH_THR_ADDRS];
} auth_throttle_t;

/* Empties the tables. */
void auth_throttle_init(auth_throttle_t *t);
/* 0 if an attempt by addr on account may go ahead at now_ms, else the seconds to wait. */
uint32_t auth_throttle_check(const auth_throttle_t *t, const char *addr, const char *account,
                             int64_t now_ms);
/* Records a failed attempt (a full table forgets its least recently used entry). */
void auth_throttle_fail(auth_throttle_t *t, const char *addr, const char *account, int64_t now_ms);
/* Records a successful log-in: the pair is forgotten (the address's count stays). */
void auth_throttle_ok(auth_throttle_t *t, const char *addr, const char *account);

/* A password job for the threadpool: hash `password`, or verify it against `pwhash` (NULL:
 * hash it anyway so an unknown name costs the same). */
typedef struct auth_pw {
    uv_work_t work;
    auth_store_t *s;
    char *password;           /* owned; wiped and freed after the job */
    char *pwhash;             /* verify: owned copy; hash: the result, owned */
    bool verify;
    int result;               /* 0: hashed / matched; -1: failed / no match */
    void (*done)(struct auth_pw *pw);
    void *ud;
} auth_pw_t;

struct auth_store {
    uv_loop_t *loop;
    char *dsn;
    uint64_t ttl_ms;
    bool secure;
    pg_conn_t *conn;
    bool up, ready, closing, loading;
    uv_timer_t timer;         /* reconnect back-off and the wait for migrations */
    uv_timer_t sweep;         /* drops expired sessions */
    int open_handles;
    uint32_t backoff_ms;
    struct auth_dbop *qhead, *qtail, *inflight;
    uint32_t qlen;
    auth_user_t *users;
    uint32_t nusers;
    auth_sess_t *sess[AUTH_SESSION_BUCKETS];
    uint32_t nsess;
    auth_tok_t *toks;
    uint32_t ntoks;
    uint64_t next_principal;
    uint32_t hashing;         /* password jobs in flight */
    auth_throttle_t thr;
    void (*on_revoke)(void *ud, uint64_t principal);
    void *revoke_ud;
    void (*done)(void *ud);
    void *done_ud;
    uint64_t audit_dropped, logins_ok, logins_failed, logins_slowed;
};

/* The process's store (auth_store_create sets it, close clears it), or NULL. */
extern auth_store_t *auth_current;

/* Queues a command; with `need_up`, refuses at once (IOC_EDB) while the database is away.
 * Returns 0 (cb runs exactly once: status 0 with the result, or an error and NULL) or
 * IOC_EFULL / IOC_EDB / IOC_ENOMEM / IOC_ECLOSED. */
int auth_db_send(auth_store_t *s, const char *sql, int n, const char *const *vals, bool need_up,
                 auth_db_cb cb, void *ud);
/* Runs the connect / load step again after ms. */
void auth_db_retry(auth_store_t *s, uint64_t ms);
/* Frees a closing store once its handles are closed and no password job is in flight. */
void auth_store_job_finished(auth_store_t *s);
/* Starts (or restarts after the back-off) connecting. */
void auth_db_connect(auth_store_t *s);
/* Fails every queued command with IOC_ECLOSED and drops the connection. */
void auth_db_shutdown(auth_store_t *s);
/* Loads users, live sessions and tokens (the connection is up). */
void auth_store_load(auth_store_t *s);

/* Starts a password job; job->done runs on the loop. Returns 0 or IOC_EAGAIN when
 * AUTH_MAX_HASHING jobs are in flight (job untouched). */
int auth_pw_start(auth_store_t *s, auth_pw_t *job);
/* Frees a finished job (wiping the password). */
void auth_pw_free(auth_pw_t *job);

/* Finds a person by name, or NULL. */
auth_user_t *auth_user_find(const auth_store_t *s, const char *name);
/* Finds a live session by cookie digest, or NULL (expired ones are not returned). */
auth_sess_t *auth_sess_find(const auth_store_t *s, const uint8_t *digest, int64_t now_us);
/* Removes a session from memory (tells on_revoke); the caller deletes it in the database. */
void auth_sess_drop(auth_store_t *s, auth_sess_t *se);
/* Removes every session of a person (memory and database). */
void auth_sess_drop_user(auth_store_t *s, auth_user_t *u);
/* Finds a runtime token by digest (constant time over all of them), or NULL. */
auth_tok_t *auth_tok_find(const auth_store_t *s, const uint8_t *digest);
/* Adds a session to memory (takes ownership). */
void auth_sess_add(auth_store_t *s, auth_sess_t *se);

/* The SHA-256 of the iocd_session value in a Cookie header (NULL is fine). Returns false if
 * there is none. */
bool auth_cookie_digest(const char *cookie, uint8_t *digest);
/* Validates a user or token name: 1..64 of [A-Za-z0-9._@-]. Returns true if fine. */
bool auth_name_ok(const char *name);
/* Hex of a digest for bytea text input: "\\x" + 64 hex digits + NUL (67 bytes). */
void auth_digest_hex(const uint8_t *digest, char out[2 * AUTH_DIGEST + 3]);
/* Wall clock in microseconds. */
int64_t auth_now_us(void);

#endif

/* argon2id password hashing and checking on the libuv threadpool (deliberately slow: never on
 * the loop), with a bound on jobs in flight. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/auth_int.h"
#include "ioc/error.h"

static void work(uv_work_t *w)
{
    auth_pw_t *job = w->data;
    char out[crypto_pwhash_STRBYTES];
    size_t len = strlen(job->password);

    if (job->verify && job->pwhash) {
        job->result = crypto_pwhash_str_verify(job->pwhash, job->password, len) ? -1 : 0;
        return;
    }
    /* Hashing costs what a check costs: an unknown name is answered as late as a wrong one. */
    job->result = crypto_pwhash_str(out, job->password, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                    crypto_pwhash_MEMLIMIT_INTERACTIVE)
                      ? -1
                      : 0;
    if (job->verify) {
        job->result = -1;
        return;
    }
    if (job->result == 0 && !(job->pwhash = strdup(out)))
        job->result = -1;
}

static void after(uv_work_t *w, int status)
{
    auth_pw_t *job = w->data;
    auth_store_t *s = job->s;

    if (status)
        job->result = -1;
    s->hashing--;
    job->done(job);
    auth_store_job_finished(s);
}

int auth_pw_start(auth_store_t *s, auth_pw_t *job)
{
    if (s->hashing >= AUTH_MAX_HASHING)
        return IOC_EAGAIN;
    job->s = s;
    job->work.data = job;
    if (uv_queue_work(s->loop, &job->work, work, after))
        return IOC_EAGAIN;
    s->hashing++;
    return IOC_OK;
}

void auth_pw_free(auth_pw_t *job)
{
    if (!job)
        return;
    if (job->password) {
        sodium_memzero(job->password, strlen(job->password));
        free(job->password);
    }
    free(job->pwhash);
    free(job);
}

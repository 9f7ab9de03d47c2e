/* The explicit first-admin step: `iocd --bootstrap-admin NAME --config FILE`. */
#ifndef IOCD_AUTH_BOOTSTRAP_H
#define IOCD_AUTH_BOOTSTRAP_H

#include "config/config.h"

/* Creates the admin NAME with the password from IOCD_BOOTSTRAP_PASSWORD or one line of stdin,
 * in cfg's database (migrated first; the embedded cluster is started and stopped), refusing if
 * an enabled admin exists. Runs its own loop; prints what happened. Returns the exit code. */
int auth_bootstrap_run(const config_t *cfg, const char *name);

#endif

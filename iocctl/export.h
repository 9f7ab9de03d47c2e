/* `iocctl export`: reports from GET /api/v1/export. */
#ifndef IOCCTL_EXPORT_H
#define IOCCTL_EXPORT_H

#include "iocctl.h"

/* Runs `iocctl export OPTIONS` (argv[0] is "export"): streams the report to --output or stdout.
 * Returns the exit code: 0, 1 (iocd refused or unreachable; the reason printed) or 64 (usage). */
int iocctl_export(const iocctl_t *c, int argc, char **argv);

#endif

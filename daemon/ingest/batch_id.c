/* Batch ids: epoch | instance | counter, unique across restarts of one state_dir whatever the
 * clock does, so a replayed batch is recognised and a new one never taken for a replay. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ingest/batch.h"
#include "ioc/error.h"

#define EPOCH_BITS 20
#define INSTANCE_BITS 12
#define COUNTER_BITS 31

static uint64_t prefix;      /* epoch and instance, shifted into place */
static _Atomic uint64_t counter;

static void set_prefix(uint64_t epoch, uint64_t instance)
{
    epoch &= (1u << EPOCH_BITS) - 1;
    instance &= (1u << INSTANCE_BITS) - 1;
    prefix = (epoch << (INSTANCE_BITS + COUNTER_BITS)) | (instance << COUNTER_BITS);
}

int batch_id_init(const char *state_dir, char *err, size_t errlen)
{
    char path[4096], tmp[4112];
    snprintf(path, sizeof path, "%s/batch_epoch", state_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unsigned long epoch = 0, instance = 0;
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "epoch=%lu instance=%lu", &epoch, &instance) != 2) {
            snprintf(err, errlen, "%s: unreadable (expected \"epoch=N instance=N\")", path);
            fclose(f);
            return IOC_EIO;
        }
        fclose(f);
    } else if (errno == ENOENT) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        instance = (unsigned long)(ts.tv_nsec ^ getpid()) & ((1u << INSTANCE_BITS) - 1);
    } else {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return IOC_EIO;
    }
    epoch++;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char line[64];
    int n = snprintf(line, sizeof line, "epoch=%lu instance=%lu\n", epoch, instance);
    if (fd < 0 || write(fd, line, (size_t)n) != n || fsync(fd) != 0 || close(fd) != 0 ||
        rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return IOC_EIO;
    }
    set_prefix(epoch, instance);
    atomic_store(&counter, 0);
    return IOC_OK;
}

uint64_t batch_next_id(void)
{
    if (!prefix) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        set_prefix(0, (uint64_t)ts.tv_nsec ^ (uint64_t)getpid());
        if (!prefix)
            prefix = 1ull << COUNTER_BITS;
    }
    return prefix | (atomic_fetch_add(&counter, 1) + 1);
}

/* Collector plugin loading: dlopen a shared object and check its versioned descriptor. */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collect/plugin.h"

#define MAX_PLUGINS 64

static struct {
    char name[64];
    const ioc_collector_desc_t *desc;
} loaded[MAX_PLUGINS];
static int nloaded;

int plugin_load(const char *dir, const char *name, const ioc_collector_desc_t **out, char *err,
                size_t errlen)
{
    for (int i = 0; i < nloaded; i++) {
        if (strcmp(loaded[i].name, name) == 0) {
            *out = loaded[i].desc;
            return IOC_OK;
        }
    }
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s.so", dir, name);
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: no such plugin file (plugin \"%s\", plugin_dir %s)", path, name,
                 dir);
        return IOC_ENOTFOUND;
    }
    if (nloaded == MAX_PLUGINS || strlen(name) >= sizeof loaded[0].name) {
        snprintf(err, errlen, "%s: too many plugins or name too long", path);
        return IOC_EINVAL;
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(err, errlen, "%s: cannot load: %s", path, dlerror());
        return IOC_EIO;
    }
    const ioc_collector_desc_t *d = dlsym(h, IOC_COLLECTOR_SYMBOL);
    if (!d) {
        snprintf(err, errlen, "%s: no symbol \"%s\": not an iocd collector plugin", path,
                 IOC_COLLECTOR_SYMBOL);
        goto bad;
    }
    if (d->magic != IOC_COLLECTOR_MAGIC) {
        snprintf(err, errlen, "%s: symbol \"%s\" is not a collector descriptor (bad magic 0x%08x)",
                 path, IOC_COLLECTOR_SYMBOL, d->magic);
        goto bad;
    }
    if (d->abi_version != IOC_COLLECTOR_ABI_VERSION) {
        snprintf(err, errlen,
                 "%s: plugin built for collector ABI version %u, this iocd supports version %u",
                 path, d->abi_version, IOC_COLLECTOR_ABI_VERSION);
        goto bad;
    }
    if (!d->name || strcmp(d->name, name) != 0) {
        snprintf(err, errlen, "%s: descriptor names plugin \"%s\", expected \"%s\"", path,
                 d->name ? d->name : "(null)", name);
        goto bad;
    }
    if (!d->init || !d->stop) {
        snprintf(err, errlen, "%s: descriptor lacks init or stop callback", path);
        goto bad;
    }
    snprintf(loaded[nloaded].name, sizeof loaded[0].name, "%s", name);
    loaded[nloaded++].desc = d;
    *out = d;
    return IOC_OK;
bad:
    dlclose(h);
    return IOC_EABI;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *plugin_default_dir(void)
{
    static char dir[PATH_MAX + 32];
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            /* Run from the build tree: plugins sit in <build>/collectors. */
            snprintf(dir, sizeof dir, "%s/collectors", exe);
            if (is_dir(dir))
                return dir;
            /* Installed: <prefix>/bin/iocd and <prefix>/lib/iocd/collectors. */
            snprintf(dir, sizeof dir, "%s/../lib/iocd/collectors", exe);
            if (is_dir(dir))
                return dir;
        }
    }
    return IOCD_INSTALL_PLUGIN_DIR;
}

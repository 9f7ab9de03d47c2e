/* Shared helpers for the spool tests: temp directories, deterministic records, file surgery. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "helper_spool.h"

const char *tmpdir_new(void)
{
    static char path[PATH_MAX];
    const char *base = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/iocd-spool-XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(path));
    return path;
}

void tmpdir_remove(const char *path)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

size_t rec_len(unsigned i)
{
    if (i % 50 == 7)
        return 0;
    return (i * 7919u) % 1500u + 1;
}

void rec_fill(unsigned i, unsigned char *buf)
{
    size_t n = rec_len(i);
    uint32_t x = i * 2654435761u + 1;
    for (size_t k = 0; k < n; k++) {
        x = x * 1103515245u + 12345u;
        buf[k] = (unsigned char)(x >> 16);
    }
    if (n >= 4)
        memcpy(buf, &i, 4); /* the index, so a reordering shows in the failure */
}

void rec_expect(unsigned i, const void *rec, size_t len)
{
    unsigned char want[1500];
    assert_int_equal(len, rec_len(i));
    rec_fill(i, want);
    if (len)
        assert_memory_equal(rec, want, len);
}

static int name_is_seg(const char *n)
{
    return strncmp(n, "seg-", 4) == 0 && strlen(n) == 30;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int seg_count(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        n += name_is_seg(e->d_name);
    closedir(d);
    return n;
}

const char *seg_path(const char *dir, int n)
{
    static char path[PATH_MAX];
    char *names[256];
    int k = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) && k < 256;)
        if (name_is_seg(e->d_name))
            names[k++] = strdup(e->d_name);
    closedir(d);
    assert_true(n < k);
    qsort(names, (size_t)k, sizeof *names, cmp_str);
    snprintf(path, sizeof path, "%s/%s", dir, names[n]);
    for (int i = 0; i < k; i++)
        free(names[i]);
    return path;
}

uint64_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

void file_flip(const char *path, uint64_t off)
{
    unsigned char c;
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &c, 1, (off_t)off), 1);
    c ^= 0xFF;
    assert_int_equal(pwrite(fd, &c, 1, (off_t)off), 1);
    close(fd);
}

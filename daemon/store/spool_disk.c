/* The spool's synchronous disk core: <dir>/seg-<20-digit seq>.spool files of framed records and
 * a <dir>/cursor file naming the oldest unconsumed position. Plain blocking I/O. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/crc32c.h"
#include "core/log.h"
#include "ioc/error.h"
#include "store/spool_disk.h"

#define REC_MAGIC 0x314C5053u /* "SPL1" little-endian */
#define SEG_NAME_LEN 30       /* "seg-" + 20 digits + ".spool" */
#define CHUNK (64u << 10)
#define ERR_LOG_INTERVAL_MS 10000

typedef struct seg {
    uint64_t seq;
    uint64_t len;     /* bytes of good records in the file */
    uint64_t records; /* good records in the file, consumed ones included */
} seg_t;

struct spool_disk {
    int dirfd;
    char *dir;
    uint64_t segment_bytes;
    seg_t *segs; /* oldest first; segs[0] is the one being read */
    size_t nsegs, segs_cap;
    uint64_t read_off;  /* offset in segs[0] of the oldest unconsumed record */
    uint64_t read_done; /* records of segs[0] before read_off */
    int read_fd;        /* open on segs[0] when >= 0 */
    uint64_t read_seq;
    int write_fd;       /* open on the last segment when >= 0; -1: the next append rolls */
    uint64_t next_seq;
    unsigned char *buf; /* the last record read, or scratch while scanning */
    size_t buf_cap;
    size_t last_len;
    bool have_last;
    uint64_t records, bytes;
    uint64_t corrupt_cuts, bytes_cut, write_errors;
    bool err_burst; /* write errors are logged once per burst, then every ERR_LOG_INTERVAL_MS */
    uint64_t err_logged_ms, err_suppressed;
};

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void seg_name(char *buf, size_t len, uint64_t seq)
{
    snprintf(buf, len, "seg-%020" PRIu64 ".spool", seq);
}

/* Quoted "<dir>/<name>" for log lines. */
static const char *qpath(const spool_disk_t *d, const char *name, char *buf, size_t len)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", d->dir, name);
    return log_q(buf, len, path);
}

static void note_write_error(spool_disk_t *d, const char *op, const char *name, int err)
{
    d->write_errors++;
    uint64_t now = mono_ms();
    if (d->err_burst && now - d->err_logged_ms < ERR_LOG_INTERVAL_MS) {
        d->err_suppressed++;
        return;
    }
    char q[PATH_MAX + 16];
    log_error("spool", "event=spool_write_error op=%s file=%s error=\"%s\" suppressed=%" PRIu64, op,
              qpath(d, name, q, sizeof q), strerror(err), d->err_suppressed);
    d->err_burst = true;
    d->err_logged_ms = now;
    d->err_suppressed = 0;
}

static void note_write_ok(spool_disk_t *d)
{
    if (!d->err_burst)
        return;
    log_info("spool", "event=spool_write_recovered suppressed=%" PRIu64, d->err_suppressed);
    d->err_burst = false;
    d->err_suppressed = 0;
}

static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
    unsigned char *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO; /* unexpected end of file */
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
    const unsigned char *p = buf;
    while (len) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

static int buf_reserve(spool_disk_t *d, size_t len)
{
    if (len <= d->buf_cap)
        return 0;
    unsigned char *nb = realloc(d->buf, len);
    if (!nb)
        return IOC_ENOMEM;
    d->buf = nb;
    d->buf_cap = len;
    return 0;
}

static int segs_push(spool_disk_t *d, uint64_t seq)
{
    if (d->nsegs == d->segs_cap) {
        size_t cap = d->segs_cap ? d->segs_cap * 2 : 8;
        seg_t *ns = realloc(d->segs, cap * sizeof *ns);
        if (!ns)
            return IOC_ENOMEM;
        d->segs = ns;
        d->segs_cap = cap;
    }
    d->segs[d->nsegs++] = (seg_t){.seq = seq};
    return 0;
}

static void segs_remove_head(spool_disk_t *d)
{
    memmove(d->segs, d->segs + 1, (d->nsegs - 1) * sizeof *d->segs);
    d->nsegs--;
}

static int cmp_seg(const void *a, const void *b)
{
    const seg_t *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The checksum of a record: crc32c over its length (LE) and then its payload. */
static uint32_t rec_crc_start(uint32_t len)
{
    unsigned char l[4];
    put32(l, len);
    return crc32c_update(0, l, 4);
}

/* Writes the cursor atomically: temp file, fsync, rename, fsync of the directory. */
static int cursor_write(spool_disk_t *d, uint64_t seq, uint64_t off)
{
    char line[128];
    int n = snprintf(line, sizeof line, "seq=%" PRIu64 " off=%" PRIu64, seq, off);
    uint32_t crc = crc32c_update(0, line, (size_t)n);
    n += snprintf(line + n, sizeof line - (size_t)n, " crc=%08" PRIx32 "\n", crc);
    int err = 0;
    int fd = openat(d->dirfd, "cursor.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        err = errno;
        goto out;
    }
    err = pwrite_all(fd, line, (size_t)n, 0);
    if (!err && fsync(fd) != 0)
        err = errno;
    close(fd);
    if (!err && renameat(d->dirfd, "cursor.tmp", d->dirfd, "cursor") != 0)
        err = errno;
    if (!err && fsync(d->dirfd) != 0)
        err = errno;
out:
    if (err) {
        note_write_error(d, "cursor", "cursor", err);
        return IOC_EIO;
    }
    return 0;
}

/* Reads the cursor. Returns 0, IOC_ENOTFOUND (no file), IOC_ECORRUPT or IOC_EIO. */
static int cursor_read(spool_disk_t *d, uint64_t *seq, uint64_t *off)
{
    char line[128];
    int fd = openat(d->dirfd, "cursor", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? IOC_ENOTFOUND : IOC_EIO;
    ssize_t n = read(fd, line, sizeof line - 1);
    close(fd);
    if (n < 0)
        return IOC_EIO;
    line[n] = '\0';
    unsigned long long s, o;
    unsigned int crc;
    int body = 0, end = 0;
    if (sscanf(line, "seq=%llu off=%llu%n crc=%8x%n", &s, &o, &body, &crc, &end) != 3 || end == 0 ||
        strcmp(line + end, "\n") != 0 || crc32c_update(0, line, (size_t)body) != crc)
        return IOC_ECORRUPT;
    *seq = s;
    *off = o;
    return 0;
}

/* Cuts the file of seg at off (truncate + fsync) and logs it; the caller fixes the counters. */
static void seg_cut(spool_disk_t *d, seg_t *s, uint64_t off, uint64_t file_size, const char *why)
{
    char name[SEG_NAME_LEN + 1], q[PATH_MAX + 16];
    seg_name(name, sizeof name, s->seq);
    d->corrupt_cuts++;
    d->bytes_cut += file_size - off;
    log_warn("spool", "event=spool_cut file=%s offset=%" PRIu64 " bytes_cut=%" PRIu64 " reason=%s",
             qpath(d, name, q, sizeof q), off, file_size - off, why);
    int fd = openat(d->dirfd, name, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)off) != 0 || fsync(fd) != 0)
        log_error("spool", "event=spool_cut_failed file=%s offset=%" PRIu64 " error=\"%s\"",
                  q, off, strerror(errno));
    if (fd >= 0)
        close(fd);
}

/* Checks the record at off of fd (whose good part is size bytes). Returns 0 with its payload
 * length in *len (and, with keep, the payload in d->buf); IOC_ECORRUPT with *why when it is torn
 * or corrupt; IOC_EIO or IOC_ENOMEM. Without keep it is checksummed in chunks of d->buf. */
static int rec_check(spool_disk_t *d, int fd, uint64_t off, uint64_t size, bool keep,
                     uint32_t *len, const char **why)
{
    unsigned char h[SPOOL_REC_HEADER];
    if (size - off < SPOOL_REC_HEADER) {
        *why = "torn_header";
        return IOC_ECORRUPT;
    }
    if (pread_all(fd, h, sizeof h, off) != 0)
        return IOC_EIO;
    uint32_t n = get32(h + 4);
    if (get32(h) != REC_MAGIC) {
        *why = "bad_magic";
        return IOC_ECORRUPT;
    }
    if (n > SPOOL_REC_MAX) {
        *why = "bad_length";
        return IOC_ECORRUPT;
    }
    if (size - off - SPOOL_REC_HEADER < n) {
        *why = "torn_record";
        return IOC_ECORRUPT;
    }
    if (keep && buf_reserve(d, n) != 0)
        return IOC_ENOMEM;
    uint32_t crc = rec_crc_start(n);
    for (uint32_t done = 0; done < n;) {
        uint32_t chunk = keep ? n : (n - done < CHUNK ? n - done : CHUNK);
        if (pread_all(fd, d->buf, chunk, off + SPOOL_REC_HEADER + done) != 0)
            return IOC_EIO;
        crc = crc32c_update(crc, d->buf, chunk);
        done += chunk;
    }
    if (crc != get32(h + 8)) {
        *why = "bad_crc";
        return IOC_ECORRUPT;
    }
    *len = n;
    return 0;
}

/* Scans one segment from the start, cutting it at the first bad record. Counts the records
 * that end at or before stop_off into *before and returns that boundary in *boundary. */
static int seg_scan(spool_disk_t *d, seg_t *s, uint64_t stop_off, uint64_t *boundary,
                    uint64_t *before)
{
    char name[SEG_NAME_LEN + 1];
    seg_name(name, sizeof name, s->seq);
    int fd = openat(d->dirfd, name, O_RDONLY | O_CLOEXEC);
    struct stat st;
    int rc = 0;
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = IOC_EIO;
        goto out;
    }
    uint64_t size = (uint64_t)st.st_size, off = 0;
    *boundary = 0;
    *before = 0;
    s->records = 0;
    while (off < size) {
        const char *why = NULL;
        uint32_t len;
        rc = rec_check(d, fd, off, size, false, &len, &why);
        if (rc == IOC_ECORRUPT) {
            rc = 0;
            seg_cut(d, s, off, size, why);
            break;
        }
        if (rc)
            goto out;
        off += SPOOL_REC_HEADER + (uint64_t)len;
        s->records++;
        if (off <= stop_off) {
            *boundary = off;
            *before = s->records;
        }
    }
    s->len = off;
out:
    if (fd >= 0)
        close(fd);
    if (rc) {
        char q[PATH_MAX + 16];
        log_error("spool", "event=spool_scan_failed file=%s error=\"%s\"",
                  qpath(d, name, q, sizeof q), strerror(errno));
    }
    return rc;
}

static int list_segments(spool_disk_t *d)
{
    int fd = dup(d->dirfd);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    int rc = 0;
    if (!dir) {
        if (fd >= 0)
            close(fd);
        return IOC_EIO;
    }
    rewinddir(dir);
    struct dirent *e;
    while ((e = readdir(dir))) {
        const char *n = e->d_name;
        if (strlen(n) != SEG_NAME_LEN || strncmp(n, "seg-", 4) != 0 || strcmp(n + 24, ".spool") != 0 ||
            strspn(n + 4, "0123456789") != 20)
            continue;
        rc = segs_push(d, strtoull(n + 4, NULL, 10));
        if (rc)
            break;
    }
    closedir(dir);
    if (d->nsegs)
        qsort(d->segs, d->nsegs, sizeof *d->segs, cmp_seg);
    return rc;
}

/* Deletes the fully consumed head segment; the cursor moves to the start of the next one. */
static int drop_head(spool_disk_t *d)
{
    char name[SEG_NAME_LEN + 1];
    uint64_t seq = d->segs[0].seq;
    uint64_t next = d->nsegs > 1 ? d->segs[1].seq : d->next_seq;
    int rc = cursor_write(d, next, 0);
    if (d->nsegs == 1 && d->write_fd >= 0) {
        close(d->write_fd);
        d->write_fd = -1;
    }
    if (d->read_fd >= 0) {
        close(d->read_fd);
        d->read_fd = -1;
    }
    seg_name(name, sizeof name, seq);
    if (unlinkat(d->dirfd, name, 0) != 0 && errno != ENOENT) {
        char q[PATH_MAX + 16];
        log_warn("spool", "event=spool_unlink_failed file=%s error=\"%s\"",
                 qpath(d, name, q, sizeof q), strerror(errno));
    }
    segs_remove_head(d);
    d->read_off = 0;
    d->read_done = 0;
    return rc;
}

int spool_disk_open(const char *dir, uint64_t segment_bytes, spool_disk_t **out)
{
    spool_disk_t *d = NULL;
    int rc = IOC_ENOMEM;
    char q[PATH_MAX + 16];
    *out = NULL;
    if (!dir || !*dir || strlen(dir) > PATH_MAX - SEG_NAME_LEN - 2)
        return IOC_EINVAL;
    d = calloc(1, sizeof *d);
    if (!d)
        return IOC_ENOMEM;
    d->dirfd = d->read_fd = d->write_fd = -1;
    if (!(d->dir = strdup(dir)) || buf_reserve(d, CHUNK) != 0)
        goto fail;
    d->segment_bytes = segment_bytes ? segment_bytes : SPOOL_SEGMENT_DEFAULT;
    rc = IOC_EIO;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        log_error("spool", "event=spool_open_failed dir=%s error=\"%s\"", log_q(q, sizeof q, dir),
                  strerror(errno));
        goto fail;
    }
    d->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d->dirfd < 0) {
        log_error("spool", "event=spool_open_failed dir=%s error=\"%s\"", log_q(q, sizeof q, dir),
                  strerror(errno));
        goto fail;
    }
    unlinkat(d->dirfd, "cursor.tmp", 0);
    rc = list_segments(d);
    if (rc)
        goto fail;

    uint64_t cseq = 0, coff = 0;
    int crc_rc = cursor_read(d, &cseq, &coff);
    if (crc_rc == IOC_ECORRUPT || crc_rc == IOC_EIO) {
        log_warn("spool", "event=spool_cursor_unreadable file=%s action=replay_from_oldest",
                 qpath(d, "cursor", q, sizeof q));
        cseq = coff = 0;
    }
    while (d->nsegs && d->segs[0].seq < cseq) {
        char name[SEG_NAME_LEN + 1];
        seg_name(name, sizeof name, d->segs[0].seq);
        unlinkat(d->dirfd, name, 0);
        segs_remove_head(d);
    }
    for (size_t i = 0; i < d->nsegs; i++) {
        uint64_t boundary, before;
        bool at_cursor = i == 0 && d->segs[0].seq == cseq;
        rc = seg_scan(d, &d->segs[i], at_cursor ? coff : 0, &boundary, &before);
        if (rc)
            goto fail;
        if (at_cursor) {
            if (boundary != coff && coff <= d->segs[0].len)
                log_warn("spool", "event=spool_cursor_misaligned offset=%" PRIu64 " using=%" PRIu64,
                         coff, boundary);
            d->read_off = boundary;
            d->read_done = before;
        }
        d->records += d->segs[i].records;
        d->bytes += d->segs[i].len;
    }
    d->records -= d->read_done;
    d->bytes -= d->read_off;
    d->next_seq = cseq;
    if (d->nsegs) {
        seg_t *last = &d->segs[d->nsegs - 1];
        char name[SEG_NAME_LEN + 1];
        if (last->seq + 1 > d->next_seq)
            d->next_seq = last->seq + 1;
        seg_name(name, sizeof name, last->seq);
        d->write_fd = openat(d->dirfd, name, O_WRONLY | O_CLOEXEC);
        if (d->write_fd < 0) {
            rc = IOC_EIO;
            goto fail;
        }
    }
    log_info("spool", "event=spool_open dir=%s segments=%zu records=%" PRIu64 " bytes=%" PRIu64
             " corrupt_cuts=%" PRIu64, log_q(q, sizeof q, dir), d->nsegs, d->records, d->bytes,
             d->corrupt_cuts);
    *out = d;
    return 0;
fail:
    spool_disk_close(d);
    return rc;
}

/* Starts a new segment file (made durable in the directory) that the next append writes to. */
static int roll(spool_disk_t *d)
{
    char name[SEG_NAME_LEN + 1];
    if (d->write_fd >= 0) {
        close(d->write_fd);
        d->write_fd = -1;
    }
    if (segs_push(d, d->next_seq) != 0)
        return IOC_ENOMEM;
    seg_name(name, sizeof name, d->next_seq);
    d->next_seq++;
    d->write_fd = openat(d->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (d->write_fd < 0 || fsync(d->dirfd) != 0) {
        int err = errno;
        note_write_error(d, "create", name, err);
        if (d->write_fd >= 0) {
            close(d->write_fd);
            d->write_fd = -1;
        } else {
            d->nsegs--; /* no file was made */
        }
        return IOC_EIO;
    }
    return 0;
}

int spool_disk_append(spool_disk_t *d, const void *rec, size_t len)
{
    if (len > SPOOL_REC_MAX)
        return IOC_ETOOBIG;
    uint64_t need = SPOOL_REC_HEADER + (uint64_t)len;
    seg_t *s = d->nsegs ? &d->segs[d->nsegs - 1] : NULL;
    if (d->write_fd < 0 || (s->len > 0 && s->len + need > d->segment_bytes)) {
        int rc = roll(d);
        if (rc)
            return rc;
        s = &d->segs[d->nsegs - 1];
    }
    unsigned char h[SPOOL_REC_HEADER];
    put32(h, REC_MAGIC);
    put32(h + 4, (uint32_t)len);
    put32(h + 8, crc32c_update(rec_crc_start((uint32_t)len), rec, len));
    int err = pwrite_all(d->write_fd, h, sizeof h, s->len);
    if (!err)
        err = pwrite_all(d->write_fd, rec, len, s->len + SPOOL_REC_HEADER);
    if (!err && fdatasync(d->write_fd) != 0)
        err = errno;
    if (err) {
        char name[SEG_NAME_LEN + 1];
        seg_name(name, sizeof name, s->seq);
        note_write_error(d, "append", name, err);
        /* No partial record may stay behind good ones; if the cut fails, seal the segment so
         * nothing is written after the partial record (the next open cuts it). */
        if (ftruncate(d->write_fd, (off_t)s->len) != 0 || fdatasync(d->write_fd) != 0) {
            close(d->write_fd);
            d->write_fd = -1;
        }
        return IOC_EIO;
    }
    note_write_ok(d);
    s->len += need;
    s->records++;
    d->records++;
    d->bytes += need;
    return 0;
}

int spool_disk_read(spool_disk_t *d, const void **rec, size_t *len)
{
    d->have_last = false;
    for (;;) {
        if (d->nsegs == 0)
            return IOC_ENOTFOUND;
        seg_t *s = &d->segs[0];
        if (d->read_off >= s->len) {
            if (d->nsegs == 1 && d->write_fd >= 0)
                return IOC_ENOTFOUND;
            drop_head(d);
            continue;
        }
        if (d->read_fd < 0 || d->read_seq != s->seq) {
            char name[SEG_NAME_LEN + 1];
            if (d->read_fd >= 0)
                close(d->read_fd);
            seg_name(name, sizeof name, s->seq);
            d->read_fd = openat(d->dirfd, name, O_RDONLY | O_CLOEXEC);
            if (d->read_fd < 0)
                return IOC_EIO;
            d->read_seq = s->seq;
        }
        const char *why = NULL;
        uint32_t n;
        int rc = rec_check(d, d->read_fd, d->read_off, s->len, true, &n, &why);
        if (rc == 0) {
            d->have_last = true;
            d->last_len = n;
            *rec = d->buf;
            *len = n;
            return 0;
        }
        if (rc != IOC_ECORRUPT)
            return rc;
        /* Corrupt since it was scanned: cut here and go on with what follows. */
        seg_cut(d, s, d->read_off, s->len, why);
        d->records -= s->records - d->read_done;
        d->bytes -= s->len - d->read_off;
        s->records = d->read_done;
        s->len = d->read_off;
    }
}

int spool_disk_consume(spool_disk_t *d)
{
    if (!d->have_last || d->nsegs == 0)
        return IOC_EINVAL;
    d->have_last = false;
    uint64_t n = SPOOL_REC_HEADER + (uint64_t)d->last_len;
    d->read_off += n;
    d->read_done++;
    d->records--;
    d->bytes -= n;
    if (d->read_off >= d->segs[0].len)
        return drop_head(d);
    return cursor_write(d, d->segs[0].seq, d->read_off);
}

void spool_disk_get_stats(const spool_disk_t *d, spool_disk_stats_t *out)
{
    *out = (spool_disk_stats_t){
        .records = d->records,
        .bytes = d->bytes,
        .segments = d->nsegs,
        .corrupt_cuts = d->corrupt_cuts,
        .bytes_cut = d->bytes_cut,
        .write_errors = d->write_errors,
    };
}

void spool_disk_close(spool_disk_t *d)
{
    if (!d)
        return;
    if (d->read_fd >= 0)
        close(d->read_fd);
    if (d->write_fd >= 0)
        close(d->write_fd);
    if (d->dirfd >= 0)
        close(d->dirfd);
    free(d->segs);
    free(d->buf);
    free(d->dir);
    free(d);
}

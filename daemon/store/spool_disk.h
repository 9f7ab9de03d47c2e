/* The spool's synchronous disk core: segment files, framed records, the cursor. Blocking I/O;
 * not thread-safe (spool.c calls it from one worker at a time). */
#ifndef IOCD_SPOOL_DISK_H
#define IOCD_SPOOL_DISK_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of framing before each record's payload: magic, length, crc32c (u32 each, LE). */
#define SPOOL_REC_HEADER 12u
/* Largest payload a record may carry; a header claiming more is corrupt. */
#define SPOOL_REC_MAX (64u << 20)
/* Segment size used when the caller passes 0. */
#define SPOOL_SEGMENT_DEFAULT (16u << 20)

typedef struct spool_disk spool_disk_t;

typedef struct spool_disk_stats {
    uint64_t records;      /* records on disk not yet consumed */
    uint64_t bytes;        /* their bytes, framing included */
    uint64_t segments;     /* segment files */
    uint64_t corrupt_cuts; /* torn/corrupt tails cut (at open or read) */
    uint64_t bytes_cut;    /* bytes discarded by those cuts */
    uint64_t write_errors; /* failed appends and cursor writes */
} spool_disk_stats_t;

/* Opens (creating, 0700) the directory, reads the cursor, deletes consumed segments and scans
 * every other one, cutting each at its first bad record. Returns 0 and *out (free with
 * spool_disk_close), or IOC_EINVAL, IOC_ENOMEM, IOC_EIO. */
int spool_disk_open(const char *dir, uint64_t segment_bytes, spool_disk_t **out);
/* Writes one record at the end and fdatasyncs it; rolls to a new segment past segment_bytes.
 * On a disk error the segment is cut back to its last good length and IOC_EIO returned.
 * Returns 0, IOC_ETOOBIG (len > SPOOL_REC_MAX) or IOC_EIO. */
int spool_disk_append(spool_disk_t *d, const void *rec, size_t len);
/* Reads the oldest unconsumed record into a buffer the spool owns (valid until the next read
 * or close); a corrupt record is cut (counted) and reading goes on with the next segment.
 * Returns 0, IOC_ENOTFOUND when nothing is left, IOC_ENOMEM or IOC_EIO. */
int spool_disk_read(spool_disk_t *d, const void **rec, size_t *len);
/* Marks the record returned by the last read consumed: writes the cursor and deletes the
 * segment once it is fully consumed. Returns 0, IOC_EINVAL (no record read) or IOC_EIO (the
 * cursor was not saved; the record is consumed all the same and may replay after a crash). */
int spool_disk_consume(spool_disk_t *d);
/* Copies the counters into *out. */
void spool_disk_get_stats(const spool_disk_t *d, spool_disk_stats_t *out);
/* Closes the files and frees d. NULL is fine. */
void spool_disk_close(spool_disk_t *d);

#endif

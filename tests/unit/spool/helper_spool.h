/* Shared helpers for the spool tests: temp directories, deterministic records, file surgery. */
#ifndef IOCD_TEST_HELPER_SPOOL_H
#define IOCD_TEST_HELPER_SPOOL_H

#include <stddef.h>
#include <stdint.h>

/* Makes a fresh directory under TMPDIR (or /tmp) and returns its path (static storage). The
 * spool itself goes in <that>/spool so that spool_open has to create it. */
const char *tmpdir_new(void);
/* Removes a directory made by tmpdir_new and everything in it. */
void tmpdir_remove(const char *path);
/* Length of the i-th test record (varies, sometimes 0). */
size_t rec_len(unsigned i);
/* Fills buf with the i-th test record's bytes (rec_len(i) of them). */
void rec_fill(unsigned i, unsigned char *buf);
/* Asserts that rec/len is exactly the i-th test record. */
void rec_expect(unsigned i, const void *rec, size_t len);
/* Number of seg-*.spool files in dir. */
int seg_count(const char *dir);
/* Path of the n-th (0-based, in sequence order) segment file of dir, in static storage. */
const char *seg_path(const char *dir, int n);
/* Size of a file in bytes (asserts that it exists). */
uint64_t file_size(const char *path);
/* XORs 0xFF into the byte at off of path. */
void file_flip(const char *path, uint64_t off);

#endif

/* CRC-32C (Castagnoli), the checksum of spool records and the spool cursor. */
#ifndef IOCD_CRC32C_H
#define IOCD_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends a CRC-32C over len bytes of buf and returns it. Start with crc = 0; passing the
 * result of one call as crc of the next checksums the concatenation. */
uint32_t crc32c_update(uint32_t crc, const void *buf, size_t len);

#endif

/* gzip decoding of request bodies with zlib, bounded by the output buffer's limit. */
#include <zlib.h>

#include "api/gunzip.h"
#include "ioc/error.h"

int gunzip_body(const void *in, size_t len, strbuf_t *out)
{
    z_stream zs = {0};
    if (inflateInit2(&zs, 15 + 16) != Z_OK) /* 15 + 16: gzip framing only */
        return IOC_ENOMEM;
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    int rc = IOC_OK;
    unsigned char chunk[64 * 1024];
    for (;;) {
        zs.next_out = chunk;
        zs.avail_out = sizeof chunk;
        int z = inflate(&zs, Z_NO_FLUSH);
        if (z != Z_OK && z != Z_STREAM_END) {
            rc = z == Z_MEM_ERROR ? IOC_ENOMEM : IOC_EINVAL;
            break;
        }
        if ((rc = strbuf_append(out, chunk, sizeof chunk - zs.avail_out)))
            break;
        if (z == Z_STREAM_END)
            break;
        if (zs.avail_in == 0 && zs.avail_out != 0) {
            rc = IOC_EINVAL; /* truncated stream */
            break;
        }
    }
    inflateEnd(&zs);
    return rc;
}

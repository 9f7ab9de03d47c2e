/* libFuzzer target: the /ws client-op parser on arbitrary bytes (not NUL-terminated). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub/hub_int.h"
#include "ingest/utf8.h"
#include "ioc/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size heap copy, so reading past the end is caught by AddressSanitizer */
    char *buf = malloc(size ? size : 1), err[256];
    hub_op_t op;
    int rc;

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    rc = hub_op_parse(buf, size, &op, err, sizeof err);
    if (rc == IOC_OK) {
        if (err[0] || (op.kind != HUB_OP_PING && (op.ntopics < 1 || op.ntopics > HUB_MAX_TOPICS)))
            abort();
        for (size_t i = 0; i < op.ntopics; i++)
            if (!utf8_valid(op.topics[i], strlen(op.topics[i])))
                abort();
    } else if ((rc != IOC_EINVAL && rc != IOC_ETOOBIG) || !err[0] ||
               !utf8_valid(err, strlen(err))) {
        abort(); /* every refusal says why, as valid UTF-8 for the error frame */
    }
    free(buf);
    return 0;
}

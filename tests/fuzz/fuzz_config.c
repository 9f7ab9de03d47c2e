/* libFuzzer target: config_parse on arbitrary bytes must fail cleanly or give a config. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    config_t *cfg = NULL;
    int line, column;
    if (config_parse("fuzz.json", (const char *)data, size, &cfg, err, sizeof err) == 0) {
        config_locate(cfg, "collectors[0].interval", &line, &column);
        config_locate(cfg, "auth.tokens[1].sha256", &line, &column);
        config_free(cfg);
    } else if (cfg != NULL || memchr(err, '\0', sizeof err) == NULL) {
        __builtin_trap();
    }
    return 0;
}

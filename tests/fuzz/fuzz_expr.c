/* libFuzzer target: expr_parse on arbitrary text must fail cleanly with a column inside the
 * text, or give an expression that evaluates without crashing. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    int col;
    expr_t *e = NULL;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    size_t len = strlen(text);
    if (expr_parse(text, &e, &col, err, sizeof err) == 0) {
        double vals[EXPR_MAX_TERMS], out;
        bool has[EXPR_MAX_TERMS];
        for (size_t i = 0; i < EXPR_MAX_TERMS; i++) {
            vals[i] = (double)i - 3;
            has[i] = i % 5 != 4;
        }
        if (e == NULL || expr_nterms(e) > EXPR_MAX_TERMS)
            __builtin_trap();
        expr_eval(e, vals, has, &out);
        expr_free(e);
    } else if (e != NULL || col < 1 || (size_t)col > len + 1 || !memchr(err, '\0', sizeof err)) {
        __builtin_trap();
    }
    free(text);
    return 0;
}

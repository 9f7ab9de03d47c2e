/* UTF-8 validation. */
#ifndef IOCD_UTF8_H
#define IOCD_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True if s[0..len) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF, no NUL). */
bool utf8_valid(const char *s, size_t len);

#endif

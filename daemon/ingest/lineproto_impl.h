/* Internal helpers of the line protocol parser: numbers, timestamps, UTF-8, message excerpts. */
#ifndef IOCD_LINEPROTO_IMPL_H
#define IOCD_LINEPROTO_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/lineproto.h"

/* Outcome of a number parse. */
enum { LP_NUM_OK = 0, LP_NUM_SYNTAX = -1, LP_NUM_RANGE = -2 };

/* Parses a float as the grammar has it ([-] digits [. digits] [e[+-]digits] | [-] . digits ...;
 * no NaN, Inf, hex or '+'). `scratch` needs n + 1 bytes (used for the rare slow path).
 * Returns LP_NUM_OK and *out, LP_NUM_SYNTAX, or LP_NUM_RANGE for a non-finite result. */
int lp_num_float(const char *s, size_t n, char *scratch, double *out);

/* Parses [-]digits into an int64. Returns LP_NUM_OK, LP_NUM_SYNTAX or LP_NUM_RANGE. */
int lp_num_int(const char *s, size_t n, int64_t *out);

/* Parses digits into a uint64. Returns LP_NUM_OK, LP_NUM_SYNTAX or LP_NUM_RANGE. */
int lp_num_uint(const char *s, size_t n, uint64_t *out);

/* Converts a timestamp in `prec` units to microseconds (rounding down). Returns LP_NUM_OK or
 * LP_NUM_RANGE when the result does not fit an int64. */
int lp_num_ts_us(int64_t t, lp_precision_t prec, int64_t *out);

/* Length of the valid UTF-8 sequence starting at p (p < end, *p >= 0x80), or 0 if invalid
 * (bad lead or continuation byte, truncated, overlong, surrogate, above U+10FFFF). */
size_t lp_utf8_seq(const unsigned char *p, const unsigned char *end);

/* Writes a printable excerpt of s[0..n) into dst (cap >= 8 bytes, always NUL-terminated) for
 * an error message: at most ~40 bytes, '"', '\\', control bytes and invalid UTF-8 become '?',
 * "..." marks a cut. Returns dst. */
const char *lp_excerpt(char *dst, size_t cap, const char *s, size_t n);

#endif

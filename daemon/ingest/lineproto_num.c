/* Line protocol numbers: strict grammar checks, a fast exact float path, timestamp units. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/lineproto_impl.h"

/* Powers of ten that a double holds exactly (Clinger's fast path). */
static const double lp_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                  1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                  1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#define LP_MANT_MAX (UINT64_C(1) << 53)
#define LP_MANT_STOP UINT64_C(999999999999999999) /* stop accumulating before uint64 wraps */
#define LP_EXP_CLAMP 100000

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int lp_num_float(const char *s, size_t n, char *scratch, double *out)
{
    size_t i = 0, int_digits = 0, frac_digits = 0;
    bool neg = false, truncated = false;
    uint64_t m = 0;
    long exp10 = 0;

    if (i < n && s[i] == '-') {
        neg = true;
        i++;
    }
    for (; i < n && is_digit(s[i]); i++, int_digits++) {
        if (m <= LP_MANT_STOP)
            m = m * 10 + (uint64_t)(s[i] - '0');
        else {
            truncated = true;
            exp10++;
        }
    }
    if (i < n && s[i] == '.') {
        for (i++; i < n && is_digit(s[i]); i++, frac_digits++) {
            if (m <= LP_MANT_STOP) {
                m = m * 10 + (uint64_t)(s[i] - '0');
                exp10--;
            } else {
                truncated = true;
            }
        }
    }
    if (int_digits + frac_digits == 0)
        return LP_NUM_SYNTAX;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        bool eneg = false;
        long e = 0;
        size_t edigits = 0;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        for (; i < n && is_digit(s[i]); i++, edigits++)
            if (e < LP_EXP_CLAMP)
                e = e * 10 + (s[i] - '0');
        if (edigits == 0)
            return LP_NUM_SYNTAX;
        exp10 += eneg ? -e : e;
    }
    if (i != n)
        return LP_NUM_SYNTAX;

    double v;
    if (m == 0) {
        v = 0.0;
    } else if (!truncated && m <= LP_MANT_MAX && exp10 >= -22 && exp10 <= 22) {
        v = (double)m;
        v = exp10 < 0 ? v / lp_pow10[-exp10] : v * lp_pow10[exp10];
    } else {
        /* The token passed the grammar above, so strtod sees only a plain decimal. */
        memcpy(scratch, s, n);
        scratch[n] = '\0';
        v = strtod(scratch, NULL);
        if (!isfinite(v))
            return LP_NUM_RANGE;
        *out = v;
        return LP_NUM_OK;
    }
    *out = neg ? -v : v;
    return LP_NUM_OK;
}

/* Accumulates decimal digits into *acc, refusing values above `max`. */
static int lp_digits(const char *s, size_t n, uint64_t max, uint64_t *acc)
{
    uint64_t v = 0;
    if (n == 0)
        return LP_NUM_SYNTAX;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return LP_NUM_SYNTAX;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (max - d) / 10)
            return LP_NUM_RANGE;
        v = v * 10 + d;
    }
    *acc = v;
    return LP_NUM_OK;
}

int lp_num_int(const char *s, size_t n, int64_t *out)
{
    bool neg = n > 0 && s[0] == '-';
    uint64_t v;
    int rc = lp_digits(s + neg, n - neg, neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, &v);
    if (rc != LP_NUM_OK)
        return rc;
    /* Negate in unsigned arithmetic so INT64_MIN needs no overflow. */
    *out = neg ? (int64_t)(~v + 1) : (int64_t)v;
    return LP_NUM_OK;
}

int lp_num_uint(const char *s, size_t n, uint64_t *out)
{
    return lp_digits(s, n, UINT64_MAX, out);
}

int lp_num_ts_us(int64_t t, lp_precision_t prec, int64_t *out)
{
    switch (prec) {
    case LP_NS:
        *out = t / 1000 - (t % 1000 < 0);
        return LP_NUM_OK;
    case LP_US:
        *out = t;
        return LP_NUM_OK;
    case LP_MS:
        return __builtin_mul_overflow(t, INT64_C(1000), out) ? LP_NUM_RANGE : LP_NUM_OK;
    case LP_S:
        return __builtin_mul_overflow(t, INT64_C(1000000), out) ? LP_NUM_RANGE : LP_NUM_OK;
    }
    return LP_NUM_RANGE;
}

/* The sql collector's cell parsing: result cells (libpq text format) as values and times. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sql.h"

/* Type OIDs from PostgreSQL's catalog (pg_type.dat); stable across versions. */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

#define MAX_EPOCH_S 1e11 /* about year 5138: anything beyond is a unit mistake */

static bool is_number_type(Oid t)
{
    return t == OID_INT8 || t == OID_INT2 || t == OID_INT4 || t == OID_FLOAT4 ||
           t == OID_FLOAT8 || t == OID_NUMERIC;
}

/* A whole-string finite decimal number: no spaces, no hex, no "inf"/"nan". */
static int parse_decimal(const char *s, double *out)
{
    char *end;
    if (!(isdigit((unsigned char)*s) || *s == '-' || *s == '+' || *s == '.') ||
        strpbrk(s, "xX"))
        return IOC_EINVAL;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v))
        return IOC_EINVAL;
    *out = v;
    return IOC_OK;
}

int sql_parse_value(const char *text, Oid type, double *out)
{
    if (type == OID_BOOL) {
        if (strcmp(text, "t") != 0 && strcmp(text, "f") != 0)
            return IOC_EINVAL;
        *out = text[0] == 't';
        return IOC_OK;
    }
    return parse_decimal(text, out);
}

/* Reads exactly n digits at *p; returns the number or -1. */
static int digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (!isdigit((unsigned char)**p))
            return -1;
        v = v * 10 + (**p - '0');
    }
    return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* "+07", "+07:00", "+0700", "-03:30:15" or "Z" at p; seconds east of UTC into *off. */
static int parse_zone(const char *p, int64_t *off)
{
    int sign, h, m = 0, s = 0;
    if (strcmp(p, "Z") == 0 || *p == '\0') {
        *off = 0;
        return IOC_OK;
    }
    if (*p != '+' && *p != '-')
        return IOC_EINVAL;
    sign = *p++ == '-' ? -1 : 1;
    if ((h = digits(&p, 2)) < 0 || h > 15)
        return IOC_EINVAL;
    if (*p == ':')
        p++;
    if (*p && ((m = digits(&p, 2)) < 0 || m > 59))
        return IOC_EINVAL;
    if (*p == ':')
        p++;
    if (*p && ((s = digits(&p, 2)) < 0 || s > 59))
        return IOC_EINVAL;
    if (*p)
        return IOC_EINVAL;
    *off = sign * (h * 3600 + m * 60 + s);
    return IOC_OK;
}

/* ISO 8601 as PostgreSQL prints it with DateStyle ISO (and RFC 3339). */
static int parse_iso(const char *p, int64_t *us)
{
    int y, mo, d, h = 0, mi = 0, s = 0;
    int64_t frac = 0, off;
    if ((y = digits(&p, 4)) < 0 || *p++ != '-' || (mo = digits(&p, 2)) < 1 || mo > 12 ||
        *p++ != '-' || (d = digits(&p, 2)) < 1 || d > days_in_month(y, mo))
        return IOC_EINVAL;
    if (*p == ' ' || *p == 'T') {
        p++;
        if ((h = digits(&p, 2)) < 0 || h > 23 || *p++ != ':' || (mi = digits(&p, 2)) < 0 ||
            mi > 59)
            return IOC_EINVAL;
        if (*p == ':') {
            p++;
            if ((s = digits(&p, 2)) < 0 || s > 60)
                return IOC_EINVAL;
            if (*p == '.') {
                int64_t scale = 100000;
                if (!isdigit((unsigned char)*++p))
                    return IOC_EINVAL;
                for (; isdigit((unsigned char)*p); p++, scale /= 10)
                    frac += (*p - '0') * scale;
            }
        }
    }
    if (parse_zone(p, &off) != IOC_OK)
        return IOC_EINVAL;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - off;
    *us = secs * 1000000 + frac;
    return IOC_OK;
}

int sql_parse_time(const char *text, Oid type, int64_t *us)
{
    double secs;
    if (is_number_type(type) || parse_iso(text, us) != IOC_OK) {
        if (parse_decimal(text, &secs) != IOC_OK || fabs(secs) >= MAX_EPOCH_S)
            return IOC_EINVAL;
        *us = (int64_t)llround(secs * 1e6);
    }
    return IOC_OK;
}

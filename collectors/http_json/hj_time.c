/* Observation times: ISO 8601 strings (and intervals), epoch seconds or milliseconds. */
#include <math.h>
#include <string.h>

#include "hj.h"

#define US 1000000LL
#define MAX_EPOCH_S 253402300799.0 /* 9999-12-31T23:59:59Z */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's algorithm). */
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
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* Reads exactly n digits at *s into *v; returns 0 or -1. */
static int digits(const char **s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*s)[i];
        if (c < '0' || c > '9')
            return -1;
        *v = *v * 10 + (c - '0');
    }
    *s += n;
    return 0;
}

/* Parses "Z", "+HH:MM", "+HHMM", "+HH" or nothing (UTC) into seconds east of UTC. */
static int parse_zone(const char **s, int *off_s)
{
    int hh = 0, mm = 0, sign;
    *off_s = 0;
    if (**s == 'Z' || **s == 'z') {
        (*s)++;
        return 0;
    }
    if (**s != '+' && **s != '-')
        return 0;
    sign = **s == '-' ? -1 : 1;
    (*s)++;
    if (digits(s, 2, &hh) != 0)
        return -1;
    if (**s == ':')
        (*s)++;
    if (**s >= '0' && **s <= '9' && digits(s, 2, &mm) != 0)
        return -1;
    if (hh > 23 || mm > 59)
        return -1;
    *off_s = sign * (hh * 3600 + mm * 60);
    return 0;
}

/* Parses one ISO 8601 date or date-time ending at `end` (exclusive). */
static int parse_one(const char *s, const char *end, int64_t *us_out)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, off = 0;
    int64_t frac_us = 0;
    if (digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) || *s++ != '-' || digits(&s, 2, &d))
        return -1;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return -1;
    if (s < end && (*s == 'T' || *s == 't' || *s == ' ')) {
        s++;
        if (digits(&s, 2, &h) || *s++ != ':' || digits(&s, 2, &mi))
            return -1;
        if (*s == ':') {
            s++;
            if (digits(&s, 2, &sec))
                return -1;
            if (*s == '.' || *s == ',') {
                int64_t scale = 100000;
                if (*++s < '0' || *s > '9')
                    return -1;
                for (; *s >= '0' && *s <= '9'; s++, scale /= 10)
                    frac_us += (*s - '0') * scale;
            }
        }
        if (h > 23 || mi > 59 || sec > 60 || parse_zone(&s, &off) != 0)
            return -1;
    }
    if (s != end)
        return -1;
    *us_out = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) - off) * US + frac_us;
    return *us_out >= 0 ? 0 : -1;
}

int hj_time_parse_iso(const char *s, int64_t *us_out)
{
    const char *slash = strchr(s, '/');
    if (slash)
        return parse_one(slash + 1, slash + 1 + strlen(slash + 1), us_out);
    return parse_one(s, s + strlen(s), us_out);
}

int hj_time_from_epoch(double v, int64_t *us_out)
{
    if (!isfinite(v) || v < 0)
        return -1;
    if (v >= 1e11)
        v /= 1000.0;
    if (v > MAX_EPOCH_S)
        return -1;
    *us_out = llround(v * (double)US);
    return 0;
}

int hj_time_from_node(const cJSON *node, int64_t *us_out)
{
    if (cJSON_IsObject(node))
        node = cJSON_GetObjectItemCaseSensitive(node, "@value");
    if (cJSON_IsString(node))
        return hj_time_parse_iso(node->valuestring, us_out);
    if (cJSON_IsNumber(node))
        return hj_time_from_epoch(node->valuedouble, us_out);
    return -1;
}

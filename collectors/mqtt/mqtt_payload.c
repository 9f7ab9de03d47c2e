/* MQTT payloads: a plain number, or JSON with RFC 6901 pointers to the value and the time. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mqtt.h"

#define STACK_PAYLOAD 512
/* Times outside years 1970..2262 are refused (int64 nanoseconds hold up to 2262). */
#define MAX_TIME_US 9223372036854775LL

int mqtt_pointer_check(const char *ptr)
{
    size_t n = ptr ? strlen(ptr) : 0;
    if (!ptr || n > MQTT_MAX_POINTER || (n > 0 && ptr[0] != '/'))
        return IOC_EINVAL;
    for (const char *p = ptr; *p; p++)
        if (*p == '~' && p[1] != '0' && p[1] != '1')
            return IOC_EINVAL;
    return IOC_OK;
}

/* Parses an array index token (digits, no leading zero). Returns -1 if it is not one. */
static long array_index(const char *tok)
{
    size_t n = strlen(tok);
    if (n == 0 || n > 9 || strspn(tok, "0123456789") != n || (n > 1 && tok[0] == '0'))
        return -1;
    return strtol(tok, NULL, 10);
}

const cJSON *mqtt_pointer_get(const cJSON *root, const char *ptr)
{
    char tok[MQTT_MAX_POINTER + 1];
    const cJSON *cur = root;
    if (mqtt_pointer_check(ptr) != IOC_OK)
        return NULL;
    const char *p = ptr;
    while (cur && *p == '/') {
        size_t n = 0;
        for (p++; *p && *p != '/'; p++) {
            if (*p == '~') {
                p++;
                tok[n++] = *p == '0' ? '~' : '/';
            } else {
                tok[n++] = *p;
            }
        }
        tok[n] = '\0';
        if (cJSON_IsArray(cur)) {
            long idx = array_index(tok);
            cur = idx < 0 ? NULL : cJSON_GetArrayItem(cur, (int)idx);
        } else if (cJSON_IsObject(cur)) {
            cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
        } else {
            cur = NULL;
        }
    }
    return cur;
}

/* Parses a whole string as a finite number (surrounding whitespace allowed). */
static int parse_number(const char *s, double *out)
{
    char *end;
    while (isspace((unsigned char)*s))
        s++;
    if (*s == '\0')
        return IOC_EINVAL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno == ERANGE || !isfinite(v))
        return IOC_EINVAL;
    while (isspace((unsigned char)*end))
        end++;
    if (*end != '\0')
        return IOC_EINVAL;
    *out = v;
    return IOC_OK;
}

static int digits(const char **s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*s)++) {
        if (!isdigit((unsigned char)**s))
            return -1;
        v = v * 10 + (**s - '0');
    }
    *out = v;
    return 0;
}

int mqtt_parse_rfc3339(const char *s, int64_t *us)
{
    struct tm tm = {0};
    int y, mo, d, h, mi, sec, frac_us = 0;
    if (digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) || *s++ != '-' ||
        digits(&s, 2, &d) || (*s != 'T' && *s != 't' && *s != ' ') || !*s++ ||
        digits(&s, 2, &h) || *s++ != ':' || digits(&s, 2, &mi) || *s++ != ':' ||
        digits(&s, 2, &sec))
        return IOC_EINVAL;
    if (*s == '.') {
        int n = 0;
        for (s++; isdigit((unsigned char)*s); s++, n++)
            if (n < 6)
                frac_us = frac_us * 10 + (*s - '0');
        if (n == 0)
            return IOC_EINVAL;
        for (; n < 6; n++)
            frac_us *= 10;
    }
    int off_s = 0;
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        int sign = *s++ == '-' ? -1 : 1, oh, om;
        if (digits(&s, 2, &oh) || *s++ != ':' || digits(&s, 2, &om) || oh > 23 || om > 59)
            return IOC_EINVAL;
        off_s = sign * (oh * 3600 + om * 60);
    } else {
        return IOC_EINVAL;
    }
    if (*s != '\0' || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 60)
        return IOC_EINVAL;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (tm.tm_mday != d && sec != 60) /* timegm normalised a day that does not exist */
        return IOC_EINVAL;
    int64_t v = ((int64_t)t - off_s) * 1000000 + frac_us;
    if (v <= 0 || v > MAX_TIME_US)
        return IOC_EINVAL;
    *us = v;
    return IOC_OK;
}

static int time_from_item(const cJSON *it, mqtt_time_unit_t unit, int64_t *us)
{
    static const double scale[] = {1e6, 1e3, 1.0, 1e-3};
    if (cJSON_IsString(it))
        return mqtt_parse_rfc3339(it->valuestring, us);
    if (!cJSON_IsNumber(it))
        return IOC_EINVAL;
    double v = it->valuedouble * scale[unit];
    if (!(v > 0.0) || v > (double)MAX_TIME_US)
        return IOC_EINVAL;
    *us = llround(v);
    return IOC_OK;
}

/* Takes value and time from a parsed JSON document. */
static int from_json(const mqtt_payload_spec_t *spec, const cJSON *doc, double *value,
                     int64_t *ts_us, char *why, size_t whylen)
{
    const cJSON *v = mqtt_pointer_get(doc, spec->value_ptr);
    if (!v) {
        snprintf(why, whylen, "no value at \"%s\"", spec->value_ptr);
        return IOC_EINVAL;
    }
    if (cJSON_IsBool(v)) {
        *value = cJSON_IsTrue(v) ? 1.0 : 0.0;
    } else if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
        *value = v->valuedouble;
    } else {
        snprintf(why, whylen, "value at \"%s\" is not a number", spec->value_ptr);
        return IOC_EINVAL;
    }
    if (!spec->time_ptr)
        return IOC_OK;
    const cJSON *t = mqtt_pointer_get(doc, spec->time_ptr);
    if (!t || time_from_item(t, spec->time_unit, ts_us) != IOC_OK) {
        snprintf(why, whylen, "%s time at \"%s\"", t ? "bad" : "no", spec->time_ptr);
        return IOC_EINVAL;
    }
    return IOC_OK;
}

int mqtt_payload_parse(const mqtt_payload_spec_t *spec, const void *payload, size_t len,
                       double *value, int64_t *ts_us, char *why, size_t whylen)
{
    char stackbuf[STACK_PAYLOAD];
    char *buf = stackbuf;
    cJSON *doc = NULL;
    int rc;
    *ts_us = 0;
    if (len > spec->max_len) {
        snprintf(why, whylen, "payload of %zu bytes is over max_payload (%zu)", len, spec->max_len);
        return IOC_ETOOBIG;
    }
    /* Payloads are not NUL-terminated: parse a terminated copy (cJSON CVE-2023-53154). */
    if (len >= sizeof stackbuf && !(buf = malloc(len + 1))) {
        snprintf(why, whylen, "out of memory");
        return IOC_ENOMEM;
    }
    if (len)
        memcpy(buf, payload, len);
    buf[len] = '\0';
    if (memchr(buf, '\0', len)) {
        snprintf(why, whylen, "payload contains a NUL byte");
        rc = IOC_EINVAL;
        goto out;
    }
    if (!spec->value_ptr) {
        rc = parse_number(buf, value);
        if (rc)
            snprintf(why, whylen, "payload is not a number");
        goto out;
    }
    doc = cJSON_Parse(buf);
    if (!doc) {
        snprintf(why, whylen, "payload is not JSON");
        rc = IOC_EINVAL;
        goto out;
    }
    rc = from_json(spec, doc, value, ts_us, why, whylen);
out:
    cJSON_Delete(doc);
    if (buf != stackbuf)
        free(buf);
    return rc;
}

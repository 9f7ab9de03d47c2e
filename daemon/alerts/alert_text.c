/* Alert message templates: {name} {indicator} {group} {value} {unit} {threshold} {severity}. */
#include <stdio.h>
#include <string.h>

#include "alerts/alert_rule.h"

static const char *const fields[] = {"name", "indicator", "group", "value",
                                     "unit", "threshold", "severity", NULL};

/* Index of the field named by s[0..n), or -1. */
static int field_of(const char *s, size_t n)
{
    for (int i = 0; fields[i]; i++)
        if (strlen(fields[i]) == n && strncmp(s, fields[i], n) == 0)
            return i;
    return -1;
}

const char *alert_template_error(const char *tmpl)
{
    for (const char *p = tmpl; *p; p++) {
        if (*p == '}')
            return "unmatched '}'";
        if (*p != '{')
            continue;
        const char *end = strchr(p, '}');
        if (!end)
            return "unmatched '{'";
        if (field_of(p + 1, (size_t)(end - p - 1)) < 0)
            return "unknown field in {} (use name, indicator, group, value, unit, threshold, "
                   "severity)";
        p = end;
    }
    return NULL;
}

/* Appends s to out at *pos, keeping room for the NUL and never splitting a UTF-8 sequence. */
static void put(char *out, size_t len, size_t *pos, const char *s)
{
    size_t n = strlen(s);
    if (*pos + n >= len) {
        n = len - 1 - *pos;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(out + *pos, s, n);
    *pos += n;
    out[*pos] = '\0';
}

/* Cuts a UTF-8 sequence left incomplete at the end of out[0..pos) by truncation. */
static void trim_utf8(char *out, size_t pos)
{
    size_t i = pos, need;
    while (i > 0 && ((unsigned char)out[i - 1] & 0xC0) == 0x80)
        i--;
    if (i == 0 || (unsigned char)out[i - 1] < 0xC0)
        return;
    unsigned char lead = (unsigned char)out[i - 1];
    need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    if (pos - (i - 1) < need)
        out[i - 1] = '\0';
}

static void num(char *buf, size_t len, double v)
{
    snprintf(buf, len, "%.6g", v);
}

void alert_render(const char *tmpl, const alert_vars_t *v, char *out, size_t len)
{
    char buf[64], one[2] = {0};
    size_t pos = 0;
    if (len == 0)
        return;
    out[0] = '\0';
    for (const char *p = tmpl; *p && pos + 1 < len; p++) {
        const char *end = *p == '{' ? strchr(p, '}') : NULL;
        int f = end ? field_of(p + 1, (size_t)(end - p - 1)) : -1;
        if (f < 0) {
            one[0] = *p;
            put(out, len, &pos, one);
            continue;
        }
        const char *s = "";
        switch (f) {
        case 0: s = v->name; break;
        case 1: s = v->indicator; break;
        case 2: s = v->group; break;
        case 3:
            if (v->has_value)
                num(buf, sizeof buf, v->value);
            else
                snprintf(buf, sizeof buf, "-");
            s = buf;
            break;
        case 4: s = v->unit; break;
        case 5:
            num(buf, sizeof buf, v->threshold);
            s = buf;
            break;
        case 6: s = v->severity; break;
        }
        put(out, len, &pos, s ? s : "");
        p = end;
    }
    trim_utf8(out, pos);
}

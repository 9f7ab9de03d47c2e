/* MQTT topic filters with named wildcards: parsing, and matching a topic into tags. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt.h"

static const char tag_chars[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";

void mqtt_pattern_free(mqtt_pattern_t *p)
{
    for (size_t i = 0; i < p->nlevels; i++)
        free(p->levels[i].text);
    free(p->filter);
    memset(p, 0, sizeof *p);
}

/* Parses one level (len bytes at s, at index idx) into lv. */
static int parse_level(const char *s, size_t len, size_t idx, bool last, mqtt_level_t *lv,
                       char *err, size_t errlen)
{
    if (len > 0 && s[0] == '#') {
        if (len != 1 || !last) {
            snprintf(err, errlen, "level %zu: '#' must be a whole level and the last one", idx + 1);
            return IOC_EINVAL;
        }
        lv->kind = MQTT_LEVEL_HASH;
        return IOC_OK;
    }
    if (len > 0 && s[0] == '+') {
        lv->kind = MQTT_LEVEL_PLUS;
        if (len == 1)
            return IOC_OK;
        if (len - 1 > MQTT_MAX_TAG_LEN || strspn(s + 1, tag_chars) < len - 1) {
            snprintf(err, errlen, "level %zu: a wildcard name after '+' must be letters, digits "
                     "or _ (\"%.*s\")", idx + 1, (int)len, s);
            return IOC_EINVAL;
        }
    } else {
        lv->kind = MQTT_LEVEL_LITERAL;
        if (memchr(s, '+', len) || memchr(s, '#', len)) {
            snprintf(err, errlen, "level %zu: '+' and '#' may only start a level (\"%.*s\")",
                     idx + 1, (int)len, s);
            return IOC_EINVAL;
        }
    }
    size_t skip = lv->kind == MQTT_LEVEL_PLUS ? 1 : 0;
    lv->text = strndup(s + skip, len - skip);
    if (!lv->text) {
        snprintf(err, errlen, "out of memory");
        return IOC_ENOMEM;
    }
    return IOC_OK;
}

/* Builds the broker filter: the levels joined by '/', named wildcards as plain '+'. */
static int build_filter(mqtt_pattern_t *p, size_t textlen)
{
    char *f = malloc(textlen + 1);
    if (!f)
        return IOC_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < p->nlevels; i++) {
        const mqtt_level_t *lv = &p->levels[i];
        if (i)
            f[n++] = '/';
        if (lv->kind == MQTT_LEVEL_HASH) {
            f[n++] = '#';
        } else if (lv->kind == MQTT_LEVEL_PLUS) {
            f[n++] = '+';
        } else {
            size_t l = strlen(lv->text);
            memcpy(f + n, lv->text, l);
            n += l;
        }
    }
    f[n] = '\0';
    p->filter = f;
    return IOC_OK;
}

int mqtt_pattern_parse(const char *text, mqtt_pattern_t *out, char *err, size_t errlen)
{
    int rc = IOC_EINVAL;
    memset(out, 0, sizeof *out);
    size_t len = text ? strlen(text) : 0;
    if (len == 0 || len > MQTT_MAX_TOPIC) {
        snprintf(err, errlen, "must be a topic filter of 1 to %d bytes", MQTT_MAX_TOPIC);
        goto fail;
    }
    const char *s = text;
    for (;;) {
        const char *slash = strchr(s, '/');
        size_t l = slash ? (size_t)(slash - s) : strlen(s);
        if (out->nlevels == MQTT_MAX_LEVELS) {
            snprintf(err, errlen, "more than %d levels", MQTT_MAX_LEVELS);
            rc = IOC_EINVAL;
            goto fail;
        }
        mqtt_level_t *lv = &out->levels[out->nlevels];
        rc = parse_level(s, l, out->nlevels, slash == NULL, lv, err, errlen);
        if (rc)
            goto fail;
        out->nlevels++;
        if (lv->kind == MQTT_LEVEL_PLUS && lv->text) {
            for (size_t i = 0; i + 1 < out->nlevels; i++) {
                const mqtt_level_t *o = &out->levels[i];
                if (o->kind == MQTT_LEVEL_PLUS && o->text && strcmp(o->text, lv->text) == 0) {
                    snprintf(err, errlen, "wildcard name \"%s\" used twice", lv->text);
                    rc = IOC_EINVAL;
                    goto fail;
                }
            }
            out->nnamed++;
        }
        if (!slash)
            break;
        s = slash + 1;
    }
    rc = build_filter(out, len);
    if (rc) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    return IOC_OK;
fail:
    mqtt_pattern_free(out);
    return rc;
}

int mqtt_pattern_match(const mqtt_pattern_t *p, const char *topic, char *buf, size_t buflen,
                       ioc_tag_t *tags, size_t maxtags, size_t *ntags)
{
    size_t len = strlen(topic);
    *ntags = 0;
    if (len >= buflen)
        return IOC_ETOOBIG;
    memcpy(buf, topic, len + 1);
    char *lvl = buf;
    int bad = 0;
    for (size_t i = 0; i < p->nlevels; i++) {
        const mqtt_level_t *pl = &p->levels[i];
        /* MQTT: a filter starting with a wildcard does not match topics starting with '$'. */
        if (i == 0 && pl->kind != MQTT_LEVEL_LITERAL && buf[0] == '$')
            return 0;
        if (pl->kind == MQTT_LEVEL_HASH)
            return bad ? IOC_EINVAL : 1;
        if (!lvl)
            return 0; /* the topic has fewer levels */
        char *slash = strchr(lvl, '/');
        if (slash)
            *slash = '\0';
        if (pl->kind == MQTT_LEVEL_LITERAL) {
            if (strcmp(pl->text, lvl) != 0)
                return 0;
        } else if (pl->text) {
            if (*lvl == '\0' || strlen(lvl) > MQTT_MAX_TAG_LEN || *ntags >= maxtags)
                bad = 1;
            else
                tags[(*ntags)++] = (ioc_tag_t){.key = pl->text, .value = lvl};
        }
        lvl = slash ? slash + 1 : NULL;
    }
    if (lvl)
        return 0; /* the topic has more levels */
    return bad ? IOC_EINVAL : 1;
}

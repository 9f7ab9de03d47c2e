/* The alert lifecycle state machine for one rule and group (see alert_sm.h). */
#include <string.h>

#include "alerts/alert_sm.h"

void alert_sm_cfg_of(const alert_rule_t *r, alert_sm_cfg_t *c)
{
    c->for_us = (int64_t)r->for_ms * 1000;
    c->repeat_us = (int64_t)r->repeat_ms * 1000;
    c->flap_changes = r->flap_changes;
    c->flap_window_us = (int64_t)r->flap_window_ms * 1000;
}

static void trans(alert_sm_out_t *o, alert_trans_t t)
{
    if (o->ntrans < ALERT_SM_MAX_OUT)
        o->trans[o->ntrans++] = t;
}

static void note(alert_sm_t *s, alert_sm_out_t *o, alert_note_t n, int64_t id, int64_t now)
{
    if (o->nnotes < ALERT_SM_MAX_OUT) {
        o->note_ids[o->nnotes] = id;
        o->notes[o->nnotes++] = n;
    }
    s->last_notify_us = now;
}

/* Records a fire/resolve change for flapping detection. */
static void record_change(alert_sm_t *s, int64_t now)
{
    s->changes[s->head] = now;
    s->head = (s->head + 1) % ALERT_FLAP_MAX;
    if (s->nchanges < ALERT_FLAP_MAX)
        s->nchanges++;
}

static uint32_t changes_since(const alert_sm_t *s, int64_t since)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->nchanges; i++)
        if (s->changes[(s->head + ALERT_FLAP_MAX - 1 - i) % ALERT_FLAP_MAX] > since)
            n++;
    return n;
}

/* Flapping starts at flap_changes changes within the window and ends at half as many. */
static void check_flapping(alert_sm_t *s, const alert_sm_cfg_t *c, int64_t now,
                           alert_sm_out_t *o)
{
    if (!c->flap_changes)
        return;
    uint32_t n = changes_since(s, now - c->flap_window_us);
    if (!s->flapping && n >= c->flap_changes) {
        s->flapping = true;
        trans(o, ATR_FLAP_START);
        if (!alert_sm_silenced(s, now))
            note(s, o, ANO_FLAPPING, s->id, now);
    } else if (s->flapping && n <= c->flap_changes / 2) {
        s->flapping = false;
        trans(o, ATR_FLAP_END);
    }
}

static void fire(alert_sm_t *s, int64_t now, alert_sm_out_t *o)
{
    s->state = AST_FIRING;
    s->fired_us = now;
    record_change(s, now);
    trans(o, ATR_FIRING);
}

/* Level-triggered notifications: what channels were last told must match the state, unless
 * a silence or flapping holds them back. */
static void notify(alert_sm_t *s, const alert_sm_cfg_t *c, int64_t now, alert_sm_out_t *o)
{
    if (alert_sm_silenced(s, now) || s->flapping)
        return;
    if (s->notified && (s->state != AST_FIRING || s->notified_id != s->id)) {
        note(s, o, ANO_RESOLVED, s->notified_id, now);
        s->notified = false;
    }
    if (s->state == AST_FIRING && !s->notified) {
        note(s, o, ANO_FIRING, s->id, now);
        s->notified = true;
        s->notified_id = s->id;
    } else if (s->state == AST_FIRING && !s->acked && c->repeat_us > 0 &&
               now - s->last_notify_us >= c->repeat_us) {
        note(s, o, ANO_REPEAT, s->id, now);
    }
}

void alert_sm_step(alert_sm_t *s, const alert_sm_cfg_t *c, int cond, int64_t now,
                   int64_t next_id, alert_sm_out_t *out)
{
    memset(out, 0, sizeof *out);
    switch (s->state) {
    case AST_OK:
        if (cond != 1)
            break;
        s->id = next_id;
        out->used_id = true;
        s->started_us = now;
        s->fired_us = 0;
        s->acked = false;
        if (c->for_us > 0) {
            s->state = AST_PENDING;
            trans(out, ATR_PENDING);
        } else {
            fire(s, now, out);
        }
        break;
    case AST_PENDING:
        if (cond != 1) {
            s->state = AST_OK;
            s->resolved_us = now;
            trans(out, ATR_CANCELLED);
        } else if (now - s->started_us >= c->for_us) {
            fire(s, now, out);
        }
        break;
    case AST_FIRING:
        if (cond == 0) {
            s->state = AST_OK;
            s->resolved_us = now;
            s->acked = false;
            record_change(s, now);
            trans(out, ATR_RESOLVED);
        }
        break;
    }
    check_flapping(s, c, now, out);
    notify(s, c, now, out);
}

bool alert_sm_ack(alert_sm_t *s)
{
    if (s->state == AST_OK)
        return false;
    s->acked = true;
    return true;
}

void alert_sm_silence(alert_sm_t *s, int64_t until)
{
    s->silenced_until = until;
}

bool alert_sm_silenced(const alert_sm_t *s, int64_t now)
{
    return s->silenced_until > now;
}

const char *alert_state_name(alert_state_t s)
{
    return s == AST_PENDING ? "pending" : s == AST_FIRING ? "firing" : "ok";
}

const char *alert_trans_name(alert_trans_t t)
{
    static const char *const names[] = {"pending", "firing",         "resolved",
                                        "cancelled", "flapping_start", "flapping_end"};
    return names[t];
}

const char *alert_note_name(alert_note_t n)
{
    static const char *const names[] = {"firing", "resolved", "repeat", "flapping"};
    return names[n];
}

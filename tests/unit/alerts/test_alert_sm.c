/* The alert lifecycle with an injected clock: `for`, a short breach, hysteresis, no data, rate,
 * silence, repeat, ack and flapping, driven through alert_input and alert_sm as alerts.c does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alerts/alert_input.h"
#include "alerts/alert_sm.h"
#include "ioc/error.h"

#define S_US 1000000LL
#define M_US (60 * S_US)
#define T0 (1700000000LL * S_US)

/* One rule and one group, as a slot of alerts.c holds them. */
typedef struct slot {
    alert_rule_t *r;
    alert_sm_cfg_t c;
    alert_input_t in;
    alert_sm_t sm;
    alert_sm_out_t o;
    int64_t next_id;
} slot_t;

static slot_t *slot_new(const char *json)
{
    slot_t *s = calloc(1, sizeof *s);
    alert_err_t e;
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    int rc = alert_rule_parse(j, "t", false, NULL, &s->r, &e);
    if (rc)
        fail_msg("rule refused: %s: %s", e.field, e.msg);
    cJSON_Delete(j);
    alert_sm_cfg_of(s->r, &s->c);
    alert_input_init(&s->in, T0);
    s->next_id = 1;
    return s;
}

static void slot_free(slot_t *s)
{
    alert_rule_free(s->r);
    free(s);
}

/* Steps at t (µs after T0); returns the transitions as "a,b" and notes in s->o. */
static const char *at(slot_t *s, int64_t t)
{
    static char buf[128];
    alert_sm_step(&s->sm, &s->c, alert_input_cond(&s->in, s->r, T0 + t), T0 + t, s->next_id,
                  &s->o);
    if (s->o.used_id)
        s->next_id++;
    buf[0] = '\0';
    for (int i = 0; i < s->o.ntrans; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? "," : "",
                 alert_trans_name(s->o.trans[i]));
    return buf;
}

/* A value arrives at t, then the slot steps. */
static const char *val(slot_t *s, int64_t t, double v)
{
    alert_input_value(&s->in, s->r, true, v, T0 + t);
    return at(s, t);
}

static const char *notes(const slot_t *s)
{
    static char buf[128];
    buf[0] = '\0';
    for (int i = 0; i < s->o.nnotes; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? "," : "",
                 alert_note_name(s->o.notes[i]));
    return buf;
}

static void test_for_delays_firing(void **state)
{
    (void)state;
    slot_t *s = slot_new("{\"name\":\"n\",\"indicator\":\"i\",\"condition\":{\"op\":\">\","
                         "\"value\":10},\"for\":\"1m\"}");
    assert_string_equal(val(s, 0, 20), "pending");
    assert_string_equal(notes(s), "");
    assert_int_equal(s->sm.id, 1);
    assert_string_equal(val(s, 30 * S_US, 25), "");
    assert_string_equal(at(s, M_US - 1), "");
    assert_int_equal(s->sm.state, AST_PENDING);
    assert_string_equal(at(s, M_US), "firing");
    assert_string_equal(notes(s), "firing");
    assert_int_equal(s->o.note_ids[0], 1);
    assert_int_equal(s->sm.fired_us, T0 + M_US);
    assert_int_equal(s->sm.started_us, T0);
    assert_string_equal(at(s, M_US + S_US), "");
    assert_string_equal(notes(s), "");
    slot_free(s);
}

static void test_short_breach_never_fires(void **state)
{
    (void)state;
    slot_t *s = slot_new("{\"name\":\"n\",\"indicator\":\"i\",\"condition\":{\"op\":\">=\","
                         "\"value\":10},\"for\":\"2m\"}");
    assert_string_equal(val(s, 0, 10), "pending");
    assert_string_equal(val(s, 119 * S_US, 9.5), "cancelled");
    assert_string_equal(notes(s), "");
    for (int64_t t = 120 * S_US; t < 10 * M_US; t += 10 * S_US)
        assert_string_equal(at(s, t), "");
    assert_int_equal(s->sm.state, AST_OK);
    assert_int_equal(s->sm.fired_us, 0);
    assert_false(s->sm.notified);
    /* The next breach is a new episode with its own id. */
    assert_string_equal(val(s, 11 * M_US, 12), "pending");
    assert_int_equal(s->sm.id, 2);
    slot_free(s);
}

static void test_hysteresis(void **state)
{
    (void)state;
    slot_t *s = slot_new("{\"name\":\"n\",\"indicator\":\"i\",\"condition\":{\"op\":\">\","
                         "\"value\":10,\"clear\":5}}");
    assert_string_equal(val(s, 0, 11), "firing");
    assert_string_equal(notes(s), "firing");
    assert_string_equal(val(s, S_US, 7), "");   /* in the band: still firing */
    assert_string_equal(val(s, 2 * S_US, 10), ""); /* at the threshold, not above */
    assert_int_equal(s->sm.state, AST_FIRING);
    assert_string_equal(val(s, 3 * S_US, 5), "resolved");
    assert_string_equal(notes(s), "resolved");
    assert_int_equal(s->o.note_ids[0], 1);
    assert_string_equal(val(s, 4 * S_US, 9), ""); /* the band does not fire again */
    assert_string_equal(val(s, 5 * S_US, 10.5), "firing");
    assert_int_equal(s->sm.id, 2);
    slot_free(s);

    /* Below, and outside a range, mirror it. */
    s = slot_new("{\"name\":\"n\",\"indicator\":\"i\",\"condition\":{\"op\":\"<\","
                 "\"value\":20,\"clear\":25}}");
    assert_string_equal(val(s, 0, 19), "firing");
    assert_string_equal(val(s, S_US, 24.9), "");
    assert_string_equal(val(s, 2 * S_US, 25), "resolved");
    slot_free(s);
    s = slot_new("{\"name\":\"n\",\"indicator\":\"i\",\"condition\":{\"op\":\"outside\","
                 "\"min\":10,\"max\":50,\"clear_min\":12,\"clear_max\":48}}");
    assert_string_equal(val(s, 0, 30), "");
    assert_string_equal(val(s, S_US, 51), "firing");
    assert_string_equal(val(s, 2 * S_US, 49), "");
    assert_string_equal(val(s, 3 * S_US, 9), "");
    assert_string_equal(val(s, 4 * S_US, 11), "");
    assert_string_equal(val(s, 5 * S_US, 12), "resolved");
    slot_free(s);
}

static void test_no_data(void **state)
{
    (void)state;
    slot_t *s = slot_new("{\"name\":\"n\",\"indicator\":\"i\",\"condition\":{\"op\":\"nodata\","
                         "\"after\":\"5m\"}}");
    /* Nothing since the start counts too. */
    assert_string_equal(at(s, 4 * M_US), "");
    assert_string_equal(at(s, 5 * M_US), "firing");
    assert_string_equal(val(s, 5 * M_US + S_US, 3), "resolved");
    assert_string_equal(val(s, 6 * M_US, 3), "");
    assert_string_equal(at(s, 11 * M_US - 1), "");
    assert_string_equal(at(s, 11 * M_US), "firing");
    assert_string_equal(notes(s), "firing");
    assert_string_equal(val(s, 11 * M_US, 3), "resolved");
    /* The indicator saying "no data" counts from its last value, like values stopping. */
    alert_input_value(&s->in, s->r, false, 0, T0 + 12 * M_US);
    assert_string_equal(at(s, 12 * M_US), "");
    assert_string_equal(at(s, 16 * M_US - 1), "");
    assert_string_equal(at(s, 16 * M_US), "firing");
    slot_free(s);

    /* A threshold rule holds its state while the value is missing. */
    s = slot_new("{\"name\":\"n\",\"indicator\":\"i\",\"condition\":{\"op\":\">\",\"value\":1}}");
    assert_string_equal(val(s, 0, 2), "firing");
    alert_input_value(&s->in, s->r, false, 0, T0 + S_US);
    assert_string_equal(at(s, 10 * M_US), "");
    assert_int_equal(s->sm.state, AST_FIRING);
    slot_free(s);
}

static void test_rate(void **state)
{
    (void)state;
    slot_t *s = slot_new("{\"name\":\"n\",\"indicator\":\"i\",\"condition\":{\"op\":\"rate\","
                         "\"window\":\"10m\",\"cmp\":\">\",\"value\":5}}");
    /* +1 a minute: undecided until a window of history, then a change of 10 > 5. */
    for (int m = 0; m < 10; m++)
        assert_string_equal(val(s, m * M_US, m), "");
    assert_int_equal(alert_input_cond(&s->in, s->r, T0 + 9 * M_US), -1);
    assert_string_equal(val(s, 10 * M_US, 10), "firing");
    /* Flat for a window: the change falls to 0 and it resolves. */
    const char *tr = "";
    for (int m = 11; m <= 21 && !*tr; m++)
        tr = val(s, m * M_US, 10);
    assert_string_equal(tr, "resolved");
    assert_int_equal(alert_input_cond(&s->in, s->r, T0 + 21 * M_US), 0);
    slot_free(s);
}

static void test_silence(void **state)
{
    (void)state;
    slot_t *s = slot_new("{\"name\":\"n\",\"indicator\":\"i\",\"condition\":{\"op\":\">\","
                         "\"value\":10},\"repeat\":\"0s\"}");
    alert_sm_silence(&s->sm, T0 + 10 * M_US);
    assert_string_equal(val(s, 0, 20), "firing");
    assert_string_equal(notes(s), ""); /* held */
    assert_string_equal(at(s, 9 * M_US), "");
    assert_string_equal(notes(s), "");
    assert_string_equal(at(s, 10 * M_US), "");
    assert_string_equal(notes(s), "firing"); /* the silence ended: sent once */
    assert_string_equal(at(s, 11 * M_US), "");
    assert_string_equal(notes(s), "");
    /* Resolved while silenced: the resolution waits for the unsilence. */
    alert_sm_silence(&s->sm, T0 + 60 * M_US);
    assert_string_equal(val(s, 12 * M_US, 1), "resolved");
    assert_string_equal(notes(s), "");
    assert_string_equal(val(s, 13 * M_US, 20), "firing"); /* a second episode, also held */
    assert_string_equal(notes(s), "");
    alert_sm_silence(&s->sm, 0);
    assert_false(alert_sm_silenced(&s->sm, T0 + 14 * M_US));
    assert_string_equal(at(s, 14 * M_US), "");
    assert_string_equal(notes(s), "resolved,firing");
    assert_int_equal(s->o.note_ids[0], 1);
    assert_int_equal(s->o.note_ids[1], 2);
    slot_free(s);
}

static void test_repeat_and_ack(void **state)
{
    (void)state;
    slot_t *s = slot_new("{\"name\":\"n\",\"indicator\":\"i\",\"condition\":{\"op\":\">\","
                         "\"value\":10},\"repeat\":\"10m\"}");
    assert_string_equal(val(s, 0, 20), "firing");
    assert_string_equal(notes(s), "firing");
    at(s, 10 * M_US - 1);
    assert_string_equal(notes(s), "");
    at(s, 10 * M_US);
    assert_string_equal(notes(s), "repeat");
    at(s, 15 * M_US);
    assert_string_equal(notes(s), "");
    at(s, 20 * M_US);
    assert_string_equal(notes(s), "repeat");
    assert_true(alert_sm_ack(&s->sm));
    for (int64_t t = 21 * M_US; t < 60 * M_US; t += M_US) {
        at(s, t);
        assert_string_equal(notes(s), "");
    }
    assert_string_equal(val(s, 61 * M_US, 1), "resolved");
    assert_string_equal(notes(s), "resolved");
    assert_false(alert_sm_ack(&s->sm)); /* nothing active */
    assert_false(s->sm.acked);
    slot_free(s);
}

static void test_flapping(void **state)
{
    (void)state;
    slot_t *s = slot_new("{\"name\":\"n\",\"indicator\":\"i\",\"condition\":{\"op\":\">\","
                         "\"value\":10},\"repeat\":\"0s\",\"flapping\":{\"changes\":4,"
                         "\"window\":\"10m\"}}");
    int firing = 0, resolved = 0, flapping = 0;
    /* Up and down every minute for 20 minutes. */
    for (int m = 0; m < 20; m++) {
        val(s, m * M_US, m % 2 ? 1 : 20);
        for (int i = 0; i < s->o.nnotes; i++) {
            firing += s->o.notes[i] == ANO_FIRING;
            resolved += s->o.notes[i] == ANO_RESOLVED;
            flapping += s->o.notes[i] == ANO_FLAPPING;
        }
    }
    /* fire, resolve, fire, then the 4th change starts flapping: one notice, then quiet. */
    assert_int_equal(firing, 2);
    assert_int_equal(resolved, 1);
    assert_int_equal(flapping, 1);
    assert_true(s->sm.flapping);
    /* Steady (resolved at minute 19) for a window: flapping ends, the state is told once. */
    const char *tr = "";
    int64_t t;
    for (t = 20 * M_US; t < 40 * M_US && !strstr(tr, "flapping_end"); t += M_US)
        tr = val(s, t, 1);
    assert_string_equal(tr, "flapping_end");
    assert_false(s->sm.flapping);
    assert_string_equal(notes(s), "resolved"); /* the last notice said firing */
    slot_free(s);
}

static void test_rule_errors_name_the_field(void **state)
{
    (void)state;
    static const struct {
        const char *json, *field;
        int http;
    } cases[] = {
        {"{\"indicator\":\"i\",\"condition\":{\"op\":\">\",\"value\":1}}", "name", 400},
        {"{\"name\":\"n\",\"indicator\":\"i\",\"condition\":{\"op\":\">\"}}", "condition.value",
         400},
        {"{\"name\":\"n\",\"indicator\":\"i\",\"condition\":{\"op\":\">\",\"value\":1,\"x\":1}}",
         "condition.x", 422},
        {"{\"name\":\"n\",\"indicator\":\"i\",\"condition\":{\"op\":\"rate\",\"window\":\"30s\","
         "\"cmp\":\">\",\"value\":1}}", "condition.window", 422},
        {"{\"name\":\"n\",\"indicator\":\"i\",\"condition\":{\"op\":\"outside\",\"min\":5,"
         "\"max\":1}}", "condition.max", 422},
        {"{\"name\":\"n\",\"indicator\":\"i\",\"condition\":{\"op\":\">\",\"value\":1},"
         "\"notify\":[{\"webhook\":\"http://h\",\"retries\":11}]}", "notify[0].retries", 422},
        {"{\"name\":\"n\",\"indicator\":\"i\",\"condition\":{\"op\":\">\",\"value\":1},"
         "\"flapping\":{\"changes\":1}}", "flapping.changes", 422},
        {"{\"name\":\"n\",\"indicator\":\"i\",\"condition\":{\"op\":\">\",\"value\":1},"
         "\"message\":{\"en\":\"{value\"}}", "message.en", 422},
        {"{\"name\":\"n\",\"indicator\":\"i\",\"condition\":{\"op\":\">\",\"value\":1},"
         "\"id\":\"Bad Id\"}", "id", 422},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        alert_rule_t *r = NULL;
        alert_err_t e;
        cJSON *j = cJSON_Parse(cases[i].json);
        assert_non_null(j);
        assert_int_equal(alert_rule_parse(j, NULL, false, NULL, &r, &e), IOC_EINVAL);
        assert_null(r);
        assert_string_equal(e.field, cases[i].field);
        assert_int_equal(e.http, cases[i].http);
        cJSON_Delete(j);
    }
}

static void test_templates(void **state)
{
    (void)state;
    char out[64], tiny[13];
    alert_vars_t v = {.name = "R", .indicator = "Phản ánh", .group = "Tân An", .unit = "hồ sơ",
                      .severity = "critical", .value = 12.5, .has_value = true, .threshold = 10};
    alert_render("{indicator} tại {group}: {value} {unit} (>{threshold}, {severity})", &v, out,
                 sizeof out);
    assert_string_equal(out, "Phản ánh tại Tân An: 12.5 hồ sơ (>10, critical)");
    v.has_value = false;
    alert_render("{name}={value} {x}", &v, out, sizeof out);
    assert_string_equal(out, "R=- {x}");
    /* Truncation never leaves half a UTF-8 character. */
    alert_render("{indicator}{indicator}", &v, tiny, sizeof tiny);
    assert_string_equal(tiny, "Phản ánhP");
    alert_render("{indicator}", &v, tiny, 5);
    assert_string_equal(tiny, "Ph"); /* "Phả" is 5 bytes */
    alert_render("ab{group}", &v, tiny, 7);
    assert_string_equal(tiny, "abTân");
    assert_null(alert_template_error("{name} {value}"));
    assert_non_null(alert_template_error("{nope}"));
    assert_non_null(alert_template_error("{name"));
    assert_non_null(alert_template_error("name}"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_for_delays_firing),
        cmocka_unit_test(test_short_breach_never_fires),
        cmocka_unit_test(test_hysteresis),
        cmocka_unit_test(test_no_data),
        cmocka_unit_test(test_rate),
        cmocka_unit_test(test_silence),
        cmocka_unit_test(test_repeat_and_ack),
        cmocka_unit_test(test_flapping),
        cmocka_unit_test(test_rule_errors_name_the_field),
        cmocka_unit_test(test_templates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

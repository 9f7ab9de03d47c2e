/* http_json mapping of FIWARE entities: the smart-data-model payloads in $IOCD_FIXTURES/fiware
 * (v2 key-values, v2 normalized, LD concise) and hand-written NGSI-LD normalized entities. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "helper_rec.h"

#define NOW_US 1700000000000000LL
#define TFO_TS 1481109300000000LL        /* 2016-12-07T11:15:00Z, end of the observed interval */
#define LIGHT_TS 1610360462000000LL      /* 2021-01-11T15:51:02+05:30 */
#define TFO_ID "id=TrafficFlowObserved-Valladolid-osm-60821110"
#define TFO_LD_ID "id=urn:ngsi-ld:TrafficFlowObserved:TrafficFlowObserved-Valladolid-osm-60821110"

typedef struct want {
    const char *metric;
    double value;
} want_t;

static const want_t tfo_want[] = {
    {"TrafficFlowObserved.laneId", 1},
    {"TrafficFlowObserved.averageHeadwayTime", 0.5},
    {"TrafficFlowObserved.intensity", 197},
    {"TrafficFlowObserved.occupancy", 0.76},
    {"TrafficFlowObserved.averageVehicleSpeed", 52.6},
    {"TrafficFlowObserved.averageVehicleLength", 9.87},
    {"TrafficFlowObserved.reversedLane", 0},
};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Maps a fixture file (or text) with a config; returns hj_map's code. */
static int map_text(const char *cfg_json, const char *text, rec_t *r, hj_map_stats_t *st,
                    char *err, size_t errlen)
{
    hj_map_cfg_t cfg;
    cJSON *obj = rec_map_cfg(cfg_json, &cfg);
    int rc = hj_map(&cfg, text, strlen(text), NOW_US, rec_sink, r, st, err, errlen);
    cJSON_Delete(obj);
    return rc;
}

static void map_fixture(const char *cfg_json, const char *rel, rec_t *r, hj_map_stats_t *st)
{
    size_t len;
    char err[256] = "";
    char *text = rec_fixture(rel, &len);
    int rc = map_text(cfg_json, text, r, st, err, sizeof err);
    free(text);
    if (rc != IOC_OK)
        fail_msg("%s: %s", rel, err);
}

static void check_wants(const rec_t *r, const want_t *w, size_t n, const char *tags, int64_t ts)
{
    for (size_t i = 0; i < n; i++) {
        const rec_sample_t *s = rec_find(r, w[i].metric, tags);
        if (!s)
            fail_msg("no sample %s{%s}", w[i].metric, tags);
        assert_float_equal(s->value, w[i].value, 1e-12);
        assert_int_equal(s->ts_us, ts);
    }
    assert_int_equal(r->n, n);
}

static void test_traffic_flow_three_forms(void **state)
{
    static const char *const files[] = {"fiware/TrafficFlowObserved/example.json",
                                        "fiware/TrafficFlowObserved/example-normalized.json",
                                        "fiware/TrafficFlowObserved/example.jsonld"};
    static const char *const cfgs[] = {"{\"format\": \"ngsi-v2\"}", "{\"format\": \"ngsi-v2\"}",
                                       "{\"format\": \"ngsi-ld\"}"};
    (void)state;
    for (size_t f = 0; f < 3; f++) {
        rec_t r = {0};
        hj_map_stats_t st;
        map_fixture(cfgs[f], files[f], &r, &st);
        check_wants(&r, tfo_want, NELEM(tfo_want), f == 2 ? TFO_LD_ID : TFO_ID, TFO_TS);
        assert_int_equal(st.items, 1);
        assert_int_equal(st.samples, NELEM(tfo_want));
        assert_int_equal(st.skipped, 0);
        rec_free(&r);
    }
}

static void test_streetlight_value_map_and_tags(void **state)
{
    static const want_t w[] = {
        {"Streetlight.lanternHeight", 10}, {"Streetlight.powerConsumption", 10},
        {"Streetlight.current", 250}, {"Streetlight.powerRating", 5},
        {"Streetlight.powerFactor", 0.7}, {"Streetlight.voltage", 50},
        {"Streetlight.lifetimeMotionDetected", 4147},
        {"Streetlight.lifetimePowerConsumption", 93.4}, {"Streetlight.powerState", 0}};
    static const char *const files[] = {"fiware/Streetlight/example.json",
                                        "fiware/Streetlight/example-normalized.json"};
    (void)state;
    for (size_t f = 0; f < 2; f++) {
        rec_t r = {0};
        hj_map_stats_t st;
        map_fixture("{\"format\": \"ngsi-v2\", \"value_map\": {\"powerState\": {\"on\": 1, "
                    "\"off\": 0}}, \"tags\": {\"district\": \"/municipalityInfo/district\", "
                    "\"ward\": \"/municipalityInfo/wardNum\", \"missing\": \"/nope/x\"}}",
                    files[f], &r, &st);
        check_wants(&r, w, NELEM(w),
                    "district=Bangalore Urban,id=streetlight:guadalajara:4567,ward=4", LIGHT_TS);
        rec_free(&r);
    }
}

static void test_streetlight_text_without_map_skipped(void **state)
{
    rec_t r = {0};
    hj_map_stats_t st;
    (void)state;
    map_fixture("{\"format\": \"ngsi-ld\"}", "fiware/Streetlight/example.jsonld", &r, &st);
    assert_int_equal(r.n, 8);
    assert_null(rec_find(&r, "Streetlight.powerState",
                         "id=urn:ngsi-ld:Streetlight:streetlight:guadalajara:4567"));
    const rec_sample_t *s = rec_find(&r, "Streetlight.current",
                                     "id=urn:ngsi-ld:Streetlight:streetlight:guadalajara:4567");
    assert_non_null(s);
    assert_float_equal(s->value, 250, 0);
    assert_int_equal(s->ts_us, LIGHT_TS);
    /* Text attributes are skipped silently, not counted as malformed. */
    assert_int_equal(st.skipped, 0);
    rec_free(&r);
}

static void test_camera_and_device(void **state)
{
    rec_t r = {0};
    hj_map_stats_t st;
    (void)state;
    map_fixture("{\"format\": \"ngsi-v2\"}", "fiware/Camera/example.json", &r, &st);
    static const want_t cam[] = {{"Camera.cameraNum", 2}, {"Camera.on", 1}};
    /* No observation time in the entity: the poll's time. */
    check_wants(&r, cam, 2, "id=urn:ngsi-ld:Camera:Cam2", NOW_US);
    rec_free(&r);
    map_fixture("{\"format\": \"ngsi-v2\"}", "fiware/Device/example.json", &r, &st);
    static const want_t dev[] = {{"Device.batteryLevel", 0.75}, {"Device.rssi", 0.86}};
    check_wants(&r, dev, 2, "id=device-9845A", NOW_US);
    rec_free(&r);
}

/* Finds the sample of metric regardless of tags. */
static const rec_sample_t *by_metric(const rec_t *r, const char *metric)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->s[i].metric, metric) == 0)
            return &r->s[i];
    return NULL;
}

/* Maps one fixture and checks every sample is <type>.<attribute>{id=<the entity's id>}. */
static void map_model(const char *model, const char *file, const char *format, rec_t *r)
{
    char rel[256], cfg[64], tags[300], prefix[128];
    size_t len;
    hj_map_stats_t st;
    snprintf(rel, sizeof rel, "fiware/%s/%s", model, file);
    snprintf(cfg, sizeof cfg, "{\"format\": \"%s\"}", format);
    map_fixture(cfg, rel, r, &st);
    char *text = rec_fixture(rel, &len);
    cJSON *doc = cJSON_Parse(text);
    assert_non_null(doc);
    snprintf(tags, sizeof tags, "id=%s", cJSON_GetObjectItem(doc, "id")->valuestring);
    snprintf(prefix, sizeof prefix, "%s.", cJSON_GetObjectItem(doc, "type")->valuestring);
    for (size_t i = 0; i < r->n; i++) {
        assert_string_equal(r->s[i].tags, tags);
        assert_memory_equal(r->s[i].metric, prefix, strlen(prefix));
    }
    assert_int_equal(st.items, 1);
    cJSON_Delete(doc);
    free(text);
}

/* Every model: v2 key-values and v2 normalized give the same metrics, values and times; LD
 * concise the same values for the metrics both have. */
static void test_all_models_agree(void **state)
{
    static const char *const models[] = {
        "Camera", "Device", "IssueReporting", "RoadAccident", "Streetlight",
        "StreetlightControlCabinet", "StreetlightGroup", "TrafficFlowObserved",
        "TrafficViolation", "service_requests", "services"};
    size_t total = 0, total_ld = 0;
    (void)state;
    for (size_t m = 0; m < NELEM(models); m++) {
        rec_t kv = {0}, norm = {0}, ld = {0};
        map_model(models[m], "example.json", "ngsi-v2", &kv);
        map_model(models[m], "example-normalized.json", "ngsi-v2", &norm);
        map_model(models[m], "example.jsonld", "ngsi-ld", &ld);
        if (kv.n != norm.n)
            fail_msg("%s: %zu samples from key-values, %zu from normalized", models[m], kv.n,
                     norm.n);
        for (size_t i = 0; i < kv.n; i++) {
            const rec_sample_t *o = by_metric(&norm, kv.s[i].metric);
            if (o && (o->value != kv.s[i].value || o->ts_us != kv.s[i].ts_us))
                fail_msg("%s: %s differs between key-values and normalized", models[m],
                         kv.s[i].metric);
            if (!o)
                fail_msg("%s: %s only in key-values", models[m], kv.s[i].metric);
        }
        for (size_t i = 0; i < ld.n; i++) {
            const rec_sample_t *o = by_metric(&kv, ld.s[i].metric);
            if (o && o->value != ld.s[i].value)
                fail_msg("%s: %s has %g in LD, %g in v2", models[m], ld.s[i].metric,
                         ld.s[i].value, o->value);
        }
        total += kv.n;
        total_ld += ld.n;
        rec_free(&kv);
        rec_free(&norm);
        rec_free(&ld);
    }
    /* Counted independently: numeric and boolean top-level attributes, time attributes aside. */
    assert_int_equal(total, 38);
    assert_int_equal(total_ld, 40);
}

/* NGSI-LD normalized: Property values, per-property observedAt, Relationships skipped,
 * @value date-times; several entities in one array. */
static void test_ld_normalized(void **state)
{
    static const char text[] =
        "[{\"id\": \"urn:ngsi-ld:TrafficFlowObserved:TA-01\", \"type\": \"TrafficFlowObserved\","
        " \"dateObserved\": {\"type\": \"Property\", \"value\": {\"@type\": \"DateTime\","
        "   \"@value\": \"2024-03-12T08:30:00.250+07:00\"}},"
        " \"intensity\": {\"type\": \"Property\", \"value\": 31},"
        " \"averageVehicleSpeed\": {\"type\": \"Property\", \"value\": 42.5,"
        "   \"observedAt\": \"2024-03-12T01:31:00Z\", \"unitCode\": \"KMH\"},"
        " \"refRoadSegment\": {\"type\": \"Relationship\", \"object\": \"urn:ngsi-ld:Road:7\"},"
        " \"laneDirection\": {\"type\": \"Property\", \"value\": \"forward\"},"
        " \"congested\": {\"type\": \"Property\", \"value\": true},"
        " \"address\": {\"type\": \"Property\", \"value\": {\"addressLocality\": \"Tân An\"}},"
        " \"location\": {\"type\": \"GeoProperty\", \"value\": {\"type\": \"Point\","
        "   \"coordinates\": [106.4, 10.5]}},"
        " \"@context\": \"https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld\"},"
        " {\"id\": \"urn:ngsi-ld:TrafficFlowObserved:TA-02\", \"type\": \"TrafficFlowObserved\","
        " \"intensity\": {\"value\": 7}, \"address\": {\"addressLocality\": \"Bến Lức\"}},"
        " {\"type\": \"NoId\", \"intensity\": 3},"
        " {\"id\": \"urn:x:bad-time\", \"type\": \"T\", \"dateObserved\": \"yesterday\", \"n\": 1}]";
    rec_t r = {0};
    hj_map_stats_t st;
    char err[256];
    (void)state;
    int rc = map_text("{\"format\": \"ngsi-ld\", \"tags\": {\"district\": "
                      "\"/address/addressLocality\", \"road\": \"/refRoadSegment\"}}",
                      text, &r, &st, err, sizeof err);
    assert_int_equal(rc, IOC_OK);
    const char *t1 = "district=Tân An,id=urn:ngsi-ld:TrafficFlowObserved:TA-01,road=urn:ngsi-ld:Road:7";
    const rec_sample_t *s = rec_find(&r, "TrafficFlowObserved.intensity", t1);
    assert_non_null(s);
    assert_float_equal(s->value, 31, 0);
    assert_int_equal(s->ts_us, 1710207000250000LL);
    s = rec_find(&r, "TrafficFlowObserved.averageVehicleSpeed", t1);
    assert_non_null(s);
    assert_float_equal(s->value, 42.5, 0);
    assert_int_equal(s->ts_us, 1710207060000000LL);
    s = rec_find(&r, "TrafficFlowObserved.congested", t1);
    assert_non_null(s);
    assert_float_equal(s->value, 1, 0);
    s = rec_find(&r, "TrafficFlowObserved.intensity",
                 "district=Bến Lức,id=urn:ngsi-ld:TrafficFlowObserved:TA-02");
    assert_non_null(s);
    assert_float_equal(s->value, 7, 0);
    assert_int_equal(s->ts_us, NOW_US);
    assert_int_equal(r.n, 4);
    assert_int_equal(st.items, 4);
    assert_int_equal(st.skipped, 2);
    assert_non_null(strstr(st.first_skip, "items[2]"));
    rec_free(&r);
}

/* NGSI v2 normalized attribute metadata (as IoT Agents write it) gives a per-attribute time. */
static void test_v2_metadata_time(void **state)
{
    static const char text[] =
        "{\"id\": \"LC-1\", \"type\": \"StreetlightControlCabinet\","
        " \"TimeInstant\": {\"type\": \"DateTime\", \"value\": \"2024-03-12T00:00:00Z\"},"
        " \"energyConsumed\": {\"type\": \"Number\", \"value\": 12.5, \"metadata\": "
        "   {\"TimeInstant\": {\"type\": \"DateTime\", \"value\": \"2024-03-12T00:00:05Z\"}}},"
        " \"intensity\": {\"type\": \"Number\", \"value\": 0.8, \"metadata\": {}}}";
    rec_t r = {0};
    hj_map_stats_t st;
    char err[256];
    (void)state;
    assert_int_equal(map_text("{\"format\": \"ngsi-v2\"}", text, &r, &st, err, sizeof err), IOC_OK);
    assert_int_equal(r.n, 2);
    assert_int_equal(rec_find(&r, "StreetlightControlCabinet.energyConsumed", "id=LC-1")->ts_us,
                     1710201605000000LL);
    assert_int_equal(rec_find(&r, "StreetlightControlCabinet.intensity", "id=LC-1")->ts_us,
                     1710201600000000LL);
    rec_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_traffic_flow_three_forms),
        cmocka_unit_test(test_streetlight_value_map_and_tags),
        cmocka_unit_test(test_streetlight_text_without_map_skipped),
        cmocka_unit_test(test_camera_and_device),
        cmocka_unit_test(test_all_models_agree),
        cmocka_unit_test(test_ld_normalized),
        cmocka_unit_test(test_v2_metadata_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

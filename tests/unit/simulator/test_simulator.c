/* Tests of the simulator collector, loaded for real from simulator.so through a fake host. */
#include <elf.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "helper_fakehost.h"

/* Written out here, independently of the plugin's table. */
static const char *const long_an[15] = {
    "Tân An", "Kiến Tường", "Bến Lức", "Đức Hòa", "Đức Huệ", "Cần Giuộc", "Cần Đước", "Châu Thành",
    "Tân Trụ", "Thủ Thừa", "Thạnh Hóa", "Tân Thạnh", "Mộc Hóa", "Vĩnh Hưng", "Tân Hưng"};

static const char *const per_entity_metrics[] = {
    "traffic.flow", "traffic.speed", "traffic.occupancy", "lighting.on", "lighting.total",
    "lighting.faulty", "lighting.power", "camera.online", "camera.total"};
static const char *const per_district_metrics[] = {
    "traffic.incidents", "camera.events", "service.dossiers_online", "service.dossiers_offline",
    "service.processed_on_time", "service.processed_late", "feedback.received",
    "feedback.resolved", "feedback.overdue"};
/* Cumulative for the local day. */
static const char *const daily_metrics[] = {
    "camera.events", "service.dossiers_online", "service.dossiers_offline",
    "service.processed_on_time", "service.processed_late", "feedback.received",
    "feedback.resolved", "feedback.overdue"};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Tuesday 2024-03-12 as a local (UTC+7) day number. */
#define TUESDAY 19794
#define SUNDAY 19799

static int64_t local_us(int64_t day, int h, int m, int s)
{
    return ((day * 86400 + h * 3600 + m * 60 + s) - 7 * 3600) * 1000000LL;
}

typedef struct inst {
    ioc_host_t *host;
    void *state;
} inst_t;

static const ioc_collector_desc_t *desc;
static void *handle;
static char so_path[4096];

static void closed_cb(ioc_host_t *h)
{
    h->closed = 1;
}

/* Initialises an instance from a JSON config; returns the init code, err gets the message. */
static int open_inst(inst_t *in, const char *config, char *err, size_t errlen)
{
    in->host = fh_host_new(config);
    assert_non_null(in->host);
    in->state = NULL;
    err[0] = '\0';
    return desc->init(&fh_services, in->host, &in->state, err, errlen);
}

static void must_open(inst_t *in, const char *config)
{
    char err[256];
    int rc = open_inst(in, config, err, sizeof err);
    if (rc != IOC_OK)
        fail_msg("init(%s) = %d: %s", config, rc, err);
    assert_non_null(in->state);
}

static void close_inst(inst_t *in)
{
    if (in->state) {
        desc->stop(in->state, closed_cb, in->host);
        assert_int_equal(in->host->closed, 1);
    }
    fh_host_free(in->host);
}

static void collect_ok(inst_t *in, int64_t now)
{
    int rc = fh_collect(desc, in->state, in->host, now);
    if (rc != IOC_OK)
        fail_msg("collect at %lld returned %d", (long long)now, rc);
}

static int setup(void **st)
{
    (void)st;
    desc = fh_load("simulator", &handle, so_path, sizeof so_path);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    dlclose(handle);
    return 0;
}

/* Names of the defined global symbols in the .so's dynamic symbol table, like `nm -D --defined-only`. */
static size_t exported_symbols(const char *path, char names[][64], size_t max)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)len);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)buf;
    assert_memory_equal(eh->e_ident, ELFMAG, SELFMAG);
    assert_int_equal(eh->e_ident[EI_CLASS], ELFCLASS64);
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(buf + eh->e_shoff);
    size_t n = 0;
    for (int i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_DYNSYM)
            continue;
        const Elf64_Sym *sym = (const Elf64_Sym *)(buf + sh[i].sh_offset);
        const char *strtab = (const char *)(buf + sh[sh[i].sh_link].sh_offset);
        for (size_t k = 0; k < sh[i].sh_size / sizeof(Elf64_Sym); k++) {
            int bind = ELF64_ST_BIND(sym[k].st_info);
            const char *name = strtab + sym[k].st_name;
            /* AddressSanitizer adds a __odr_asan.<global> marker next to each exported global */
            if (sym[k].st_shndx == SHN_UNDEF || (bind != STB_GLOBAL && bind != STB_WEAK) ||
                strncmp(name, "__odr_asan", 10) == 0)
                continue;
            assert_true(n < max);
            snprintf(names[n++], 64, "%s", name);
        }
    }
    free(buf);
    return n;
}

static void test_descriptor(void **st)
{
    (void)st;
    assert_int_equal(desc->magic, IOC_COLLECTOR_MAGIC);
    assert_int_equal(desc->abi_version, IOC_COLLECTOR_ABI_VERSION);
    assert_string_equal(desc->name, "simulator");
    assert_non_null(desc->version);
    assert_non_null(desc->init);
    assert_non_null(desc->collect);
    assert_non_null(desc->stop);
    char names[16][64];
    size_t n = exported_symbols(so_path, names, 16);
    if (n != 1 || strcmp(names[0], IOC_COLLECTOR_SYMBOL) != 0)
        fail_msg("%s exports %zu symbols, the first is %s", so_path, n, n ? names[0] : "none");
}

static void test_abi_mismatch(void **st)
{
    (void)st;
    ioc_host_services_t svc = fh_services;
    svc.abi_version = IOC_COLLECTOR_ABI_VERSION + 1;
    ioc_host_t *h = fh_host_new("{\"plugin\":\"simulator\"}");
    void *state = NULL;
    char err[256] = "";
    assert_int_equal(desc->init(&svc, h, &state, err, sizeof err), IOC_EABI);
    assert_null(state);
    assert_non_null(strstr(err, "ABI 2"));
    fh_host_free(h);
}

static void test_round_shape(void **st)
{
    (void)st;
    inst_t in;
    must_open(&in, "{\"plugin\":\"simulator\",\"name\":\"city\",\"interval\":\"1s\"}");
    int64_t now = local_us(TUESDAY, 10, 0, 0);
    collect_ok(&in, now);
    ioc_host_t *h = in.host;
    assert_true(h->nsamples > 2500 && h->nsamples < 5000);
    assert_int_equal(h->emit_calls, (h->nsamples + 1023) / 1024);
    assert_true(h->max_chunk <= 1024);
    assert_int_equal(h->malformed, 0);
    int seen[15] = {0};
    for (size_t i = 0; i < h->nsamples; i++) {
        const fh_sample_t *s = &h->samples[i];
        assert_true(s->ts_us == now);
        int found = 0;
        for (int d = 0; d < 15; d++)
            if (strcmp(s->district, long_an[d]) == 0) {
                seen[d] = 1;
                found = 1;
            }
        if (!found)
            fail_msg("sample %s has district \"%s\"", s->metric, s->district);
    }
    for (int d = 0; d < 15; d++)
        if (!seen[d])
            fail_msg("district %s missing", long_an[d]);
    for (size_t m = 0; m < NELEM(per_entity_metrics); m++)
        assert_true(fh_count(h, per_entity_metrics[m]) > 15);
    for (size_t m = 0; m < NELEM(per_district_metrics); m++)
        assert_int_equal(fh_count(h, per_district_metrics[m]), 15);
    size_t sensors = fh_count(h, "traffic.flow"), lights = (size_t)fh_sum(h, "lighting.total", NULL);
    size_t cameras = (size_t)fh_sum(h, "camera.total", NULL);
    assert_true(sensors >= 250 && sensors <= 350);
    assert_true(lights >= 17000 && lights <= 23000);
    assert_true(cameras >= 1700 && cameras <= 2300);
    assert_non_null(fh_find(h, "traffic.flow", "TA-TS-012"));
    assert_string_equal(fh_find(h, "traffic.flow", "TA-TS-012")->district, "Tân An");
    close_inst(&in);
}

static int same_round(const ioc_host_t *a, const ioc_host_t *b)
{
    if (a->nsamples != b->nsamples)
        return 0;
    return memcmp(a->samples, b->samples, a->nsamples * sizeof(fh_sample_t)) == 0;
}

static void test_determinism(void **st)
{
    (void)st;
    inst_t a, b, c;
    must_open(&a, "{\"plugin\":\"simulator\",\"seed\":7}");
    must_open(&b, "{\"plugin\":\"simulator\",\"seed\":7,\"enabled\":true}");
    must_open(&c, "{\"plugin\":\"simulator\",\"seed\":8}");
    int64_t times[] = {local_us(TUESDAY, 7, 0, 0), local_us(TUESDAY, 7, 0, 1),
                       local_us(TUESDAY, 7, 10, 0), local_us(TUESDAY, 13, 0, 0),
                       local_us(TUESDAY + 1, 0, 5, 0)};
    for (size_t i = 0; i < NELEM(times); i++) {
        collect_ok(&a, times[i]);
        collect_ok(&b, times[i]);
        collect_ok(&c, times[i]);
        if (!same_round(a.host, b.host))
            fail_msg("same seed, different samples at collect %zu", i);
        assert_false(same_round(a.host, c.host));
    }
    close_inst(&a);
    close_inst(&b);
    close_inst(&c);
}

static void check_lights_on(const ioc_host_t *h)
{
    size_t n = 0;
    double on = 0.0, total = 0.0;
    for (size_t i = 0; i < h->nsamples; i++) {
        const fh_sample_t *s = &h->samples[i];
        if (strcmp(s->metric, "lighting.on") != 0)
            continue;
        double t = fh_find(h, "lighting.total", s->id)->value;
        double f = fh_find(h, "lighting.faulty", s->id)->value;
        assert_true(s->value == t - f);
        assert_true(fh_find(h, "lighting.power", s->id)->value > 0.0);
        on += s->value;
        total += t;
        n++;
    }
    assert_true(n >= 300);
    assert_true(on > 0.95 * total && on < total);
}

static void test_lights_day_night(void **st)
{
    (void)st;
    inst_t in;
    must_open(&in, "{\"plugin\":\"simulator\"}");
    collect_ok(&in, local_us(TUESDAY, 22, 0, 0));
    check_lights_on(in.host);
    double kw = fh_sum(in.host, "lighting.power", NULL);
    assert_true(kw > 1000.0 && kw < 3500.0); /* ~20,000 lights of 70-150 W */
    collect_ok(&in, local_us(TUESDAY + 1, 12, 0, 0));
    assert_true(fh_count(in.host, "lighting.on") >= 300);
    assert_true(fh_sum(in.host, "lighting.on", NULL) == 0.0);
    assert_true(fh_sum(in.host, "lighting.power", NULL) == 0.0);
    assert_true(fh_sum(in.host, "lighting.total", NULL) > 17000.0);
    close_inst(&in);
}

static void test_time_offset(void **st)
{
    (void)st;
    inst_t in;
    must_open(&in, "{\"plugin\":\"simulator\",\"time_offset\":36000}");
    int64_t noon = local_us(TUESDAY, 12, 0, 0);
    collect_ok(&in, noon); /* simulated 22:00 */
    check_lights_on(in.host);
    assert_true(in.host->samples[0].ts_us == noon);
    close_inst(&in);
}

static double mean_of(const ioc_host_t *h, const char *metric)
{
    return fh_sum(h, metric, NULL) / (double)fh_count(h, metric);
}

static void test_rush_hour(void **st)
{
    (void)st;
    inst_t in;
    must_open(&in, "{\"plugin\":\"simulator\",\"seed\":3}");
    collect_ok(&in, local_us(TUESDAY, 3, 0, 0));
    double night_flow = fh_sum(in.host, "traffic.flow", NULL);
    double night_speed = mean_of(in.host, "traffic.speed");
    double night_occ = mean_of(in.host, "traffic.occupancy");
    collect_ok(&in, local_us(TUESDAY, 8, 0, 0));
    double rush_flow = fh_sum(in.host, "traffic.flow", NULL);
    assert_true(rush_flow > 3.0 * night_flow);
    assert_true(mean_of(in.host, "traffic.speed") < night_speed - 5.0);
    assert_true(mean_of(in.host, "traffic.occupancy") > night_occ + 10.0);
    collect_ok(&in, local_us(TUESDAY, 17, 30, 0));
    assert_true(fh_sum(in.host, "traffic.flow", NULL) > 3.0 * night_flow);
    close_inst(&in);
}

static int is_count(double v)
{
    return v >= 0.0 && v == floor(v);
}

static void check_ranges(const ioc_host_t *h)
{
    for (size_t i = 0; i < h->nsamples; i++) {
        const fh_sample_t *s = &h->samples[i];
        double v = s->value;
        if (!isfinite(v))
            fail_msg("%s %s = %g", s->metric, s->id, v);
        if (strcmp(s->metric, "traffic.speed") == 0)
            assert_true(v >= 0.0 && v <= 120.0);
        else if (strcmp(s->metric, "traffic.occupancy") == 0)
            assert_true(v >= 0.0 && v <= 100.0);
        else if (strcmp(s->metric, "traffic.flow") == 0)
            assert_true(v >= 0.0 && v <= 200.0);
        else if (strcmp(s->metric, "lighting.power") == 0)
            assert_true(v >= 0.0 && v <= 0.2 * fh_find(h, "lighting.total", s->id)->value);
        else if (strcmp(s->metric, "lighting.on") == 0)
            assert_true(is_count(v) && v <= fh_find(h, "lighting.total", s->id)->value -
                                                   fh_find(h, "lighting.faulty", s->id)->value);
        else if (strcmp(s->metric, "lighting.faulty") == 0)
            assert_true(is_count(v) && v <= fh_find(h, "lighting.total", s->id)->value);
        else if (strcmp(s->metric, "camera.online") == 0)
            assert_true(is_count(v) && v <= fh_find(h, "camera.total", s->id)->value);
        else if (!is_count(v))
            fail_msg("%s %s%s = %g is not a count", s->metric, s->district, s->id, v);
    }
    for (int d = 0; d < 15; d++) {
        double sensors = 0.0;
        for (size_t i = 0; i < h->nsamples; i++)
            sensors += strcmp(h->samples[i].metric, "traffic.flow") == 0 &&
                       strcmp(h->samples[i].district, long_an[d]) == 0;
        assert_true(fh_find(h, "traffic.incidents", long_an[d])->value <= sensors);
    }
}

static void test_ranges(void **st)
{
    (void)st;
    inst_t in;
    must_open(&in, "{\"plugin\":\"simulator\",\"seed\":11}");
    int64_t times[] = {local_us(TUESDAY, 3, 0, 0), local_us(TUESDAY, 7, 50, 0),
                       local_us(TUESDAY, 7, 50, 1), local_us(TUESDAY, 12, 30, 0),
                       local_us(TUESDAY, 17, 40, 0), local_us(TUESDAY, 22, 0, 0),
                       local_us(SUNDAY, 9, 0, 0)};
    for (size_t i = 0; i < NELEM(times); i++) {
        collect_ok(&in, times[i]);
        check_ranges(in.host);
    }
    close_inst(&in);
}

/* Copies this round's daily counters, per district, into out[metric][district]. */
static void daily_values(const ioc_host_t *h, double out[][15])
{
    for (size_t m = 0; m < NELEM(daily_metrics); m++)
        for (int d = 0; d < 15; d++) {
            const fh_sample_t *s = fh_find(h, daily_metrics[m], long_an[d]);
            assert_non_null(s);
            out[m][d] = s->value;
        }
}

static void test_daily_counters(void **st)
{
    (void)st;
    inst_t in;
    double prev[NELEM(daily_metrics)][15], cur[NELEM(daily_metrics)][15];
    must_open(&in, "{\"plugin\":\"simulator\",\"seed\":5}");
    collect_ok(&in, local_us(TUESDAY, 6, 0, 0));
    daily_values(in.host, prev);
    /* every 10 minutes (stepped), then a 5-hour gap (resampled) within the same day */
    int64_t t = local_us(TUESDAY, 6, 0, 0);
    while (t < local_us(TUESDAY, 23, 50, 0)) {
        t += (t == local_us(TUESDAY, 12, 0, 0)) ? 5 * 3600 * 1000000LL : 600 * 1000000LL;
        collect_ok(&in, t);
        daily_values(in.host, cur);
        for (size_t m = 0; m < NELEM(daily_metrics); m++)
            for (int d = 0; d < 15; d++)
                if (cur[m][d] < prev[m][d])
                    fail_msg("%s in %s fell from %g to %g", daily_metrics[m], long_an[d],
                             prev[m][d], cur[m][d]);
        memcpy(prev, cur, sizeof prev);
    }
    double online = fh_sum(in.host, "service.dossiers_online", NULL);
    double offline = fh_sum(in.host, "service.dossiers_offline", NULL);
    double processed = fh_sum(in.host, "service.processed_on_time", NULL) +
                       fh_sum(in.host, "service.processed_late", NULL);
    double received = fh_sum(in.host, "feedback.received", NULL);
    assert_true(online > 1500.0 && online < 4000.0);
    assert_true(offline > 1000.0 && offline < 2500.0);
    assert_true(processed > 0.5 * (online + offline));
    assert_true(fh_sum(in.host, "service.processed_late", NULL) < 0.15 * processed);
    assert_true(received > 120.0 && received < 350.0);
    assert_true(fh_sum(in.host, "feedback.resolved", NULL) > 0.4 * received);
    assert_true(fh_sum(in.host, "camera.events", NULL) > 1000.0);
    collect_ok(&in, local_us(TUESDAY + 1, 0, 5, 0));
    daily_values(in.host, cur);
    for (size_t m = 0; m < NELEM(daily_metrics); m++) {
        double before = 0.0, after = 0.0;
        for (int d = 0; d < 15; d++) {
            before += prev[m][d];
            after += cur[m][d];
        }
        if (!(after < 0.1 * before))
            fail_msg("%s did not reset at midnight: %g before, %g after", daily_metrics[m], before, after);
    }
    close_inst(&in);
}

static double arrivals(const ioc_host_t *h)
{
    return fh_sum(h, "service.dossiers_online", NULL) + fh_sum(h, "service.dossiers_offline", NULL) +
           fh_sum(h, "feedback.received", NULL) + fh_sum(h, "camera.events", NULL);
}

/* One simulated hour in steps of `interval` seconds; returns the arrivals counted in it. */
static double hour_of_arrivals(int interval, double *mean_flow)
{
    inst_t in;
    must_open(&in, "{\"plugin\":\"simulator\",\"seed\":21}");
    int64_t t0 = local_us(TUESDAY, 9, 0, 0), t1 = local_us(TUESDAY, 10, 0, 0);
    collect_ok(&in, t0);
    double start = arrivals(in.host);
    for (int64_t t = t0 + interval * 1000000LL; t <= t1; t += interval * 1000000LL)
        collect_ok(&in, t);
    double got = arrivals(in.host) - start;
    *mean_flow = mean_of(in.host, "traffic.flow");
    close_inst(&in);
    return got;
}

static void test_interval_independent(void **st)
{
    (void)st;
    double flow1, flow60;
    double per_second = hour_of_arrivals(1, &flow1);
    double per_minute = hour_of_arrivals(60, &flow60);
    assert_true(per_minute > 500.0);
    if (fabs(per_second - per_minute) > 0.15 * per_minute)
        fail_msg("arrivals in one hour: %g at 1s, %g at 60s", per_second, per_minute);
    assert_true(fabs(flow1 - flow60) < 0.1 * flow60);
}

static void test_bad_config(void **st)
{
    (void)st;
    static const struct {
        const char *config;
        const char *needle;
    } cases[] = {
        {"{\"plugin\":\"simulator\",\"sedd\":3}", "\"sedd\""},
        {"{\"plugin\":\"simulator\",\"seed\":-1}", "seed"},
        {"{\"plugin\":\"simulator\",\"seed\":1.5}", "seed"},
        {"{\"plugin\":\"simulator\",\"seed\":\"7\"}", "seed"},
        {"{\"plugin\":\"simulator\",\"scale\":0}", "scale"},
        {"{\"plugin\":\"simulator\",\"scale\":-2}", "scale"},
        {"{\"plugin\":\"simulator\",\"scale\":\"2\"}", "scale"},
        {"{\"plugin\":\"simulator\",\"time_offset\":\"1h\"}", "time_offset"},
        {"{\"plugin\":\"simulator\",\"districts\":[]}", "districts"},
        {"{\"plugin\":\"simulator\",\"districts\":[\"Tân An\",\"Hà Nội\"]}", "districts[1]: unknown district \"Hà Nội\""},
        {"{\"plugin\":\"simulator\",\"districts\":[\"Tan An\"]}", "\"Tan An\""},
        {"[1,2]", "object"},
    };
    for (size_t i = 0; i < NELEM(cases); i++) {
        inst_t in;
        char err[256];
        int rc = open_inst(&in, cases[i].config, err, sizeof err);
        if (rc != IOC_EINVAL || !strstr(err, cases[i].needle))
            fail_msg("config %s: rc=%d err=\"%s\", wanted \"%s\"", cases[i].config, rc, err,
                     cases[i].needle);
        assert_null(in.state);
        close_inst(&in);
    }
}

static void test_district_subset(void **st)
{
    (void)st;
    inst_t in;
    must_open(&in, "{\"plugin\":\"simulator\",\"name\":\"x\",\"timeout\":\"1s\","
                   "\"districts\":[\"Mộc Hóa\",\"TA\"]}");
    collect_ok(&in, local_us(TUESDAY, 9, 0, 0));
    assert_int_equal(fh_count(in.host, "service.dossiers_online"), 2);
    for (size_t i = 0; i < in.host->nsamples; i++) {
        const fh_sample_t *s = &in.host->samples[i];
        int ta = strcmp(s->district, "Tân An") == 0, mh = strcmp(s->district, "Mộc Hóa") == 0;
        assert_true(ta || mh);
        if (s->id[0])
            assert_true(strncmp(s->id, ta ? "TA-" : "MH-", 3) == 0);
    }
    close_inst(&in);
}

static void test_emit_full(void **st)
{
    (void)st;
    inst_t in;
    must_open(&in, "{\"plugin\":\"simulator\"}");
    in.host->full_at_call = 2;
    assert_int_equal(fh_collect(desc, in.state, in.host, local_us(TUESDAY, 9, 0, 0)), IOC_EFULL);
    assert_int_equal(in.host->emit_calls, 2);
    assert_int_equal(in.host->nsamples, 1024);
    assert_true(strstr(in.host->last_log, "emit") != NULL);
    in.host->full_at_call = 1;
    assert_int_equal(fh_collect(desc, in.state, in.host, local_us(TUESDAY, 9, 0, 1)), IOC_EFULL);
    assert_int_equal(in.host->emit_calls, 1);
    in.host->full_at_call = 0;
    collect_ok(&in, local_us(TUESDAY, 9, 0, 2));
    assert_true(in.host->nsamples > 2500);
    close_inst(&in);
}

static void test_scale(void **st)
{
    (void)st;
    inst_t one, ten, half;
    must_open(&one, "{\"plugin\":\"simulator\"}");
    must_open(&ten, "{\"plugin\":\"simulator\",\"scale\":10}");
    must_open(&half, "{\"plugin\":\"simulator\",\"scale\":0.5}");
    int64_t t = local_us(TUESDAY, 21, 0, 0);
    collect_ok(&one, t);
    collect_ok(&ten, t);
    collect_ok(&half, t);
    size_t n1 = one.host->nsamples, n10 = ten.host->nsamples, nh = half.host->nsamples;
    assert_true(n10 >= 20000);
    assert_true(n10 > 8 * n1 && n10 < 11 * n1);
    assert_true(nh < n1 && 2 * nh > n1 * 0.8);
    double lights = fh_sum(ten.host, "lighting.total", NULL);
    assert_true(lights > 170000.0 && lights < 230000.0);
    check_ranges(ten.host);
    assert_int_equal(fh_count(ten.host, "service.dossiers_online"), 15);
    close_inst(&one);
    close_inst(&ten);
    close_inst(&half);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_abi_mismatch),
        cmocka_unit_test(test_round_shape),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_lights_day_night),
        cmocka_unit_test(test_time_offset),
        cmocka_unit_test(test_rush_hour),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_daily_counters),
        cmocka_unit_test(test_interval_independent),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_district_subset),
        cmocka_unit_test(test_emit_full),
        cmocka_unit_test(test_scale),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

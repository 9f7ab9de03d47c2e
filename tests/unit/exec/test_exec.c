/* The real exec.so in a fake host on a real libuv loop, running real child scripts: line
 * protocol read, bad lines counted, argv without a shell, the environment, non-zero exits,
 * sleepers killed at the timeout (process group included), huge output bounded, stops. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "fakehost.h"

static const ioc_collector_desc_t *desc;
static char dir[64];

/* Writes an executable shell script dir/name with body; returns its path (static buffer). */
static const char *script(const char *name, const char *body)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    assert_int_equal(chmod(path, 0755), 0);
    return path;
}

static int setup(void **state)
{
    (void)state;
    desc = fhost_load("exec");
    snprintf(dir, sizeof dir, "/tmp/iocd-exec-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

static int64_t now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* A host with an exec instance for the JSON config (printf format, one %s: the test dir). */
static ioc_host_t *start(const char *fmt, void **inst)
{
    return fhost_open(desc, inst, fmt, dir);
}

/* True while a process with the pid written in dir/name runs (a zombie does not: an orphan
 * waits for PID 1 to reap it, which a container's PID 1 may never do). */
static bool alive(const char *name)
{
    char path[256], stat[512];
    long pid = 0;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("no pid file %s", path);
    if (fscanf(f, "%ld", &pid) != 1)
        fail_msg("bad pid file %s", path);
    fclose(f);
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    if (!(f = fopen(path, "r")))
        return false;
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[n] = '\0';
    const char *paren = strrchr(stat, ')');
    return !paren || paren[1] != ' ' || paren[2] != 'Z';
}

/* True once the process of a pid file is gone; a signal takes a moment to land on a busy machine. */
static bool gone_within(const char *name, int ms)
{
    for (int waited = 0; waited < ms; waited += 10) {
        if (!alive(name))
            return true;
        usleep(10000);
    }
    return !alive(name);
}

static void test_descriptor(void **state)
{
    (void)state;
    assert_int_equal(desc->magic, IOC_COLLECTOR_MAGIC);
    assert_int_equal(desc->abi_version, IOC_COLLECTOR_ABI_VERSION);
    assert_string_equal(desc->name, "exec");
}

static void test_line_protocol(void **state)
{
    void *inst;
    (void)state;
    script("good.sh", "printf 'traffic,district=T\303\242n\\\\ An speed=42.5,count=17i,ok=t "
                      "1710207000000000000\\n'\n"
                      "printf '# a comment\\n\\nlighting,district=B\341\272\277n\\\\ L\341\273\251c "
                      "value=3,label=\"x\"\\n'");
    ioc_host_t *h = start("{\"name\": \"good\", \"command\": [\"%s/good.sh\"]}", &inst);
    int64_t before = now_us();
    assert_int_equal(fhost_collect(desc, inst, h, 5000), IOC_OK);
    assert_int_equal(h->nsamples, 4);
    const fhost_sample_t *s = fhost_find(h, "traffic.speed", "district=Tân An");
    assert_non_null(s);
    assert_true(s->value == 42.5);
    assert_int_equal(s->ts_us, 1710207000000000LL);
    s = fhost_find(h, "traffic.count", "district=Tân An");
    assert_non_null(s);
    assert_true(s->value == 17);
    s = fhost_find(h, "traffic.ok", "district=Tân An");
    assert_non_null(s);
    assert_true(s->value == 1);
    s = fhost_find(h, "lighting", "district=Bến Lức"); /* field "value": the measurement's name */
    assert_non_null(s);
    assert_true(s->value == 3);
    assert_true(s->ts_us >= before && s->ts_us <= now_us());
    /* Run again: the same again. */
    assert_int_equal(fhost_collect(desc, inst, h, 5000), IOC_OK);
    assert_int_equal(h->nsamples, 8);
    fhost_finish(desc, inst, h);
}

static void test_bad_lines_counted(void **state)
{
    void *inst;
    (void)state;
    script("mixed.sh", "echo 'a value=1'; echo 'b value=oops'; echo 'c value=3';"
                       " echo 'no fields'; echo 'd value=4'");
    ioc_host_t *h = start("{\"name\": \"mixed\", \"command\": [\"%s/mixed.sh\"]}", &inst);
    assert_int_equal(fhost_collect(desc, inst, h, 5000), IOC_OK);
    assert_int_equal(h->nsamples, 3);
    assert_non_null(fhost_find(h, "a", ""));
    assert_non_null(fhost_find(h, "c", ""));
    assert_non_null(fhost_find(h, "d", ""));
    assert_int_equal(fhost_count_logs(h, "event=bad_lines command=\""), 1);
    assert_int_equal(fhost_count_logs(h, "bad_lines=2 good_lines=3 first_line=2 detail="), 1);
    /* Within the minute: counted, not logged again. */
    assert_int_equal(fhost_collect(desc, inst, h, 5000), IOC_OK);
    assert_int_equal(fhost_count_logs(h, "event=bad_lines"), 1);
    fhost_finish(desc, inst, h);

    /* Nothing usable at all: an error for the host's health. */
    script("junk.sh", "echo '<html>'; echo 'also bad'");
    h = start("{\"name\": \"junk\", \"command\": [\"%s/junk.sh\"]}", &inst);
    assert_int_equal(fhost_collect(desc, inst, h, 5000), IOC_EINVAL);
    assert_int_equal(h->nsamples, 0);
    assert_int_equal(fhost_count_logs(h, "bad_lines=2 good_lines=0 first_line=1"), 1);
    fhost_finish(desc, inst, h);
}

static void test_argv_env_shell(void **state)
{
    void *inst;
    (void)state;
    /* No shell: "$HOME" and ";" reach the program as they are. */
    ioc_host_t *h = start("{\"name\": \"argv\", \"command\": [\"printf\", \"%%s\\\\n\","
                          " \"m,t=$HOME;x value=1\"]}", &inst);
    assert_int_equal(fhost_collect(desc, inst, h, 5000), IOC_OK);
    assert_int_equal(h->nsamples, 1);
    assert_string_equal(h->samples[0].tags, "t=$HOME;x");
    fhost_finish(desc, inst, h);

    /* A shell when asked; `env` is set, iocd's other variables are not passed on. */
    setenv("IOCD_DATABASE_DSN", "host=/x password=hunter2", 1);
    h = start("{\"name\": \"sh\", \"shell\": true, \"env\": {\"IOC_X\": \"7\"}, \"precision\": "
              "\"s\", \"cwd\": \"%s\", \"command\": \"echo m,dsn=${IOCD_DATABASE_DSN:-none},"
              "d=$(basename $PWD) value=$((IOC_X * 2)) 1710207000\"}", &inst);
    assert_int_equal(fhost_collect(desc, inst, h, 5000), IOC_OK);
    unsetenv("IOCD_DATABASE_DSN");
    assert_int_equal(h->nsamples, 1);
    assert_string_equal(h->samples[0].metric, "m");
    assert_true(h->samples[0].value == 14);
    assert_int_equal(h->samples[0].ts_us, 1710207000000000LL);
    char want[128];
    snprintf(want, sizeof want, "d=%s,dsn=none", strrchr(dir, '/') + 1);
    assert_string_equal(h->samples[0].tags, want);
    fhost_finish(desc, inst, h);
}

static void test_failures_reported(void **state)
{
    void *inst;
    (void)state;
    script("fail.sh", "echo 'm value=1'; echo 'cannot reach the UPS: timeout' >&2; exit 3");
    ioc_host_t *h = start("{\"name\": \"fail\", \"command\": [\"%s/fail.sh\"]}", &inst);
    assert_int_equal(fhost_collect(desc, inst, h, 5000), IOC_EIO);
    assert_int_equal(h->nsamples, 0); /* a failed run's output is not used */
    assert_int_equal(fhost_count_logs(h, "detail=\"exit status 3\""), 1);
    assert_int_equal(fhost_count_logs(h, "event=stderr command=\""), 1);
    assert_int_equal(fhost_count_logs(h, "line=\"cannot reach the UPS: timeout\""), 1);
    fhost_finish(desc, inst, h);

    /* Killed by a signal it did not get from us. */
    script("selfkill.sh", "kill -9 $$");
    h = start("{\"name\": \"sk\", \"command\": [\"%s/selfkill.sh\"]}", &inst);
    assert_int_equal(fhost_collect(desc, inst, h, 5000), IOC_EIO);
    assert_int_equal(fhost_count_logs(h, "killed by signal 9"), 1);
    fhost_finish(desc, inst, h);

    /* The program disappears after the config was checked: reported, not fatal. */
    const char *gone = script("gone.sh", "echo 'm value=1'");
    h = start("{\"name\": \"gone\", \"command\": [\"%s/gone.sh\"]}", &inst);
    assert_int_equal(unlink(gone), 0);
    assert_int_equal(fhost_collect(desc, inst, h, 5000), IOC_ENOTFOUND);
    assert_int_equal(fhost_count_logs(h, "event=start_failed"), 1);
    fhost_finish(desc, inst, h);
}

static void test_stderr_rate_limited(void **state)
{
    void *inst;
    (void)state;
    script("noisy.sh", "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo \"warning $i\" >&2; done;"
                       " head -c 1000 /dev/zero | tr '\\0' x >&2; echo 'm value=1'");
    ioc_host_t *h = start("{\"name\": \"noisy\", \"command\": [\"%s/noisy.sh\"]}", &inst);
    assert_int_equal(fhost_collect(desc, inst, h, 5000), IOC_OK);
    assert_int_equal(h->nsamples, 1);
    assert_int_equal(fhost_count_logs(h, "event=stderr"), 5);
    assert_int_equal(fhost_count_logs(h, "line=\"warning 5\""), 1);
    assert_int_equal(fhost_count_logs(h, "line=\"warning 6\""), 0);
    fhost_finish(desc, inst, h);
}

static void test_killed_at_timeout(void **state)
{
    void *inst;
    (void)state;
    /* A sleeper and its child: SIGTERM to the group at 80% of the 1 s timeout. */
    script("sleeper.sh", "echo $$ > \"$(dirname \"$0\")/sleeper.pid\"; sleep 30 &"
                         " echo $! > \"$(dirname \"$0\")/sleeper-child.pid\"; wait");
    ioc_host_t *h = start("{\"name\": \"sleepy\", \"timeout\": \"1s\", \"command\":"
                          " [\"%s/sleeper.sh\"]}", &inst);
    int64_t t0 = now_us();
    assert_int_equal(fhost_collect(desc, inst, h, 3000), IOC_ETIMEDOUT);
    int64_t took = now_us() - t0;
    assert_true(took >= 750000 && took < 1000000);
    assert_int_equal(fhost_count_logs(h, "did not finish within its timeout: killed"), 1);
    assert_true(gone_within("sleeper.pid", 1000));
    assert_true(gone_within("sleeper-child.pid", 1000));
    fhost_finish(desc, inst, h);

    /* One that ignores SIGTERM gets SIGKILL at 90%. */
    script("stubborn.sh", "trap '' TERM; echo $$ > \"$(dirname \"$0\")/stubborn.pid\";"
                          " while :; do sleep 0.05; done");
    h = start("{\"name\": \"stubborn\", \"timeout\": \"1s\", \"command\": [\"%s/stubborn.sh\"]}",
              &inst);
    t0 = now_us();
    assert_int_equal(fhost_collect(desc, inst, h, 3000), IOC_ETIMEDOUT);
    took = now_us() - t0;
    assert_true(took >= 850000 && took < 1000000);
    assert_true(gone_within("stubborn.pid", 1000));
    fhost_finish(desc, inst, h);
}

static void test_huge_output_bounded(void **state)
{
    void *inst;
    (void)state;
    /* Endless output: killed as soon as it passes max_output; nothing of it is used. */
    ioc_host_t *h = start("{\"name\": \"flood\", \"max_output\": \"64KiB\", \"timeout\": \"10s\","
                          " \"command\": [\"yes\", \"m value=1\"]}", &inst);
    int64_t t0 = now_us();
    assert_int_equal(fhost_collect(desc, inst, h, 5000), IOC_ETOOBIG);
    assert_true(now_us() - t0 < 2000000);
    assert_int_equal(h->nsamples, 0);
    assert_int_equal(fhost_count_logs(h, "wrote more than max_output to stdout: killed"), 1);
    fhost_finish(desc, inst, h);

    /* Just under the bound is fine: 6553 lines of 10 bytes = 65530 bytes. */
    h = start("{\"name\": \"full\", \"max_output\": 65536, \"shell\": true, \"command\":"
              " \"yes 'm value=1' | head -n 6553\"}", &inst);
    assert_int_equal(fhost_collect(desc, inst, h, 5000), IOC_OK);
    assert_int_equal(h->nsamples, 6553);
    fhost_finish(desc, inst, h);
}

static void test_background_child_holding_stdout(void **state)
{
    void *inst;
    (void)state;
    /* The command exits but leaves a child holding stdout: the run ends shortly after the
     * exit, with its output, and the child is killed. */
    script("bg.sh", "echo 'm value=1'; sleep 30 & echo $! > \"$(dirname \"$0\")/bg.pid\"");
    ioc_host_t *h = start("{\"name\": \"bg\", \"timeout\": \"10s\", \"command\":"
                          " [\"%s/bg.sh\"]}", &inst);
    int64_t t0 = now_us();
    assert_int_equal(fhost_collect(desc, inst, h, 5000), IOC_OK);
    assert_true(now_us() - t0 < 2000000);
    assert_int_equal(h->nsamples, 1);
    fhost_run_for(h, 50);
    assert_true(gone_within("bg.pid", 1000));
    fhost_finish(desc, inst, h);
}

static void test_stop_while_running(void **state)
{
    void *inst;
    (void)state;
    script("long.sh", "echo $$ > \"$(dirname \"$0\")/long.pid\"; sleep 30");
    ioc_host_t *h = start("{\"name\": \"long\", \"timeout\": \"20s\", \"command\":"
                          " [\"%s/long.sh\"]}", &inst);
    h->done_calls = 0;
    desc->collect(inst);
    fhost_run_for(h, 200);
    assert_int_equal(h->done_calls, 0);
    fhost_stop(desc, inst, h, 5000);
    assert_int_equal(h->done_calls, 0);
    assert_true(gone_within("long.pid", 1000));
    fhost_free(h);
}

static void config_error(const char *config, const char *want)
{
    char json[1024];
    snprintf(json, sizeof json, config, dir);
    fhost_config_error(desc, json, want, NULL);
}

static void test_config_errors(void **state)
{
    (void)state;
    script("ok.sh", "true");
    assert_int_equal(chmod(script("noexec.sh", "true"), 0644), 0);
    config_error("{}", "command: required");
    config_error("{\"command\": \"echo m value=1\"}", "command: must be an array of 1 to 256");
    config_error("{\"command\": []}", "command: must be an array");
    config_error("{\"command\": [\"echo\", 3]}", "command[1]: must be a string");
    config_error("{\"command\": [\"\"]}", "command[0]: must be a non-empty string");
    config_error("{\"shell\": true, \"command\": [\"echo\"]}",
                 "command: with \"shell\": true, must be a non-empty string");
    config_error("{\"shell\": \"yes\", \"command\": \"x\"}", "shell: must be true or false");
    config_error("{\"command\": [\"no-such-program-iocd\"]}",
                 "command[0]: \"no-such-program-iocd\" is not found in PATH");
    config_error("{\"command\": [\"%s/missing.sh\"]}", "is not an executable file");
    config_error("{\"command\": [\"%s/noexec.sh\"]}", "is not an executable file");
    config_error("{\"command\": [\"%s\"]}", "is not an executable file");
    config_error("{\"command\": [\"%s/ok.sh\"], \"env\": {\"1X\": \"v\"}}",
                 "env.1X: not a variable name");
    config_error("{\"command\": [\"%s/ok.sh\"], \"env\": {\"A-B\": \"v\"}}",
                 "env.A-B: not a variable name");
    config_error("{\"command\": [\"%s/ok.sh\"], \"env\": {\"X\": 1}}", "env.X: must be a string");
    config_error("{\"command\": [\"%s/ok.sh\"], \"env\": [1]}", "env: must be an object");
    config_error("{\"command\": [\"%s/ok.sh\"], \"precision\": \"h\"}",
                 "precision: must be \"ns\"");
    config_error("{\"command\": [\"%s/ok.sh\"], \"max_output\": 10}",
                 "max_output: must be a size from 1KiB to 64MiB");
    config_error("{\"command\": [\"%s/ok.sh\"], \"max_output\": \"1GiB\"}",
                 "max_output: must be a size");
    config_error("{\"command\": [\"%s/ok.sh\"], \"cwd\": \"/nonexistent\"}",
                 "cwd: must name an existing directory");
    config_error("{\"command\": [\"%s/ok.sh\"], \"timeout\": \"soon\"}",
                 "timeout: must be a duration");
    config_error("{\"command\": [\"%s/ok.sh\"], \"comand\": 1}", "unknown key \"comand\"");
    /* A PATH from `env` is where a bare program name is looked for. */
    config_error("{\"command\": [\"ok.sh\"], \"env\": {\"PATH\": \"/nonexistent\"}}",
                 "\"ok.sh\" is not found in PATH (/nonexistent)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_line_protocol),
        cmocka_unit_test(test_bad_lines_counted),
        cmocka_unit_test(test_argv_env_shell),
        cmocka_unit_test(test_failures_reported),
        cmocka_unit_test(test_stderr_rate_limited),
        cmocka_unit_test(test_killed_at_timeout),
        cmocka_unit_test(test_huge_output_bounded),
        cmocka_unit_test(test_background_child_holding_stdout),
        cmocka_unit_test(test_stop_while_running),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* Alert sinks against a real webhook receiver (python3 http.server on
 * 127.0.0.1, tests/integration/telemetry/webhook_receiver.py): delivery in
 * order, retries with exponential backoff after 500s, no retry after a
 * 400, coalescing with counts, the audit callback, the command sink, and a
 * dead webhook that never blocks the caller (bounded queue, oldest
 * dropped and counted). */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "telemetry/alerts.h"
#include "util/log.h"

extern char **environ;

struct receiver {
    pid_t pid;
    int port;
    char log[320];
};

struct fx {
    char dir[256];
    struct receiver rx;
    json_t *audited; /* records the audit callback got */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (f == NULL || sg_test_mkdtemp(f->dir, sizeof f->dir, "signet-alerts") != 0) {
        free(f);
        return -1;
    }
    f->rx.pid = -1;
    f->audited = json_array();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->rx.pid > 0) {
        kill(f->rx.pid, SIGTERM);
        waitpid(f->rx.pid, NULL, 0);
    }
    json_decref(f->audited);
    sg_test_rmrf(f->dir);
    free(f);
    return 0;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void start_receiver(struct fx *f, const char *mode, int fail_first, int fail_status)
{
    const char *src = getenv("SIGNET_SOURCE_DIR");
    char script[512], ff[16], fs[16];
    snprintf(script, sizeof script, "%s/tests/integration/telemetry/webhook_receiver.py",
             src != NULL ? src : ".");
    snprintf(f->rx.log, sizeof f->rx.log, "%s/webhook.log", f->dir);
    snprintf(ff, sizeof ff, "%d", fail_first);
    snprintf(fs, sizeof fs, "%d", fail_status);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    char *argv[] = {"python3", script, f->rx.log, (char *)mode, ff, fs, NULL};
    assert_int_equal(posix_spawnp(&f->rx.pid, "python3", &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    char line[32] = "";
    size_t n = 0;
    while (n + 1 < sizeof line) {
        ssize_t r = read(fds[0], line + n, 1);
        if (r <= 0 || line[n] == '\n')
            break;
        n++;
    }
    line[n] = '\0';
    close(fds[0]);
    f->rx.port = (int)strtol(line, NULL, 10);
    assert_true(f->rx.port > 0);
}

/* The receiver's log as a JSON array of {t, status, body}. */
static json_t *received(struct fx *f)
{
    json_t *arr = json_array();
    FILE *fp = fopen(f->rx.log, "r");
    if (fp == NULL)
        return arr;
    char line[8192];
    while (fgets(line, sizeof line, fp) != NULL) {
        json_t *o = json_loads(line, 0, NULL);
        assert_non_null(o);
        json_array_append_new(arr, o);
    }
    fclose(fp);
    return arr;
}

static json_t *body_of(json_t *rec)
{
    json_t *b = json_loads(json_string_value(json_object_get(rec, "body")), JSON_REJECT_DUPLICATES,
                           NULL);
    assert_non_null(b);
    return b;
}

static signet_err audit_cb(void *user, const char *type, const json_t *fields)
{
    struct fx *f = user;
    json_t *c = json_deep_copy(fields);
    json_object_set_new(c, "type", json_string(type));
    json_array_append_new(f->audited, c);
    return SIGNET_OK;
}

static void cfg_for(struct fx *f, struct sg_telemetry_cfg *c)
{
    sg_telemetry_cfg_defaults(c);
    if (f->rx.port > 0)
        snprintf(c->webhook_url, sizeof c->webhook_url, "http://127.0.0.1:%d/hook", f->rx.port);
    c->coalesce_window = 0;
    c->webhook_backoff_ms = 100;
    c->webhook_timeout = 2;
}

static void test_order_and_retries_with_backoff(void **state)
{
    struct fx *f = *state;
    start_receiver(f, "ok", 3, 500);
    struct sg_telemetry_cfg c;
    cfg_for(f, &c);
    struct sg_alerts *a = NULL;
    assert_int_equal(sg_alerts_new(&c, NULL, audit_cb, f, &a), SIGNET_OK);
    for (int i = 0; i < 5; i++) {
        char msg[32];
        snprintf(msg, sizeof msg, "finding %d", i);
        sg_alerts_violation(a, (enum sg_inv_id)i, NULL, msg, 1000 + i);
    }
    assert_int_equal(sg_alerts_drain(a, 20000), SIGNET_OK);
    struct sg_alert_stats st;
    sg_alerts_get_stats(a, &st);
    assert_int_equal(st.raised, 5);
    assert_int_equal(st.webhook_delivered, 5);
    assert_int_equal(st.webhook_retries, 3);
    assert_int_equal(st.webhook_failed, 0);
    sg_alerts_free(&a);
    json_t *rx = received(f);
    assert_int_equal(json_array_size(rx), 8);
    /* The first alert was tried 4 times (3 x 500, then 200), 100, 200, 400 ms apart. */
    double t[4];
    for (size_t i = 0; i < 4; i++) {
        json_t *r = json_array_get(rx, i);
        json_t *b = body_of(r);
        assert_int_equal(json_integer_value(json_object_get(b, "alert_seq")), 1);
        assert_int_equal(json_integer_value(json_object_get(r, "status")), i < 3 ? 500 : 200);
        assert_string_equal(json_string_value(json_object_get(r, "type")), "application/json");
        t[i] = json_real_value(json_object_get(r, "t"));
        json_decref(b);
    }
    assert_true(t[1] - t[0] >= 0.09);
    assert_true(t[2] - t[1] >= 0.19);
    assert_true(t[3] - t[2] >= 0.39);
    assert_true(t[3] - t[2] > 1.5 * (t[2] - t[1]) && t[2] - t[1] > 1.5 * (t[1] - t[0]));
    /* Then the rest, in the order raised. */
    for (size_t i = 3; i < 8; i++) {
        json_t *b = body_of(json_array_get(rx, i));
        assert_int_equal(json_integer_value(json_object_get(b, "alert_seq")), (json_int_t)(i - 2));
        assert_string_equal(json_string_value(json_object_get(b, "type")), "invariant_violation");
        char id[8];
        snprintf(id, sizeof id, "I%zu", i - 2);
        assert_string_equal(json_string_value(json_object_get(b, "invariant")), id);
        json_decref(b);
    }
    json_decref(rx);
    /* Each alert went to the audit callback once, in order. */
    assert_int_equal(json_array_size(f->audited), 5);
    assert_string_equal(json_string_value(json_object_get(json_array_get(f->audited, 4), "message")),
                        "finding 4");
}

static void test_final_failure_not_retried(void **state)
{
    struct fx *f = *state;
    start_receiver(f, "ok", 1, 400);
    struct sg_telemetry_cfg c;
    cfg_for(f, &c);
    struct sg_alerts *a = NULL;
    assert_int_equal(sg_alerts_new(&c, NULL, NULL, NULL, &a), SIGNET_OK);
    sg_alerts_violation(a, SG_INV_JWKS, "kid1", "first", 1);
    sg_alerts_violation(a, SG_INV_JWKS, "kid2", "second", 2);
    assert_int_equal(sg_alerts_drain(a, 10000), SIGNET_OK);
    struct sg_alert_stats st;
    sg_alerts_get_stats(a, &st);
    assert_int_equal(st.webhook_failed, 1);
    assert_int_equal(st.webhook_retries, 0);
    assert_int_equal(st.webhook_delivered, 1);
    sg_alerts_free(&a);
    json_t *rx = received(f);
    assert_int_equal(json_array_size(rx), 2);
    json_t *b = body_of(json_array_get(rx, 1));
    assert_string_equal(json_string_value(json_object_get(b, "kid")), "kid2");
    json_decref(b);
    json_decref(rx);
}

static void test_coalescing(void **state)
{
    struct fx *f = *state;
    start_receiver(f, "ok", 0, 500);
    struct sg_telemetry_cfg c;
    cfg_for(f, &c);
    c.coalesce_window = 60;
    struct sg_alerts *a = NULL;
    assert_int_equal(sg_alerts_new(&c, NULL, audit_cb, f, &a), SIGNET_OK);
    for (int i = 0; i < 10; i++)
        sg_alerts_violation(a, SG_INV_ONE_ACTIVE, NULL, "2 ACTIVE keys", 1000 + i);
    /* Another key's finding is its own stream. */
    sg_alerts_violation(a, SG_INV_NO_FORGERY, "kidA", "forged A", 1001);
    sg_alerts_violation(a, SG_INV_NO_FORGERY, "kidB", "forged B", 1001);
    sg_alerts_violation(a, SG_INV_NO_FORGERY, "kidA", "forged A again", 1002);
    sg_alerts_tick(a, 1030); /* window not over: nothing */
    struct sg_alert_stats st;
    sg_alerts_get_stats(a, &st);
    assert_int_equal(st.raised, 3);
    assert_int_equal(st.coalesced, 10);
    sg_alerts_tick(a, 1061); /* I1: 9 more; I7 kidA: 1 more */
    sg_alerts_get_stats(a, &st);
    assert_int_equal(st.raised, 5);
    sg_alerts_violation(a, SG_INV_ONE_ACTIVE, NULL, "still 2", 1070); /* coalesced again */
    sg_alerts_recovery(a, SG_INV_ONE_ACTIVE, 1080); /* flush 1, then the recovery */
    assert_int_equal(sg_alerts_drain(a, 10000), SIGNET_OK);
    sg_alerts_free(&a);
    json_t *rx = received(f);
    assert_int_equal(json_array_size(rx), 7);
    const struct {
        const char *type, *inv, *kid;
        int count;
    } want[] = {
        {"invariant_violation", "I1", NULL, 1},   {"invariant_violation", "I7", "kidA", 1},
        {"invariant_violation", "I7", "kidB", 1}, {"invariant_violation", "I1", NULL, 9},
        {"invariant_violation", "I7", "kidA", 1}, {"invariant_violation", "I1", NULL, 1},
        {"invariant_recovered", "I1", NULL, 1},
    };
    for (size_t i = 0; i < 7; i++) {
        json_t *b = body_of(json_array_get(rx, i));
        assert_string_equal(json_string_value(json_object_get(b, "type")), want[i].type);
        assert_string_equal(json_string_value(json_object_get(b, "invariant")), want[i].inv);
        assert_int_equal(json_integer_value(json_object_get(b, "count")), want[i].count);
        if (want[i].kid != NULL)
            assert_string_equal(json_string_value(json_object_get(b, "kid")), want[i].kid);
        else
            assert_null(json_object_get(b, "kid"));
        json_decref(b);
    }
    json_decref(rx);
    assert_int_equal(json_array_size(f->audited), 7);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(f->audited, 6), "type")),
        "invariant_recovered");
}

static void test_dead_webhook_never_blocks(void **state)
{
    struct fx *f = *state;
    start_receiver(f, "blackhole", 0, 0);
    struct sg_telemetry_cfg c;
    cfg_for(f, &c);
    c.queue_size = 8;
    c.webhook_timeout = 1;
    struct sg_alerts *a = NULL;
    assert_int_equal(sg_alerts_new(&c, NULL, NULL, NULL, &a), SIGNET_OK);
    double t0 = mono();
    for (int i = 0; i < 200; i++)
        sg_alerts_violation(a, SG_INV_AUDIT, NULL, "x", i);
    double spent = mono() - t0;
    assert_true(spent < 0.5);
    struct sg_alert_stats st;
    sg_alerts_get_stats(a, &st);
    assert_int_equal(st.raised, 200);
    /* One in flight (at most), eight queued, the rest dropped oldest-first. */
    assert_true(st.webhook_dropped >= 191 && st.webhook_dropped <= 192);
    assert_int_equal(sg_alerts_drain(a, 200), SIGNET_ERR_TIMEOUT);
    t0 = mono();
    sg_alerts_free(&a);
    assert_true(mono() - t0 < 3.0); /* the attempt in flight times out; no retries after stop */
}

static void test_command_sink(void **state)
{
    struct fx *f = *state;
    struct sg_telemetry_cfg c;
    cfg_for(f, &c);
    char out[400];
    snprintf(out, sizeof out, "%s/cmd.out", f->dir);
    snprintf(c.command, sizeof c.command, "/usr/bin/tee -a %s", out);
    struct sg_alerts *a = NULL;
    assert_int_equal(sg_alerts_new(&c, NULL, NULL, NULL, &a), SIGNET_OK);
    sg_alerts_violation(a, SG_INV_SANDBOX, NULL, "signer 0 is \"dumpable\"", 5);
    sg_alerts_recovery(a, SG_INV_SANDBOX, 6);
    assert_int_equal(sg_alerts_drain(a, 10000), SIGNET_OK);
    struct sg_alert_stats st;
    sg_alerts_get_stats(a, &st);
    assert_int_equal(st.command_runs, 2);
    assert_int_equal(st.command_failed, 0);
    sg_alerts_free(&a);
    FILE *fp = fopen(out, "r");
    assert_non_null(fp);
    char line[2048];
    assert_non_null(fgets(line, sizeof line, fp));
    json_t *b = json_loads(line, 0, NULL);
    assert_non_null(b);
    assert_string_equal(json_string_value(json_object_get(b, "message")), "signer 0 is \"dumpable\"");
    json_decref(b);
    assert_non_null(fgets(line, sizeof line, fp));
    assert_non_null(strstr(line, "\"invariant_recovered\""));
    fclose(fp);

    /* A hanging command is killed after command_timeout; a missing one fails. */
    snprintf(c.command, sizeof c.command, "/bin/sleep 30");
    c.command_timeout = 1;
    assert_int_equal(sg_alerts_new(&c, NULL, NULL, NULL, &a), SIGNET_OK);
    double t0 = mono();
    sg_alerts_violation(a, SG_INV_SANDBOX, NULL, "x", 5);
    assert_int_equal(sg_alerts_drain(a, 10000), SIGNET_OK);
    assert_true(mono() - t0 < 5);
    sg_alerts_get_stats(a, &st);
    assert_int_equal(st.command_failed, 1);
    sg_alerts_free(&a);
    snprintf(c.command, sizeof c.command, "/nonexistent/notify");
    assert_int_equal(sg_alerts_new(&c, NULL, NULL, NULL, &a), SIGNET_OK);
    sg_alerts_violation(a, SG_INV_SANDBOX, NULL, "x", 5);
    assert_int_equal(sg_alerts_drain(a, 10000), SIGNET_OK);
    sg_alerts_get_stats(a, &st);
    assert_int_equal(st.command_failed, 1);
    sg_alerts_free(&a);
    /* A relative path is refused at creation. */
    snprintf(c.command, sizeof c.command, "tee x");
    assert_int_equal(sg_alerts_new(&c, NULL, NULL, NULL, &a), SIGNET_ERR_CONFIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_order_and_retries_with_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_final_failure_not_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coalescing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_webhook_never_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_sink, setup, teardown),
    };
    signal(SIGPIPE, SIG_IGN);
    sg_log_init("test_alerts", (enum sg_log_level)(SG_LOG_ERROR + 1));
    return cmocka_run_group_tests(tests, NULL, NULL);
}

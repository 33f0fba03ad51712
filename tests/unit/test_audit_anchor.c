/* Audit log against an insider (issue 11): signed checkpoints and the
 * recorded head, a log deleted or replaced under an open handle (fail
 * closed, never a fresh chain), a missing log where records must exist,
 * `audit reset`, and the bounded wait for the writers' lock. */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit/checkpoint.h"
#include "signer/audit.h"
#include "util/log.h"

struct fx {
    char dir[256];
    char path[320];
    char head[330];
    unsigned signs;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (f == NULL || sg_test_mkdtemp(f->dir, sizeof f->dir, "signet-anchor") != 0) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/audit.log", f->dir);
    snprintf(f->head, sizeof f->head, "%s/audit.log.head", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sg_test_rmrf(f->dir);
    free(f);
    return 0;
}

/* A stand-in for the HSM: the checks of the signature itself are the
 * CLI's (test_audit_tamper.sh); here, what is signed and where it goes. */
static signet_err fake_sign(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[static 64])
{
    struct fx *f = ctx;
    f->signs++;
    memset(sig, 0, 64);
    memcpy(sig, msg, len < 64 ? len : 64);
    return SIGNET_OK;
}

static const char key[SG_THUMBPRINT_LEN + 1] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

static void add(struct sg_audit *a, int i)
{
    json_t *fields = json_pack("{s:i}", "n", i);
    assert_non_null(fields);
    assert_int_equal(sg_audit_append(a, 1700000000 + i, "note", fields), SIGNET_OK);
    json_decref(fields);
}

struct count {
    unsigned records, checkpoints, resets;
    uint64_t last_cp_seq;
};

static signet_err count_rec(void *user, const struct sg_audit_rec *rec, char *why, size_t why_len)
{
    struct count *c = user;
    c->records++;
    if (strcmp(rec->type, SG_AUDIT_RESET_TYPE) == 0)
        c->resets++;
    if (strcmp(rec->type, SG_AUDIT_CP_TYPE) == 0) {
        struct sg_audit_cp cp;
        signet_err err = sg_audit_cp_from_record(rec, &cp, why, why_len);
        if (err != SIGNET_OK)
            return err;
        c->checkpoints++;
        c->last_cp_seq = cp.seq;
    }
    return SIGNET_OK;
}

static struct count scan(const char *path)
{
    struct count c = {0};
    uint64_t records = 0, bad = 0;
    char why[200];
    assert_int_equal(
        sg_audit_verify_file_each(path, count_rec, &c, &records, &bad, why, sizeof why),
        SIGNET_OK);
    return c;
}

static struct sg_audit *open_anchored(struct fx *f, bool expect, bool keep)
{
    struct sg_audit *a = NULL;
    struct sg_audit_opts o = {.expect_records = expect, .keep_broken = keep};
    assert_int_equal(sg_audit_open_ex(f->path, &o, &a), SIGNET_OK);
    sg_audit_set_anchor(a, fake_sign, f, key, 60000);
    return a;
}

/* One checkpoint per interval whatever the commits, one at the end, each
 * following the head it names; the head file follows the last one. */
static void test_checkpoints(void **state)
{
    struct fx *f = *state;
    struct sg_audit *a = open_anchored(f, false, false);
    add(a, 1);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK); /* the first commit checkpoints */
    for (int i = 2; i < 6; i++) {
        add(a, i);
        assert_int_equal(sg_audit_commit(a), SIGNET_OK); /* within the interval: none */
    }
    assert_int_equal(f->signs, 1);
    assert_true(sg_audit_checkpoint_wait_ms(a) > 0);
    assert_int_equal(sg_audit_checkpoint(a), SIGNET_OK); /* at close */
    assert_int_equal(sg_audit_checkpoint_wait_ms(a), -1);
    assert_int_equal(sg_audit_checkpoints(a), 2);
    uint64_t last = sg_audit_last_seq(a);
    sg_audit_close(&a);
    struct count c = scan(f->path);
    assert_int_equal(c.records, 7); /* 1, cp, 2..5, cp */
    assert_int_equal(c.checkpoints, 2);
    assert_int_equal(c.last_cp_seq, last - 1);
    struct stat st;
    assert_int_equal(stat(f->head, &st), 0);
    assert_true(st.st_size > 0 && (st.st_mode & 077) == 0);
    /* Reopens fine: the log holds its head. */
    a = open_anchored(f, true, false);
    sg_audit_close(&a);
}

/* Deleted, then replaced, while open: the commit fails closed and nothing
 * is created at the path. */
static void test_deleted_while_open(void **state)
{
    struct fx *f = *state;
    struct sg_audit *a = open_anchored(f, false, true);
    char why[256];
    add(a, 1);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK);
    assert_int_equal(sg_audit_health(a, why, sizeof why), SIGNET_OK);
    assert_int_equal(unlink(f->path), 0);
    add(a, 2);
    assert_int_equal(sg_audit_commit(a), SIGNET_ERR_AUDIT_BROKEN);
    assert_int_equal(access(f->path, F_OK), -1);
    assert_int_equal(sg_audit_append(a, 1, "note", NULL), SIGNET_ERR_AUDIT_BROKEN);
    assert_int_equal(sg_audit_health(a, why, sizeof why), SIGNET_ERR_AUDIT_BROKEN);
    assert_non_null(strstr(why, "missing"));
    sg_audit_close(&a);

    /* A new handle (a signer restarted by SIGHUP) starts no fresh chain. */
    struct sg_audit_opts o = {.expect_records = false};
    assert_int_equal(sg_audit_open_ex(f->path, &o, &a), SIGNET_ERR_AUDIT_BROKEN);
    assert_null(a);
    assert_int_equal(access(f->path, F_OK), -1);

    /* Replaced by another file (even a whole, longer chain). */
    assert_int_equal(unlink(f->head), 0);
    a = open_anchored(f, false, true);
    add(a, 1);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK);
    char other[340];
    snprintf(other, sizeof other, "%s/other.log", f->dir);
    struct sg_audit *b = NULL;
    assert_int_equal(sg_audit_open(other, &b), SIGNET_OK);
    for (int i = 0; i < 3; i++)
        add(b, i);
    assert_int_equal(sg_audit_commit(b), SIGNET_OK);
    sg_audit_close(&b);
    assert_int_equal(rename(other, f->path), 0);
    add(a, 2);
    assert_int_equal(sg_audit_commit(a), SIGNET_ERR_AUDIT_BROKEN);
    assert_int_equal(sg_audit_health(a, why, sizeof why), SIGNET_ERR_AUDIT_BROKEN);
    sg_audit_close(&a);
    /* and the other log does not hold the recorded head */
    assert_int_equal(sg_audit_open_ex(f->path, &o, &a), SIGNET_ERR_AUDIT_BROKEN);
}

/* The key store has keys: a missing or empty log is lost, not new. */
static void test_missing_with_keys(void **state)
{
    struct fx *f = *state;
    struct sg_audit *a = NULL;
    struct sg_audit_opts o = {.expect_records = true};
    assert_int_equal(sg_audit_open_ex(f->path, &o, &a), SIGNET_ERR_AUDIT_BROKEN);
    assert_int_equal(access(f->path, F_OK), -1);
    int fd = open(f->path, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(sg_audit_open_ex(f->path, &o, &a), SIGNET_ERR_AUDIT_BROKEN);
    /* Kept broken, it refuses records; the control: without keys it is new. */
    o.keep_broken = true;
    assert_int_equal(sg_audit_open_ex(f->path, &o, &a), SIGNET_OK);
    assert_int_equal(sg_audit_append(a, 1, "note", NULL), SIGNET_ERR_AUDIT_BROKEN);
    sg_audit_close(&a);
    o.expect_records = false;
    assert_int_equal(sg_audit_open_ex(f->path, &o, &a), SIGNET_OK);
    add(a, 1);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK);
    sg_audit_close(&a);
}

/* Cut back to before the recorded head: refused. Then reset: the old log is
 * kept aside, the new chain starts with the reason and is anchored. */
static void test_cut_and_reset(void **state)
{
    struct fx *f = *state;
    struct sg_audit *a = open_anchored(f, false, false);
    for (int i = 0; i < 3; i++)
        add(a, i);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK);
    add(a, 9);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK);
    assert_int_equal(sg_audit_checkpoint(a), SIGNET_OK);
    sg_audit_close(&a);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(truncate(f->path, st.st_size / 2), 0);
    /* a torn tail is cut at open; what is left is shorter than the head */
    struct sg_audit_opts o = {.expect_records = true};
    assert_int_equal(sg_audit_open_ex(f->path, &o, &a), SIGNET_ERR_AUDIT_BROKEN);
    a = open_anchored(f, true, true);
    char why[256];
    assert_int_equal(sg_audit_health(a, why, sizeof why), SIGNET_ERR_AUDIT_BROKEN);
    assert_int_equal(sg_audit_reset(a, 1800000000, "", NULL, 0), SIGNET_ERR_INVALID_ARG);
    char moved[512];
    assert_int_equal(sg_audit_reset(a, 1800000000, "restored from tape", moved, sizeof moved),
                     SIGNET_OK);
    assert_non_null(strstr(moved, "audit.log.replaced-1800000000"));
    assert_int_equal(access(moved, F_OK), 0);
    assert_int_equal(sg_audit_health(a, why, sizeof why), SIGNET_OK);
    /* A whole log is not reset again. */
    assert_int_equal(sg_audit_reset(a, 1800000001, "again", NULL, 0), SIGNET_ERR_EXISTS);
    add(a, 1);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK);
    sg_audit_close(&a);
    struct count c = scan(f->path);
    assert_int_equal(c.resets, 1);
    assert_true(c.checkpoints >= 1);
    a = open_anchored(f, true, false);
    sg_audit_close(&a);
}

/* Someone else holds the lock: the commit gives up after its bound, says so,
 * and works again once the lock is free. */
static void test_lock_wait_bounded(void **state)
{
    struct fx *f = *state;
    struct sg_audit *a = open_anchored(f, false, false);
    char why[256];
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(f->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || flock(fd, LOCK_EX) != 0 || write(ready[1], "x", 1) != 1)
            _exit(1);
        const struct timespec hold = {.tv_sec = 30};
        (void)nanosleep(&hold, NULL);
        _exit(0);
    }
    char c = 0;
    assert_int_equal(read(ready[0], &c, 1), 1);
    struct timespec t0, t1;
    assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &t0), 0);
    add(a, 1);
    assert_int_equal(sg_audit_commit(a), SIGNET_ERR_AUDIT);
    assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &t1), 0);
    long long ms = (long long)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms >= SG_AUDIT_LOCK_WAIT_MS - 50);
    assert_true(ms < SG_AUDIT_LOCK_WAIT_MS + 5000); /* generous on a busy machine */
    assert_int_equal(sg_audit_health(a, why, sizeof why), SIGNET_ERR_AUDIT);
    kill(pid, SIGKILL);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    /* The lock is free again: healthy before any commit (a /readyz that
     * said 503 must not keep every request away for good). */
    assert_int_equal(sg_audit_health(a, why, sizeof why), SIGNET_OK);
    add(a, 2);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK);
    assert_int_equal(sg_audit_health(a, why, sizeof why), SIGNET_OK);
    close(ready[0]);
    close(ready[1]);
    sg_audit_close(&a);
}

/* The shipped form round-trips; junk is refused. */
static void test_cp_line(void **state)
{
    (void)state;
    struct sg_audit_cp cp = {.seq = 42, .time = 1800000000}, back;
    memset(cp.head, 'a', SG_AUDIT_HASH_HEX);
    memcpy(cp.key, key, sizeof cp.key);
    for (int i = 0; i < SG_AUDIT_CP_SIG_LEN; i++)
        cp.sig[i] = (uint8_t)i;
    char *line = sg_audit_cp_to_line(&cp);
    assert_non_null(line);
    assert_int_equal(sg_audit_cp_from_line(line, strlen(line), &back), SIGNET_OK);
    assert_int_equal(back.seq, 42);
    assert_memory_equal(back.sig, cp.sig, sizeof cp.sig);
    assert_string_equal(back.head, cp.head);
    free(line);
    static const char *const bad[] = {
        "", "{}", "[1]", "{\"seq\":0,\"head\":\"aa\"}",
        "{\"seq\":1,\"head\":\"zz\",\"time\":1,\"key\":\"k\",\"sig\":\"AA\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(sg_audit_cp_from_line(bad[i], strlen(bad[i]), &back),
                         SIGNET_ERR_MALFORMED);
    char msg[SG_AUDIT_CP_MSG_MAX];
    size_t n = sg_audit_cp_message(42, cp.head, 1800000000, msg);
    assert_true(n > 0);
    assert_non_null(strstr(msg, "signet-audit-checkpoint/1 42 aaaa"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_checkpoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_while_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_with_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cut_and_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_wait_bounded, setup, teardown),
        cmocka_unit_test(test_cp_line),
    };
    sg_log_init("test_audit_anchor", (enum sg_log_level)(SG_LOG_ERROR + 1));
    return cmocka_run_group_tests(tests, NULL, NULL);
}

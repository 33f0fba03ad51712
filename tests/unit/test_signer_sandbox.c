/* The signer's sandbox (src/signer/sandbox.c), each case in a forked child
 * that enters it with the config of a real state directory: what the signer
 * does keeps working (memory, threads, signals to itself, abort, its own
 * files); no executable memory, no signal to another process, no tkill or
 * pkey_mprotect (SIGSYS); where the kernel has Landlock, nothing outside the
 * signer's files (EACCES), and where it has none (simulated by a filter that
 * hides the Landlock calls) the signer says landlock=unavailable and goes
 * on. Every hostile call also runs unsandboxed, where it must return: so a
 * hostile case fails if the sandbox lets its call through. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/config.h"
#include "signer/sandbox.h"

static struct sg_test_state st;
static struct sg_config cfg;
static long kernel_abi; /* Landlock ABI of this kernel, 0 = none */

static int group_setup(void **state)
{
    (void)state;
    /* The default action must be the release one: kill, not trap. */
    unsetenv("SIGNET_SECCOMP_DEBUG");
    if (sg_test_state_setup(&st, "[testing]\nclock_file = clock\n") != 0)
        return -1;
    sg_test_state_set_clock(&st, 1800000000LL);
    char msg[256] = "";
    if (sg_config_load(st.dir, &cfg, msg, sizeof msg) != SIGNET_OK) {
        fprintf(stderr, "config: %s\n", msg);
        return -1;
    }
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    kernel_abi = abi > 0 ? abi : 0;
    fprintf(stderr, "# this kernel's Landlock ABI: %ld\n", kernel_abi);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    sg_test_state_teardown(&st);
    return 0;
}

/* Enters the signer's sandbox; 0 when all of it is in force. */
static int enter(void)
{
    struct sg_hardening h;
    if (sg_sandbox_enter(&cfg, &h) != SIGNET_OK)
        return 90;
    if (!h.seccomp || !h.no_new_privs || h.dumpable != 0)
        return 91;
    return h.landlock == kernel_abi ? 0 : 92;
}

/* When set, what a child does before it enters the sandbox. */
static int (*child_prepare)(void);

/* Runs fn in a child, inside the sandbox or not; its wait status. */
static int in_child(int (*fn)(void), int sandboxed)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int rc = child_prepare != NULL ? child_prepare() : 0;
        if (rc == 0 && sandboxed)
            rc = enter();
        _exit(rc != 0 ? rc : fn());
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void assert_exit0(int status)
{
    if (WIFSIGNALED(status))
        fail_msg("killed by signal %d (a call the signer needs is refused?)", WTERMSIG(status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void assert_sigsys(int status)
{
    if (WIFEXITED(status))
        fail_msg("exited %d (0: the forbidden call returned, 90-92: no sandbox)",
                 WEXITSTATUS(status));
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSYS);
}

static char *state_path(const char *rel)
{
    static char buf[512];
    (void)snprintf(buf, sizeof buf, "%s/%s", st.dir, rel);
    return buf;
}

/* -- what the signer does --------------------------------------------- */

static void *thread_work(void *arg)
{
    void *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return arg;
    memset(p, 1, 1 << 20);
    return munmap(p, 1 << 20) == 0 ? NULL : arg;
}

static int signer_work(void)
{
    /* memory: data mappings, made read-only, grown and moved */
    size_t len = 1 << 20;
    uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 1;
    p[0] = 1;
    if (mprotect(p, 4096, PROT_READ) != 0 || mprotect(p, 4096, PROT_READ | PROT_WRITE) != 0)
        return 2;
    uint8_t *q = mremap(p, len, 4 * len, MREMAP_MAYMOVE);
    if (q == MAP_FAILED || q[0] != 1 || munmap(q, 4 * len) != 0)
        return 3;
    void *big = malloc(64u << 20); /* glibc mmaps it */
    if (big == NULL)
        return 4;
    memset(big, 0, 64u << 20);
    free(big);
    /* signals to itself: kill, tgkill (raise, pthread_kill) */
    if (kill(getpid(), 0) != 0 || syscall(SYS_tgkill, getpid(), gettid(), 0) != 0)
        return 5;
    if (raise(0) != 0 || pthread_kill(pthread_self(), 0) != 0)
        return 6;
    /* worker threads */
    static int failed;
    pthread_t t;
    void *res = &failed;
    if (pthread_create(&t, NULL, thread_work, &failed) != 0 || pthread_join(t, &res) != 0 ||
        res != NULL)
        return 7;
    /* sockets are refused quietly (SoftHSM2's syslog), not fatally */
    errno = 0;
    if (socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0) != -1 || errno != EACCES)
        return 8;
    return 0;
}

static void test_signer_work(void **state)
{
    (void)state;
    assert_exit0(in_child(signer_work, 1));
}

/* glibc's abort (signal mask, tgkill of itself) ends in SIGABRT, not SIGSYS. */
static int do_abort(void)
{
    abort();
}

static void test_abort_is_sigabrt(void **state)
{
    (void)state;
    int status = in_child(do_abort, 1);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

/* -- forbidden calls: each returns 0 when the call comes back ---------- */

static int mmap_exec(void)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? 10 : 0;
}

static int mmap_rwx(void)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    return p == MAP_FAILED ? 10 : 0;
}

static int mprotect_exec(void)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 11;
    return mprotect(p, 4096, PROT_READ | PROT_EXEC) == 0 ? 0 : 12;
}

static int pkey_mprotect_ro(void)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 11;
    (void)syscall(SYS_pkey_mprotect, p, 4096, PROT_READ, -1);
    return 0;
}

static int kill_parent(void)
{
    return kill(getppid(), 0) == 0 ? 0 : 13;
}

static int tgkill_parent(void)
{
    pid_t pp = getppid();
    return syscall(SYS_tgkill, pp, pp, 0) == 0 ? 0 : 14;
}

static int tkill_self(void)
{
    return syscall(SYS_tkill, gettid(), 0) == 0 ? 0 : 15;
}

static void *thread_mmap_exec(void *arg)
{
    (void)arg;
    return mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static int thread_exec(void)
{
    pthread_t t;
    void *res = NULL;
    if (pthread_create(&t, NULL, thread_mmap_exec, NULL) != 0 || pthread_join(t, &res) != 0)
        return 16;
    return res == MAP_FAILED ? 17 : 0;
}

static void forbidden(int (*fn)(void))
{
    assert_exit0(in_child(fn, 0)); /* the call itself works */
    assert_sigsys(in_child(fn, 1));
}

static void test_no_exec_mmap(void **state)
{
    (void)state;
    forbidden(mmap_exec);
    forbidden(mmap_rwx);
}

static void test_no_exec_mprotect(void **state)
{
    (void)state;
    forbidden(mprotect_exec);
    forbidden(pkey_mprotect_ro);
}

static void test_no_signal_to_others(void **state)
{
    (void)state;
    forbidden(kill_parent);
    forbidden(tgkill_parent);
    forbidden(tkill_self);
}

static void test_threads_confined(void **state)
{
    (void)state;
    forbidden(thread_exec);
}

/* mremap keeps the protections of what it moves: a data mapping grown or
 * moved is still not executable (read in the child's /proc/self/maps,
 * opened before the sandbox: Landlock checks at open). */
static int maps_fd = -1;

static int open_maps(void)
{
    maps_fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    return maps_fd >= 0 ? 0 : 25;
}

static int mremap_not_exec(void)
{
    size_t len = 4096;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 20;
    char *q = mremap(p, len, 64 * len, MREMAP_MAYMOVE);
    if (q == MAP_FAILED)
        return 21;
    /* /proc files hand out about a page per read: read to the end. */
    static char maps[1 << 18];
    size_t n = 0;
    ssize_t got;
    while (n < sizeof maps - 1 &&
           (got = pread(maps_fd, maps + n, sizeof maps - 1 - n, (off_t)n)) > 0)
        n += (size_t)got;
    if (n == 0)
        return 22;
    maps[n] = '\0';
    /* The line whose range holds q (the kernel may have merged the moved
     * mapping with a neighbour of the same protection). */
    unsigned long at = (unsigned long)q;
    for (char *line = maps; line != NULL && *line != '\0';) {
        char *next = strchr(line, '\n');
        char *end = NULL;
        unsigned long lo = strtoul(line, &end, 16), hi = 0;
        if (end != NULL && *end == '-')
            hi = strtoul(end + 1, &end, 16);
        if (lo <= at && at < hi) {
            char *perms = strchr(line, ' ');
            return perms != NULL && strncmp(perms + 1, "rw-p", 4) == 0 ? 0 : 23;
        }
        line = next != NULL ? next + 1 : NULL;
    }
    return 24;
}

static void test_mremap_keeps_protection(void **state)
{
    (void)state;
    child_prepare = open_maps;
    int status = in_child(mremap_not_exec, 1);
    child_prepare = NULL;
    assert_exit0(status);
}

/* -- Landlock ------------------------------------------------------------ */

/* 0 when open(path) fails with EACCES. */
static int refused(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        return 1;
    }
    return errno == EACCES ? 0 : 2;
}

static char outside_tmp[300];

static int filesystem(void)
{
    /* the signer's own files: create, write, read back, remove */
    int fd = open(state_path("signer/probe"), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, "x", 1) != 1 || ftruncate(fd, 0) != 0 || close(fd) != 0)
        return 30;
    if (unlink(state_path("signer/probe")) != 0)
        return 31;
    fd = open(state_path("signer/keys.db"), O_RDWR | O_CLOEXEC);
    if (fd < 0 || close(fd) != 0)
        return 32;
    fd = open(state_path("signer/tokens"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || close(fd) != 0)
        return 33;
    fd = open(state_path("clock"), O_RDONLY | O_CLOEXEC); /* the testing clock */
    if (fd < 0 || close(fd) != 0)
        return 34;
    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || close(fd) != 0)
        return 35;
    /* everything else */
    if (refused("/etc/passwd", O_RDONLY) != 0)
        return 40;
    if (refused(outside_tmp, O_CREAT | O_WRONLY) != 0)
        return 41;
    if (refused(state_path("signet.conf"), O_RDONLY) != 0)
        return 42;
    if (refused(state_path("outside"), O_CREAT | O_WRONLY) != 0)
        return 43;
    if (refused(state_path("front/signet.db"), O_RDONLY) != 0)
        return 44;
    if (refused(cfg.module, O_RDONLY) != 0) /* already mapped, never re-read */
        return 45;
    if (mkdir(state_path("signer/dir"), 0700) == 0 || errno != EACCES)
        return 46;
    return 0;
}

static void test_landlock(void **state)
{
    (void)state;
    if (kernel_abi == 0) {
        fprintf(stderr, "# no Landlock here: test_landlock_unavailable covers this kernel\n");
        skip();
    }
    (void)snprintf(outside_tmp, sizeof outside_tmp, "%s-outside", st.dir);
    int status = in_child(filesystem, 1);
    int made = unlink(outside_tmp) == 0;
    (void)rmdir(state_path("signer/dir"));
    assert_exit0(status);
    assert_false(made);
    /* the same checks fail without the sandbox: they can fail */
    status = in_child(filesystem, 0);
    (void)unlink(outside_tmp);
    (void)unlink(state_path("outside"));
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) >= 40);
}

/* A kernel without Landlock, simulated: a filter below the signer's makes
 * landlock_create_ruleset fail with hidden_errno. The signer logs
 * landlock=unavailable and goes on (h.landlock = 0), unless the error says
 * something else went wrong: then it refuses to start (90). */
static int hidden_errno;

static int no_landlock(void)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (ctx == NULL ||
        seccomp_rule_add(ctx, SCMP_ACT_ERRNO((uint32_t)hidden_errno),
                         SCMP_SYS(landlock_create_ruleset), 0) != 0 ||
        seccomp_load(ctx) != 0)
        return 50;
    seccomp_release(ctx);
    int log = open(state_path("sandbox.log"), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    if (log < 0 || dup2(log, 2) != 2)
        return 51;
    struct sg_hardening h;
    if (sg_sandbox_enter(&cfg, &h) != SIGNET_OK)
        return 90;
    if (!h.seccomp || h.landlock != 0)
        return 52;
    /* unconfined filesystem, seccomp still in force */
    int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || close(fd) != 0)
        return 53;
    return 0;
}

static int log_says_unavailable(void)
{
    FILE *f = fopen(state_path("sandbox.log"), "re");
    assert_non_null(f);
    char line[512];
    int found = 0;
    while (fgets(line, sizeof line, f) != NULL)
        found |= strstr(line, "event=sandbox_landlock landlock=unavailable") != NULL;
    fclose(f);
    return found;
}

static void test_landlock_unavailable(void **state)
{
    (void)state;
    static const int gone[] = {ENOSYS, EOPNOTSUPP, EPERM};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) {
        hidden_errno = gone[i];
        assert_exit0(in_child(no_landlock, 0));
        assert_true(log_says_unavailable());
    }
    /* any other failure is not "unavailable": the signer does not start */
    hidden_errno = EINVAL;
    int status = in_child(no_landlock, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 90);
}

int main(void)
{
    /* A build with the sandbox compiled out (the sanitizer build) has
     * nothing to test here; test_signetd_sandbox.sh and I8 report it. */
    if (!SIGNET_SANDBOX) {
        printf("SKIP: built with SIGNET_SANDBOX=OFF\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signer_work),
        cmocka_unit_test(test_abort_is_sigabrt),
        cmocka_unit_test(test_no_exec_mmap),
        cmocka_unit_test(test_no_exec_mprotect),
        cmocka_unit_test(test_no_signal_to_others),
        cmocka_unit_test(test_threads_confined),
        cmocka_unit_test(test_mremap_keeps_protection),
        cmocka_unit_test(test_landlock),
        cmocka_unit_test(test_landlock_unavailable),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

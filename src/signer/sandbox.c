#include "signer/sandbox.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/log.h"

void sg_sandbox_early(void)
{
    struct rlimit none = {0, 0};
    (void)setrlimit(RLIMIT_CORE, &none);
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static signet_err drop_privileges(const struct sg_config *c)
{
    if (geteuid() != 0)
        return SIGNET_OK;
    if (c->signer_user[0] != '\0') {
        struct passwd *pw = getpwnam(c->signer_user);
        if (pw == NULL) {
            sg_log(SG_LOG_ERROR, "sandbox_user_missing", "user=%s", c->signer_user);
            return SIGNET_ERR_CONFIG;
        }
        if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
            return SIGNET_ERR_PERMISSION;
        if (setuid(0) == 0)
            return SIGNET_ERR_PERMISSION; /* the drop did not stick */
        return SIGNET_OK;
    }
    /* Stay uid 0 (the state files are root's) but give up every capability:
     * no DAC override, no ptrace of others, no raw I/O. */
    for (unsigned long cap = 0; cap <= 63; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
            break;
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capset, &hdr, data) != 0)
        return SIGNET_ERR_PERMISSION;
    return SIGNET_OK;
}

#if SIGNET_TESTING
static void sigsys_debug(int sig, siginfo_t *info, void *uctx)
{
    (void)sig;
    (void)uctx;
    char msg[64];
    int n = snprintf(msg, sizeof msg, "signer: seccomp denied syscall %d\n", info->si_syscall);
    if (n > 0 && write(2, msg, (size_t)n) < 0)
        _exit(160);
    _exit(159);
}

/* The seccomp default action. A testing build honours SIGNET_SECCOMP_DEBUG:
 * a denied system call then raises SIGSYS, whose handler names it, instead
 * of killing the process without a word. */
static uint32_t seccomp_default(void)
{
    if (getenv("SIGNET_SECCOMP_DEBUG") == NULL)
        return SCMP_ACT_KILL_PROCESS;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = sigsys_debug;
    sa.sa_flags = SA_SIGINFO;
    (void)sigaction(SIGSYS, &sa, NULL);
    return SCMP_ACT_TRAP;
}
#else
/* A release build always kills on a denied system call. */
static uint32_t seccomp_default(void)
{
    return SCMP_ACT_KILL_PROCESS;
}
#endif

static const int allowed[] = {
    SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(pread64),
    SCMP_SYS(pwrite64), SCMP_SYS(close), SCMP_SYS(lseek), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
    SCMP_SYS(stat), SCMP_SYS(lstat), SCMP_SYS(statx), SCMP_SYS(fstatfs), SCMP_SYS(statfs),
    SCMP_SYS(openat), SCMP_SYS(open), SCMP_SYS(access), SCMP_SYS(faccessat),
    SCMP_SYS(faccessat2), SCMP_SYS(getdents64), SCMP_SYS(unlink), SCMP_SYS(unlinkat),
    SCMP_SYS(rename), SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(mkdir),
    SCMP_SYS(mkdirat), SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(ftruncate),
    SCMP_SYS(fallocate), SCMP_SYS(fcntl), SCMP_SYS(flock), SCMP_SYS(fchmod), SCMP_SYS(fchown),
    SCMP_SYS(umask), SCMP_SYS(getcwd), SCMP_SYS(readlink), SCMP_SYS(readlinkat),
    SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
    SCMP_SYS(mlock), SCMP_SYS(munlock), SCMP_SYS(futex), SCMP_SYS(clock_gettime),
    SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep), SCMP_SYS(gettimeofday), SCMP_SYS(time),
    SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid),
    SCMP_SYS(getegid), SCMP_SYS(getrandom), SCMP_SYS(poll), SCMP_SYS(ppoll),
    SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigaction), SCMP_SYS(sigaltstack), SCMP_SYS(sched_yield),
    SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(set_robust_list), SCMP_SYS(rseq),
    SCMP_SYS(sched_getaffinity), SCMP_SYS(getrlimit), SCMP_SYS(prlimit64), SCMP_SYS(uname),
    SCMP_SYS(sendmsg), SCMP_SYS(recvmsg), SCMP_SYS(sendto), SCMP_SYS(recvfrom), SCMP_SYS(shutdown),
};
/* Not listed, so the default action refuses them: pkey_mprotect (it would
 * bypass the PROT_EXEC rule on mprotect), tkill (tgkill names the process
 * too), execve and everything else not needed after start-up. mremap stays:
 * it cannot change protections, the moved or grown mapping keeps those of
 * the original, so it cannot make new executable memory either. */

/* libseccomp's SCMP_A* macros leave datum_b to zero-initialisation, which
 * clang reports as a missing field initializer: fine by C11, so quiet it here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static signet_err install_seccomp(void)
{
    scmp_filter_ctx ctx = seccomp_init(seccomp_default());
    if (ctx == NULL)
        return SIGNET_ERR_NOMEM;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof allowed / sizeof allowed[0]; i++)
        if (allowed[i] >= 0)
            rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
    /* Threads only (the PKCS#11 module may start one); no new processes. */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    /* No sockets: SoftHSM2 reports some errors through syslog(3), which
     * would open one to /dev/log. Refuse quietly (the message is lost, the
     * signer lives) instead of killing the process. */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket), 0);
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(connect), 0);
    /* The module and its libraries are mapped: no new executable memory,
     * neither mapped nor made so. */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
                              SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
                              SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    /* Signals only to itself: raise(), abort(), pthread_kill() and the
     * fault points (kill(getpid(), SIGKILL)); never to another process.
     * The signer does not fork, so its pid stays the one tested here. */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
                              SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                              SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                              SCMP_A1(SCMP_CMP_EQ, 0x5401 /* TCGETS, isatty() */));
    if (rc == 0)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    return rc == 0 ? SIGNET_OK : SIGNET_ERR_PERMISSION;
}
#pragma GCC diagnostic pop

/* Grows the main thread's stack before mlockall(MCL_FUTURE): a locked
 * process may be refused stack growth later, which would be a crash. */
static void __attribute__((noinline)) prefault_stack(void)
{
    volatile uint8_t area[512 * 1024];
    for (size_t i = 0; i < sizeof area; i += 4096)
        area[i] = 0;
    area[sizeof area - 1] = 0;
}

signet_err sg_sandbox_enter(const struct sg_config *c, struct sg_hardening *h)
{
    memset(h, 0, sizeof *h);
    sg_sandbox_early();
    int enabled = SIGNET_SANDBOX && c->sandbox;
    signet_err err = SIGNET_OK;
    if (enabled) {
        /* Lock future allocations too only where the limit allows it:
         * MCL_FUTURE under a small RLIMIT_MEMLOCK makes later mmap fail. */
        struct rlimit inf = {RLIM_INFINITY, RLIM_INFINITY}, cur;
        if (geteuid() == 0)
            (void)setrlimit(RLIMIT_MEMLOCK, &inf);
        int future = getrlimit(RLIMIT_MEMLOCK, &cur) == 0 && cur.rlim_cur == RLIM_INFINITY;
        prefault_stack();
        h->mlocked = mlockall(MCL_CURRENT | (future ? MCL_FUTURE : 0)) == 0;
        if (!h->mlocked)
            sg_log(SG_LOG_WARN, "sandbox_mlockall", "result=refused errno=%d", errno);
        err = drop_privileges(c);
        if (err != SIGNET_OK)
            return err;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
            return SIGNET_ERR_PERMISSION;
        h->no_new_privs = 1;
        h->dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
        err = install_seccomp();
        if (err != SIGNET_OK)
            return err;
        h->seccomp = 1;
    }
    if (!enabled)
        h->dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    sg_log(enabled ? SG_LOG_INFO : SG_LOG_WARN, "sandbox", "seccomp=%d no_new_privs=%d mlocked=%d dumpable=%d",
           h->seccomp, h->no_new_privs, h->mlocked, h->dumpable);
    return SIGNET_OK;
}

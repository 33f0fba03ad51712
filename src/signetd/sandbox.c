/* signetd's sandbox (see sandbox.h). Modelled on the signer's
 * (src/signer/sandbox.c), with three differences:
 *   - signetd has threads by the time it is sandboxed (MHD's pool, the
 *     monitor, the alert queue, the signer readers and scheduler): the
 *     seccomp filter is synchronised to all of them (TSYNC, which also sets
 *     no-new-privs on each), and capabilities, which belong to each thread,
 *     are dropped on each thread;
 *   - it talks to the network: serving HTTP, libcurl webhooks and their DNS;
 *   - the monitor process spawns an [alerts] command (SD_SANDBOX_ALLOW_SPAWN);
 *     the front end never does. */
#include "signetd/sandbox.h"

#include "common/accounts.h"

#include <dirent.h>
#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

/* ---- the debug switch --------------------------------------------------- */

/* SIGNET_SECCOMP_DEBUG: a refused syscall raises SIGSYS and the handler
 * names it on stderr ("seccomp denied syscall N"), instead of a silent
 * kill. A test hook: once the build defines SIGNET_TESTING, only a testing
 * build has it. */
#if !defined(SIGNET_TESTING) || SIGNET_TESTING
static void sigsys_debug(int sig, siginfo_t *info, void *uctx)
{
    (void)sig;
    (void)uctx;
    char msg[64];
    int n = snprintf(msg, sizeof msg, "signetd: seccomp denied syscall %d\n", info->si_syscall);
    if (n > 0 && write(2, msg, (size_t)n) < 0)
        _exit(160);
    _exit(159);
}

static int debug_requested(void)
{
    if (getenv("SIGNET_SECCOMP_DEBUG") == NULL)
        return 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = sigsys_debug;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGSYS, &sa, NULL) == 0;
}
#else
static int debug_requested(void)
{
    return 0;
}
#endif

/* ---- reading each thread's state back ----------------------------------- */

static int field(const char *line, const char *name, int base, uint64_t *v)
{
    size_t n = strlen(name);
    if (strncmp(line, name, n) != 0)
        return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(line + n, &end, base);
    if (errno != 0 || end == line + n)
        return 0;
    *v = x;
    return 1;
}

int sd_proc_status(const char *path, struct sd_proc_status *t)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    /* Missing fields read as the worst value. */
    t->no_new_privs = 0;
    t->seccomp = 0;
    t->uid = 0;
    t->inh = t->prm = t->eff = t->amb = UINT64_MAX;
    char line[256];
    while (fgets(line, sizeof line, f) != NULL)
        (void)(field(line, "NoNewPrivs:", 10, &t->no_new_privs) ||
               field(line, "Seccomp:", 10, &t->seccomp) || field(line, "Uid:", 10, &t->uid) ||
               field(line, "CapInh:", 16, &t->inh) || field(line, "CapPrm:", 16, &t->prm) ||
               field(line, "CapEff:", 16, &t->eff) || field(line, "CapAmb:", 16, &t->amb));
    fclose(f);
    return 0;
}

/* 0: read; -1: the thread is gone or its status unreadable. */
static int read_task(const char *tid, struct sd_proc_status *t)
{
    char path[64];
    int n = snprintf(path, sizeof path, "/proc/self/task/%s/status", tid);
    if (n < 0 || (size_t)n >= sizeof path)
        return -1;
    return sd_proc_status(path, t);
}

struct survey {
    unsigned threads;
    unsigned with_caps;    /* a capability beyond keep */
    unsigned without_nnp;  /* NoNewPrivs: 0 */
    unsigned without_bpf;  /* Seccomp: other than 2 */
};

static int caps_clear(const struct sd_proc_status *t)
{
    return t->eff == 0 && t->inh == 0 && t->amb == 0 && t->prm == 0;
}

/* Reads every thread of the process; with sig != 0, signals each one other
 * than the caller that still holds a capability. -1: /proc unreadable. */
static int survey_tasks(int sig, struct survey *s)
{
    memset(s, 0, sizeof *s);
    DIR *d = opendir("/proc/self/task");
    if (d == NULL)
        return -1;
    pid_t pid = getpid(), self = gettid();
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        struct sd_proc_status t;
        if (read_task(e->d_name, &t) != 0)
            continue; /* exited meanwhile */
        s->threads++;
        s->without_nnp += t.no_new_privs != 1;
        s->without_bpf += t.seccomp != 2;
        if (caps_clear(&t))
            continue;
        s->with_caps++;
        pid_t tid = (pid_t)strtol(e->d_name, NULL, 10);
        if (sig != 0 && tid != self)
            (void)syscall(SYS_tgkill, pid, tid, sig);
    }
    closedir(d);
    return 0;
}

/* ---- capabilities ------------------------------------------------------- */

/* The calling thread only. Async-signal-safe: it also runs as the handler
 * of the signal sent to the other threads. */
static int drop_caps_self(void)
{
    for (unsigned long cap = 0; cap <= 63; cap++) {
        /* EINVAL: past the last capability. EPERM: no CAP_SETPCAP (not
         * root); the bounding set stays, which grants nothing by itself. */
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno == EINVAL)
            break;
    }
    (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2] = {{0, 0, 0}, {0, 0, 0}};
    return syscall(SYS_capset, &hdr, data) == 0 ? 0 : -1;
}

static void on_capdrop(int sig)
{
    (void)sig;
    int saved = errno;
    (void)drop_caps_self();
    errno = saved;
}

/* Capabilities belong to each thread: capset() here would leave MHD's
 * workers and the monitor as privileged as before. Every other thread that
 * still holds one is signalled and drops its own, until a survey finds none
 * (a thread started meanwhile by one not yet done inherits its creator's
 * set, and is caught by the next survey). A thread that blocks the signal
 * keeps its capabilities: after ~2 s that is a failure. The signal stays
 * ignored afterwards, so a late duplicate is harmless. */
#define CAPDROP_SIGNAL (SIGRTMAX - 1)
static signet_err drop_caps_all(void)
{
    if (drop_caps_self() != 0)
        return SIGNET_ERR_PERMISSION;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_capdrop;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(CAPDROP_SIGNAL, &sa, NULL) != 0)
        return SIGNET_ERR_INTERNAL;
    signet_err err = SIGNET_ERR_TIMEOUT;
    for (int i = 0; i < 400; i++) {
        struct survey s;
        /* Signal on the first pass, then every 200 ms. */
        if (survey_tasks(i % 40 == 0 ? CAPDROP_SIGNAL : 0, &s) != 0) {
            err = SIGNET_ERR_IO;
            break;
        }
        if (s.with_caps == 0) {
            err = SIGNET_OK;
            break;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        (void)nanosleep(&ts, NULL);
    }
    sa.sa_handler = SIG_IGN;
    (void)sigaction(CAPDROP_SIGNAL, &sa, NULL);
    return err;
}

/* ---- the seccomp filter ------------------------------------------------- */

/* Any thread, at any time after start-up:
 *   files and the store: SQLite's pread/pwrite, fcntl locks, fsync, the
 *     journal's unlink and fchown (as root), the -shm mapping, and the
 *     store's inotify watch on its directory; config reloads, /proc reads;
 *   memory: malloc, argon2's large buffers, malloc_trim (madvise), locked
 *     secret buffers (mlock, MADV_DONTDUMP);
 *   threads: futexes, a thread's own start and end (clone itself below);
 *   time, randomness (OpenSSL's getrandom), signals to itself;
 *   HTTP (MHD): epoll, accept4, eventfd, pipes, setsockopt, getsockname;
 *   client sockets (libcurl webhooks and DNS): connect, sendmmsg,
 *     recvfrom, poll, and the socketpair through which libcurl's resolver
 *     thread reports; socket() itself is restricted below;
 *   the signer channels: sendmsg/recvmsg on existing socketpairs. */
static const int allowed[] = {
    /* files */
    SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(pread64),
    SCMP_SYS(pwrite64), SCMP_SYS(preadv), SCMP_SYS(pwritev), SCMP_SYS(close), SCMP_SYS(lseek),
    SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(stat), SCMP_SYS(lstat), SCMP_SYS(statx),
    SCMP_SYS(fstatfs), SCMP_SYS(statfs), SCMP_SYS(openat), SCMP_SYS(open), SCMP_SYS(access),
    SCMP_SYS(faccessat), SCMP_SYS(faccessat2), SCMP_SYS(getdents64), SCMP_SYS(unlink),
    SCMP_SYS(unlinkat), SCMP_SYS(rename), SCMP_SYS(renameat), SCMP_SYS(renameat2),
    SCMP_SYS(mkdir), SCMP_SYS(mkdirat), SCMP_SYS(fsync), SCMP_SYS(fdatasync),
    SCMP_SYS(ftruncate), SCMP_SYS(fallocate), SCMP_SYS(fcntl), SCMP_SYS(flock),
    SCMP_SYS(fchmod), SCMP_SYS(fchown), SCMP_SYS(umask), SCMP_SYS(getcwd), SCMP_SYS(readlink),
    SCMP_SYS(readlinkat), SCMP_SYS(dup), SCMP_SYS(dup3), SCMP_SYS(pipe), SCMP_SYS(pipe2),
    SCMP_SYS(inotify_init1), SCMP_SYS(inotify_add_watch), SCMP_SYS(inotify_rm_watch),
    /* memory (mmap and mprotect below) */
    SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise), SCMP_SYS(mlock),
    SCMP_SYS(munlock), SCMP_SYS(membarrier),
    /* threads, time, identity, randomness */
    SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(get_robust_list), SCMP_SYS(rseq),
    SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity),
    SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres), SCMP_SYS(clock_nanosleep),
    SCMP_SYS(nanosleep), SCMP_SYS(gettimeofday), SCMP_SYS(time), SCMP_SYS(getpid),
    SCMP_SYS(gettid), SCMP_SYS(getppid), SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid),
    SCMP_SYS(getegid), SCMP_SYS(getresuid), SCMP_SYS(getresgid), SCMP_SYS(getgroups),
    SCMP_SYS(getrandom), SCMP_SYS(uname), SCMP_SYS(sysinfo), SCMP_SYS(getrusage),
    SCMP_SYS(getrlimit), SCMP_SYS(getpriority), SCMP_SYS(capget),
    /* signals */
    SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigaction),
    SCMP_SYS(sigaltstack), SCMP_SYS(rt_sigtimedwait), SCMP_SYS(restart_syscall),
    /* waiting */
    SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(select), SCMP_SYS(pselect6),
    SCMP_SYS(epoll_create), SCMP_SYS(epoll_create1), SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait),
    SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_pwait2), SCMP_SYS(eventfd), SCMP_SYS(eventfd2),
    /* sockets (socket() below; no bind, no listen: the listener exists) */
    SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(connect), SCMP_SYS(shutdown),
    SCMP_SYS(getsockname), SCMP_SYS(getpeername), SCMP_SYS(setsockopt), SCMP_SYS(getsockopt),
    SCMP_SYS(sendto), SCMP_SYS(recvfrom), SCMP_SYS(sendmsg), SCMP_SYS(recvmsg),
    SCMP_SYS(sendmmsg), SCMP_SYS(recvmmsg), SCMP_SYS(socketpair),
};

/* What a spawned signet-signer or alert command does before its own
 * sandbox, or at all (every child inherits this filter and cannot shed it):
 * ld.so (arch_prctl, set_tid_address; executable mappings are allowed by
 * the mmap rule), the signer's own hardening (prctl, capset, seccomp,
 * setrlimit, mlockall), and the parent's fork/exec/wait. */
static const int spawn_allowed[] = {
    SCMP_SYS(execve), SCMP_SYS(wait4), SCMP_SYS(waitid), SCMP_SYS(dup2), SCMP_SYS(kill),
    SCMP_SYS(arch_prctl), SCMP_SYS(set_tid_address),
    SCMP_SYS(prctl), SCMP_SYS(capset), SCMP_SYS(seccomp), SCMP_SYS(setrlimit),
    SCMP_SYS(prlimit64), SCMP_SYS(mlockall), SCMP_SYS(munlockall), SCMP_SYS(ioctl),
    SCMP_SYS(setpgid), SCMP_SYS(getpgrp), SCMP_SYS(getpgid), SCMP_SYS(getsid),
    SCMP_SYS(chdir), SCMP_SYS(fchdir),
};

static int allow_all(scmp_filter_ctx ctx, const int *list, size_t n)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (list[i] >= 0) /* not on this architecture */
            rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, list[i], 0);
    return rc;
}

/* libseccomp's SCMP_A* macros leave datum_b to zero-initialisation, which
 * clang reports as a missing field initializer: fine by C11, so quiet it here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static int add_rules(scmp_filter_ctx ctx, int flags)
{
    int spawn = (flags & SD_SANDBOX_ALLOW_SPAWN) != 0;
    int rc = allow_all(ctx, allowed, sizeof allowed / sizeof allowed[0]);
    if (rc == 0 && spawn)
        rc = allow_all(ctx, spawn_allowed, sizeof spawn_allowed / sizeof spawn_allowed[0]);

    /* New threads (MHD, libcurl's resolver, signer readers). glibc tries
     * clone3 first and falls back to clone on ENOSYS; clone3's flags sit
     * in memory, out of the filter's reach. A new process only with SPAWN;
     * otherwise refused quietly (an alert command fails, signetd lives). */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    if (rc == 0 && spawn)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 0);
    if (rc == 0 && !spawn)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
    if (rc == 0 && !spawn)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));

    /* No new executable memory: nothing after start-up needs it. Refused
     * with EPERM, not killed: a late dlopen (an NSS module named in
     * nsswitch.conf, an OpenSSL provider) then fails cleanly. A spawned
     * child's ld.so needs it, so SPAWN allows it. */
    if (rc == 0 && spawn)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 0);
    if (rc == 0 && spawn)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 0);
    for (int i = 0; rc == 0 && !spawn && i < 2; i++) {
        int nr = i == 0 ? SCMP_SYS(mmap) : SCMP_SYS(mprotect);
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
        if (rc == 0)
            rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 1,
                                  SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC));
    }

    /* Sockets: local, IPv4 and IPv6, stream or datagram (no raw ones).
     * glibc's getaddrinfo asks the kernel for the local addresses over
     * netlink (to sort the answers); refused, it assumes both families,
     * which is fine. Anything else dies. */
    static const int families[] = {AF_UNIX, AF_INET, AF_INET6};
    static const int types[] = {SOCK_STREAM, SOCK_DGRAM};
    for (size_t i = 0; rc == 0 && i < sizeof families / sizeof families[0]; i++)
        for (size_t j = 0; rc == 0 && j < sizeof types / sizeof types[0]; j++)
            rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2,
                                  SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)families[i]),
                                  SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf /* the type, not its flags */,
                                          (scmp_datum_t)types[j]));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
                              SCMP_A0(SCMP_CMP_EQ, AF_NETLINK));

    /* Signals to itself only (raise, abort, pthread_kill); SPAWN allows
     * kill() of a child (an alert command past its timeout). */
    pid_t pid = getpid();
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                              SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)pid));
    if (rc == 0 && !spawn)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
                              SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)pid));

    /* Reading limits, not setting them (glibc's getrlimit is prlimit64). */
    if (rc == 0 && !spawn)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1,
                              SCMP_A2(SCMP_CMP_EQ, 0));
    /* isatty(), FIONREAD, FIONBIO; SPAWN: any (a child may be a shell). */
    static const unsigned long ioctls[] = {TCGETS, FIONREAD, FIONBIO};
    for (size_t i = 0; rc == 0 && !spawn && i < sizeof ioctls / sizeof ioctls[0]; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                              SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)ioctls[i]));
    /* Thread names and reading the dumpable flag; SPAWN: any prctl. */
    static const int prctls[] = {PR_SET_NAME, PR_GET_NAME, PR_GET_DUMPABLE, PR_GET_NO_NEW_PRIVS};
    for (size_t i = 0; rc == 0 && !spawn && i < sizeof prctls / sizeof prctls[0]; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
                              SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)prctls[i]));
    return rc;
}
#pragma GCC diagnostic pop

static signet_err install_seccomp(int flags)
{
    uint32_t deflt = debug_requested() ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS;
    scmp_filter_ctx ctx = seccomp_init(deflt);
    if (ctx == NULL)
        return SIGNET_ERR_NOMEM;
    int rc = add_rules(ctx, flags);
    /* Every thread already running gets the filter (and no-new-privs). */
    if (rc == 0)
        rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    if (rc == 0)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc != 0)
        sg_log(SG_LOG_ERROR, "sandbox_seccomp", "result=failed rc=%d", rc);
    return rc == 0 ? SIGNET_OK : SIGNET_ERR_PERMISSION;
}

/* ---- entry -------------------------------------------------------------- */

signet_err sd_sandbox_enter(int enabled, struct sd_hardening *h)
{
    memset(h, 0, sizeof *h);
    struct rlimit none = {0, 0};
    (void)setrlimit(RLIMIT_CORE, &none);
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    signet_err err = SIGNET_OK;
    struct survey s = {0, 0, 0, 0};
    if (enabled != 0) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
            return SIGNET_ERR_PERMISSION;
        err = drop_caps_all();
        if (err != SIGNET_OK) {
            sg_log(SG_LOG_ERROR, "sandbox_caps", "result=failed error=%s", signet_err_name(err));
            return err;
        }
        err = install_seccomp(enabled);
        if (err != SIGNET_OK)
            return err;
        /* Read back from every thread, not assumed. */
        if (survey_tasks(0, &s) != 0 || s.threads == 0)
            return SIGNET_ERR_IO;
        h->no_new_privs = s.without_nnp == 0;
        h->seccomp = s.without_bpf == 0;
        h->caps_dropped = s.with_caps == 0;
        if (!h->no_new_privs || !h->seccomp || s.with_caps != 0)
            err = SIGNET_ERR_PERMISSION;
    }
    h->dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    sg_log(enabled != 0 && err == SIGNET_OK ? SG_LOG_INFO : SG_LOG_WARN, "sandbox",
           "seccomp=%d no_new_privs=%d caps_dropped=%d dumpable=%d spawn=%d threads=%u",
           h->seccomp, h->no_new_privs, h->caps_dropped, h->dumpable,
           (enabled & SD_SANDBOX_ALLOW_SPAWN) != 0, s.threads);
    return err;
}

signet_err sd_sandbox_become(const struct sg_account *a)
{
    if (geteuid() != 0 || a->uid == 0)
        return SIGNET_OK;
    /* While we may: no capability can ever come back (bounding set). */
    for (unsigned long cap = 0; cap <= 63; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
            break;
    return sg_account_become(a);
}

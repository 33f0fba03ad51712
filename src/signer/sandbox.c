#include "signer/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/landlock.h>
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
#include <sys/stat.h>
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
    SCMP_SYS(timer_create), SCMP_SYS(timer_settime), SCMP_SYS(timer_delete), /* audit lock bound */
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

/* -- Landlock ------------------------------------------------------------ */

/* Rights and fields of Landlock ABIs newer than the installed
 * <linux/landlock.h> may describe (values from the kernel's uapi). */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13) /* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif
#define SG_LL_NET_TCP ((1ULL << 0) | (1ULL << 1)) /* ABI 4: bind, connect */
#define SG_LL_SCOPE ((1ULL << 0) | (1ULL << 1))   /* ABI 6: abstract unix, signal */

/* struct landlock_ruleset_attr as of ABI 6; the kernel reads the prefix it
 * knows and requires the rest to be zero. */
struct sg_ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

#define SG_LL_FS_ABI1 ((1ULL << 13) - 1) /* EXECUTE .. MAKE_SYM */
/* What the signer does in its own directories: SoftHSM2's object, lock and
 * generation files, the key store and its journal or WAL files, the audit
 * log, lifecycle.lock. No directories made or removed (a token's directory
 * is made by --init-token, outside the sandbox), no execution, links,
 * devices, sockets or fifos. */
#define SG_LL_RW                                                                             \
    (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |                           \
     LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_REMOVE_FILE | \
     LANDLOCK_ACCESS_FS_TRUNCATE)

static long ll_create(const struct sg_ll_ruleset_attr *attr, size_t size, uint32_t flags)
{
    return syscall(SYS_landlock_create_ruleset, attr, size, flags);
}

/* Every filesystem right this ABI knows: all are refused unless a rule
 * grants them. */
static uint64_t ll_fs_rights(long abi)
{
    uint64_t r = SG_LL_FS_ABI1;
    if (abi >= 2)
        r |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3)
        r |= LANDLOCK_ACCESS_FS_TRUNCATE;
    if (abi >= 5)
        r |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
    return r;
}

/* Grants access (masked to what the ruleset handles) beneath path, a
 * directory or a single file. A missing optional path adds nothing. */
static signet_err ll_allow(int ruleset, uint64_t handled, const char *path, uint64_t access,
                           int optional)
{
    if (path[0] == '\0')
        return SIGNET_OK;
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) {
        if (optional && errno == ENOENT)
            return SIGNET_OK;
        sg_log(SG_LOG_ERROR, "sandbox_landlock_path", "path=\"%s\" errno=%d", path, errno);
        return SIGNET_ERR_PERMISSION;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return SIGNET_ERR_PERMISSION;
    }
    if (!S_ISDIR(st.st_mode)) /* a file takes only the rights of a file */
        access &= LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                  LANDLOCK_ACCESS_FS_TRUNCATE;
    struct landlock_path_beneath_attr rule = {.allowed_access = access & handled,
                                              .parent_fd = fd};
    long rc = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
    int saved = errno;
    close(fd);
    if (rc != 0) {
        sg_log(SG_LOG_ERROR, "sandbox_landlock_rule", "path=\"%s\" errno=%d", path, saved);
        return SIGNET_ERR_PERMISSION;
    }
    return SIGNET_OK;
}

/* The directory part of path into out ("" when it has none). */
static void dir_of(const char *path, char out[static PATH_MAX])
{
    out[0] = '\0';
    const char *slash = strrchr(path, '/');
    size_t n = slash == NULL ? 0 : (size_t)(slash - path);
    if (n == 0 && slash != NULL)
        n = 1; /* "/file" */
    if (n >= PATH_MAX)
        return;
    memcpy(out, path, n);
    out[n] = '\0';
}

/* directories.tokendir of the embedded SoftHSM2's config into out ("" when
 * unset or unreadable): SoftHSM2 re-reads and writes its token files on
 * every operation. */
static void softhsm_tokendir(const char *conf, char out[static PATH_MAX])
{
    out[0] = '\0';
    FILE *f = conf[0] != '\0' ? fopen(conf, "re") : NULL;
    if (f == NULL)
        return;
    char line[PATH_MAX + 64];
    static const char key[] = "directories.tokendir";
    while (fgets(line, sizeof line, f) != NULL) {
        char *p = line + strspn(line, " \t");
        if (strncmp(p, key, sizeof key - 1) != 0)
            continue;
        p += sizeof key - 1;
        p += strspn(p, " \t");
        if (*p != '=')
            continue;
        p++;
        p += strspn(p, " \t");
        size_t n = strcspn(p, "\r\n");
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n > 0 && n < PATH_MAX) {
            memcpy(out, p, n);
            out[n] = '\0';
        }
    }
    fclose(f);
}

/* Confines the signer's filesystem to what it uses after start-up (the
 * module, its libraries and configs are already loaded; nothing else is
 * re-read):
 *   read, write, create and remove files beneath STATE/signer, the
 *     directories of the audit log and of the key store (the defaults put
 *     both in STATE/signer) and SoftHSM2's token directory;
 *   read /dev/urandom (SQLite seeds its own generator from it);
 *   read the [testing] clock file (testing builds alone accept it).
 * Everything else, signet.conf and the PIN files included, is refused. On
 * ABI 4 and later no TCP bind or connect either, on ABI 6 no signal to and
 * no abstract unix socket of a process outside this domain (seccomp already
 * refuses both; this is the second lock). Returns the ABI in force, or 0
 * when the kernel has no Landlock. */
static signet_err install_landlock(const struct sg_config *c, int *abi_out)
{
    *abi_out = 0;
    long abi = ll_create(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 1) {
        if (abi < 0 && errno != ENOSYS && errno != EOPNOTSUPP && errno != EPERM)
            return SIGNET_ERR_PERMISSION;
        /* Not built in, disabled at boot, or hidden by a container's
         * filter (EPERM: the version query needs no privilege). */
        return SIGNET_OK;
    }
    struct sg_ll_ruleset_attr attr = {
        .handled_access_fs = ll_fs_rights(abi),
        .handled_access_net = abi >= 4 ? SG_LL_NET_TCP : 0,
        .scoped = abi >= 6 ? SG_LL_SCOPE : 0,
    };
    long ruleset = ll_create(&attr, sizeof attr, 0);
    if (ruleset < 0)
        return SIGNET_ERR_PERMISSION;
    int fd = (int)ruleset;
    uint64_t h = attr.handled_access_fs;
    char signer_dir[PATH_MAX], audit_dir[PATH_MAX], store_dir[PATH_MAX], tokendir[PATH_MAX];
    int n = snprintf(signer_dir, sizeof signer_dir, "%s/%s", c->state_dir, SG_SIGNER_DIR);
    dir_of(c->audit_log, audit_dir);
    store_dir[0] = '\0';
    if (strncmp(c->keystore, "sqlite:", 7) == 0)
        dir_of(c->keystore + 7, store_dir);
    softhsm_tokendir(c->softhsm_conf, tokendir);
    signet_err err = n > 0 && (size_t)n < sizeof signer_dir ? SIGNET_OK : SIGNET_ERR_CONFIG;
    if (err == SIGNET_OK)
        err = ll_allow(fd, h, signer_dir, SG_LL_RW, 0);
    if (err == SIGNET_OK)
        err = ll_allow(fd, h, audit_dir, SG_LL_RW, 0);
    if (err == SIGNET_OK)
        err = ll_allow(fd, h, store_dir, SG_LL_RW, 0);
    if (err == SIGNET_OK)
        err = ll_allow(fd, h, tokendir, SG_LL_RW, 0);
    if (err == SIGNET_OK)
        err = ll_allow(fd, h, "/dev/urandom", LANDLOCK_ACCESS_FS_READ_FILE, 1);
    if (err == SIGNET_OK && SIGNET_TESTING)
        err = ll_allow(fd, h, c->clock_file, LANDLOCK_ACCESS_FS_READ_FILE, 1);
    if (err == SIGNET_OK && syscall(SYS_landlock_restrict_self, fd, 0) != 0)
        err = SIGNET_ERR_PERMISSION;
    close(fd);
    if (err == SIGNET_OK)
        *abi_out = (int)abi;
    return err;
}

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
        /* Landlock before seccomp: its system calls are not on the list. */
        err = install_landlock(c, &h->landlock);
        if (err != SIGNET_OK)
            return err;
        if (h->landlock == 0)
            sg_log(SG_LOG_WARN, "sandbox_landlock", "landlock=unavailable");
        err = install_seccomp();
        if (err != SIGNET_OK)
            return err;
        h->seccomp = 1;
    }
    if (!enabled)
        h->dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    sg_log(enabled ? SG_LOG_INFO : SG_LOG_WARN, "sandbox",
           "seccomp=%d no_new_privs=%d mlocked=%d dumpable=%d landlock=%d", h->seccomp,
           h->no_new_privs, h->mlocked, h->dumpable, h->landlock);
    return SIGNET_OK;
}

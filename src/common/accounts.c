#include "common/accounts.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/config.h"

signet_err sg_account_of_dir(const char *state, const char *sub, struct sg_account *out)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", state, sub);
    if (n < 0 || (size_t)n >= sizeof path)
        return SIGNET_ERR_INVALID_ARG;
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? SIGNET_ERR_NOT_FOUND : SIGNET_ERR_IO;
    if (!S_ISDIR(st.st_mode))
        return SIGNET_ERR_PERMISSION;
    /* The owner's own group, not the directory's: signer/ is group-owned by
     * the monitor's group so that the monitor can read the audit log. */
    struct passwd pw, *res = NULL;
    char buf[4096];
    out->uid = st.st_uid;
    out->gid = getpwuid_r(st.st_uid, &pw, buf, sizeof buf, &res) == 0 && res != NULL
                   ? pw.pw_gid
                   : st.st_gid;
    return SIGNET_OK;
}

signet_err sg_account_become(const struct sg_account *a)
{
    if (geteuid() == a->uid && getegid() == a->gid && getuid() == a->uid)
        return SIGNET_OK;
    if (setgroups(0, NULL) != 0 || setresgid(a->gid, a->gid, a->gid) != 0 ||
        setresuid(a->uid, a->uid, a->uid) != 0)
        return SIGNET_ERR_PERMISSION;
    if (a->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
        return SIGNET_ERR_PERMISSION; /* the drop did not stick */
    return SIGNET_OK;
}

signet_err sg_account_assume(const struct sg_account *a)
{
    if (setegid(a->gid) != 0 || seteuid(a->uid) != 0)
        return SIGNET_ERR_PERMISSION;
    return SIGNET_OK;
}

signet_err sg_account_resume_root(void)
{
    if (seteuid(0) != 0 || setegid(0) != 0)
        return SIGNET_ERR_PERMISSION;
    return SIGNET_OK;
}

signet_err sg_account_lookup(const char *name, struct sg_account *out)
{
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwnam_r(name, &pw, buf, sizeof buf, &res) != 0 || res == NULL)
        return SIGNET_ERR_NOT_FOUND;
    out->uid = pw.pw_uid;
    out->gid = pw.pw_gid;
    return SIGNET_OK;
}

/* useradd(8) from Debian's passwd package (on every Debian system) makes the
 * system account the distribution's way: its own group, a system uid, no
 * home directory, no login shell. Run without a shell, argv only. */
signet_err sg_account_ensure(const char *name, struct sg_account *out)
{
    if (sg_account_lookup(name, out) == SIGNET_OK)
        return SIGNET_OK;
    static const char *const tools[] = {"/usr/sbin/useradd", "/sbin/useradd"};
    const char *tool = NULL;
    for (size_t i = 0; i < sizeof tools / sizeof tools[0] && tool == NULL; i++)
        if (access(tools[i], X_OK) == 0)
            tool = tools[i];
    if (tool == NULL)
        return SIGNET_ERR_UNSUPPORTED;
    pid_t pid = fork();
    if (pid < 0)
        return SIGNET_ERR_IO;
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (devnull >= 0)
            (void)dup2(devnull, 1);
        char *argv[] = {(char *)"useradd", (char *)"--system", (char *)"--user-group",
                        (char *)"--no-create-home", (char *)"--home-dir", (char *)"/nonexistent",
                        (char *)"--shell", (char *)"/usr/sbin/nologin", (char *)name, NULL};
        char *envp[] = {(char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
        execve(tool, argv, envp);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return SIGNET_ERR_IO;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return SIGNET_ERR_IO;
    return sg_account_lookup(name, out);
}

int sg_boundary_enforced(const char *state)
{
    struct sg_account s, f, m;
    return sg_account_of_dir(state, SG_SIGNER_DIR, &s) == SIGNET_OK &&
           sg_account_of_dir(state, SG_FRONT_DIR, &f) == SIGNET_OK &&
           sg_account_of_dir(state, SG_MONITOR_DIR, &m) == SIGNET_OK && s.uid != 0 && f.uid != 0 &&
           m.uid != 0 && s.uid != f.uid && m.uid != s.uid && m.uid != f.uid;
}

const char *sg_boundary_text(int enforced)
{
    return enforced ? "enforced" : "not enforced (single account)";
}

signet_err sg_state_dir_check(const char *state, int parts, char *why, size_t whylen)
{
    struct stat st;
    if (stat(state, &st) != 0)
        return errno == ENOENT ? SIGNET_OK : SIGNET_ERR_IO;
    if (!S_ISDIR(st.st_mode)) {
        (void)snprintf(why, whylen, "%s is not a directory", state);
        return SIGNET_ERR_PERMISSION;
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 || (st.st_uid != 0 && st.st_uid != geteuid())) {
        (void)snprintf(why, whylen,
                       "%s is writable by its group or others, or owned by another account "
                       "(mode %03o, uid %ld): use a directory of root's or yours, mode 0755 or "
                       "stricter",
                       state, (unsigned)(st.st_mode & 0777), (long)st.st_uid);
        return SIGNET_ERR_PERMISSION;
    }
    static const char *const names[] = {SG_SIGNER_DIR, SG_FRONT_DIR, SG_MONITOR_DIR};
    for (size_t i = 0; parts && i < sizeof names / sizeof names[0]; i++) {
        char p[PATH_MAX];
        if (snprintf(p, sizeof p, "%s/%s", state, names[i]) >= (int)sizeof p)
            return SIGNET_ERR_IO;
        if (lstat(p, &st) != 0)
            continue;
        if (!S_ISDIR(st.st_mode) || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
            (void)snprintf(why, whylen,
                           "%s is not a directory, or is writable by its group or others "
                           "(mode %03o): run 'signet init --state %s' to restore the layout",
                           p, (unsigned)(st.st_mode & 0777), state);
            return SIGNET_ERR_PERMISSION;
        }
    }
    return SIGNET_OK;
}

const char *sg_boundary_describe(const char *state)
{
    return sg_boundary_text(sg_boundary_enforced(state));
}

/* The launcher: the privileged parent of the OpenSSH privsep picture. When
 * signetd starts, it forks: the child becomes the front end (under the
 * front end's account when started as root) and the parent stays behind as
 * the launcher, which owns nothing but the right to start signers. It
 * starts them, on the front end's request, under the signer's account with
 * a binary, arguments and environment of its own choosing, hands the front
 * end its end of each channel (SCM_RIGHTS), reaps them, forwards signals to
 * the front end, and stops the signers and exits when the front end exits.
 *
 * The control channel is a SOCK_SEQPACKET socketpair. A request is three
 * bytes {op, slot, arg}: SPAWN (arg 0) or NOTIFY (slot 0, arg one of
 * SD_NOTIFY_*: the launcher is the unit's main process, so readiness is
 * reported by it, the sd_notify way). SPAWN's answer is {slot, ok,
 * pid (4 bytes, host order)} with the new channel's descriptor attached
 * when ok is 1. Anything else from the front end ends the launcher's
 * service (the front end is then killed: a front end that speaks nonsense
 * to its launcher is not one to keep running). */
#include "signetd/launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/signer_client.h"
#include "util/log.h"

#define OP_SPAWN 1u
#define OP_NOTIFY 2u
#define MIN_SPAWN_INTERVAL_MS 100

static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    (void)!write(sig_pipe[1], &b, 1);
    errno = saved;
}

/* sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET. */
static void sd_notify_send(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (path == NULL || (path[0] != '/' && path[0] != '@'))
        return;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n >= sizeof sa.sun_path)
        return;
    memcpy(sa.sun_path, path, n);
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0'; /* abstract namespace */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    (void)sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (const struct sockaddr *)&sa,
                 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
    close(fd);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct slot {
    pid_t pid;
    int64_t spawned_ms;
};

static signet_err send_answer(int ctl, uint8_t slot, int fd, pid_t pid)
{
    uint8_t msg[6] = {slot, fd >= 0 ? 1 : 0, 0, 0, 0, 0};
    int32_t p = (int32_t)pid;
    memcpy(msg + 2, &p, sizeof p);
    struct iovec iov = {.iov_base = msg, .iov_len = sizeof msg};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        mh.msg_control = u.buf;
        mh.msg_controllen = sizeof u.buf;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    }
    ssize_t n;
    do
        n = sendmsg(ctl, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof msg ? SIGNET_OK : SIGNET_ERR_IO;
}

static void reap(pid_t front, int *front_status, int *front_done, struct slot *slots)
{
    int st = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        if (pid == front) {
            *front_status = st;
            *front_done = 1;
            continue;
        }
        for (unsigned i = 0; i < SD_MAX_SIGNERS; i++)
            if (slots[i].pid == pid)
                slots[i].pid = 0;
        if (WIFSIGNALED(st))
            sg_log(SG_LOG_WARN, "signer_exited", "pid=%ld signal=%d", (long)pid, WTERMSIG(st));
    }
}

static int serve_request(const char *state_dir, int ctl, struct slot *slots)
{
    uint8_t req[8];
    ssize_t n;
    do
        n = recv(ctl, req, sizeof req, 0);
    while (n < 0 && errno == EINTR);
    if (n == 0)
        return 0; /* the front end closed its end: it is going */
    if (n == 3 && req[0] == OP_NOTIFY && req[1] == 0 && req[2] >= SD_NOTIFY_READY &&
        req[2] <= SD_NOTIFY_STOPPING) {
        sd_notify_send(req[2] == SD_NOTIFY_READY       ? "READY=1"
                       : req[2] == SD_NOTIFY_RELOADING ? "RELOADING=1"
                                                       : "STOPPING=1");
        return 1;
    }
    if (n != 3 || req[0] != OP_SPAWN || req[1] >= SD_MAX_SIGNERS || req[2] != 0) {
        sg_log(SG_LOG_ERROR, "launcher_refused", "detail=\"malformed request from the front end\"");
        return -1;
    }
    struct slot *s = &slots[req[1]];
    /* A front end asking faster than this is throttled, not obeyed. */
    int64_t wait = s->spawned_ms + MIN_SPAWN_INTERVAL_MS - mono_ms();
    if (wait > 0) {
        struct timespec ts = {0, (long)wait * 1000000L};
        (void)nanosleep(&ts, NULL);
    }
    if (s->pid > 0)
        (void)kill(s->pid, SIGTERM); /* the front end dropped it; make sure */
    int fd = -1;
    pid_t pid = -1;
    signet_err err = sg_signer_spawn_fd(state_dir, SG_SPAWN_ROLE_FRONT, -1, &fd, &pid);
    s->spawned_ms = mono_ms();
    if (err == SIGNET_OK)
        s->pid = pid;
    else
        sg_log(SG_LOG_ERROR, "launcher_spawn_failed", "slot=%u error=%s", (unsigned)req[1],
               signet_err_name(err));
    err = send_answer(ctl, req[1], fd, pid);
    if (fd >= 0)
        close(fd);
    return err == SIGNET_OK ? 1 : -1;
}

int sd_launcher_run(const char *state_dir, int ctl, pid_t front)
{
    struct slot slots[SD_MAX_SIGNERS];
    memset(slots, 0, sizeof slots);
    if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        return 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGHUP, &sa, NULL);
    (void)sigaction(SIGCHLD, &sa, NULL);
    (void)signal(SIGPIPE, SIG_IGN);
    int front_status = 0, front_done = 0, serving = 1;
    while (!front_done) {
        struct pollfd pfd[2] = {{.fd = sig_pipe[0], .events = POLLIN},
                                {.fd = serving ? ctl : -1, .events = POLLIN}};
        int r = poll(pfd, 2, 1000);
        if (r < 0 && errno != EINTR)
            break;
        unsigned char b;
        while (read(sig_pipe[0], &b, 1) == 1)
            if (b == SIGTERM || b == SIGINT || b == SIGHUP)
                (void)kill(front, b); /* the front end drains or reloads */
        if (serving && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            int s = serve_request(state_dir, ctl, slots);
            if (s <= 0) {
                serving = 0;
                if (s < 0)
                    (void)kill(front, SIGKILL);
            }
        }
        reap(front, &front_status, &front_done, slots);
    }
    /* The front end is gone (or unreachable): so are its signers. */
    for (unsigned i = 0; i < SD_MAX_SIGNERS; i++)
        if (slots[i].pid > 0)
            (void)kill(slots[i].pid, SIGTERM);
    if (!front_done) {
        (void)kill(front, SIGTERM);
        while (waitpid(front, &front_status, 0) < 0 && errno == EINTR)
            ;
    }
    for (int tries = 0; tries < 50; tries++) {
        int left = 0;
        reap(front, &front_status, &front_done, slots);
        for (unsigned i = 0; i < SD_MAX_SIGNERS; i++)
            left += slots[i].pid > 0;
        if (left == 0)
            break;
        struct timespec ts = {0, 100 * 1000000L};
        (void)nanosleep(&ts, NULL);
    }
    close(ctl);
    if (WIFEXITED(front_status))
        return WEXITSTATUS(front_status);
    return 128 + (WIFSIGNALED(front_status) ? WTERMSIG(front_status) : 0);
}

static pthread_mutex_t ctl_lock = PTHREAD_MUTEX_INITIALIZER;

void sd_launcher_notify(int ctl, unsigned what)
{
    uint8_t req[3] = {OP_NOTIFY, 0, (uint8_t)what};
    pthread_mutex_lock(&ctl_lock);
    (void)!send(ctl, req, sizeof req, MSG_NOSIGNAL);
    pthread_mutex_unlock(&ctl_lock);
}

signet_err sd_launcher_spawn(int ctl, unsigned slot, int *fd, pid_t *pid)
{
    *fd = -1;
    *pid = -1;
    if (slot >= SD_MAX_SIGNERS)
        return SIGNET_ERR_INVALID_ARG;
    uint8_t req[3] = {OP_SPAWN, (uint8_t)slot, 0};
    uint8_t msg[6] = {0};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = msg, .iov_len = sizeof msg};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof u.buf};
    signet_err err = SIGNET_ERR_SIGNER_GONE;
    pthread_mutex_lock(&ctl_lock);
    ssize_t n;
    do
        n = send(ctl, req, sizeof req, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof req) {
        do
            n = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        struct cmsghdr *cm = n == (ssize_t)sizeof msg ? CMSG_FIRSTHDR(&mh) : NULL;
        if (cm != NULL && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
            cm->cmsg_len == CMSG_LEN(sizeof(int))) {
            memcpy(fd, CMSG_DATA(cm), sizeof *fd);
            int32_t p;
            memcpy(&p, msg + 2, sizeof p);
            *pid = (pid_t)p;
            err = msg[0] == slot && msg[1] == 1 ? SIGNET_OK : SIGNET_ERR_SIGNER_GONE;
            if (err != SIGNET_OK) {
                close(*fd);
                *fd = -1;
            }
        }
    }
    pthread_mutex_unlock(&ctl_lock);
    return err;
}

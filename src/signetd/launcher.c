/* The launcher: the privileged parent of the OpenSSH privsep picture. When
 * signetd starts, it forks: the child becomes the front end (under the
 * front end's account when started as root) and the parent stays behind as
 * the launcher, which owns nothing but the right to start signers. It
 * starts them, on the front end's request, under the signer's account with
 * a binary, arguments and environment of its own choosing, hands the front
 * end its end of each channel (SCM_RIGHTS), reaps them, forwards signals to
 * the front end, and stops the signers and exits when the front end exits.
 *
 * It also starts the monitor (monproc.c) under the monitor's account and
 * restarts it when it dies (with a back-off). The signers started before
 * it have no channel to the new monitor: the launcher asks the front end
 * (SIGUSR1) to replace them, which it does one at a time, each new signer
 * answering before the next old one goes, as at a reload; a signer still
 * stale after a grace period is stopped by the launcher itself, one at a
 * time, so that a front end that ignores the request cannot keep signers
 * the monitor cannot see. Each signer gets two channels: the front end's and the
 * monitor's, whose end goes to the monitor; the front end reaches the
 * monitor on a channel of its own, also made here.
 *
 * The control channel is a SOCK_SEQPACKET socketpair. A request is three
 * bytes {op, slot, arg}: SPAWN (arg 0), MONITOR (slot 0, arg 0: a channel
 * to the monitor) or NOTIFY (slot 0, arg one of SD_NOTIFY_*: the launcher
 * is the unit's main process, so readiness is reported by it, the
 * sd_notify way). The answer to SPAWN and MONITOR is {slot, ok,
 * pid (4 bytes, host order)} with the new channel's descriptor attached
 * when ok is 1. Anything else from the front end ends the launcher's
 * service (the front end is then killed: a front end that speaks nonsense
 * to its launcher is not one to keep running). To the monitor the
 * launcher sends {SD_MOP_SIGNER, slot, pid} or {SD_MOP_FRONT, 0, pid},
 * each with a channel's descriptor. */
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
#include "signetd/sigpipe.h"
#include "util/log.h"

#define OP_SPAWN 1u
#define OP_NOTIFY 2u
#define OP_MONITOR 3u
#define MIN_SPAWN_INTERVAL_MS 100
#define MONITOR_BACKOFF_MAX_MS 30000

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
    int64_t spawned_ms;
    int64_t stopped_ms; /* a stale signer was stopped then, not replaced yet; 0: none */
    int64_t stale_ms;   /* when it became stale */
    pid_t pid;
    int stale;          /* started before the current monitor: no channel to it */
};

/* After a monitor restart, the front end replaces the signers started
 * before it (SIGUSR1: each new one answers before the next old one goes).
 * Those still running STALE_GRACE_MS later are stopped here, one at a
 * time: each once the one stopped before it has been replaced and had
 * STALE_GAP_MS to start serving (or after STALE_WAIT_MAX_MS without a
 * replacement), so that the others carry the requests meanwhile (a request
 * a stopped signer had not answered goes to another one). The grace
 * covers a replacement that waits for its signer's answers in flight
 * (pool.c: up to 5 s) and a slow start. */
#define STALE_GRACE_MS 20000
#define STALE_GAP_MS 500
#define STALE_WAIT_MAX_MS 10000

static void retire_stale(struct slot *slots)
{
    const int64_t now = mono_ms();
    int next = -1;
    for (unsigned i = 0; i < SD_MAX_SIGNERS; i++) {
        const struct slot *s = &slots[i];
        if (s->stopped_ms != 0 && now - s->stopped_ms < STALE_WAIT_MAX_MS)
            return; /* stopped, not replaced yet */
        if (s->pid > 0 && !s->stale && now - s->spawned_ms < STALE_GAP_MS)
            return; /* replaced just now: let it start */
        if (s->pid > 0 && s->stale && s->stopped_ms == 0 && next < 0 &&
            now - s->stale_ms >= STALE_GRACE_MS)
            next = (int)i;
    }
    if (next < 0)
        return;
    slots[next].stopped_ms = now;
    sg_log(SG_LOG_WARN, "signer_stale_stopped",
           "slot=%d pid=%ld detail=\"the front end did not replace it after the monitor "
           "restarted\"",
           next, (long)slots[next].pid);
    (void)kill(slots[next].pid, SIGTERM);
}

static signet_err send_answer(int ctl, uint8_t slot, int fd, pid_t pid)
{
    return sd_fd_send(ctl, slot, fd >= 0 ? 1 : 0, pid, fd);
}

/* The monitor, as the launcher keeps it. */
struct monitor {
    pid_t pid;
    int ctl;                /* launcher's end of the monitor's control channel */
    int64_t started_ms;
    int64_t restart_at_ms;  /* 0: none due */
    int64_t backoff_ms;
};

static void reap(pid_t front, int *front_status, int *front_done, struct slot *slots,
                 struct monitor *mon)
{
    int st = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        if (pid == front) {
            *front_status = st;
            *front_done = 1;
            continue;
        }
        if (pid == mon->pid) {
            mon->pid = 0;
            if (mon->ctl >= 0)
                close(mon->ctl);
            mon->ctl = -1;
            int64_t now = mono_ms();
            if (now - mon->started_ms > 60000)
                mon->backoff_ms = 0; /* it ran a good while: not a crash loop */
            mon->backoff_ms = mon->backoff_ms == 0 ? 1000 : mon->backoff_ms * 2;
            if (mon->backoff_ms > MONITOR_BACKOFF_MAX_MS)
                mon->backoff_ms = MONITOR_BACKOFF_MAX_MS;
            mon->restart_at_ms = now + mon->backoff_ms;
            sg_log(SG_LOG_ERROR, "monitor_exited", "pid=%ld %s=%d restart_in_ms=%lld",
                   (long)pid, WIFSIGNALED(st) ? "signal" : "status",
                   WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st),
                   (long long)mon->backoff_ms);
            continue;
        }
        for (unsigned i = 0; i < SD_MAX_SIGNERS; i++)
            if (slots[i].pid == pid)
                slots[i].pid = 0;
        if (WIFSIGNALED(st))
            sg_log(SG_LOG_WARN, "signer_exited", "pid=%ld signal=%d", (long)pid, WTERMSIG(st));
        else if (WIFEXITED(st) && WEXITSTATUS(st) == SG_SIGNER_EXIT_TOKEN_LOST)
            /* Its token could not sign with the ACTIVE key even after fresh
             * sessions: the front end asks for a fresh signer (with its
             * back-off), which loads the module anew. */
            sg_log(SG_LOG_WARN, "signer_exited", "pid=%ld status=%d reason=token_lost", (long)pid,
                   WEXITSTATUS(st));
        else if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
            sg_log(SG_LOG_WARN, "signer_exited", "pid=%ld status=%d", (long)pid, WEXITSTATUS(st));
    }
}

/* A channel between the front end and the monitor: the monitor gets one
 * end, the front end the other (in the answer). */
static signet_err serve_monitor(int ctl, struct monitor *mon, pid_t front)
{
    int sv[2] = {-1, -1};
    int ok = mon->pid > 0 && mon->ctl >= 0 &&
             socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0;
    if (ok && sd_fd_send(mon->ctl, SD_MOP_FRONT, 0, front, sv[1]) != SIGNET_OK)
        ok = 0;
    signet_err err = send_answer(ctl, 0, ok ? sv[0] : -1, ok ? mon->pid : -1);
    if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    return err;
}

static int serve_request(const char *state_dir, int ctl, struct slot *slots, struct monitor *mon,
                         pid_t front)
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
    if (n == 3 && req[0] == OP_MONITOR && req[1] == 0 && req[2] == 0)
        return serve_monitor(ctl, mon, front) == SIGNET_OK ? 1 : -1;
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
    /* The signer's second channel is the monitor's. */
    int mv[2] = {-1, -1};
    if (mon->pid > 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, mv) != 0)
        mv[0] = mv[1] = -1;
    signet_err err = sg_signer_spawn_fd(state_dir, SG_SPAWN_ROLE_FRONT, mv[1], &fd, &pid);
    s->spawned_ms = mono_ms();
    s->stale = 0;
    s->stopped_ms = 0;
    if (mv[1] >= 0)
        close(mv[1]);
    if (err == SIGNET_OK) {
        s->pid = pid;
        if (mv[0] >= 0 && sd_fd_send(mon->ctl, SD_MOP_SIGNER, req[1], pid, mv[0]) != SIGNET_OK)
            sg_log(SG_LOG_ERROR, "monitor_channel_failed", "slot=%u", (unsigned)req[1]);
    } else {
        sg_log(SG_LOG_ERROR, "launcher_spawn_failed", "slot=%u error=%s", (unsigned)req[1],
               signet_err_name(err));
    }
    if (mv[0] >= 0)
        close(mv[0]);
    err = send_answer(ctl, req[1], fd, pid);
    if (fd >= 0)
        close(fd);
    return err == SIGNET_OK ? 1 : -1;
}

static void start_monitor(const struct sd_monitor_starter *ms, struct monitor *mon, pid_t front,
                          struct slot *slots)
{
    mon->restart_at_ms = 0;
    mon->started_ms = mono_ms();
    if (ms->start(ms->user, front, &mon->ctl, &mon->pid) != SIGNET_OK) {
        mon->pid = 0;
        mon->ctl = -1;
        mon->backoff_ms = mon->backoff_ms == 0 ? 1000 : mon->backoff_ms * 2;
        if (mon->backoff_ms > MONITOR_BACKOFF_MAX_MS)
            mon->backoff_ms = MONITOR_BACKOFF_MAX_MS;
        mon->restart_at_ms = mono_ms() + mon->backoff_ms;
        sg_log(SG_LOG_ERROR, "monitor_start_failed", "restart_in_ms=%lld",
               (long long)mon->backoff_ms);
        return;
    }
    sg_log(SG_LOG_INFO, "monitor_launched", "pid=%ld", (long)mon->pid);
    /* Signers already running have no channel to this monitor: the front
     * end replaces them (new ones get one); retire_stale stops those it
     * has not replaced after the grace. A signer is running only once the
     * front end asked for it, after it set up its signal handling. */
    int stale = 0;
    const int64_t now = mono_ms();
    for (unsigned i = 0; i < SD_MAX_SIGNERS; i++) {
        slots[i].stale = slots[i].pid > 0;
        slots[i].stale_ms = now;
        slots[i].stopped_ms = 0;
        stale |= slots[i].stale;
    }
    if (stale) {
        sg_log(SG_LOG_INFO, "signers_refresh", "detail=\"the front end replaces the signers "
                                                "started before this monitor\"");
        (void)kill(front, SIGUSR1);
    }
}

int sd_launcher_run(const char *state_dir, int ctl, pid_t front,
                    const struct sd_monitor_starter *ms)
{
    struct slot slots[SD_MAX_SIGNERS];
    memset(slots, 0, sizeof slots);
    struct monitor mon = {.pid = 0, .ctl = -1};
    /* SIGUSR1 is the launcher's word to the front end (a new monitor):
     * one sent to the launcher is caught and dropped, not fatal. */
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1};
    const int sig_fd = sd_sigpipe_open(sigs, sizeof sigs / sizeof sigs[0]);
    if (sig_fd < 0)
        return 1;
    start_monitor(ms, &mon, front, slots);
    int front_status = 0, front_done = 0, serving = 1;
    while (!front_done) {
        struct pollfd pfd[2] = {{.fd = sig_fd, .events = POLLIN},
                                {.fd = serving ? ctl : -1, .events = POLLIN}};
        int r = poll(pfd, 2, 250);
        if (r < 0 && errno != EINTR)
            break;
        unsigned char b;
        while (read(sig_fd, &b, 1) == 1) {
            if (b == SIGTERM || b == SIGINT || b == SIGHUP)
                (void)kill(front, b); /* the front end drains or reloads */
            if (b == SIGHUP && mon.pid > 0)
                (void)kill(mon.pid, SIGHUP); /* the monitor reloads too */
        }
        if (serving && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            int s = serve_request(state_dir, ctl, slots, &mon, front);
            if (s <= 0) {
                serving = 0;
                if (s < 0)
                    (void)kill(front, SIGKILL);
            }
        }
        reap(front, &front_status, &front_done, slots, &mon);
        if (!front_done && mon.pid == 0 && mon.restart_at_ms != 0 &&
            mono_ms() >= mon.restart_at_ms)
            start_monitor(ms, &mon, front, slots);
        if (!front_done)
            retire_stale(slots);
    }
    /* The front end is gone (or unreachable): so are its signers and the
     * monitor (which first lets its queued alerts out). */
    for (unsigned i = 0; i < SD_MAX_SIGNERS; i++)
        if (slots[i].pid > 0)
            (void)kill(slots[i].pid, SIGTERM);
    if (mon.pid > 0)
        (void)kill(mon.pid, SIGTERM);
    if (!front_done) {
        (void)kill(front, SIGTERM);
        while (waitpid(front, &front_status, 0) < 0 && errno == EINTR)
            ;
    }
    for (int tries = 0; tries < 60; tries++) {
        int left = 0;
        reap(front, &front_status, &front_done, slots, &mon);
        mon.restart_at_ms = 0;
        for (unsigned i = 0; i < SD_MAX_SIGNERS; i++)
            left += slots[i].pid > 0;
        left += mon.pid > 0;
        if (left == 0)
            break;
        if (tries == 50 && mon.pid > 0)
            (void)kill(mon.pid, SIGKILL);
        struct timespec ts = {0, 100 * 1000000L};
        (void)nanosleep(&ts, NULL);
    }
    if (mon.ctl >= 0)
        close(mon.ctl);
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

/* One request with a descriptor in the answer. */
static signet_err ctl_request(int ctl, uint8_t op, unsigned slot, int *fd, pid_t *pid)
{
    uint8_t req[3] = {op, (uint8_t)slot, 0};
    uint8_t msg[SD_FD_MSG_LEN] = {0};
    signet_err err = SIGNET_ERR_SIGNER_GONE;
    pthread_mutex_lock(&ctl_lock);
    ssize_t n;
    do
        n = send(ctl, req, sizeof req, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof req && sd_fd_recv(ctl, msg, pid, fd) == SIGNET_OK && *fd >= 0)
        err = msg[0] == slot && msg[1] == 1 ? SIGNET_OK : SIGNET_ERR_SIGNER_GONE;
    pthread_mutex_unlock(&ctl_lock);
    if (err != SIGNET_OK && *fd >= 0) {
        close(*fd);
        *fd = -1;
    }
    return err;
}

signet_err sd_launcher_spawn(int ctl, unsigned slot, int *fd, pid_t *pid)
{
    *fd = -1;
    *pid = -1;
    if (slot >= SD_MAX_SIGNERS)
        return SIGNET_ERR_INVALID_ARG;
    return ctl_request(ctl, OP_SPAWN, slot, fd, pid);
}

signet_err sd_launcher_monitor(int ctl, int *fd, pid_t *pid)
{
    *fd = -1;
    *pid = -1;
    return ctl_request(ctl, OP_MONITOR, 0, fd, pid);
}

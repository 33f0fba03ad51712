#include "signetd/chan.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

signet_err sd_fd_send(int sock, uint8_t b0, uint8_t b1, pid_t pid, int fd)
{
    uint8_t msg[SD_FD_MSG_LEN] = {b0, b1, 0, 0, 0, 0};
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
    /* Never blocks: a peer that does not read its channel (a monitor
     * stalled by a hostile front end) must not stall the launcher. */
    ssize_t n;
    do
        n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof msg ? SIGNET_OK : SIGNET_ERR_IO;
}

signet_err sd_fd_recv(int sock, uint8_t msg[SD_FD_MSG_LEN], pid_t *pid, int *fd)
{
    *fd = -1;
    *pid = -1;
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct iovec iov = {.iov_base = msg, .iov_len = SD_FD_MSG_LEN};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof u.buf};
    ssize_t n;
    do
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n == 0)
        return SIGNET_ERR_SIGNER_GONE;
    struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
    if (cm != NULL && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
        cm->cmsg_len == CMSG_LEN(sizeof(int)))
        memcpy(fd, CMSG_DATA(cm), sizeof *fd);
    if (n != SD_FD_MSG_LEN || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
        return SIGNET_ERR_BAD_FRAME;
    }
    int32_t p;
    memcpy(&p, msg + 2, sizeof p);
    *pid = (pid_t)p;
    return SIGNET_OK;
}

signet_err sd_chan_fork(int *end, pid_t *pid)
{
    *end = -1;
    *pid = -1;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return SIGNET_ERR_IO;
    fflush(NULL);
    pid_t child = fork();
    if (child < 0) {
        close(sv[0]);
        close(sv[1]);
        return SIGNET_ERR_IO;
    }
    close(child > 0 ? sv[1] : sv[0]);
    *end = child > 0 ? sv[0] : sv[1];
    *pid = child;
    return SIGNET_OK;
}

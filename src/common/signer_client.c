#include "common/signer_client.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/ipc.h"
#include "util/buf.h"

struct sg_signer_client {
    int fd;
    pid_t pid;
    uint32_t next_id;
    pthread_mutex_t lock;
    struct sg_wbuf in;
};

const char *sg_signer_path(void)
{
    static char path[PATH_MAX];
    const char *env = getenv("SIGNET_SIGNER");
    if (env != NULL && env[0] == '/' && access(env, X_OK) == 0)
        return env;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash != NULL) {
            *slash = '\0';
            int m = snprintf(path, sizeof path, "%s/signet-signer", self);
            if (m > 0 && (size_t)m < sizeof path && access(path, X_OK) == 0)
                return path;
            m = snprintf(path, sizeof path, "%s/../libexec/signet-signer", self);
            if (m > 0 && (size_t)m < sizeof path && access(path, X_OK) == 0)
                return path;
        }
    }
    if (access(SIGNET_SIGNER_BUILD_PATH, X_OK) == 0)
        return SIGNET_SIGNER_BUILD_PATH;
    return SIGNET_SIGNER_INSTALL_PATH;
}

signet_err sg_signer_spawn(const char *state_dir, struct sg_signer_client **out)
{
    return sg_signer_spawn_ex(state_dir, 0, out);
}

signet_err sg_signer_spawn_ex(const char *state_dir, unsigned flags,
                              struct sg_signer_client **out)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return SIGNET_ERR_IO;
    struct sg_signer_client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        close(sv[0]);
        close(sv[1]);
        return SIGNET_ERR_NOMEM;
    }
    const char *bin = sg_signer_path();
    pid_t pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        free(c);
        return SIGNET_ERR_IO;
    }
    if (pid == 0) {
        /* Child: the signer end becomes fd 3, everything else closes on exec. */
        if (dup2(sv[1], 3) < 0)
            _exit(127);
        /* A clean signal state for the signer, whatever the parent blocked. */
        sigset_t none;
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
        char *argv[] = {(char *)"signet-signer", (char *)"--state", (char *)state_dir,
                        (char *)"--fd", (char *)"3",
                        (flags & SG_SPAWN_NO_ADVANCE) != 0 ? (char *)"--no-advance" : NULL, NULL};
        execv(bin, argv);
        _exit(127);
    }
    close(sv[1]);
    c->fd = sv[0];
    c->pid = pid;
    c->next_id = 1;
    pthread_mutex_init(&c->lock, NULL);
    sg_wbuf_init(&c->in, 2 * (SG_IPC_HEADER_LEN + SG_IPC_MAX_PAYLOAD));
    *out = c;
    return SIGNET_OK;
}

pid_t sg_signer_client_pid(const struct sg_signer_client *c)
{
    return c->pid;
}

int sg_signer_client_fd(const struct sg_signer_client *c)
{
    return c->fd;
}

void sg_signer_client_free(struct sg_signer_client **cp)
{
    if (cp == NULL || *cp == NULL)
        return;
    struct sg_signer_client *c = *cp;
    if (c->fd >= 0)
        close(c->fd);
    int st = 0;
    while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
        ;
    pthread_mutex_destroy(&c->lock);
    sg_wbuf_free(&c->in);
    free(c);
    *cp = NULL;
}

signet_err sg_signer_call(struct sg_signer_client *c, uint8_t type, const uint8_t *payload,
                          size_t len, signet_err *status, char **resp, size_t *resp_len)
{
    *status = SIGNET_ERR_SIGNER_GONE;
    if (resp != NULL)
        *resp = NULL;
    if (resp_len != NULL)
        *resp_len = 0;
    struct sg_wbuf out;
    sg_wbuf_init(&out, SG_IPC_HEADER_LEN + SG_IPC_MAX_PAYLOAD);
    pthread_mutex_lock(&c->lock);
    uint32_t id = c->next_id++;
    sg_ipc_put_frame(&out, type, id, payload, len);
    signet_err err = out.err;
    if (err == SIGNET_OK)
        err = sg_ipc_write_all(c->fd, out.data, out.len);
    struct sg_ipc_frame f;
    if (err == SIGNET_OK)
        err = sg_ipc_read_frame(c->fd, &c->in, &f);
    if (err == SIGNET_OK && (f.type != (type | SG_IPC_RESPONSE) || f.id != id || f.len < 4))
        err = SIGNET_ERR_BAD_FRAME;
    if (err == SIGNET_OK) {
        struct sg_buf b;
        sg_buf_init(&b, f.payload, f.len);
        uint32_t st = (uint32_t)SIGNET_ERR_BAD_FRAME;
        if (sg_buf_get_u32(&b, &st) != SIGNET_OK)
            st = (uint32_t)SIGNET_ERR_BAD_FRAME;
        *status = (signet_err)st;
        size_t rest = sg_buf_remaining(&b);
        if (resp != NULL && rest > 0) {
            char *r = malloc(rest + 1);
            if (r == NULL) {
                err = SIGNET_ERR_NOMEM;
            } else {
                memcpy(r, f.payload + 4, rest);
                r[rest] = '\0';
                *resp = r;
                if (resp_len != NULL)
                    *resp_len = rest;
            }
        }
        size_t used = (size_t)(f.payload - c->in.data) + f.len;
        memmove(c->in.data, c->in.data + used, c->in.len - used);
        c->in.len -= used;
    }
    if (err != SIGNET_OK && err != SIGNET_ERR_NOMEM)
        err = SIGNET_ERR_SIGNER_GONE;
    pthread_mutex_unlock(&c->lock);
    sg_wbuf_free(&out);
    return err;
}

signet_err sg_signer_call_str(struct sg_signer_client *c, uint8_t type, const char *arg,
                              signet_err *status, char **json)
{
    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_MAX_PAYLOAD);
    if (arg != NULL)
        sg_wbuf_put_str(&w, arg);
    signet_err err = w.err;
    if (err == SIGNET_OK)
        err = sg_signer_call(c, type, w.data, w.len, status, json, NULL);
    sg_wbuf_free(&w);
    return err;
}

signet_err sg_signer_sign(struct sg_signer_client *c, const char *issuer, const char *alg,
                          const char *claims, size_t claims_len, signet_err *status, char **token)
{
    struct sg_wbuf w;
    sg_wbuf_init(&w, SG_IPC_MAX_PAYLOAD);
    sg_ipc_encode_sign(&w, issuer, alg, "at+jwt", NULL, (const uint8_t *)claims, claims_len);
    signet_err err = w.err;
    char *resp = NULL;
    size_t resp_len = 0;
    *token = NULL;
    if (err == SIGNET_OK)
        err = sg_signer_call(c, SG_IPC_SIGN, w.data, w.len, status, &resp, &resp_len);
    sg_wbuf_free(&w);
    if (err != SIGNET_OK || *status != SIGNET_OK) {
        free(resp);
        return err;
    }
    /* Response: u16-length token. */
    struct sg_buf b;
    sg_buf_init(&b, resp, resp_len);
    const uint8_t *tok = NULL;
    size_t tlen = 0;
    err = sg_buf_get_field(&b, UINT16_MAX, &tok, &tlen);
    if (err == SIGNET_OK) {
        char *t = malloc(tlen + 1);
        if (t == NULL) {
            err = SIGNET_ERR_NOMEM;
        } else {
            memcpy(t, tok, tlen);
            t[tlen] = '\0';
            *token = t;
        }
    } else {
        err = SIGNET_ERR_BAD_FRAME;
    }
    free(resp);
    return err;
}

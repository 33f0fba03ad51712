/* The DPoP replay cache's writer: a group commit (replay.h). */
#include "signetd/replay.h"

#include <pthread.h>
#include <stddef.h>

#include "signetd/ctx.h"
#include "signetd/nonce.h"
#include "store/store.h"
#include "util/log.h"

/* At most this many proofs in one transaction: a burst is recorded in a
 * few commits, none of which holds the store for long. */
#define GROUP_MAX 256

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct sd_replay_job *head, *tail;
static int running, stopping;
static pthread_t writer;
static struct sd_ctx *ctx;

/* Takes up to GROUP_MAX queued jobs, in arrival order. Under lock. */
static struct sd_replay_job *take_group(void)
{
    struct sd_replay_job *g = head, *last = head;
    for (int n = 1; last != NULL && last->next != NULL && n < GROUP_MAX; n++)
        last = last->next;
    if (last == NULL)
        return NULL;
    head = last->next;
    if (head == NULL)
        tail = NULL;
    last->next = NULL;
    return g;
}

/* Records the group in one transaction. Each job gets its own verdict;
 * if the transaction cannot begin or commit, every job gets the error
 * (nothing of the group counts as recorded). */
static void record(struct sd_replay_job *g)
{
    struct sg_store *s = ctx->replay;
    pthread_mutex_lock(&ctx->replay_lock);
    signet_err err = sg_store_begin(s);
    for (struct sd_replay_job *j = g; j != NULL; j = j->next)
        j->result = err != SIGNET_OK ? err
                                     : sg_store_dpop_jti_use(s, j->tenant, j->key, j->expires_at,
                                                             j->now, SD_DPOP_REPLAY_MAX);
    if (err == SIGNET_OK)
        err = sg_store_commit(s);
    pthread_mutex_unlock(&ctx->replay_lock);
    if (err != SIGNET_OK) {
        size_t n = 0;
        for (struct sd_replay_job *j = g; j != NULL; j = j->next, n++)
            j->result = err;
        sg_log(SG_LOG_ERROR, "dpop_replay_commit_failed", "proofs=%zu error=%s", n,
               signet_err_name(err));
    }
}

static void *writer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (head == NULL && !stopping)
            pthread_cond_wait(&wake, &lock);
        struct sd_replay_job *g = take_group();
        if (g == NULL)
            break; /* stopping, and nothing left */
        pthread_mutex_unlock(&lock);
        record(g);
        while (g != NULL) {
            struct sd_replay_job *next = g->next;
            g->next = NULL;
            g->done(g);
            g = next;
        }
        pthread_mutex_lock(&lock);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

signet_err sd_replay_start(struct sd_ctx *c)
{
    pthread_mutex_lock(&lock);
    ctx = c;
    stopping = 0;
    int rc = running ? 0 : pthread_create(&writer, NULL, writer_main, NULL);
    if (rc == 0)
        running = 1;
    pthread_mutex_unlock(&lock);
    return rc == 0 ? SIGNET_OK : SIGNET_ERR_INTERNAL;
}

signet_err sd_replay_submit(struct sd_replay_job *j)
{
    j->next = NULL;
    pthread_mutex_lock(&lock);
    if (!running || stopping) {
        pthread_mutex_unlock(&lock);
        return SIGNET_ERR_BUSY;
    }
    if (tail != NULL)
        tail->next = j;
    else
        head = j;
    tail = j;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    return SIGNET_OK;
}

void sd_replay_stop(void)
{
    pthread_mutex_lock(&lock);
    int was = running;
    stopping = 1;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    if (was)
        pthread_join(writer, NULL);
    pthread_mutex_lock(&lock);
    running = 0;
    pthread_mutex_unlock(&lock);
}

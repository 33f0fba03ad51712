/* Append-only, hash-chained audit log (see audit.h for the format).
 *
 * Writing: records are staged in memory, each one chained to the staged one
 * before it; sg_audit_commit() writes the whole batch with one write loop and
 * one fdatasync (group commit). A failed commit cuts the file back to the
 * length it had when the commit began, so nothing staged ever becomes visible
 * without being durable and acknowledged.
 *
 * Several writers: each signer process (the daemon's, and one per CLI
 * command) has its own handle. A handle holds the exclusive flock(2) on the
 * log only inside a commit (and while open recovers the tail). Under it, the
 * commit compares the file's size with the length it last left: equal (the
 * usual case) means its staged chain still follows the last record, and it
 * writes straight away; larger means others appended, so it reads their last
 * record and re-chains its staged records after it before writing.
 *
 * Reading: the verifier streams line by line with a bounded buffer and hands
 * each line to the record codec (src/audit/record.c), which checks the line's
 * own hash before anything else, so a damaged byte is reported at the record
 * that holds it. The writer formats with the same codec. */
#include "signer/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "audit/checkpoint.h"
#include "util/b64url.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

#define HASH_HEX SG_AUDIT_HASH_HEX
#define LINE_OVERHEAD SG_AUDIT_LINE_OVERHEAD
#define MAX_BODY SG_AUDIT_MAX_BODY
/* The verifier's read buffer: several records, and always more than one. */
#define READ_CAP (4 * SG_AUDIT_MAX_RECORD)
/* A staged body keeps room for a seq this long (sg_audit_record_format), so
 * re-chaining can renumber it without making it too long. */
#define SEQ_MAX_DIGITS SG_AUDIT_SEQ_MAX_DIGITS

static const char zero_hash[HASH_HEX + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* Where, inside a staged line's body, its top-level "seq" and "prev"
 * values are: re-chaining rewrites those bytes instead of parsing the body
 * again. seq_off == 0: not known (the slow path re-parses that line). */
struct rec_pos {
    size_t seq_off, seq_len, prev_off;
};

struct sg_audit {
    int fd;
    char *path;                 /* for log lines */
    off_t durable_len;          /* file length after the last commit this handle saw */
    uint64_t seq;               /* last durable record this handle knows of */
    char prev[HASH_HEX + 1];    /* and its hash */
    struct sg_wbuf staged;      /* lines not yet written, chained after seq */
    size_t staged_count;
    struct rec_pos *pos;        /* where each staged line keeps its seq and prev */
    size_t pos_cap;
    uint64_t staged_seq;        /* last staged record (== seq if none) */
    char staged_prev[HASH_HEX + 1];
    uint64_t syncs;
    uint64_t drops;             /* times staged records were dropped unwritten */
    uint64_t epoch;             /* bumped by every commit and discard */
    off_t cut_len;              /* where a failed commit cuts back to */
    bool locked;                /* holds the flock (between calls only while need_cut) */
    bool need_cut;              /* a failed commit could not cut the file back */
    bool fail_writes;           /* test hook (SIGNET_TESTING builds only) */
    /* Invariant I5 violated: the log vanished, was replaced, or does not
     * hold the recorded head. Nothing is appended until it is resolved
     * (the file is back, or `signet audit reset`); fd is then -1. */
    bool broken;
    bool expect_records;        /* the key store has keys: an empty log is not new */
    bool unanchored;            /* committed records no checkpoint of ours covers yet */
    bool force_cp;              /* the next commit writes a checkpoint, staged or not */
    /* The log's identity: a commit checks the path still names this file. */
    dev_t dev;
    ino_t ino;
    uint64_t retry_at_ms;       /* next attempt to find the log whole again */
    /* The recorded head: seq, end offset and hash of the last checkpoint
     * written to this log by any writer, in <log>.head (head_fd). */
    uint64_t head_seq;
    off_t head_off;
    /* Anchoring: checkpoints signed with the audit key. */
    sg_audit_sign_fn sign_fn;
    void *sign_ctx;
    uint64_t cp_interval_ms;
    uint64_t last_cp_ms;        /* monotonic ms of this handle's last checkpoint */
    uint64_t checkpoints;
    uint64_t cp_errors;
    uint64_t cp_retry_ms;       /* a timer checkpoint found the lock busy: not before */
    int head_fd;
    signet_err last_commit;     /* SIGNET_OK or how the last commit failed */
    char head_hash[HASH_HEX + 1];
    char key[SG_THUMBPRINT_LEN + 1];
    char broken_why[200];
};

/* Offset just past the JSON value starting at body[i] (jansson's compact
 * output, already checked back by sg_audit_record_format), or 0. */
static size_t skip_value(const char *body, size_t len, size_t i)
{
    unsigned depth = 0;
    bool in_string = false, escaped = false;
    for (; i < len; i++) {
        char c = body[i];
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"') {
                in_string = false;
                if (depth == 0)
                    return i + 1;
            }
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return i; /* the end of the enclosing object */
            if (--depth == 0)
                return i + 1;
        } else if (depth == 0 && c == ',') {
            return i;
        }
    }
    return 0;
}

/* Finds the top-level "seq" and "prev" values of a body this writer just
 * dumped and checked, and makes sure they hold seq and prev; otherwise p
 * stays unknown and re-chaining parses the line. */
static void find_positions(const char *body, size_t len, uint64_t seq, const char *prev,
                           struct rec_pos *p)
{
    struct rec_pos found = {0};
    size_t i = 1;
    while (i < len && body[0] == '{' && body[i] == '"') {
        size_t key_end = skip_value(body, len, i);
        if (key_end == 0 || key_end >= len || body[key_end] != ':')
            return;
        size_t v = key_end + 1, v_end = skip_value(body, len, v);
        if (v_end == 0 || v_end >= len)
            return;
        if (key_end - i == 5 && memcmp(body + i, "\"seq\"", 5) == 0) {
            found.seq_off = v;
            found.seq_len = v_end - v;
        } else if (key_end - i == 6 && memcmp(body + i, "\"prev\"", 6) == 0) {
            found.prev_off = v + 1;
        }
        if (body[v_end] == '}')
            break;
        i = v_end + 1;
    }
    char digits[SEQ_MAX_DIGITS + 2];
    int n = snprintf(digits, sizeof digits, "%" PRIu64, seq);
    if (found.seq_off == 0 || found.prev_off == 0 || n < 0 || (size_t)n != found.seq_len ||
        memcmp(body + found.seq_off, digits, (size_t)n) != 0 ||
        found.prev_off + HASH_HEX >= len || memcmp(body + found.prev_off, prev, HASH_HEX) != 0)
        return;
    *p = found;
}

/* ---- reading the whole log ------------------------------------------------ */

enum line_status { LINE_OK, LINE_TORN, LINE_TOO_LONG, LINE_EOF, LINE_IO };

struct line_reader {
    FILE *f;
    uint8_t *buf; /* READ_CAP bytes */
    size_t start, end;
    bool eof;
};

static enum line_status next_line(struct line_reader *r, const uint8_t **line, size_t *len)
{
    for (;;) {
        size_t have = r->end - r->start;
        const uint8_t *nl = memchr(r->buf + r->start, '\n', have);
        if (nl != NULL) {
            size_t n = (size_t)(nl - (r->buf + r->start));
            if (n + 1 > SG_AUDIT_MAX_RECORD)
                return LINE_TOO_LONG;
            *line = r->buf + r->start;
            *len = n;
            r->start += n + 1;
            return LINE_OK;
        }
        if (have >= SG_AUDIT_MAX_RECORD)
            return LINE_TOO_LONG;
        if (r->eof) {
            if (have == 0)
                return LINE_EOF;
            *line = r->buf + r->start;
            *len = have;
            r->start = r->end;
            return LINE_TORN;
        }
        memmove(r->buf, r->buf + r->start, have);
        r->start = 0;
        r->end = have;
        size_t got = fread(r->buf + r->end, 1, READ_CAP - r->end, r->f);
        r->end += got;
        if (got == 0) {
            if (ferror(r->f))
                return LINE_IO;
            r->eof = true;
        }
    }
}

static void set_why(char *why, size_t why_len, uint64_t rec, const char *reason)
{
    if (why != NULL && why_len > 0)
        (void)snprintf(why, why_len, "record %" PRIu64 ": %s", rec, reason);
}

static signet_err verify_stream(FILE *f, const char *count_type, uint64_t *count,
                                sg_audit_rec_fn fn, void *user, uint64_t *records,
                                uint64_t *first_bad, char *why, size_t why_len)
{
    signet_err err = SIGNET_OK;
    struct line_reader r = {.f = f, .buf = calloc(1, READ_CAP)};
    struct sg_audit_rec last = {0}; /* the last good record, body dropped */
    uint64_t n = 0, matches = 0;
    char reason[96];

    *records = 0;
    *first_bad = 0;
    if (why != NULL && why_len > 0)
        why[0] = '\0';
    if (r.buf == NULL)
        return SIGNET_ERR_NOMEM;
    for (;;) {
        const uint8_t *line = NULL;
        size_t len = 0;
        enum line_status st = next_line(&r, &line, &len);
        if (st == LINE_EOF)
            break;
        if (st == LINE_IO) {
            err = SIGNET_ERR_IO;
            set_why(why, why_len, n + 1, "read error");
            goto out;
        }
        struct sg_audit_rec rec = {0};
        signet_err e = SIGNET_ERR_AUDIT_BROKEN;
        if (st == LINE_TOO_LONG)
            (void)snprintf(reason, sizeof reason, "record too long");
        else if (st == LINE_TORN)
            (void)snprintf(reason, sizeof reason, "torn/missing newline");
        else if ((e = sg_audit_record_check(line, len, &rec, reason, sizeof reason)) ==
                 SIGNET_OK)
            e = sg_audit_record_chain(n > 0 ? &last : NULL, &rec, reason, sizeof reason);
        if (e == SIGNET_OK && fn != NULL)
            e = fn(user, &rec, reason, sizeof reason);
        if (e != SIGNET_OK) {
            sg_audit_record_clear(&rec);
            err = SIGNET_ERR_AUDIT_BROKEN;
            *first_bad = n + 1;
            set_why(why, why_len, n + 1, reason);
            goto out;
        }
        matches += count_type != NULL && strcmp(rec.type, count_type) == 0 ? 1 : 0;
        sg_audit_record_clear(&rec);
        last = rec;
        n++;
    }
    if (count != NULL)
        *count = matches;
out:
    *records = n;
    free(r.buf);
    return err;
}

static signet_err errno_err(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
        return SIGNET_ERR_NOT_FOUND;
    case EACCES:
    case EPERM:
    case EROFS:
    case ELOOP:
    case EISDIR:
        return SIGNET_ERR_PERMISSION;
    case ENOMEM:
        return SIGNET_ERR_NOMEM;
    default:
        return SIGNET_ERR_IO;
    }
}

static signet_err verify_path(const char *path, const char *count_type, uint64_t *count,
                              sg_audit_rec_fn fn, void *user, uint64_t *records,
                              uint64_t *first_bad, char *why, size_t why_len)
{
    *records = 0;
    *first_bad = 0;
    if (why != NULL && why_len > 0)
        why[0] = '\0';
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return errno_err(errno);
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        (void)close(fd);
        return SIGNET_ERR_INVALID_ARG;
    }
    FILE *f = fdopen(fd, "r");
    if (f == NULL) {
        (void)close(fd);
        return SIGNET_ERR_NOMEM;
    }
    signet_err err =
        verify_stream(f, count_type, count, fn, user, records, first_bad, why, why_len);
    (void)fclose(f);
    return err;
}

signet_err sg_audit_verify_stream(FILE *f, uint64_t *records, uint64_t *first_bad, char *why,
                                  size_t why_len)
{
    return verify_stream(f, NULL, NULL, NULL, NULL, records, first_bad, why, why_len);
}

signet_err sg_audit_verify_file(const char *path, uint64_t *records, uint64_t *first_bad,
                                char *why, size_t why_len)
{
    return verify_path(path, NULL, NULL, NULL, NULL, records, first_bad, why, why_len);
}

signet_err sg_audit_verify_file_each(const char *path, sg_audit_rec_fn fn, void *user,
                                     uint64_t *records, uint64_t *first_bad, char *why,
                                     size_t why_len)
{
    return verify_path(path, NULL, NULL, fn, user, records, first_bad, why, why_len);
}

signet_err sg_audit_count_type(const char *path, const char *type, uint64_t *count)
{
    uint64_t records = 0, first_bad = 0, n = 0;
    if (type == NULL)
        return SIGNET_ERR_INVALID_ARG;
    signet_err err = verify_path(path, type, &n, NULL, NULL, &records, &first_bad, NULL, 0);
    if (err == SIGNET_OK)
        *count = n;
    return err;
}

/* ---- the tail: what the last record is ---------------------------------------- */

static int pread_full(int fd, uint8_t *buf, size_t n, off_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, buf + done, n - done, off + (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO; /* the file shrank under us */
            return -1;
        }
        done += (size_t)r;
    }
    return 0;
}

/* Cuts a torn last line (no newline: a writer died mid-write) and makes the
 * cut durable. Only bytes after the last newline go, and no commit ever
 * succeeded without its newline, so nothing acknowledged is lost. A fragment
 * longer than any record could leave is not a torn write but damage. */
static signet_err cut_torn_tail(int fd, const char *path, uint8_t *win, off_t *size)
{
    size_t n = *size < SG_AUDIT_MAX_RECORD ? (size_t)*size : SG_AUDIT_MAX_RECORD;
    if (n == 0)
        return SIGNET_OK;
    if (pread_full(fd, win, n, *size - (off_t)n) != 0)
        return SIGNET_ERR_IO;
    if (win[n - 1] == '\n')
        return SIGNET_OK;
    const uint8_t *nl = memrchr(win, '\n', n);
    if (nl == NULL && (off_t)n < *size) {
        sg_log(SG_LOG_ERROR, "audit_tail_broken", "path=%s reason=\"unterminated tail too long\"",
               path);
        return SIGNET_ERR_AUDIT_BROKEN;
    }
    size_t cut = nl == NULL ? n : n - (size_t)(nl - win) - 1;
    if (ftruncate(fd, *size - (off_t)cut) != 0 || fdatasync(fd) != 0) {
        sg_log(SG_LOG_ERROR, "audit_truncate_failed", "path=%s errno=%d", path, errno);
        return SIGNET_ERR_IO;
    }
    sg_log(SG_LOG_WARN, "audit_torn_tail", "path=%s cut_bytes=%zu kept_bytes=%lld", path, cut,
           (long long)(*size - (off_t)cut));
    *size -= (off_t)cut;
    return SIGNET_OK;
}

/* Reads the last record (it ends the file, with its newline) and checks its
 * own hash; the rest of the chain is the verifier's job. */
static signet_err load_last(int fd, const char *path, uint8_t *win, off_t size, uint64_t *seq,
                            char prev[static HASH_HEX + 1])
{
    char reason[96];
    size_t n = size < SG_AUDIT_MAX_RECORD + 1 ? (size_t)size : SG_AUDIT_MAX_RECORD + 1;
    struct sg_audit_rec rec = {0};
    signet_err err = SIGNET_ERR_AUDIT_BROKEN;

    if (pread_full(fd, win, n, size - (off_t)n) != 0)
        return SIGNET_ERR_IO;
    const uint8_t *nl = n > 1 ? memrchr(win, '\n', n - 1) : NULL;
    size_t start = nl == NULL ? 0 : (size_t)(nl - win) + 1;
    if (win[n - 1] != '\n')
        (void)snprintf(reason, sizeof reason, "unterminated last line");
    else if (nl == NULL && (off_t)n < size)
        (void)snprintf(reason, sizeof reason, "last record too long");
    else if ((err = sg_audit_record_check(win + start, n - 1 - start, &rec, reason,
                                          sizeof reason)) == SIGNET_OK &&
             rec.seq == 1)
        err = sg_audit_record_chain(NULL, &rec, reason, sizeof reason); /* starts the chain */
    sg_audit_record_clear(&rec);
    if (err != SIGNET_OK) {
        sg_log(SG_LOG_ERROR, "audit_tail_broken", "path=%s reason=\"%s\"", path, reason);
        return SIGNET_ERR_AUDIT_BROKEN;
    }
    *seq = rec.seq;
    memcpy(prev, rec.hash, HASH_HEX + 1);
    return SIGNET_OK;
}

/* Under the lock: cuts a torn tail, then learns the last record's seq and
 * hash (0 and zeros for an empty log). *size is the file length on entry and
 * what is left of it on return. */
static signet_err read_tail(int fd, const char *path, off_t *size, uint64_t *seq,
                            char prev[static HASH_HEX + 1])
{
    uint8_t *win = malloc(SG_AUDIT_MAX_RECORD + 1);
    if (win == NULL)
        return SIGNET_ERR_NOMEM;
    *seq = 0;
    memcpy(prev, zero_hash, HASH_HEX + 1);
    signet_err err = cut_torn_tail(fd, path, win, size);
    if (err == SIGNET_OK && *size > 0)
        err = load_last(fd, path, win, *size, seq, prev);
    free(win);
    return err;
}

/* ---- the writers' lock -------------------------------------------------------- */

/* Takes the exclusive flock(2) on the log's own descriptor, waiting at most
 * SG_AUDIT_LOCK_WAIT_MS. It is held for one write and one fdatasync (a
 * commit) or one tail recovery (an open), so the wait is short; one that
 * lasts longer (a hung disk, an immutable file whose writer keeps the lock
 * to cut back, someone holding it on purpose) fails with ETIMEDOUT, so that
 * a request is answered "unavailable" at once instead of queueing behind it
 * (issue 11). flock belongs to the open file description: two handles, even
 * in one process, exclude each other.
 *
 * The wait happens in the kernel, which wakes the waiter when the holder
 * unlocks: the signers share the log and take turns at every commit, so a
 * waiter that polled would sleep past most releases (measured: a fifth of
 * each signer's time under load). A timer aimed at this thread interrupts
 * the wait at the bound (a handler without SA_RESTART, so flock returns
 * EINTR); without timers, polling at short intervals is the fallback. */
static void lock_wait_over(int sig)
{
    (void)sig;
}

static int lock_signal(void)
{
    return SIGRTMIN + 1;
}

static void install_lock_signal(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = lock_wait_over;
    (void)sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: the timer must end flock's wait */
    (void)sigaction(lock_signal(), &sa, NULL);
}

static int lock_poll(int fd, uint64_t deadline)
{
    long pause_ns = 20 * 1000;
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return 0;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        if (sg_clock_mono_ns() >= deadline) {
            errno = ETIMEDOUT;
            return -1;
        }
        struct timespec ts = {0, pause_ns};
        (void)nanosleep(&ts, NULL);
        if (pause_ns < 1000 * 1000)
            pause_ns *= 2;
    }
}

static int lock_log(int fd)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    if (errno != EWOULDBLOCK && errno != EINTR)
        return -1;
    const uint64_t deadline =
        sg_clock_mono_ns() + (uint64_t)SG_AUDIT_LOCK_WAIT_MS * 1000000u;
    (void)pthread_once(&once, install_lock_signal);
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = lock_signal();
    sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
    timer_t timer;
    if (timer_create(CLOCK_MONOTONIC, &sev, &timer) != 0)
        return lock_poll(fd, deadline);
    sigset_t sig, old;
    (void)sigemptyset(&sig);
    (void)sigaddset(&sig, lock_signal());
    (void)pthread_sigmask(SIG_UNBLOCK, &sig, &old);
    const struct itimerspec its = {
        .it_value = {SG_AUDIT_LOCK_WAIT_MS / 1000, (SG_AUDIT_LOCK_WAIT_MS % 1000) * 1000000L}};
    int rc = -1;
    if (timer_settime(timer, 0, &its, NULL) == 0) {
        for (;;) {
            rc = flock(fd, LOCK_EX);
            if (rc == 0 || errno != EINTR)
                break;
            if (sg_clock_mono_ns() >= deadline) {
                errno = ETIMEDOUT;
                break;
            }
        }
    }
    const int saved = errno;
    (void)timer_delete(timer);
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    return rc;
}

static void unlock_log(struct sg_audit *a)
{
    /* Cannot fail on a descriptor we hold open; close() would release it anyway. */
    (void)flock(a->fd, LOCK_UN);
    a->locked = false;
}

/* ---- the recorded head ------------------------------------------------------ */

/* <log>.head holds one line, "signet-audit-head/1 <seq> <end offset> <hash>":
 * the last checkpoint any writer committed to this log, rewritten under the
 * log's lock after each commit that wrote one. A log that does not hold it
 * (missing, empty, shorter, another record there) was deleted, replaced or
 * cut: invariant I5 violated, never a new chain (issue 11). */
#define HEAD_MAGIC "signet-audit-head/1 "

static signet_err violated(struct sg_audit *a, const char *why)
{
    a->broken = true;
    (void)snprintf(a->broken_why, sizeof a->broken_why, "%s", why);
    sg_log(SG_LOG_ERROR, "audit_invariant_violated", "path=%s reason=\"%s\"", a->path, why);
    return SIGNET_ERR_AUDIT_BROKEN;
}

static int parse_u64(const char **p, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(*p, &end, 10);
    if (errno != 0 || end == *p || (*end != ' ' && *end != '\n'))
        return -1;
    *out = v;
    *p = end + 1;
    return 0;
}

/* Reads the head file's line: true with seq, off and hash set when there
 * is a well-formed one, *empty when there is none at all. */
static bool load_head(int fd, bool *empty, uint64_t *seq, uint64_t *off,
                      char hash[static HASH_HEX + 1])
{
    char buf[200];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    *empty = n == 0;
    if (n <= 0)
        return false;
    buf[n] = '\0';
    const char *p = buf + strlen(HEAD_MAGIC);
    if ((size_t)n < strlen(HEAD_MAGIC) + HASH_HEX + 5 ||
        memcmp(buf, HEAD_MAGIC, strlen(HEAD_MAGIC)) != 0 || parse_u64(&p, seq) != 0 ||
        parse_u64(&p, off) != 0 || strlen(p) != HASH_HEX + 1 || p[HASH_HEX] != '\n' ||
        !sg_audit_record_is_hash(p, HASH_HEX) || *seq == 0 || *off > (uint64_t)INT64_MAX)
        return false;
    memcpy(hash, p, HASH_HEX);
    hash[HASH_HEX] = '\0';
    return true;
}

/* Reads <log>.head into a->head_*; no file is no head. */
static signet_err read_head(struct sg_audit *a)
{
    char path[PATH_MAX];
    uint64_t seq = 0, off = 0;
    bool empty = false;
    a->head_seq = 0;
    a->head_off = 0;
    if (snprintf(path, sizeof path, "%s.head", a->path) >= (int)sizeof path)
        return SIGNET_ERR_INVALID_ARG;
    if (a->head_fd < 0) {
        a->head_fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (a->head_fd < 0)
            return errno == ENOENT ? SIGNET_OK : errno_err(errno);
    }
    if (!load_head(a->head_fd, &empty, &seq, &off, a->head_hash))
        return empty ? SIGNET_OK
                     : violated(a, "the recorded chain head (<log>.head) is unreadable");
    a->head_seq = seq;
    a->head_off = (off_t)off;
    return SIGNET_OK;
}

/* After a commit that wrote a checkpoint (outside the log's lock, so that
 * other writers do not wait for a second fdatasync): the head becomes this
 * handle's last record, unless another writer already recorded a later one
 * (force: a reset, whose new chain starts low). The head file has its own
 * flock, so that two writers never interleave their lines. A failure is
 * logged, not fatal: the records are durable, and the head only guards
 * against losing them. */
static void write_head(struct sg_audit *a, bool force)
{
    char path[PATH_MAX], line[200], hash[HASH_HEX + 1];
    uint64_t seq = 0, off = 0;
    bool empty = false;
    if (a->head_fd < 0) {
        (void)snprintf(path, sizeof path, "%s.head", a->path);
        a->head_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
    }
    if (a->head_fd < 0 || lock_log(a->head_fd) != 0) {
        sg_log(SG_LOG_ERROR, "audit_head_write_failed", "path=%s errno=%d", a->path, errno);
        return;
    }
    if (!force && load_head(a->head_fd, &empty, &seq, &off, hash) && seq > a->seq) {
        (void)flock(a->head_fd, LOCK_UN); /* a later head is recorded already */
        return;
    }
    int n = snprintf(line, sizeof line, HEAD_MAGIC "%" PRIu64 " %lld %s\n", a->seq,
                     (long long)a->durable_len, a->prev);
    bool ok = n > 0 && (size_t)n < sizeof line && pwrite(a->head_fd, line, (size_t)n, 0) == n &&
              ftruncate(a->head_fd, n) == 0 && fdatasync(a->head_fd) == 0;
    if (!ok)
        sg_log(SG_LOG_ERROR, "audit_head_write_failed", "path=%s errno=%d", a->path, errno);
    (void)flock(a->head_fd, LOCK_UN);
    if (!ok)
        return;
    a->head_seq = a->seq;
    a->head_off = a->durable_len;
    memcpy(a->head_hash, a->prev, sizeof a->head_hash);
}

/* Under the lock, on a log of size bytes: does it still hold the recorded
 * head, the record that ends at head_off? */
static signet_err check_head(struct sg_audit *a, int fd, off_t size)
{
    char why[200];
    uint64_t seq = 0;
    char hash[HASH_HEX + 1];
    if (a->head_seq == 0)
        return SIGNET_OK;
    if (size < a->head_off) {
        (void)snprintf(why, sizeof why,
                       "the log is shorter than its recorded head (seq %" PRIu64 "): it was cut "
                       "or replaced",
                       a->head_seq);
        return violated(a, why);
    }
    uint8_t *win = malloc(SG_AUDIT_MAX_RECORD + 1);
    if (win == NULL)
        return SIGNET_ERR_NOMEM;
    signet_err err = load_last(fd, a->path, win, a->head_off, &seq, hash);
    free(win);
    if (err == SIGNET_ERR_IO || err == SIGNET_ERR_NOMEM)
        return err;
    if (err != SIGNET_OK || seq != a->head_seq || memcmp(hash, a->head_hash, HASH_HEX) != 0) {
        (void)snprintf(why, sizeof why,
                       "the log does not hold its recorded head (seq %" PRIu64 "): it was "
                       "rewritten or replaced",
                       a->head_seq);
        return violated(a, why);
    }
    return SIGNET_OK;
}

/* ---- opening -------------------------------------------------------------------- */

/* Opens the log at a->path and learns its tail, checked against the recorded
 * head. Creates it only when nothing says records must exist (no recorded
 * head, an empty key store). SIGNET_ERR_AUDIT_BROKEN (a->broken set) when
 * it is missing, empty, or without its head although records must exist. */
static signet_err open_log(struct sg_audit *a)
{
    struct stat st;
    const int flags = O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY;
    signet_err err = read_head(a);
    if (err != SIGNET_OK)
        return err;
    bool must = a->head_seq > 0 || a->expect_records;
    int fd = open(a->path, flags);
    if (fd < 0 && errno == ENOENT && !must)
        fd = open(a->path, flags | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT && must)
            return violated(a, a->head_seq > 0
                                   ? "the audit log is missing but a chain head is recorded"
                                   : "the audit log is missing but the key store has keys");
        sg_log(SG_LOG_ERROR, "audit_open_failed", "path=%s errno=%d", a->path, e);
        return errno_err(e);
    }
    a->fd = fd;
    if (fstat(fd, &st) != 0)
        return SIGNET_ERR_IO;
    /* Only a plain file nobody else may write keeps the chain ours. */
    if (!S_ISREG(st.st_mode) || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        sg_log(SG_LOG_ERROR, "audit_open_refused", "path=%s reason=\"not a private regular file\"",
               a->path);
        return SIGNET_ERR_PERMISSION;
    }
    /* Another writer may be committing: recover the tail only once it is done. */
    if (lock_log(fd) != 0) {
        sg_log(SG_LOG_ERROR, "audit_lock_failed", "path=%s errno=%d", a->path, errno);
        return errno == ETIMEDOUT ? SIGNET_ERR_BUSY : SIGNET_ERR_IO;
    }
    a->locked = true;
    if (fstat(fd, &st) != 0)
        return SIGNET_ERR_IO;
    off_t size = st.st_size;
    err = read_tail(fd, a->path, &size, &a->seq, a->prev);
    if (err != SIGNET_OK)
        return err;
    if (size == 0 && must)
        return violated(a, a->head_seq > 0 ? "the audit log is empty but a chain head is recorded"
                                           : "the audit log is empty but the key store has keys");
    err = check_head(a, fd, size);
    if (err != SIGNET_OK)
        return err;
    a->dev = st.st_dev;
    a->ino = st.st_ino;
    a->durable_len = size;
    unlock_log(a);
    a->staged_seq = a->seq;
    memcpy(a->staged_prev, a->prev, sizeof a->staged_prev);
    return SIGNET_OK;
}

/* Back to no open log (a failed open, or a violation found). */
static void drop_log(struct sg_audit *a)
{
    if (a->fd >= 0)
        (void)close(a->fd); /* drops the lock with it */
    a->fd = -1;
    a->locked = false;
    a->need_cut = false;
    a->durable_len = 0;
    a->seq = 0;
    memcpy(a->prev, zero_hash, sizeof a->prev);
}

signet_err sg_audit_open_ex(const char *path, const struct sg_audit_opts *opts,
                            struct sg_audit **out)
{
    signet_err err = SIGNET_OK;
    struct sg_audit *a = NULL;

    *out = NULL;
    if (path == NULL || path[0] == '\0' || strlen(path) + 8 > PATH_MAX)
        return SIGNET_ERR_INVALID_ARG;
    a = calloc(1, sizeof *a);
    if (a == NULL)
        return SIGNET_ERR_NOMEM;
    a->fd = -1;
    a->head_fd = -1;
    a->cp_interval_ms = 1000;
    sg_wbuf_init(&a->staged, SG_AUDIT_MAX_STAGED);
    memcpy(a->prev, zero_hash, sizeof a->prev);
    memcpy(a->staged_prev, zero_hash, sizeof a->staged_prev);
    a->expect_records = opts != NULL && opts->expect_records;
    a->path = strdup(path);
    if (a->path == NULL) {
        err = SIGNET_ERR_NOMEM;
        goto out;
    }
    err = open_log(a);
    if (err == SIGNET_ERR_AUDIT_BROKEN && a->broken && opts != NULL && opts->keep_broken) {
        /* Handed out anyway: it refuses every record and says why (STATUS,
         * I5), and finds the log again once it is whole or reset. */
        drop_log(a);
        a->retry_at_ms = sg_clock_mono_ns() / 1000000u + 1000;
        err = SIGNET_OK;
    }
    if (err != SIGNET_OK)
        goto out;
    *out = a;
    a = NULL;
out:
    sg_audit_close(&a);
    return err;
}

signet_err sg_audit_open(const char *path, struct sg_audit **out)
{
    return sg_audit_open_ex(path, NULL, out);
}

/* A broken handle looks again, at most once a second: the log may be back
 * (restored from a backup that holds the head) or reset by
 * `signet audit reset`. */
static void maybe_recover(struct sg_audit *a)
{
    uint64_t now = sg_clock_mono_ns() / 1000000u;
    if (!a->broken || now < a->retry_at_ms)
        return;
    a->retry_at_ms = now + 1000;
    a->broken = false;
    signet_err err = open_log(a);
    if (err != SIGNET_OK) {
        drop_log(a);
        if (!a->broken)
            (void)violated(a, "the audit log cannot be opened again");
        return;
    }
    a->broken_why[0] = '\0';
    a->last_commit = SIGNET_OK;
    a->force_cp = a->sign_fn != NULL;
    sg_log(SG_LOG_WARN, "audit_log_found_again", "path=%s seq=%" PRIu64, a->path, a->seq);
}

/* Does the path still name the file this handle writes (not deleted, not
 * replaced by another file or a link)? */
static bool same_file(struct sg_audit *a)
{
    struct stat mine, named;
    if (a->fd < 0 || fstat(a->fd, &mine) != 0 || stat(a->path, &named) != 0)
        return false;
    return mine.st_nlink >= 1 && mine.st_dev == named.st_dev && mine.st_ino == named.st_ino &&
           mine.st_dev == a->dev && mine.st_ino == a->ino;
}

/* Back to the length the file had when this commit took the lock, durably;
 * O_APPEND writes go to the end of the file, so nothing may be appended
 * before this has worked. */
static int cut_back(struct sg_audit *a)
{
    if (ftruncate(a->fd, a->cut_len) != 0 || fdatasync(a->fd) != 0) {
        a->need_cut = true;
        return -1;
    }
    a->need_cut = false;
    return 0;
}

void sg_audit_close(struct sg_audit **a)
{
    if (a == NULL || *a == NULL)
        return;
    struct sg_audit *p = *a;
    if (p->staged_count > 0)
        sg_log(SG_LOG_WARN, "audit_close_discard", "staged=%zu", p->staged_count);
    if (p->need_cut && cut_back(p) != 0)
        sg_log(SG_LOG_ERROR, "audit_close_uncut", "path=%s errno=%d", p->path, errno);
    if (p->fd >= 0)
        (void)close(p->fd);
    if (p->head_fd >= 0)
        (void)close(p->head_fd);
    sg_wbuf_free(&p->staged);
    free(p->pos);
    free(p->path);
    free(p);
    *a = NULL;
}

/* ---- staging -------------------------------------------------------------------- */

/* Appends the line of a record (sg_audit_record_format) to w and learns
 * where its seq and prev sit, for re-chaining. prev is the hash of the
 * record before; on success it becomes this record's hash. On failure w is
 * as it was. */
static signet_err put_record(struct sg_wbuf *w, uint64_t seq, int64_t time, const char *type,
                             const json_t *fields, char prev[static HASH_HEX + 1],
                             struct rec_pos *pos)
{
    char hash[HASH_HEX + 1];
    size_t mark = w->len;
    signet_err err = sg_audit_record_format(w, seq, time, type, prev, fields, hash);
    if (err != SIGNET_OK)
        return err;
    memset(pos, 0, sizeof *pos);
    find_positions((const char *)w->data + mark + HASH_HEX + 1, w->len - mark - LINE_OVERHEAD,
                   seq, prev, pos);
    memcpy(prev, hash, HASH_HEX + 1);
    return SIGNET_OK;
}

signet_err sg_audit_append(struct sg_audit *a, int64_t now, const char *type,
                           const json_t *fields)
{
    char prev[HASH_HEX + 1];

    if (a->broken)
        maybe_recover(a);
    if (a->broken)
        return SIGNET_ERR_AUDIT_BROKEN; /* nothing is staged on a log that is not there */
    if (a->staged_count == a->pos_cap) {
        size_t cap = a->pos_cap == 0 ? 64 : 2 * a->pos_cap;
        struct rec_pos *np = realloc(a->pos, cap * sizeof *np);
        if (np == NULL)
            return SIGNET_ERR_NOMEM;
        a->pos = np;
        a->pos_cap = cap;
    }
    memcpy(prev, a->staged_prev, sizeof prev);
    signet_err err = put_record(&a->staged, a->staged_seq + 1, now, type, fields, prev,
                                &a->pos[a->staged_count]);
    if (err != SIGNET_OK)
        return err;
    a->staged_seq++;
    memcpy(a->staged_prev, prev, sizeof a->staged_prev);
    a->staged_count++;
    return SIGNET_OK;
}

/* Back to nothing staged; drop says whether records were lost unwritten. */
static void reset_staged(struct sg_audit *a, bool drop)
{
    if (drop && a->staged_count > 0)
        a->drops++;
    a->epoch++;
    sg_wbuf_reset(&a->staged);
    a->staged_count = 0;
    a->staged_seq = a->seq;
    memcpy(a->staged_prev, a->prev, sizeof a->staged_prev);
}

void sg_audit_discard(struct sg_audit *a)
{
    reset_staged(a, true);
}

/* Marks name positions in the staged buffer of one epoch. Re-chaining only
 * happens inside a commit, which ends the epoch, so a mark never sees the
 * records it points into renumbered. */
void sg_audit_mark(const struct sg_audit *a, struct sg_audit_mark *m)
{
    m->epoch = a->epoch;
    m->len = a->staged.len;
    m->count = a->staged_count;
    m->seq = a->staged_seq;
    memcpy(m->prev, a->staged_prev, sizeof m->prev);
}

void sg_audit_rollback(struct sg_audit *a, const struct sg_audit_mark *m)
{
    /* A commit or discard since the mark already wrote or dropped them. */
    if (m->epoch != a->epoch || m->len > a->staged.len || m->count > a->staged_count)
        return;
    a->staged.len = m->len;
    a->staged_count = m->count;
    a->staged_seq = m->seq;
    memcpy(a->staged_prev, m->prev, sizeof a->staged_prev);
}

/* ---- committing ----------------------------------------------------------------- */

/* Re-chains one line whose seq and prev positions are known: the same
 * body with the new seq digits and prev hash spliced in, hashed again. */
static signet_err splice_record(struct sg_wbuf *w, const char *body, size_t len, uint64_t seq,
                                char prev[static HASH_HEX + 1], struct rec_pos *p)
{
    if (seq > (uint64_t)INT64_MAX)
        return SIGNET_ERR_TOO_LARGE;
    char digits[SEQ_MAX_DIGITS + 2];
    int n = snprintf(digits, sizeof digits, "%" PRIu64, seq);
    if (n < 0 || (size_t)n >= sizeof digits || p->prev_off > p->seq_off)
        return SIGNET_ERR_INTERNAL; /* jansson sorts "prev" before "seq" */
    size_t nlen = len - p->seq_len + (size_t)n;
    if (nlen > MAX_BODY || nlen + LINE_OVERHEAD > w->max - w->len)
        return SIGNET_ERR_TOO_LARGE;
    size_t mark = w->len;
    sg_wbuf_put_bytes(w, zero_hash, HASH_HEX); /* the hash, once the body is there */
    sg_wbuf_put_bytes(w, " ", 1);
    size_t b = w->len;
    sg_wbuf_put_bytes(w, body, p->prev_off);
    sg_wbuf_put_bytes(w, prev, HASH_HEX);
    sg_wbuf_put_bytes(w, body + p->prev_off + HASH_HEX, p->seq_off - p->prev_off - HASH_HEX);
    sg_wbuf_put_bytes(w, digits, (size_t)n);
    sg_wbuf_put_bytes(w, body + p->seq_off + p->seq_len, len - p->seq_off - p->seq_len);
    sg_wbuf_put_bytes(w, "\n", 1);
    if (w->err != SIGNET_OK) {
        signet_err err = w->err;
        w->len = mark;
        w->err = SIGNET_OK;
        return err;
    }
    sg_audit_record_hash(w->data + b, nlen, prev);
    memcpy(w->data + mark, prev, HASH_HEX);
    p->seq_len = (size_t)n;
    return SIGNET_OK;
}

/* Re-chains one staged line whose positions are not known: read back with
 * the codec, its own members kept, formatted again with the new seq and
 * prev. */
static signet_err restage(struct sg_wbuf *w, const uint8_t *line, size_t len, uint64_t seq,
                          char prev[static HASH_HEX + 1], struct rec_pos *p)
{
    static const char *const reserved[] = {"seq", "time", "type", "prev"};
    struct sg_audit_rec rec = {0};
    json_t *fields = NULL;
    signet_err err = SIGNET_ERR_INTERNAL; /* we wrote it ourselves and checked it */

    if (sg_audit_record_check(line, len, &rec, NULL, 0) != SIGNET_OK)
        goto out;
    fields = json_deep_copy(rec.body);
    if (fields == NULL) {
        err = SIGNET_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        (void)json_object_del(fields, reserved[i]);
    err = put_record(w, seq, rec.time, rec.type, fields, prev, p);
out:
    json_decref(fields);
    sg_audit_record_clear(&rec);
    return err;
}

/* Renumbers every staged record to follow the handle's (new) last durable
 * record: each gets its new "seq" and "prev" and is hashed again. A line
 * whose positions are known is spliced; any other is parsed back, given
 * them and dumped again. The staged buffer is replaced only once all of
 * them are rebuilt. Room: a body was accepted only with space for the
 * longest seq, so each line grows by at most SEQ_MAX_DIGITS. */
static signet_err rechain(struct sg_audit *a)
{
    signet_err err = SIGNET_OK;
    struct sg_wbuf out;
    uint64_t seq = a->seq;
    char prev[HASH_HEX + 1];
    size_t pos = 0;

    memcpy(prev, a->prev, sizeof prev);
    sg_wbuf_init(&out, a->staged.max + a->staged_count * SEQ_MAX_DIGITS);
    for (size_t i = 0; pos < a->staged.len; i++) {
        const uint8_t *line = a->staged.data + pos;
        const uint8_t *nl = memchr(line, '\n', a->staged.len - pos);
        if (nl == NULL || i >= a->staged_count) {
            err = SIGNET_ERR_INTERNAL;
            goto out;
        }
        size_t len = (size_t)(nl - line);
        const char *body = (const char *)line + HASH_HEX + 1;
        size_t blen = len - HASH_HEX - 1;
        if (a->pos[i].seq_off != 0) {
            err = splice_record(&out, body, blen, seq + 1, prev, &a->pos[i]);
        } else {
            err = restage(&out, line, len, seq + 1, prev, &a->pos[i]);
        }
        if (err != SIGNET_OK)
            goto out;
        seq++;
        pos += len + 1;
    }
    sg_wbuf_free(&a->staged);
    a->staged = out;
    a->staged.max = SG_AUDIT_MAX_STAGED;
    sg_wbuf_init(&out, 0);
    a->staged_seq = seq;
    memcpy(a->staged_prev, prev, sizeof a->staged_prev);
out:
    sg_wbuf_free(&out);
    return err;
}

/* Under the lock, the file is size bytes long and this handle last left it
 * at durable_len < size: others appended. Learns their last record and
 * re-chains the staged ones after it. A tail that does not check out is
 * SIGNET_ERR_AUDIT_BROKEN and nothing is changed but a torn fragment cut. */
static signet_err catch_up(struct sg_audit *a, off_t size)
{
    uint64_t seq = 0;
    char prev[HASH_HEX + 1];
    signet_err err = read_tail(a->fd, a->path, &size, &seq, prev);
    if (err != SIGNET_OK)
        return err;
    /* Only a dead writer's torn line was there: nothing new, same last record. */
    bool same = size == a->durable_len;
    if (size < a->durable_len ||
        (same && (seq != a->seq || memcmp(prev, a->prev, HASH_HEX) != 0)) ||
        (!same && seq <= a->seq)) {
        sg_log(SG_LOG_ERROR, "audit_changed_underneath",
               "path=%s size=%lld seq=%" PRIu64 " expected_size>=%lld expected_seq>%" PRIu64,
               a->path, (long long)size, seq, (long long)a->durable_len, a->seq);
        return SIGNET_ERR_AUDIT_BROKEN;
    }
    a->durable_len = size;
    a->seq = seq;
    memcpy(a->prev, prev, sizeof a->prev);
    return same ? SIGNET_OK : rechain(a);
}

static int write_staged(struct sg_audit *a)
{
    size_t want = SIGNET_TESTING && a->fail_writes ? a->staged.len / 2 : a->staged.len;
    size_t done = 0;
    while (done < want) {
        ssize_t w = write(a->fd, a->staged.data + done, want - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        done += (size_t)w;
    }
    if (done != a->staged.len) {
        errno = EIO; /* the test hook's simulated failure */
        return -1;
    }
    return 0;
}

/* Under the lock, after any re-chaining: signs the head the staged records
 * will leave (the last staged record, or the last durable one) and stages
 * the checkpoint record after it. A failure to sign is logged and leaves
 * the records unanchored; it does not stop them. */
static bool stage_checkpoint(struct sg_audit *a)
{
    struct sg_audit_cp cp = {.seq = a->staged_seq, .time = sg_clock_now()};
    char msg[SG_AUDIT_CP_MSG_MAX], sig[2 * SG_AUDIT_CP_SIG_LEN];
    if (cp.seq == 0)
        return false; /* nothing to anchor */
    memcpy(cp.head, a->staged_prev, sizeof cp.head);
    size_t n = sg_audit_cp_message(cp.seq, cp.head, cp.time, msg);
    signet_err err = n > 0 ? a->sign_fn(a->sign_ctx, (const uint8_t *)msg, n, cp.sig)
                           : SIGNET_ERR_INTERNAL;
    if (err == SIGNET_OK)
        err = sg_b64url_encode(cp.sig, sizeof cp.sig, sig, sizeof sig);
    json_t *f = err == SIGNET_OK ? json_pack("{s:I, s:s, s:s, s:s}", "cp_seq", (json_int_t)cp.seq,
                                             "cp_head", cp.head, "key", a->key, "sig", sig)
                                 : NULL;
    if (err == SIGNET_OK)
        err = f != NULL ? sg_audit_append(a, cp.time, SG_AUDIT_CP_TYPE, f) : SIGNET_ERR_NOMEM;
    json_decref(f);
    if (err != SIGNET_OK) {
        a->cp_errors++;
        sg_log(SG_LOG_ERROR, "audit_checkpoint_failed", "seq=%" PRIu64 " error=%s", cp.seq,
               signet_err_name(err));
        return false;
    }
    return true;
}

static bool checkpoint_due(const struct sg_audit *a)
{
    if (a->sign_fn == NULL)
        return false;
    if (a->force_cp)
        return true;
    return a->staged_count > 0 &&
           sg_clock_mono_ns() / 1000000u >= a->last_cp_ms + a->cp_interval_ms;
}

signet_err sg_audit_commit(struct sg_audit *a)
{
    signet_err err = SIGNET_ERR_AUDIT;
    const char *step = NULL;
    bool cut = false; /* a failure must cut the file back to a->cut_len */
    bool with_cp = false;
    struct stat st;

    if (a->staged_count == 0 && !a->force_cp)
        return SIGNET_OK;
    if (a->broken)
        maybe_recover(a);
    if (a->broken) {
        reset_staged(a, true);
        a->force_cp = false;
        return SIGNET_ERR_AUDIT_BROKEN;
    }
    /* Still locked only if a failed commit could not cut the file back. */
    if (!a->locked) {
        if (lock_log(a->fd) != 0) {
            step = errno == ETIMEDOUT ? "lock_timeout" : "lock";
            goto fail;
        }
        a->locked = true;
    }
    /* The log this handle writes must still be the one the path names: a
     * deleted or replaced log would swallow every record (issue 11). */
    if (!same_file(a)) {
        err = violated(a, "the audit log was deleted or replaced while open");
        step = "identity";
        goto fail;
    }
    if (a->need_cut) {
        cut = true;
        step = "cut_back";
        if (cut_back(a) != 0)
            goto fail;
    }
    if (fstat(a->fd, &st) != 0) {
        step = "fstat";
        goto fail;
    }
    if (st.st_size < a->durable_len) {
        /* Someone cut records this handle saw durable: do not repair, do not append. */
        sg_log(SG_LOG_ERROR, "audit_changed_underneath", "path=%s size=%lld expected>=%lld",
               a->path, (long long)st.st_size, (long long)a->durable_len);
        err = SIGNET_ERR_AUDIT_BROKEN;
        step = "shrunk";
        goto fail;
    }
    if (st.st_size != a->durable_len) {
        signet_err e = catch_up(a, st.st_size);
        if (e != SIGNET_OK) {
            err = e == SIGNET_ERR_AUDIT_BROKEN ? e : SIGNET_ERR_AUDIT;
            step = "catch_up";
            goto fail;
        }
    }
    if (checkpoint_due(a))
        with_cp = stage_checkpoint(a);
    a->cut_len = a->durable_len;
    cut = true;
    if (write_staged(a) != 0) {
        step = "write";
        goto fail;
    }
    if (fdatasync(a->fd) != 0) {
        step = "fdatasync";
        goto fail;
    }
    a->durable_len += (off_t)a->staged.len;
    a->seq = a->staged_seq;
    memcpy(a->prev, a->staged_prev, sizeof a->prev);
    a->syncs++;
    if (with_cp) {
        a->checkpoints++;
        a->last_cp_ms = sg_clock_mono_ns() / 1000000u;
        a->unanchored = false;
        a->force_cp = false;
    } else if (a->staged_count > 0) {
        a->unanchored = a->sign_fn != NULL;
    }
    a->force_cp = false;
    reset_staged(a, false);
    unlock_log(a);
    if (with_cp)
        write_head(a, false);
    a->last_commit = SIGNET_OK;
    return SIGNET_OK;
fail:;
    int saved = errno;
    /* Keep the lock while unacknowledged bytes may sit in the file: another
     * writer must not chain onto them. The next commit retries the cut. */
    bool uncut = cut && cut_back(a) != 0;
    if (a->locked && !uncut)
        unlock_log(a);
    if (err != SIGNET_ERR_AUDIT_BROKEN)
        sg_log(SG_LOG_ERROR, "audit_commit_failed", "step=%s errno=%d dropped=%zu cut_back=%s",
               step, saved, a->staged_count, !cut ? "none" : uncut ? "failed" : "ok");
    reset_staged(a, true);
    a->force_cp = false;
    if (a->broken)
        drop_log(a);
    a->last_commit = err;
    return err;
}

signet_err sg_audit_checkpoint(struct sg_audit *a)
{
    if (a->sign_fn == NULL || (!a->unanchored && a->staged_count == 0))
        return SIGNET_OK;
    a->force_cp = true;
    return sg_audit_commit(a);
}

signet_err sg_audit_checkpoint_try(struct sg_audit *a)
{
    if (a->sign_fn == NULL || !a->unanchored || a->staged_count > 0 || a->broken || a->locked)
        return SIGNET_OK;
    /* Never wait for the lock here: the signer would answer nothing
     * meanwhile. Busy: try again a little later. */
    if (flock(a->fd, LOCK_EX | LOCK_NB) != 0) {
        a->cp_retry_ms = sg_clock_mono_ns() / 1000000u + 200;
        return SIGNET_ERR_BUSY;
    }
    a->locked = true;
    a->force_cp = true;
    return sg_audit_commit(a);
}

int64_t sg_audit_checkpoint_wait_ms(const struct sg_audit *a)
{
    if (a->sign_fn == NULL || !a->unanchored || a->broken || a->locked)
        return -1;
    uint64_t now = sg_clock_mono_ns() / 1000000u, due = a->last_cp_ms + a->cp_interval_ms;
    if (a->cp_retry_ms > due)
        due = a->cp_retry_ms;
    return now >= due ? 0 : (int64_t)(due - now);
}

void sg_audit_set_anchor(struct sg_audit *a, sg_audit_sign_fn fn, void *ctx,
                         const char key[static SG_THUMBPRINT_LEN + 1], unsigned interval_ms)
{
    a->sign_fn = fn;
    a->sign_ctx = ctx;
    (void)snprintf(a->key, sizeof a->key, "%s", key);
    a->cp_interval_ms = interval_ms;
    a->force_cp = false;
}

signet_err sg_audit_health(struct sg_audit *a, char *why, size_t why_len)
{
    if (a->broken)
        maybe_recover(a);
    if (!a->broken && !a->locked && !same_file(a))
        (void)violated(a, "the audit log was deleted or replaced while open");
    if (a->broken) {
        drop_log(a);
        (void)snprintf(why, why_len, "%s", a->broken_why);
        return SIGNET_ERR_AUDIT_BROKEN;
    }
    /* A failed commit is past once the lock is free again (whoever held it
     * let go): without it, a signer nobody sends requests to (because
     * /readyz said 503) would never be ready again. A handle that keeps the
     * lock to cut back tries the cut again first. */
    if (a->need_cut && a->locked && a->fd >= 0 && cut_back(a) == 0)
        unlock_log(a); /* the file takes writes again (chattr -i, disk back) */
    if (a->last_commit != SIGNET_OK && !a->locked && a->fd >= 0 &&
        flock(a->fd, LOCK_EX | LOCK_NB) == 0) {
        (void)flock(a->fd, LOCK_UN);
        a->last_commit = SIGNET_OK;
    }
    if (a->last_commit != SIGNET_OK) {
        (void)snprintf(why, why_len, "the last audit commit failed: %s",
                       signet_err_name(a->last_commit));
        return a->last_commit;
    }
    if (why_len > 0)
        why[0] = '\0';
    return SIGNET_OK;
}

uint64_t sg_audit_checkpoints(const struct sg_audit *a)
{
    return a->checkpoints;
}

signet_err sg_audit_reset(struct sg_audit *a, int64_t now, const char *reason, char *moved,
                          size_t moved_len)
{
    char aside[PATH_MAX + 32] = "";
    struct stat st;
    if (reason == NULL || reason[0] == '\0')
        return SIGNET_ERR_INVALID_ARG;
    if (a->broken) {
        a->retry_at_ms = 0;
        maybe_recover(a);
    }
    if (!a->broken)
        return SIGNET_ERR_EXISTS; /* the log is whole: nothing to reset */
    json_t *f = json_pack("{s:s, s:s, s:I}", "reason", reason, "violation", a->broken_why,
                          "previous_head_seq", (json_int_t)a->head_seq);
    if (f == NULL)
        return SIGNET_ERR_NOMEM;
    if (a->head_seq > 0)
        (void)json_object_set_new(f, "previous_head", json_string(a->head_hash));
    /* What is left at the path is kept aside as evidence, never reused. */
    if (lstat(a->path, &st) == 0) {
        (void)snprintf(aside, sizeof aside, "%s.replaced-%lld", a->path, (long long)now);
        if (rename(a->path, aside) != 0) {
            sg_log(SG_LOG_ERROR, "audit_reset_failed", "step=rename errno=%d", errno);
            json_decref(f);
            return errno_err(errno);
        }
        const char *base = strrchr(aside, '/');
        (void)json_object_set_new(f, "previous_log", json_string(base != NULL ? base + 1 : aside));
    }
    int fd = open(a->path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
                  0600);
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0)
            (void)close(fd);
        json_decref(f);
        return errno_err(e);
    }
    drop_log(a);
    a->fd = fd;
    a->dev = st.st_dev;
    a->ino = st.st_ino;
    a->broken = false;
    a->broken_why[0] = '\0';
    a->last_commit = SIGNET_OK;
    reset_staged(a, false);
    signet_err err = sg_audit_append(a, now, SG_AUDIT_RESET_TYPE, f);
    json_decref(f);
    a->force_cp = a->sign_fn != NULL;
    if (err == SIGNET_OK)
        err = sg_audit_commit(a);
    if (err == SIGNET_OK)
        write_head(a, true); /* the new chain's head, lower than the old one */
    if (err == SIGNET_OK)
        sg_log(SG_LOG_WARN, "audit_reset", "path=%s previous_log=\"%s\"", a->path, aside);
    if (moved != NULL && moved_len > 0)
        (void)snprintf(moved, moved_len, "%s", aside);
    return err;
}

uint64_t sg_audit_last_seq(const struct sg_audit *a)
{
    return a->seq;
}

size_t sg_audit_staged(const struct sg_audit *a)
{
    return a->staged_count;
}

uint64_t sg_audit_syncs(const struct sg_audit *a)
{
    return a->syncs;
}

uint64_t sg_audit_drops(const struct sg_audit *a)
{
    return a->drops;
}

#if SIGNET_TESTING
void sg_audit_test_fail_writes(struct sg_audit *a, bool fail)
{
    a->fail_writes = fail;
}
#endif

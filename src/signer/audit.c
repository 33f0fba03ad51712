/* Append-only, hash-chained audit log (see audit.h for the format).
 *
 * Writing: records are staged in memory, each one chained to the staged one
 * before it; sg_audit_commit() writes the whole batch with one write loop and
 * one fdatasync (group commit). A failed commit cuts the file back to the
 * length it had after the last successful one, so nothing staged ever becomes
 * visible without being durable and acknowledged.
 *
 * Reading: the verifier streams line by line with a bounded buffer and checks
 * each line's own hash before anything else, so a damaged byte is reported at
 * the record that holds it. */
#include "signer/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/hex.h"
#include "util/log.h"

#define HASH_HEX SG_AUDIT_HASH_HEX
/* "<hash> " before the body, "\n" after it. */
#define LINE_OVERHEAD (HASH_HEX + 2)
#define MAX_BODY (SG_AUDIT_MAX_RECORD - LINE_OVERHEAD)
/* The verifier's read buffer: several records, and always more than one. */
#define READ_CAP (4 * SG_AUDIT_MAX_RECORD)

static const char zero_hash[HASH_HEX + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";

struct sg_audit {
    int fd;
    off_t durable_len;          /* file length after the last good commit */
    uint64_t seq;               /* last durable record */
    char prev[HASH_HEX + 1];    /* and its hash */
    struct sg_wbuf staged;      /* lines not yet written */
    size_t staged_count;
    uint64_t staged_seq;        /* last staged record (== seq if none) */
    char staged_prev[HASH_HEX + 1];
    uint64_t syncs;
    uint64_t drops;             /* times staged records were dropped unwritten */
    uint64_t epoch;             /* bumped by every commit and discard */
    bool need_cut;              /* a failed commit could not cut the file back */
    bool fail_writes;           /* test hook */
};

static void hash_body(const uint8_t *body, size_t len, char out[static HASH_HEX + 1])
{
    uint8_t md[SHA256_DIGEST_LENGTH];
    SHA256(body, len, md);
    sg_hex_encode(md, sizeof md, out);
}

static bool is_hash_hex(const char *s, size_t len)
{
    if (len != HASH_HEX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* What a record body must hold, whoever reads it: the writer checks its own
 * output with this too, so it never writes a record the verifier rejects.
 * Returns NULL when the body is good, else the reason. */
struct body_info {
    uint64_t seq;
    char prev[HASH_HEX + 1];
    bool type_match; /* "type" equals the type asked about */
};

static const char *check_body(const uint8_t *body, size_t len, const char *count_type,
                              struct body_info *info)
{
    const char *why = NULL;
    json_error_t jerr;
    json_t *rec = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (rec == NULL)
        return "invalid JSON";
    if (!json_is_object(rec)) {
        why = "body is not a JSON object";
        goto out;
    }
    const json_t *seq = json_object_get(rec, "seq");
    const json_t *time = json_object_get(rec, "time");
    const json_t *type = json_object_get(rec, "type");
    const json_t *prev = json_object_get(rec, "prev");
    if (!json_is_integer(seq) || json_integer_value(seq) < 1) {
        why = "missing or bad \"seq\"";
        goto out;
    }
    if (!json_is_integer(time)) {
        why = "missing or bad \"time\"";
        goto out;
    }
    if (!json_is_string(type) || json_string_length(type) == 0) {
        why = "missing or bad \"type\"";
        goto out;
    }
    if (!json_is_string(prev) || !is_hash_hex(json_string_value(prev), json_string_length(prev))) {
        why = "missing or bad \"prev\"";
        goto out;
    }
    info->seq = (uint64_t)json_integer_value(seq);
    memcpy(info->prev, json_string_value(prev), HASH_HEX + 1);
    info->type_match = count_type != NULL && strlen(count_type) == json_string_length(type) &&
                       memcmp(count_type, json_string_value(type), json_string_length(type)) == 0;
out:
    json_decref(rec);
    return why;
}

/* One line without its newline. On success hash gets the record's hash. */
static const char *check_line(const uint8_t *line, size_t len, const char *count_type,
                              char hash[static HASH_HEX + 1], struct body_info *info)
{
    if (len < HASH_HEX + 2 || line[HASH_HEX] != ' ')
        return "malformed line";
    hash_body(line + HASH_HEX + 1, len - HASH_HEX - 1, hash);
    if (memcmp(hash, line, HASH_HEX) != 0)
        return "hash mismatch";
    return check_body(line + HASH_HEX + 1, len - HASH_HEX - 1, count_type, info);
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
                                uint64_t *records, uint64_t *first_bad, char *why,
                                size_t why_len)
{
    signet_err err = SIGNET_OK;
    struct line_reader r = {.f = f, .buf = calloc(1, READ_CAP)};
    char prev[HASH_HEX + 1];
    uint64_t n = 0, matches = 0;
    char detail[96];

    *records = 0;
    *first_bad = 0;
    if (why != NULL && why_len > 0)
        why[0] = '\0';
    if (r.buf == NULL)
        return SIGNET_ERR_NOMEM;
    memcpy(prev, zero_hash, sizeof prev);
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
        const char *reason = NULL;
        char hash[HASH_HEX + 1];
        struct body_info info = {0};
        if (st == LINE_TOO_LONG)
            reason = "record too long";
        else if (st == LINE_TORN)
            reason = "torn/missing newline";
        else
            reason = check_line(line, len, count_type, hash, &info);
        if (reason == NULL && info.seq != n + 1) {
            (void)snprintf(detail, sizeof detail, "seq %" PRIu64 " where %" PRIu64 " belongs",
                           info.seq, n + 1);
            reason = detail;
        }
        if (reason == NULL && memcmp(info.prev, prev, HASH_HEX) != 0)
            reason = "prev does not chain";
        if (reason != NULL) {
            err = SIGNET_ERR_AUDIT_BROKEN;
            *first_bad = n + 1;
            set_why(why, why_len, n + 1, reason);
            goto out;
        }
        matches += info.type_match ? 1 : 0;
        memcpy(prev, hash, sizeof prev);
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
                              uint64_t *records, uint64_t *first_bad, char *why, size_t why_len)
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
    signet_err err = verify_stream(f, count_type, count, records, first_bad, why, why_len);
    (void)fclose(f);
    return err;
}

signet_err sg_audit_verify_stream(FILE *f, uint64_t *records, uint64_t *first_bad, char *why,
                                  size_t why_len)
{
    return verify_stream(f, NULL, NULL, records, first_bad, why, why_len);
}

signet_err sg_audit_verify_file(const char *path, uint64_t *records, uint64_t *first_bad,
                                char *why, size_t why_len)
{
    return verify_path(path, NULL, NULL, records, first_bad, why, why_len);
}

signet_err sg_audit_count_type(const char *path, const char *type, uint64_t *count)
{
    uint64_t records = 0, first_bad = 0, n = 0;
    if (type == NULL)
        return SIGNET_ERR_INVALID_ARG;
    signet_err err = verify_path(path, type, &n, &records, &first_bad, NULL, 0);
    if (err == SIGNET_OK)
        *count = n;
    return err;
}

/* ---- opening: recover the tail ----------------------------------------------- */

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

/* Cuts a torn last line (no newline: a crash mid-write) and makes the cut
 * durable. A fragment longer than any record could leave is not a torn
 * write but damage. */
static signet_err cut_torn_tail(struct sg_audit *a, const char *path, uint8_t *win, off_t *size)
{
    size_t n = *size < SG_AUDIT_MAX_RECORD ? (size_t)*size : SG_AUDIT_MAX_RECORD;
    if (n == 0)
        return SIGNET_OK;
    if (pread_full(a->fd, win, n, *size - (off_t)n) != 0)
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
    if (ftruncate(a->fd, *size - (off_t)cut) != 0 || fdatasync(a->fd) != 0) {
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
static signet_err load_last(struct sg_audit *a, const char *path, uint8_t *win, off_t size)
{
    const char *reason = NULL;
    size_t n = size < SG_AUDIT_MAX_RECORD + 1 ? (size_t)size : SG_AUDIT_MAX_RECORD + 1;
    char hash[HASH_HEX + 1];
    struct body_info info = {0};

    if (pread_full(a->fd, win, n, size - (off_t)n) != 0)
        return SIGNET_ERR_IO;
    const uint8_t *nl = n > 1 ? memrchr(win, '\n', n - 1) : NULL;
    size_t start = nl == NULL ? 0 : (size_t)(nl - win) + 1;
    if (win[n - 1] != '\n')
        reason = "unterminated last line";
    else if (nl == NULL && (off_t)n < size)
        reason = "last record too long";
    else
        reason = check_line(win + start, n - 1 - start, NULL, hash, &info);
    if (reason == NULL && info.seq == 1 && memcmp(info.prev, zero_hash, HASH_HEX) != 0)
        reason = "first record does not start the chain";
    if (reason != NULL) {
        sg_log(SG_LOG_ERROR, "audit_tail_broken", "path=%s reason=\"%s\"", path, reason);
        return SIGNET_ERR_AUDIT_BROKEN;
    }
    a->seq = info.seq;
    memcpy(a->prev, hash, sizeof a->prev);
    return SIGNET_OK;
}

static signet_err recover_tail(struct sg_audit *a, const char *path, off_t size)
{
    uint8_t *win = malloc(SG_AUDIT_MAX_RECORD + 1);
    if (win == NULL)
        return SIGNET_ERR_NOMEM;
    signet_err err = cut_torn_tail(a, path, win, &size);
    if (err == SIGNET_OK && size > 0)
        err = load_last(a, path, win, size);
    if (err == SIGNET_OK)
        a->durable_len = size;
    free(win);
    return err;
}

signet_err sg_audit_open(const char *path, struct sg_audit **out)
{
    signet_err err = SIGNET_OK;
    struct sg_audit *a = NULL;
    struct stat st;

    *out = NULL;
    if (path == NULL || path[0] == '\0')
        return SIGNET_ERR_INVALID_ARG;
    a = calloc(1, sizeof *a);
    if (a == NULL)
        return SIGNET_ERR_NOMEM;
    sg_wbuf_init(&a->staged, SG_AUDIT_MAX_STAGED);
    memcpy(a->prev, zero_hash, sizeof a->prev);
    a->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
    if (a->fd < 0) {
        err = errno_err(errno);
        sg_log(SG_LOG_ERROR, "audit_open_failed", "path=%s errno=%d", path, errno);
        goto out;
    }
    if (fstat(a->fd, &st) != 0) {
        err = SIGNET_ERR_IO;
        goto out;
    }
    /* Only a plain file nobody else may write keeps the chain ours. */
    if (!S_ISREG(st.st_mode) || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        sg_log(SG_LOG_ERROR, "audit_open_refused", "path=%s reason=\"not a private regular file\"",
               path);
        err = SIGNET_ERR_PERMISSION;
        goto out;
    }
    /* Two appenders would fork the chain. */
    if (flock(a->fd, LOCK_EX | LOCK_NB) != 0) {
        err = errno == EWOULDBLOCK ? SIGNET_ERR_BUSY : SIGNET_ERR_IO;
        sg_log(SG_LOG_ERROR, "audit_open_locked", "path=%s errno=%d", path, errno);
        goto out;
    }
    err = recover_tail(a, path, st.st_size);
    if (err != SIGNET_OK)
        goto out;
    a->staged_seq = a->seq;
    memcpy(a->staged_prev, a->prev, sizeof a->staged_prev);
    *out = a;
    a = NULL;
out:
    sg_audit_close(&a);
    return err;
}

void sg_audit_close(struct sg_audit **a)
{
    if (a == NULL || *a == NULL)
        return;
    struct sg_audit *p = *a;
    if (p->staged_count > 0)
        sg_log(SG_LOG_WARN, "audit_close_discard", "staged=%zu", p->staged_count);
    if (p->fd >= 0)
        (void)close(p->fd);
    sg_wbuf_free(&p->staged);
    free(p);
    *a = NULL;
}

/* ---- writing ------------------------------------------------------------------- */

static bool reserved_member(const json_t *fields)
{
    static const char *const reserved[] = {"seq", "time", "type", "prev"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (json_object_get(fields, reserved[i]) != NULL)
            return true;
    return false;
}

signet_err sg_audit_append(struct sg_audit *a, int64_t now, const char *type,
                           const json_t *fields)
{
    signet_err err = SIGNET_OK;
    json_t *rec = NULL;
    char *body = NULL;
    char hash[HASH_HEX + 1];
    struct body_info info = {0};

    if (type == NULL || type[0] == '\0' ||
        (fields != NULL && (!json_is_object(fields) || reserved_member(fields))))
        return SIGNET_ERR_INVALID_ARG;
    if (a->staged_seq >= (uint64_t)INT64_MAX)
        return SIGNET_ERR_TOO_LARGE;
    uint64_t seq = a->staged_seq + 1;
    rec = fields != NULL ? json_deep_copy(fields) : json_object();
    if (rec == NULL) {
        err = SIGNET_ERR_NOMEM;
        goto out;
    }
    json_t *jtype = json_string(type); /* NULL also for invalid UTF-8 */
    if (jtype == NULL || json_object_set_new(rec, "type", jtype) != 0) {
        err = SIGNET_ERR_INVALID_ARG;
        goto out;
    }
    if (json_object_set_new(rec, "seq", json_integer((json_int_t)seq)) != 0 ||
        json_object_set_new(rec, "time", json_integer((json_int_t)now)) != 0 ||
        json_object_set_new(rec, "prev", json_string(a->staged_prev)) != 0) {
        err = SIGNET_ERR_NOMEM;
        goto out;
    }
    /* Deterministic bytes; jansson escapes control characters, so one line. */
    body = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
    if (body == NULL) {
        /* Invalid UTF-8 in a caller's string (json_string_nocheck), or no memory. */
        err = SIGNET_ERR_INVALID_ARG;
        goto out;
    }
    size_t blen = strlen(body);
    if (blen > MAX_BODY) {
        err = SIGNET_ERR_TOO_LARGE;
        goto out;
    }
    /* Write only what the verifier accepts: one line, parsable, chained. */
    const char *reason = memchr(body, '\n', blen) != NULL
                             ? "newline in body"
                             : check_body((const uint8_t *)body, blen, NULL, &info);
    if (reason == NULL && (info.seq != seq || memcmp(info.prev, a->staged_prev, HASH_HEX) != 0))
        reason = "body does not round-trip";
    if (reason != NULL) {
        sg_log(SG_LOG_ERROR, "audit_append_rejected", "type=%s reason=\"%s\"", type, reason);
        err = SIGNET_ERR_INVALID_ARG;
        goto out;
    }
    size_t line_len = blen + LINE_OVERHEAD;
    if (line_len > a->staged.max - a->staged.len) {
        err = SIGNET_ERR_TOO_LARGE;
        goto out;
    }
    hash_body((const uint8_t *)body, blen, hash);
    size_t mark = a->staged.len;
    sg_wbuf_put_bytes(&a->staged, hash, HASH_HEX);
    sg_wbuf_put_bytes(&a->staged, " ", 1);
    sg_wbuf_put_bytes(&a->staged, body, blen);
    sg_wbuf_put_bytes(&a->staged, "\n", 1);
    if (a->staged.err != SIGNET_OK) {
        err = a->staged.err;
        a->staged.len = mark;
        a->staged.err = SIGNET_OK;
        goto out;
    }
    a->staged_seq = seq;
    memcpy(a->staged_prev, hash, sizeof a->staged_prev);
    a->staged_count++;
out:
    free(body);
    json_decref(rec);
    return err;
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

static int write_staged(struct sg_audit *a)
{
    size_t want = a->fail_writes ? a->staged.len / 2 : a->staged.len;
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

/* Back to the last durable length, durably; O_APPEND writes go to the end of
 * the file, so a later commit must not start before this has worked. */
static int cut_back(struct sg_audit *a)
{
    if (ftruncate(a->fd, a->durable_len) != 0 || fdatasync(a->fd) != 0) {
        a->need_cut = true;
        return -1;
    }
    a->need_cut = false;
    return 0;
}

signet_err sg_audit_commit(struct sg_audit *a)
{
    signet_err err = SIGNET_ERR_AUDIT;
    const char *step = NULL;
    struct stat st;

    if (a->staged_count == 0)
        return SIGNET_OK;
    if (a->need_cut && cut_back(a) != 0) {
        step = "cut_back";
        goto fail;
    }
    if (fstat(a->fd, &st) != 0) {
        step = "fstat";
        goto fail;
    }
    if (st.st_size != a->durable_len) {
        /* Someone else changed the log: do not repair, do not append. */
        sg_log(SG_LOG_ERROR, "audit_changed_underneath", "size=%lld expected=%lld",
               (long long)st.st_size, (long long)a->durable_len);
        reset_staged(a, true);
        return SIGNET_ERR_AUDIT_BROKEN;
    }
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
    reset_staged(a, false);
    return SIGNET_OK;
fail:;
    int saved = errno;
    bool cut = cut_back(a) == 0;
    sg_log(SG_LOG_ERROR, "audit_commit_failed", "step=%s errno=%d dropped=%zu cut_back=%s", step,
           saved, a->staged_count, cut ? "ok" : "failed");
    reset_staged(a, true);
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

void sg_audit_test_fail_writes(struct sg_audit *a, bool fail)
{
    a->fail_writes = fail;
}

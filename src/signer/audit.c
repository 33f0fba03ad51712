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
#include "util/sha256.h"

#define HASH_HEX SG_AUDIT_HASH_HEX
/* "<hash> " before the body, "\n" after it. */
#define LINE_OVERHEAD (HASH_HEX + 2)
#define MAX_BODY (SG_AUDIT_MAX_RECORD - LINE_OVERHEAD)
/* The verifier's read buffer: several records, and always more than one. */
#define READ_CAP (4 * SG_AUDIT_MAX_RECORD)
/* Decimal digits of the largest seq (INT64_MAX): a staged body keeps room for
 * them, so re-chaining can renumber it without making it too long. */
#define SEQ_MAX_DIGITS 19

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
};

static void hash_body(const uint8_t *body, size_t len, char out[static HASH_HEX + 1])
{
    uint8_t md[SHA256_DIGEST_LENGTH];
    sg_sha256(body, len, md);
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

/* Offset just past the JSON value starting at body[i] (jansson's compact
 * output, already parsed back by check_body), or 0. */
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
    const char *reason = NULL;
    size_t n = size < SG_AUDIT_MAX_RECORD + 1 ? (size_t)size : SG_AUDIT_MAX_RECORD + 1;
    char hash[HASH_HEX + 1];
    struct body_info info = {0};

    if (pread_full(fd, win, n, size - (off_t)n) != 0)
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
    *seq = info.seq;
    memcpy(prev, hash, HASH_HEX + 1);
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

/* Waits for the exclusive flock(2) on the log's own descriptor. It is held
 * for one write and one fdatasync (a commit) or one tail recovery (an open),
 * so the wait is short unless a disk hangs, in which case every writer hangs
 * on it anyway. flock belongs to the open file description: two handles, even
 * in one process, exclude each other. */
static int lock_log(int fd)
{
    while (flock(fd, LOCK_EX) != 0)
        if (errno != EINTR)
            return -1;
    return 0;
}

static void unlock_log(struct sg_audit *a)
{
    /* Cannot fail on a descriptor we hold open; close() would release it anyway. */
    (void)flock(a->fd, LOCK_UN);
    a->locked = false;
}

/* ---- opening -------------------------------------------------------------------- */

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
    a->fd = -1;
    sg_wbuf_init(&a->staged, SG_AUDIT_MAX_STAGED);
    memcpy(a->prev, zero_hash, sizeof a->prev);
    a->path = strdup(path);
    if (a->path == NULL) {
        err = SIGNET_ERR_NOMEM;
        goto out;
    }
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
    /* Another writer may be committing: recover the tail only once it is done. */
    if (lock_log(a->fd) != 0) {
        sg_log(SG_LOG_ERROR, "audit_lock_failed", "path=%s errno=%d", path, errno);
        err = SIGNET_ERR_IO;
        goto out;
    }
    a->locked = true;
    if (fstat(a->fd, &st) != 0) {
        err = SIGNET_ERR_IO;
        goto out;
    }
    off_t size = st.st_size;
    err = read_tail(a->fd, path, &size, &a->seq, a->prev);
    if (err != SIGNET_OK)
        goto out;
    a->durable_len = size;
    unlock_log(a);
    a->staged_seq = a->seq;
    memcpy(a->staged_prev, a->prev, sizeof a->staged_prev);
    *out = a;
    a = NULL;
out:
    sg_audit_close(&a); /* closing the descriptor drops the lock */
    return err;
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
    sg_wbuf_free(&p->staged);
    free(p->pos);
    free(p->path);
    free(p);
    *a = NULL;
}

/* ---- staging -------------------------------------------------------------------- */

static bool reserved_member(const json_t *fields)
{
    static const char *const reserved[] = {"seq", "time", "type", "prev"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (json_object_get(fields, reserved[i]) != NULL)
            return true;
    return false;
}

static size_t decimal_digits(uint64_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* Gives rec (which holds "time", "type" and the caller's fields) its "seq"
 * and "prev", and appends the line to w. prev is the hash of the record
 * before; on success it becomes this record's hash. On failure w is as it
 * was. */
static signet_err put_record(struct sg_wbuf *w, json_t *rec, uint64_t seq,
                             char prev[static HASH_HEX + 1], struct rec_pos *pos)
{
    signet_err err = SIGNET_OK;
    char *body = NULL;
    char hash[HASH_HEX + 1];
    struct body_info info = {0};

    if (seq > (uint64_t)INT64_MAX)
        return SIGNET_ERR_TOO_LARGE;
    if (json_object_set_new(rec, "seq", json_integer((json_int_t)seq)) != 0 ||
        json_object_set_new(rec, "prev", json_string(prev)) != 0)
        return SIGNET_ERR_NOMEM;
    /* Deterministic bytes; jansson escapes control characters, so one line. */
    body = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
    if (body == NULL) {
        /* Invalid UTF-8 in a caller's string (json_string_nocheck), or no memory. */
        err = SIGNET_ERR_INVALID_ARG;
        goto out;
    }
    size_t blen = strlen(body);
    /* Room for the longest seq, so that re-chaining can always renumber it. */
    if (blen - decimal_digits(seq) + SEQ_MAX_DIGITS > MAX_BODY) {
        err = SIGNET_ERR_TOO_LARGE;
        goto out;
    }
    /* Write only what the verifier accepts: one line, parsable, chained. */
    const char *reason = memchr(body, '\n', blen) != NULL
                             ? "newline in body"
                             : check_body((const uint8_t *)body, blen, NULL, &info);
    if (reason == NULL && (info.seq != seq || memcmp(info.prev, prev, HASH_HEX) != 0))
        reason = "body does not round-trip";
    if (reason != NULL) {
        sg_log(SG_LOG_ERROR, "audit_append_rejected", "seq=%" PRIu64 " reason=\"%s\"", seq,
               reason);
        err = SIGNET_ERR_INVALID_ARG;
        goto out;
    }
    if (blen + LINE_OVERHEAD > w->max - w->len) {
        err = SIGNET_ERR_TOO_LARGE;
        goto out;
    }
    memset(pos, 0, sizeof *pos);
    find_positions(body, blen, seq, prev, pos);
    hash_body((const uint8_t *)body, blen, hash);
    size_t mark = w->len;
    sg_wbuf_put_bytes(w, hash, HASH_HEX);
    sg_wbuf_put_bytes(w, " ", 1);
    sg_wbuf_put_bytes(w, body, blen);
    sg_wbuf_put_bytes(w, "\n", 1);
    if (w->err != SIGNET_OK) {
        err = w->err;
        w->len = mark;
        w->err = SIGNET_OK;
        goto out;
    }
    memcpy(prev, hash, HASH_HEX + 1);
out:
    free(body);
    return err;
}

signet_err sg_audit_append(struct sg_audit *a, int64_t now, const char *type,
                           const json_t *fields)
{
    signet_err err = SIGNET_OK;
    json_t *rec = NULL;
    char prev[HASH_HEX + 1];

    if (type == NULL || type[0] == '\0' ||
        (fields != NULL && (!json_is_object(fields) || reserved_member(fields))))
        return SIGNET_ERR_INVALID_ARG;
    if (a->staged_seq >= (uint64_t)INT64_MAX)
        return SIGNET_ERR_TOO_LARGE;
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
    if (json_object_set_new(rec, "time", json_integer((json_int_t)now)) != 0) {
        err = SIGNET_ERR_NOMEM;
        goto out;
    }
    if (a->staged_count == a->pos_cap) {
        size_t cap = a->pos_cap == 0 ? 64 : 2 * a->pos_cap;
        struct rec_pos *np = realloc(a->pos, cap * sizeof *np);
        if (np == NULL) {
            err = SIGNET_ERR_NOMEM;
            goto out;
        }
        a->pos = np;
        a->pos_cap = cap;
    }
    memcpy(prev, a->staged_prev, sizeof prev);
    err = put_record(&a->staged, rec, a->staged_seq + 1, prev, &a->pos[a->staged_count]);
    if (err != SIGNET_OK)
        goto out;
    a->staged_seq++;
    memcpy(a->staged_prev, prev, sizeof a->staged_prev);
    a->staged_count++;
out:
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
    hash_body(w->data + b, nlen, prev);
    memcpy(w->data + mark, prev, HASH_HEX);
    p->seq_len = (size_t)n;
    return SIGNET_OK;
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
            json_error_t jerr;
            json_t *rec = json_loadb(body, blen, JSON_REJECT_DUPLICATES, &jerr);
            if (rec == NULL) {
                err = SIGNET_ERR_INTERNAL; /* we wrote it ourselves and checked it parses */
                goto out;
            }
            err = put_record(&out, rec, seq + 1, prev, &a->pos[i]);
            json_decref(rec);
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

signet_err sg_audit_commit(struct sg_audit *a)
{
    signet_err err = SIGNET_ERR_AUDIT;
    const char *step = NULL;
    bool cut = false; /* a failure must cut the file back to a->cut_len */
    struct stat st;

    if (a->staged_count == 0)
        return SIGNET_OK;
    /* Still locked only if a failed commit could not cut the file back. */
    if (!a->locked) {
        if (lock_log(a->fd) != 0) {
            step = "lock";
            goto fail;
        }
        a->locked = true;
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
    reset_staged(a, false);
    unlock_log(a);
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

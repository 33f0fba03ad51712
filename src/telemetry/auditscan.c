#include "telemetry/auditscan.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/sha.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/record.h"
#include "telemetry/tmutil.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/sha256.h"

/* Lines are read and checked by the record codec (src/audit/record.h), the
 * same one the writer and the full verifier use. */
#define MAX_RECORD SG_AUDIT_MAX_RECORD
#define READ_CHUNK 65536

/* The index lives in a private temporary SQLite database (deleted on
 * close): its pages beyond a small cache spill to a temporary file, so the
 * heap does not grow with the number of records. Rows are numbered n in log
 * order and are exactly n in [first_n, next_n): expiry and the cap delete a
 * prefix, and the row count needs no query. */
#define IDX_CACHE_KIB 1024  /* page cache, the index's whole heap footprint (the inner
                             * pages of both b-trees up to ~1 M records; 2-4 MiB were no faster) */
#define IDX_EVICT_CHUNK 1024 /* rows a batch may run over the cap before trimming */
#define IDX_RETRY_MIN 60     /* seconds before the first rebuild after a failure */
#define IDX_RETRY_MAX 3600

enum idx_stmt {
    ST_BEGIN,
    ST_COMMIT,
    ST_INSERT,
    ST_FIND,
    ST_FIRST_LIVE,
    ST_MAX_EXP,
    ST_DELETE,
    ST_COUNT,
};

static const char *const idx_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN",
    [ST_COMMIT] = "COMMIT",
    /* (n, sha, kid_h, iss_h, jti_h, time, exp); OR IGNORE: seen before (a
     * re-read after a cut-back) */
    [ST_INSERT] = "INSERT OR IGNORE INTO idx VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_FIND] = "SELECT kid_h, iss_h, jti_h, time, exp FROM idx WHERE sha = ?1",
    [ST_FIRST_LIVE] = "SELECT n FROM idx WHERE n >= ?1 AND time >= ?2 ORDER BY n LIMIT 1",
    [ST_MAX_EXP] = "SELECT max(exp) FROM idx WHERE n < ?1",
    [ST_DELETE] = "DELETE FROM idx WHERE n < ?1",
};

/* A record read but not yet inserted: a poll's records are inserted in
 * hash order, so that consecutive inserts touch neighbouring pages of the
 * hash index instead of a random page each (several times cheaper once the
 * index outgrows its page cache). n is given in log order. */
struct pending_row {
    uint8_t sha[SG_TM_SHA256_LEN];
    struct sg_tm_indexed v;
    int64_t n;
};

#define IDX_BATCH 4096

struct tok_index {
    sqlite3 *db;             /* NULL: unusable (a SQLite failure) until rebuilt */
    struct pending_row *pend; /* IDX_BATCH rows, inserted by index_flush */
    size_t n_pend;
    int64_t rows;            /* rows in the table (n may have gaps: ignored duplicates) */
    sqlite3_stmt *st[ST_COUNT];
    bool in_txn;             /* a batch is open; committed at the end of each poll */
    int64_t first_n, next_n; /* the rows are n in [first_n, next_n) */
    size_t max;
    int64_t cap_evicted_exp; /* latest exp among records the cap pushed out */
    uint64_t evicted_by_cap;
    int64_t retry_at;        /* earliest rebuild after a failure (poll time) */
    int64_t retry_wait;
};

struct sg_tm_audit {
    char path[PATH_MAX];
    int64_t retention;
    int64_t lag;                  /* how late a token may be reported */
    off_t offset;                 /* verified bytes */
    off_t last_off;               /* the last verified line */
    size_t last_len;              /* its length, newline included */
    uint64_t records, sign_records, rescans;
    uint64_t max_records;         /* most records ever verified */
    bool full_next;               /* re-read everything at the next poll */
    struct sg_audit_rec last;     /* the last verified record (seq == records), no body */
    bool broken;
    off_t broken_size;            /* file size when the break was seen */
    char why[160];
    struct tok_index idx;
    uint8_t *buf;                 /* READ_CHUNK + MAX_RECORD */
};

uint64_t sg_tm_digest64(const char *s, size_t len)
{
    uint8_t md[SHA256_DIGEST_LENGTH];
    sg_sha256(s, len, md);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | md[i];
    return v;
}

/* ---- the index ------------------------------------------------------------ */

static void index_close(struct tok_index *x)
{
    for (int i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(x->st[i]);
        x->st[i] = NULL;
    }
    (void)sqlite3_close(x->db); /* rolls back an open batch, deletes the file */
    x->db = NULL;
    x->in_txn = false;
    x->n_pend = 0;
    x->rows = 0;
    x->first_n = x->next_n = 1;
}

/* A SQLite error: the index cannot vouch for anything until it is rebuilt
 * from the log (lookups answer SG_TM_UNCOVERED). The chain reading goes on. */
static void index_fail(struct tok_index *x, const char *op, int rc)
{
    sg_log(SG_LOG_ERROR, "audit_index_failed", "op=%s rc=%d msg=\"%s\"", op, rc,
           x->db != NULL ? sqlite3_errmsg(x->db) : sqlite3_errstr(rc));
    index_close(x);
    x->retry_at = -1; /* the poll schedules the rebuild */
}

static bool index_exec(struct tok_index *x, const char *sql, const char *op)
{
    int rc = sqlite3_exec(x->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        index_fail(x, op, rc);
    return rc == SQLITE_OK;
}

/* A fresh, empty index. */
static bool index_open(struct tok_index *x)
{
    index_close(x);
    /* "": a private temporary database, deleted when closed. */
    int rc = sqlite3_open_v2("", &x->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
                                 SQLITE_OPEN_PRIVATECACHE,
                             NULL);
    if (rc != SQLITE_OK) {
        index_fail(x, "open", rc);
        return false;
    }
    char pragmas[256];
    /* No durability (it is rebuilt from the log), no mmap (mapped pages
     * would count in the RSS), a bounded cache. */
    (void)snprintf(pragmas, sizeof pragmas,
                   "PRAGMA cache_size = -%d; PRAGMA journal_mode = OFF; "
                   "PRAGMA synchronous = OFF; PRAGMA temp_store = FILE; PRAGMA mmap_size = 0; "
                   "PRAGMA locking_mode = EXCLUSIVE",
                   IDX_CACHE_KIB);
    if (!index_exec(x, pragmas, "pragma") ||
        !index_exec(x,
                    "CREATE TABLE idx (n INTEGER PRIMARY KEY, sha BLOB NOT NULL UNIQUE, "
                    "kid_h INTEGER NOT NULL, iss_h INTEGER NOT NULL, jti_h INTEGER NOT NULL, "
                    "time INTEGER NOT NULL, exp INTEGER NOT NULL)",
                    "schema"))
        return false;
    for (int i = 0; i < ST_COUNT; i++) {
        rc = sqlite3_prepare_v3(x->db, idx_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &x->st[i], NULL);
        if (rc != SQLITE_OK) {
            index_fail(x, "prepare", rc);
            return false;
        }
    }
    return true;
}

/* Runs a statement without result rows. */
static bool index_step_done(struct tok_index *x, enum idx_stmt s, const char *op)
{
    int rc = sqlite3_step(x->st[s]);
    (void)sqlite3_reset(x->st[s]);
    if (rc != SQLITE_DONE) {
        index_fail(x, op, rc);
        return false;
    }
    return true;
}

static bool index_begin(struct tok_index *x)
{
    if (x->db == NULL)
        return false;
    if (!x->in_txn && !index_step_done(x, ST_BEGIN, "begin"))
        return false;
    x->in_txn = true;
    return true;
}

static void index_commit(struct tok_index *x)
{
    if (x->db != NULL && x->in_txn && index_step_done(x, ST_COMMIT, "commit"))
        x->in_txn = false;
}

static int64_t index_rows(const struct tok_index *x)
{
    return x->db != NULL ? x->rows : 0;
}

/* Drops the rows before n = cut. */
static bool index_cut(struct tok_index *x, int64_t cut, const char *op)
{
    if (!index_begin(x))
        return false;
    if (sqlite3_bind_int64(x->st[ST_DELETE], 1, cut) != SQLITE_OK) {
        index_fail(x, op, sqlite3_errcode(x->db));
        return false;
    }
    if (!index_step_done(x, ST_DELETE, op))
        return false;
    x->rows -= sqlite3_changes(x->db);
    x->first_n = cut;
    return true;
}

/* Drops the oldest records while they are older than horizon. */
static void index_expire(struct tok_index *x, int64_t horizon)
{
    if (index_rows(x) == 0)
        return;
    sqlite3_stmt *st = x->st[ST_FIRST_LIVE];
    int rc = sqlite3_bind_int64(st, 1, x->first_n);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 2, horizon);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    int64_t cut = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : x->next_n;
    (void)sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        index_fail(x, "expire", rc);
        return;
    }
    if (cut > x->first_n)
        (void)index_cut(x, cut, "expire");
}

/* Expiry, then the cap: the oldest records beyond index_max go, and the
 * index remembers until when they could still be reported. */
static void index_flush(struct tok_index *x);

static void index_trim(struct tok_index *x, int64_t horizon)
{
    index_flush(x);
    index_expire(x, horizon);
    int64_t over = index_rows(x) - (int64_t)x->max;
    if (over <= 0)
        return;
    int64_t cut = x->first_n + over;
    sqlite3_stmt *st = x->st[ST_MAX_EXP];
    int rc = sqlite3_bind_int64(st, 1, cut);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    int64_t exp = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    (void)sqlite3_reset(st);
    if (rc != SQLITE_ROW) {
        index_fail(x, "evict", rc);
        return;
    }
    int64_t before = x->rows;
    if (index_cut(x, cut, "evict")) {
        if (exp > x->cap_evicted_exp)
            x->cap_evicted_exp = exp;
        x->evicted_by_cap += (uint64_t)(before - x->rows);
    }
}

static int pending_cmp(const void *a, const void *b)
{
    return memcmp(((const struct pending_row *)a)->sha, ((const struct pending_row *)b)->sha,
                  SG_TM_SHA256_LEN);
}

/* Inserts the pending rows, in hash order, inside the poll's batch. A
 * hash seen before (a re-read after a cut-back) is ignored; its n stays
 * unused, which only makes the row count an upper bound. */
static void index_flush(struct tok_index *x)
{
    if (x->n_pend == 0 || !index_begin(x)) {
        x->n_pend = 0;
        return;
    }
    qsort(x->pend, x->n_pend, sizeof *x->pend, pending_cmp);
    sqlite3_stmt *st = x->st[ST_INSERT];
    for (size_t i = 0; i < x->n_pend; i++) {
        const struct pending_row *r = &x->pend[i];
        int rc = sqlite3_bind_int64(st, 1, r->n);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_blob(st, 2, r->sha, SG_TM_SHA256_LEN, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(st, 3, (int64_t)r->v.kid_h);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(st, 4, (int64_t)r->v.iss_h);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(st, 5, (int64_t)r->v.jti_h);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(st, 6, r->v.time);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(st, 7, r->v.exp);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            x->rows += sqlite3_changes(x->db);
        (void)sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            index_fail(x, "insert", rc);
            return;
        }
    }
    x->n_pend = 0;
}

static void index_add(struct tok_index *x, const uint8_t *sha, const struct sg_tm_indexed *v,
                      int64_t horizon)
{
    if (x->db == NULL || x->pend == NULL)
        return;
    struct pending_row *r = &x->pend[x->n_pend++];
    memcpy(r->sha, sha, SG_TM_SHA256_LEN);
    r->v = *v;
    r->n = x->next_n++;
    if (x->n_pend == IDX_BATCH) {
        index_flush(x);
        if (index_rows(x) > (int64_t)x->max + IDX_EVICT_CHUNK)
            index_trim(x, horizon);
    }
}

/* ---- reading -------------------------------------------------------------- */

signet_err sg_tm_audit_new(const char *path, int64_t retention, int64_t lag, size_t index_max,
                           struct sg_tm_audit **out)
{
    if (path == NULL || index_max == 0)
        return SIGNET_ERR_INVALID_ARG;
    struct sg_tm_audit *a = calloc(1, sizeof *a);
    if (a == NULL)
        return SIGNET_ERR_NOMEM;
    a->buf = malloc(READ_CHUNK + MAX_RECORD);
    a->idx.pend = calloc(IDX_BATCH, sizeof *a->idx.pend);
    if (a->buf == NULL || a->idx.pend == NULL || sg_tm_copy(a->path, sizeof a->path, path) != 0) {
        signet_err err = a->buf == NULL || a->idx.pend == NULL ? SIGNET_ERR_NOMEM
                                                               : SIGNET_ERR_INVALID_ARG;
        free(a->buf);
        free(a->idx.pend);
        free(a);
        return err;
    }
    a->retention = retention;
    a->lag = lag;
    /* Row counts are int64_t; more than this would never fit a disk. */
    a->idx.max = index_max > (size_t)INT64_MAX / 2 ? (size_t)INT64_MAX / 2 : index_max;
    a->idx.retry_wait = IDX_RETRY_MIN;
    /* A failure here leaves the index unusable, not the chain: the first
     * poll retries (it reads the whole log anyway). */
    if (!index_open(&a->idx))
        a->idx.retry_at = 0;
    *out = a;
    return SIGNET_OK;
}

void sg_tm_audit_free(struct sg_tm_audit **a)
{
    if (a == NULL || *a == NULL)
        return;
    index_close(&(*a)->idx);
    free((*a)->idx.pend);
    free((*a)->buf);
    free(*a);
    *a = NULL;
}

static const char *str_member(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v)
               ? json_string_value(v)
               : NULL;
}

/* A well-formed sign record; 0 when it is not one (counted, not indexed). */
static int parse_sign(const json_t *body, uint64_t seq, int64_t time, struct sg_tm_sign *s)
{
    memset(s, 0, sizeof *s);
    s->seq = seq;
    s->time = time;
    s->kid = str_member(body, "kid");
    s->iss = str_member(body, "iss");
    s->jti = str_member(body, "jti");
    const char *sha = str_member(body, "token_sha256");
    const json_t *iat = json_object_get(body, "iat");
    const json_t *exp = json_object_get(body, "exp");
    if (s->kid == NULL || s->iss == NULL || s->jti == NULL || sha == NULL ||
        !sg_audit_record_is_hash(sha, strlen(sha)) || !json_is_integer(iat) || !json_is_integer(exp))
        return 0;
    if (sg_hex_decode(sha, strlen(sha), s->token_sha256, SG_TM_SHA256_LEN) != SIGNET_OK)
        return 0;
    s->iat = json_integer_value(iat);
    s->exp = json_integer_value(exp);
    return 1;
}

static void reset_chain(struct sg_tm_audit *a)
{
    a->offset = 0;
    a->last_off = 0;
    a->last_len = 0;
    a->records = 0;
    a->sign_records = 0;
    memset(&a->last, 0, sizeof a->last);
}

static void set_broken(struct sg_tm_audit *a, off_t size, const char *reason)
{
    a->broken = true;
    a->broken_size = size;
    (void)snprintf(a->why, sizeof a->why, "record %" PRIu64 ": %s", a->records + 1, reason);
}

/* One complete line (without newline) at file offset off. */
static signet_err take_line(struct sg_tm_audit *a, const uint8_t *line, size_t len, off_t off,
                            off_t size, int64_t now, sg_tm_record_fn fn, void *user)
{
    struct sg_audit_rec rec = {0};
    char why[96];
    signet_err err = sg_audit_record_check(line, len, &rec, why, sizeof why);
    if (err == SIGNET_OK)
        err = sg_audit_record_chain(a->records > 0 ? &a->last : NULL, &rec, why, sizeof why);
    if (err != SIGNET_OK) {
        sg_audit_record_clear(&rec);
        set_broken(a, size, why);
        return SIGNET_ERR_AUDIT_BROKEN;
    }
    a->records++;
    a->last_off = off;
    a->last_len = len + 1;
    a->offset = off + (off_t)len + 1;
    const json_t *body = rec.body;
    const int64_t time = rec.time;
    const char *type = rec.type;
    struct sg_tm_sign sign;
    const struct sg_tm_sign *sp = NULL;
    if (strcmp(type, "sign") == 0) {
        a->sign_records++;
        if (parse_sign(body, a->records, time, &sign)) {
            sp = &sign;
            if (time >= now - a->retention) {
                struct sg_tm_indexed v = {
                    .kid_h = sg_tm_digest64(sign.kid, strlen(sign.kid)),
                    .iss_h = sg_tm_digest64(sign.iss, strlen(sign.iss)),
                    .jti_h = sg_tm_digest64(sign.jti, strlen(sign.jti)),
                    .time = time,
                    .exp = sign.exp,
                };
                index_add(&a->idx, sign.token_sha256, &v, now - a->retention);
            }
        }
    }
    if (fn != NULL)
        fn(user, a->records, time, type, body, sp);
    sg_audit_record_clear(&rec);
    a->last = rec;
    return SIGNET_OK;
}

/* Is the last verified line still there, byte for byte? It is checked
 * again as it is now, and must be the same record (seq and hash). */
static bool prefix_intact(struct sg_tm_audit *a, int fd)
{
    if (a->last_len == 0)
        return true;
    if (a->last_len > MAX_RECORD)
        return false;
    ssize_t n = pread(fd, a->buf, a->last_len, a->last_off);
    if (n != (ssize_t)a->last_len || a->buf[a->last_len - 1] != '\n')
        return false;
    struct sg_audit_rec rec = {0};
    bool same = sg_audit_record_check(a->buf, a->last_len - 1, &rec, NULL, 0) == SIGNET_OK &&
                rec.seq == a->last.seq &&
                memcmp(rec.hash, a->last.hash, SG_AUDIT_HASH_HEX) == 0;
    sg_audit_record_clear(&rec);
    return same;
}

static signet_err read_from(struct sg_tm_audit *a, int fd, off_t size, int64_t now,
                            sg_tm_record_fn fn, void *user)
{
    off_t pos = a->offset; /* file offset of buf[0] */
    size_t have = 0;
    while (pos + (off_t)have < size) {
        size_t want = READ_CHUNK;
        ssize_t n = pread(fd, a->buf + have, want, pos + (off_t)have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return SIGNET_ERR_IO;
        if (n == 0)
            break;
        have += (size_t)n;
        size_t start = 0;
        for (;;) {
            const uint8_t *nl = memchr(a->buf + start, '\n', have - start);
            if (nl == NULL)
                break;
            size_t len = (size_t)(nl - (a->buf + start));
            signet_err err = take_line(a, a->buf + start, len, pos + (off_t)start, size, now, fn,
                                       user);
            if (err != SIGNET_OK)
                return err;
            start += len + 1;
        }
        if (have - start >= MAX_RECORD) {
            set_broken(a, size, "record too long");
            return SIGNET_ERR_AUDIT_BROKEN;
        }
        memmove(a->buf, a->buf + start, have - start);
        pos += (off_t)start;
        have -= start;
    }
    /* Bytes after the last newline: a record being written, or a torn tail
     * the next writer cuts off. Neither is verified yet. */
    return SIGNET_OK;
}

signet_err sg_tm_audit_poll(struct sg_tm_audit *a, int64_t now, sg_tm_record_fn fn, void *user)
{
    int fd = open(a->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? SIGNET_ERR_NOT_FOUND : SIGNET_ERR_IO;
    struct stat st;
    signet_err err = SIGNET_OK;
    bool rebuilt = false;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        err = SIGNET_ERR_IO;
        goto out;
    }
    /* An index lost to a SQLite failure is rebuilt by reading everything. */
    bool rebuild = a->idx.db == NULL && a->idx.retry_at >= 0 && now >= a->idx.retry_at;
    if (rebuild)
        a->full_next = true;
    if (a->broken) {
        /* Unchanged in size: still broken, unless a periodic full
         * verification is due (an in-place repair keeps the size). */
        if (st.st_size == a->broken_size && !a->full_next) {
            err = SIGNET_ERR_AUDIT_BROKEN;
            goto out;
        }
        a->broken = false; /* changed: read it all again */
        a->why[0] = '\0';
        reset_chain(a);
        a->rescans++;
    } else if (a->full_next || st.st_size < a->offset || !prefix_intact(a, fd)) {
        reset_chain(a);
        a->rescans++;
    }
    a->full_next = false;
    if (rebuild && a->offset == 0)
        rebuilt = index_open(&a->idx);
    err = read_from(a, fd, st.st_size, now, fn, user);
    if (err == SIGNET_OK && a->records < a->max_records) {
        /* A whole chain, but shorter than one we verified before: records
         * were cut off the end (or a writer's failed commit took back some
         * we had read; rare, and worth a look either way). */
        char why[96];
        (void)snprintf(why, sizeof why, "log lost records: %" PRIu64 " verified before, %" PRIu64
                       " now", a->max_records, a->records);
        a->max_records = a->records;
        set_broken(a, st.st_size, why);
        err = SIGNET_ERR_AUDIT_BROKEN;
    }
    if (a->records > a->max_records)
        a->max_records = a->records;
out:
    /* Never leave a batch open: lookups come between polls. */
    index_trim(&a->idx, now - a->retention);
    index_commit(&a->idx);
    if (a->idx.db == NULL && a->idx.retry_at < 0) {
        a->idx.retry_at = now + a->idx.retry_wait;
        a->idx.retry_wait = a->idx.retry_wait * 2 > IDX_RETRY_MAX ? IDX_RETRY_MAX
                                                                  : a->idx.retry_wait * 2;
    } else if (rebuilt && a->idx.db != NULL) {
        sg_log(SG_LOG_INFO, "audit_index_rebuilt", "records=%" PRId64, index_rows(&a->idx));
        a->idx.retry_wait = IDX_RETRY_MIN;
    }
    close(fd);
    return err;
}

void sg_tm_audit_force_full(struct sg_tm_audit *a)
{
    a->full_next = true;
}

uint64_t sg_tm_audit_records(const struct sg_tm_audit *a)
{
    return a->records;
}

uint64_t sg_tm_audit_sign_records(const struct sg_tm_audit *a)
{
    return a->sign_records;
}

uint64_t sg_tm_audit_rescans(const struct sg_tm_audit *a)
{
    return a->rescans;
}

const char *sg_tm_audit_why(const struct sg_tm_audit *a)
{
    return a->broken ? a->why : "";
}

enum sg_tm_lookup sg_tm_audit_lookup(const struct sg_tm_audit *a,
                                     const uint8_t sha[static SG_TM_SHA256_LEN], int64_t now,
                                     struct sg_tm_indexed *out)
{
    const struct tok_index *x = &a->idx;
    /* Without the index (a SQLite failure) nothing can be vouched for. */
    if (x->db == NULL)
        return SG_TM_UNCOVERED;
    sqlite3_stmt *st = x->st[ST_FIND];
    int rc = sqlite3_bind_blob(st, 1, sha, SG_TM_SHA256_LEN, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->kid_h = (uint64_t)sqlite3_column_int64(st, 0);
        out->iss_h = (uint64_t)sqlite3_column_int64(st, 1);
        out->jti_h = (uint64_t)sqlite3_column_int64(st, 2);
        out->time = sqlite3_column_int64(st, 3);
        out->exp = sqlite3_column_int64(st, 4);
    }
    (void)sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return SG_TM_FOUND;
    if (rc != SQLITE_DONE) {
        sg_log(SG_LOG_ERROR, "audit_index_failed", "op=lookup rc=%d msg=\"%s\"", rc,
               sqlite3_errmsg(x->db));
        return SG_TM_UNCOVERED;
    }
    /* A broken chain stops the reading: later signatures are not indexed.
     * Records the cap pushed out may still be valid tokens. */
    if (a->broken || (x->evicted_by_cap > 0 && x->cap_evicted_exp + a->lag >= now))
        return SG_TM_UNCOVERED;
    return SG_TM_NOT_FOUND;
}

size_t sg_tm_audit_indexed(const struct sg_tm_audit *a)
{
    return (size_t)index_rows(&a->idx);
}

uint64_t sg_tm_audit_evicted_by_cap(const struct sg_tm_audit *a)
{
    return a->idx.evicted_by_cap;
}

#include "telemetry/auditscan.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "telemetry/tmutil.h"
#include "util/hex.h"

/* Same limits and format as src/signer/audit.c (audit.h). */
#define HASH_HEX 64
#define MAX_RECORD 16384
#define READ_CHUNK 65536

static const char zero_hash[HASH_HEX + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";

struct entry {
    uint8_t sha[SG_TM_SHA256_LEN];
    struct sg_tm_indexed v;
};

struct tok_index {
    struct entry *ring;
    size_t cap, head, n, max;
    uint32_t *table; /* ring slot + 1; 0 = empty */
    size_t mask;
    int64_t cap_evicted_exp; /* latest exp among records the cap pushed out */
    uint64_t evicted_by_cap;
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
    char last_hash[HASH_HEX + 1];
    bool broken;
    off_t broken_size;            /* file size when the break was seen */
    char why[160];
    struct tok_index idx;
    uint8_t *buf;                 /* READ_CHUNK + MAX_RECORD */
};

uint64_t sg_tm_digest64(const char *s, size_t len)
{
    uint8_t md[SHA256_DIGEST_LENGTH];
    SHA256((const uint8_t *)s, len, md);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | md[i];
    return v;
}

/* ---- the index ------------------------------------------------------------ */

static size_t home(const struct tok_index *x, const uint8_t *sha)
{
    uint64_t h = 0;
    for (int i = 0; i < 8; i++)
        h = h << 8 | sha[i];
    return (size_t)(h & x->mask);
}

static void table_put(struct tok_index *x, size_t slot)
{
    if (x->table == NULL)
        return;
    size_t p = home(x, x->ring[slot].sha);
    while (x->table[p] != 0)
        p = (p + 1) & x->mask;
    x->table[p] = (uint32_t)(slot + 1);
}

static size_t table_find(const struct tok_index *x, const uint8_t *sha, bool *found)
{
    size_t p = home(x, sha);
    *found = false;
    while (x->table != NULL && x->table[p] != 0) {
        if (memcmp(x->ring[x->table[p] - 1].sha, sha, SG_TM_SHA256_LEN) == 0) {
            *found = true;
            return p;
        }
        p = (p + 1) & x->mask;
    }
    return p;
}

/* Linear-probing deletion by backward shift: no tombstones. */
static void table_del(struct tok_index *x, size_t i)
{
    x->table[i] = 0;
    size_t j = i;
    for (;;) {
        j = (j + 1) & x->mask;
        if (x->table[j] == 0)
            return;
        size_t k = home(x, x->ring[x->table[j] - 1].sha);
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays)
            continue;
        x->table[i] = x->table[j];
        x->table[j] = 0;
        i = j;
    }
}

static void evict_head(struct tok_index *x)
{
    bool found = false;
    size_t p = table_find(x, x->ring[x->head].sha, &found);
    if (found)
        table_del(x, p);
    x->head = (x->head + 1) % x->cap;
    x->n--;
}

static signet_err index_grow(struct tok_index *x)
{
    size_t cap = x->cap == 0 ? 1024 : 2 * x->cap;
    if (cap > x->max)
        cap = x->max;
    size_t tcap = 1;
    while (tcap < 2 * cap)
        tcap <<= 1;
    if (cap > UINT32_MAX - 1)
        return SIGNET_ERR_TOO_LARGE;
    struct entry *ring = calloc(cap, sizeof *ring);
    uint32_t *table = calloc(tcap, sizeof *table);
    if (ring == NULL || table == NULL) {
        free(ring);
        free(table);
        return SIGNET_ERR_NOMEM;
    }
    for (size_t i = 0; i < x->n; i++)
        ring[i] = x->ring[(x->head + i) % x->cap];
    free(x->ring);
    free(x->table);
    x->ring = ring;
    x->table = table;
    x->cap = cap;
    x->head = 0;
    x->mask = tcap - 1;
    for (size_t i = 0; i < x->n; i++)
        table_put(x, i);
    return SIGNET_OK;
}

static signet_err index_add(struct tok_index *x, const uint8_t *sha, const struct sg_tm_indexed *v)
{
    bool found = false;
    if (x->table != NULL) {
        (void)table_find(x, sha, &found);
        if (found)
            return SIGNET_OK; /* seen before (a re-read after a cut-back) */
    }
    if (x->n == x->max) {
        const struct entry *old = &x->ring[x->head];
        if (old->v.exp > x->cap_evicted_exp)
            x->cap_evicted_exp = old->v.exp;
        x->evicted_by_cap++;
        evict_head(x);
    }
    if (x->n == x->cap) {
        signet_err err = index_grow(x);
        if (err != SIGNET_OK)
            return err;
    }
    size_t slot = (x->head + x->n) % x->cap;
    memcpy(x->ring[slot].sha, sha, SG_TM_SHA256_LEN);
    x->ring[slot].v = *v;
    x->n++;
    table_put(x, slot);
    return SIGNET_OK;
}

static void index_expire(struct tok_index *x, int64_t horizon)
{
    while (x->n > 0 && x->ring[x->head].v.time < horizon)
        evict_head(x);
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
    if (a->buf == NULL || sg_tm_copy(a->path, sizeof a->path, path) != 0) {
        signet_err err = a->buf == NULL ? SIGNET_ERR_NOMEM : SIGNET_ERR_INVALID_ARG;
        free(a->buf);
        free(a);
        return err;
    }
    a->retention = retention;
    a->lag = lag;
    a->idx.max = index_max;
    memcpy(a->last_hash, zero_hash, sizeof a->last_hash);
    *out = a;
    return SIGNET_OK;
}

void sg_tm_audit_free(struct sg_tm_audit **a)
{
    if (a == NULL || *a == NULL)
        return;
    free((*a)->idx.ring);
    free((*a)->idx.table);
    free((*a)->buf);
    free(*a);
    *a = NULL;
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

const char *sg_tm_audit_check_line(const uint8_t *line, size_t len, char hash[static 65],
                                   json_t **body)
{
    *body = NULL;
    if (len < HASH_HEX + 2 || line[HASH_HEX] != ' ')
        return "malformed line";
    uint8_t md[SHA256_DIGEST_LENGTH];
    SHA256(line + HASH_HEX + 1, len - HASH_HEX - 1, md);
    sg_hex_encode(md, sizeof md, hash);
    if (memcmp(hash, line, HASH_HEX) != 0)
        return "hash mismatch";
    json_error_t jerr;
    json_t *rec = json_loadb((const char *)line + HASH_HEX + 1, len - HASH_HEX - 1,
                             JSON_REJECT_DUPLICATES, &jerr);
    if (rec == NULL)
        return "invalid JSON";
    const char *why = NULL;
    const json_t *seq = json_object_get(rec, "seq");
    const json_t *prev = json_object_get(rec, "prev");
    const json_t *type = json_object_get(rec, "type");
    if (!json_is_object(rec))
        why = "body is not a JSON object";
    else if (!json_is_integer(seq) || json_integer_value(seq) < 1)
        why = "missing or bad \"seq\"";
    else if (!json_is_integer(json_object_get(rec, "time")))
        why = "missing or bad \"time\"";
    else if (!json_is_string(type) || json_string_length(type) == 0)
        why = "missing or bad \"type\"";
    else if (!json_is_string(prev) || !is_hash_hex(json_string_value(prev), json_string_length(prev)))
        why = "missing or bad \"prev\"";
    if (why != NULL) {
        json_decref(rec);
        return why;
    }
    *body = rec;
    return NULL;
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
        !is_hash_hex(sha, strlen(sha)) || !json_is_integer(iat) || !json_is_integer(exp))
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
    memcpy(a->last_hash, zero_hash, sizeof a->last_hash);
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
    char hash[HASH_HEX + 1];
    json_t *body = NULL;
    const char *why = len + 1 > MAX_RECORD ? "record too long"
                                           : sg_tm_audit_check_line(line, len, hash, &body);
    char detail[96];
    if (why == NULL) {
        uint64_t seq = (uint64_t)json_integer_value(json_object_get(body, "seq"));
        if (seq != a->records + 1) {
            (void)snprintf(detail, sizeof detail, "seq %" PRIu64 " where %" PRIu64 " belongs",
                           seq, a->records + 1);
            why = detail;
        } else if (memcmp(json_string_value(json_object_get(body, "prev")), a->last_hash,
                          HASH_HEX) != 0) {
            why = "prev does not chain";
        }
    }
    if (why != NULL) {
        json_decref(body);
        set_broken(a, size, why);
        return SIGNET_ERR_AUDIT_BROKEN;
    }
    a->records++;
    memcpy(a->last_hash, hash, sizeof a->last_hash);
    a->last_off = off;
    a->last_len = len + 1;
    a->offset = off + (off_t)len + 1;
    const int64_t time = (int64_t)json_integer_value(json_object_get(body, "time"));
    const char *type = json_string_value(json_object_get(body, "type"));
    struct sg_tm_sign sign;
    const struct sg_tm_sign *sp = NULL;
    signet_err err = SIGNET_OK;
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
                err = index_add(&a->idx, sign.token_sha256, &v);
            }
        }
    }
    if (fn != NULL)
        fn(user, a->records, time, type, body, sp);
    json_decref(body);
    return err;
}

/* Is the last verified line still there, byte for byte? Its hash is
 * checked against the body as it is now. */
static bool prefix_intact(struct sg_tm_audit *a, int fd)
{
    if (a->last_len == 0)
        return true;
    if (a->last_len > MAX_RECORD)
        return false;
    ssize_t n = pread(fd, a->buf, a->last_len, a->last_off);
    if (n != (ssize_t)a->last_len || a->buf[a->last_len - 1] != '\n' ||
        memcmp(a->buf, a->last_hash, HASH_HEX) != 0 || a->buf[HASH_HEX] != ' ')
        return false;
    uint8_t md[SHA256_DIGEST_LENGTH];
    char hex[HASH_HEX + 1];
    SHA256(a->buf + HASH_HEX + 1, a->last_len - HASH_HEX - 2, md);
    sg_hex_encode(md, sizeof md, hex);
    return memcmp(hex, a->last_hash, HASH_HEX) == 0;
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
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        err = SIGNET_ERR_IO;
        goto out;
    }
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
    index_expire(&a->idx, now - a->retention);
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
    bool found = false;
    if (a->idx.table != NULL) {
        size_t p = table_find(&a->idx, sha, &found);
        if (found) {
            *out = a->idx.ring[a->idx.table[p] - 1].v;
            return SG_TM_FOUND;
        }
    }
    /* A broken chain stops the reading: later signatures are not indexed.
     * Records the cap pushed out may still be valid tokens. */
    if (a->broken || (a->idx.evicted_by_cap > 0 && a->idx.cap_evicted_exp + a->lag >= now))
        return SG_TM_UNCOVERED;
    return SG_TM_NOT_FOUND;
}

size_t sg_tm_audit_indexed(const struct sg_tm_audit *a)
{
    return a->idx.n;
}

uint64_t sg_tm_audit_evicted_by_cap(const struct sg_tm_audit *a)
{
    return a->idx.evicted_by_cap;
}

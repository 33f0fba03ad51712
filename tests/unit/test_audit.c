/* Audit log: chain, tamper detection at the right record, torn tails, commit
 * failures that leave the file byte-identical, group commit, several writers
 * (handles and processes) re-chaining onto each other. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "signer/audit.h"
#include "util/hex.h"
#include "util/log.h"

struct fx {
    char dir[256];
    char path[320];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (f == NULL || sg_test_mkdtemp(f->dir, sizeof f->dir, "signet-audit") != 0) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/audit.log", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sg_test_rmrf(f->dir);
    free(f);
    return 0;
}

/* ---- helpers ---------------------------------------------------------------- */

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    unsigned char *buf = malloc(1 << 22);
    assert_non_null(buf);
    *len = fread(buf, 1, 1 << 22, fp);
    assert_false(ferror(fp));
    fclose(fp);
    return buf;
}

static void spit(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    if (len > 0)
        assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static void spit_append(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "ab");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static signet_err append_sign(struct sg_audit *a, uint64_t i)
{
    char jti[32], tok[SG_AUDIT_HASH_HEX + 1];
    uint8_t md[SHA256_DIGEST_LENGTH];
    snprintf(jti, sizeof jti, "jti-%llu", (unsigned long long)i);
    SHA256((const uint8_t *)jti, strlen(jti), md);
    sg_hex_encode(md, sizeof md, tok);
    json_t *fields = json_pack("{s:s, s:s, s:s, s:s}", "kid", "k-2026-01", "iss",
                               "https://issuer.example/t1", "jti", jti, "token_sha256", tok);
    assert_non_null(fields);
    signet_err err = sg_audit_append(a, 1700000000 + (int64_t)i, "sign", fields);
    json_decref(fields);
    return err;
}

static void write_log(const char *path, uint64_t n)
{
    struct sg_audit *a = NULL;
    assert_int_equal(sg_audit_open(path, &a), SIGNET_OK);
    uint64_t base = sg_audit_last_seq(a);
    for (uint64_t i = 1; i <= n; i++)
        assert_int_equal(append_sign(a, base + i), SIGNET_OK);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK);
    assert_int_equal(sg_audit_last_seq(a), base + n);
    sg_audit_close(&a);
}

struct verdict {
    signet_err err;
    uint64_t records;
    uint64_t first_bad;
    char why[160];
};

static struct verdict verify(const char *path)
{
    struct verdict v;
    memset(&v, 0, sizeof v);
    v.err = sg_audit_verify_file(path, &v.records, &v.first_bad, v.why, sizeof v.why);
    return v;
}

static struct verdict verify_mem(const void *data, size_t len)
{
    struct verdict v;
    memset(&v, 0, sizeof v);
    FILE *fp = fmemopen((void *)data, len, "r");
    assert_non_null(fp);
    v.err = sg_audit_verify_stream(fp, &v.records, &v.first_bad, v.why, sizeof v.why);
    fclose(fp);
    return v;
}

static void assert_intact(const char *path, uint64_t records)
{
    struct verdict v = verify(path);
    if (v.err != SIGNET_OK)
        fail_msg("verify: %s (%s)", signet_err_name(v.err), v.why);
    assert_int_equal(v.records, records);
}

static void assert_broken_at(struct verdict v, uint64_t rec, const char *reason)
{
    char prefix[64];
    if (v.err != SIGNET_ERR_AUDIT_BROKEN || v.first_bad != rec)
        fail_msg("want broken at %llu, got %s at %llu (%s)", (unsigned long long)rec,
                 signet_err_name(v.err), (unsigned long long)v.first_bad, v.why);
    snprintf(prefix, sizeof prefix, "record %llu: ", (unsigned long long)rec);
    assert_memory_equal(v.why, prefix, strlen(prefix));
    if (reason != NULL && strstr(v.why, reason) == NULL)
        fail_msg("reason \"%s\" lacks \"%s\"", v.why, reason);
    assert_int_equal(v.records, rec - 1);
}

/* Splits a log into lines (newline kept) for reordering tests. */
struct lines {
    const unsigned char *p[16];
    size_t len[16];
    size_t n;
};

static void split_lines(const unsigned char *buf, size_t len, struct lines *l)
{
    memset(l, 0, sizeof *l);
    size_t start = 0;
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\n') {
            assert_true(l->n < 16);
            l->p[l->n] = buf + start;
            l->len[l->n] = i + 1 - start;
            l->n++;
            start = i + 1;
        }
    assert_int_equal(start, len);
}

/* Writes the lines in the given order (indexes, 0-based). */
static void write_order(const char *path, const struct lines *l, const size_t *order, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(fwrite(l->p[order[i]], 1, l->len[order[i]], fp), l->len[order[i]]);
    assert_int_equal(fclose(fp), 0);
}

/* "<sha256(body)> body\n" for hand-made records. */
static size_t make_line(char *out, size_t cap, const char *body)
{
    uint8_t md[SHA256_DIGEST_LENGTH];
    char hex[SG_AUDIT_HASH_HEX + 1];
    SHA256((const uint8_t *)body, strlen(body), md);
    sg_hex_encode(md, sizeof md, hex);
    int n = snprintf(out, cap, "%s %s\n", hex, body);
    assert_true(n > 0 && (size_t)n < cap);
    return (size_t)n;
}

static const char zeros[] = "0000000000000000000000000000000000000000000000000000000000000000";

/* ---- tests -------------------------------------------------------------------- */

static void test_append_commit_reopen(void **state)
{
    struct fx *f = *state;
    struct sg_audit *a = NULL;
    struct stat st;

    assert_int_equal(verify(f->path).err, SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_OK);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(sg_audit_last_seq(a), 0);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK); /* nothing staged: no sync */
    assert_int_equal(sg_audit_syncs(a), 0);
    assert_intact(f->path, 0);

    for (uint64_t i = 1; i <= 5; i++)
        assert_int_equal(append_sign(a, i), SIGNET_OK);
    assert_int_equal(sg_audit_staged(a), 5);
    assert_int_equal(sg_audit_last_seq(a), 0); /* not durable yet */
    assert_intact(f->path, 0);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK);
    assert_int_equal(sg_audit_last_seq(a), 5);
    assert_int_equal(sg_audit_staged(a), 0);
    assert_int_equal(sg_audit_syncs(a), 1);
    sg_audit_close(&a);
    assert_null(a);
    assert_intact(f->path, 5);

    /* The first record starts the chain from zeros and has the documented shape. */
    size_t len = 0;
    unsigned char *buf = slurp(f->path, &len);
    assert_true(len > 65);
    assert_int_equal(buf[64], ' ');
    const unsigned char *nl = memchr(buf, '\n', len);
    assert_non_null(nl);
    json_error_t jerr;
    json_t *rec = json_loadb((const char *)buf + 65, (size_t)(nl - buf) - 65, 0, &jerr);
    assert_non_null(rec);
    assert_int_equal(json_integer_value(json_object_get(rec, "seq")), 1);
    assert_int_equal(json_integer_value(json_object_get(rec, "time")), 1700000001);
    assert_string_equal(json_string_value(json_object_get(rec, "type")), "sign");
    assert_string_equal(json_string_value(json_object_get(rec, "prev")), zeros);
    assert_string_equal(json_string_value(json_object_get(rec, "kid")), "k-2026-01");
    json_decref(rec);
    free(buf);

    /* Reopening continues the chain. */
    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_OK);
    assert_int_equal(sg_audit_last_seq(a), 5);
    sg_audit_close(&a);
    write_log(f->path, 3);
    assert_intact(f->path, 8);
    write_log(f->path, 1);
    assert_intact(f->path, 9);
}

static void test_discard_and_close_drop_staged(void **state)
{
    struct fx *f = *state;
    struct sg_audit *a = NULL;
    write_log(f->path, 2);
    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_OK);
    assert_int_equal(append_sign(a, 3), SIGNET_OK);
    assert_int_equal(append_sign(a, 4), SIGNET_OK);
    sg_audit_discard(a);
    assert_int_equal(sg_audit_staged(a), 0);
    assert_int_equal(append_sign(a, 3), SIGNET_OK);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK);
    assert_int_equal(sg_audit_last_seq(a), 3);
    assert_int_equal(append_sign(a, 4), SIGNET_OK);
    sg_audit_close(&a); /* staged, never committed */
    assert_intact(f->path, 3);
    sg_audit_close(&a); /* NULL is fine */
    sg_audit_close(NULL);
}

static void test_every_bit_flip_caught_at_its_record(void **state)
{
    struct fx *f = *state;
    write_log(f->path, 4);
    size_t len = 0;
    unsigned char *orig = slurp(f->path, &len);
    unsigned char *buf = malloc(len);
    assert_non_null(buf);

    uint64_t rec = 1;
    for (size_t i = 0; i < len; i++) {
        bool last_record = rec == 4;
        for (unsigned bit = 0; bit < 8; bit++) {
            memcpy(buf, orig, len);
            buf[i] ^= (unsigned char)(1u << bit);
            struct verdict v = verify_mem(buf, len);
            if (v.err != SIGNET_ERR_AUDIT_BROKEN || v.first_bad != rec)
                fail_msg("offset %zu bit %u: want record %llu, got %s at %llu (%s)", i, bit,
                         (unsigned long long)rec, signet_err_name(v.err),
                         (unsigned long long)v.first_bad, v.why);
            if (bit != 0 && !last_record)
                continue;
            /* Through the file too; and open must refuse a damaged tail (or,
             * for the final newline, cut the now-torn line and carry on). */
            spit(f->path, buf, len);
            v = verify(f->path);
            assert_int_equal(v.err, SIGNET_ERR_AUDIT_BROKEN);
            assert_int_equal(v.first_bad, rec);
            if (last_record) {
                struct sg_audit *a = NULL;
                signet_err err = sg_audit_open(f->path, &a);
                if (i == len - 1) {
                    assert_int_equal(err, SIGNET_OK);
                    assert_int_equal(sg_audit_last_seq(a), 3);
                    sg_audit_close(&a);
                    assert_intact(f->path, 3);
                } else if (err != SIGNET_ERR_AUDIT_BROKEN) {
                    fail_msg("open accepted a damaged last record (offset %zu bit %u): %s", i,
                             bit, signet_err_name(err));
                }
            }
        }
        if (orig[i] == '\n')
            rec++;
    }
    spit(f->path, orig, len);
    assert_intact(f->path, 4);
    free(buf);
    free(orig);
}

static void test_delete_swap_duplicate(void **state)
{
    struct fx *f = *state;
    write_log(f->path, 5);
    size_t len = 0;
    unsigned char *orig = slurp(f->path, &len);
    struct lines l;
    split_lines(orig, len, &l);
    assert_int_equal(l.n, 5);

    static const size_t del3[] = {0, 1, 3, 4};
    write_order(f->path, &l, del3, 4);
    assert_broken_at(verify(f->path), 3, "seq 4 where 3 belongs");

    static const size_t del1[] = {1, 2, 3, 4};
    write_order(f->path, &l, del1, 4);
    assert_broken_at(verify(f->path), 1, "seq 2 where 1 belongs");

    static const size_t swap23[] = {0, 2, 1, 3, 4};
    write_order(f->path, &l, swap23, 5);
    assert_broken_at(verify(f->path), 2, NULL);

    static const size_t swap45[] = {0, 1, 2, 4, 3};
    write_order(f->path, &l, swap45, 5);
    assert_broken_at(verify(f->path), 4, NULL);

    static const size_t dup2[] = {0, 1, 1, 2, 3, 4};
    write_order(f->path, &l, dup2, 6);
    assert_broken_at(verify(f->path), 3, "seq 2 where 3 belongs");

    static const size_t dup5[] = {0, 1, 2, 3, 4, 4};
    write_order(f->path, &l, dup5, 6);
    assert_broken_at(verify(f->path), 6, NULL);

    /* Cutting whole records off the end leaves a shorter, valid chain: that
     * is what the store's last seq and the HSM-signature invariant catch. */
    static const size_t head4[] = {0, 1, 2, 3};
    write_order(f->path, &l, head4, 4);
    assert_intact(f->path, 4);

    /* A record from another, equally valid log does not chain. */
    char other[320];
    struct sg_audit *a = NULL;
    snprintf(other, sizeof other, "%s/other.log", f->dir);
    assert_int_equal(sg_audit_open(other, &a), SIGNET_OK);
    assert_int_equal(sg_audit_append(a, 1, "key_generated", NULL), SIGNET_OK);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK);
    sg_audit_close(&a);
    write_log(other, 2);
    size_t olen = 0;
    unsigned char *obuf = slurp(other, &olen);
    struct lines ol;
    split_lines(obuf, olen, &ol);
    memcpy(&ol.p[0], &l.p[0], sizeof l.p[0] * 2);
    memcpy(&ol.len[0], &l.len[0], sizeof l.len[0] * 2);
    static const size_t mix[] = {0, 1, 2};
    write_order(f->path, &ol, mix, 3);
    /* Records 1-2 from this log, 3 from the other: same seq, other prev. */
    assert_broken_at(verify(f->path), 3, "prev does not chain");
    free(obuf);
    free(orig);
}

static void test_torn_tail(void **state)
{
    struct fx *f = *state;
    write_log(f->path, 3);
    size_t len = 0;
    unsigned char *good = slurp(f->path, &len);

    /* Build a full 4th record elsewhere to tear it at every length. */
    char whole[320];
    snprintf(whole, sizeof whole, "%s/whole.log", f->dir);
    spit(whole, good, len);
    write_log(whole, 1);
    size_t wlen = 0;
    unsigned char *four = slurp(whole, &wlen);
    assert_true(wlen > len);

    for (size_t cut = 1; cut < wlen - len; cut++) {
        spit(f->path, four, len + cut);
        assert_broken_at(verify(f->path), 4, "torn/missing newline");
        struct sg_audit *a = NULL;
        assert_int_equal(sg_audit_open(f->path, &a), SIGNET_OK);
        assert_int_equal(sg_audit_last_seq(a), 3);
        sg_audit_close(&a);
        size_t now = 0;
        unsigned char *after = slurp(f->path, &now);
        assert_int_equal(now, len);
        assert_memory_equal(after, good, len);
        free(after);
    }
    /* After the cut the chain continues. */
    spit_append(f->path, four + len, 10);
    write_log(f->path, 2);
    assert_intact(f->path, 5);

    /* A log that is nothing but a torn first record. */
    spit(f->path, four, 30);
    assert_broken_at(verify(f->path), 1, "torn");
    struct sg_audit *a = NULL;
    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_OK);
    assert_int_equal(sg_audit_last_seq(a), 0);
    sg_audit_close(&a);
    assert_intact(f->path, 0);

    /* An unterminated tail longer than any record is damage, not a torn write. */
    unsigned char *junk = malloc(SG_AUDIT_MAX_RECORD + 10);
    assert_non_null(junk);
    memset(junk, 'x', SG_AUDIT_MAX_RECORD + 10);
    spit(f->path, good, len);
    spit_append(f->path, junk, SG_AUDIT_MAX_RECORD + 10);
    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_ERR_AUDIT_BROKEN);
    assert_null(a);
    assert_broken_at(verify(f->path), 4, "too long");
    free(junk);
    free(four);
    free(good);
}

static void test_damaged_tail_fails_closed(void **state)
{
    struct fx *f = *state;
    struct sg_audit *a = NULL;
    char line[512];
    write_log(f->path, 2);
    size_t len = 0;
    unsigned char *good = slurp(f->path, &len);

    /* A well-hashed last line that is not a record. */
    size_t n = make_line(line, sizeof line, "[1,2,3]");
    spit(f->path, good, len);
    spit_append(f->path, line, n);
    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_ERR_AUDIT_BROKEN);
    assert_broken_at(verify(f->path), 3, "not a JSON object");

    /* Garbage that ends in a newline. */
    spit(f->path, good, len);
    spit_append(f->path, "garbage\n", 8);
    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_ERR_AUDIT_BROKEN);
    assert_broken_at(verify(f->path), 3, "malformed line");

    /* A blank last line. */
    spit(f->path, good, len);
    spit_append(f->path, "\n", 1);
    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_ERR_AUDIT_BROKEN);
    assert_broken_at(verify(f->path), 3, "malformed line");

    /* First record that does not start from zeros. */
    char body[256];
    snprintf(body, sizeof body, "{\"prev\":\"%.63s1\",\"seq\":1,\"time\":5,\"type\":\"x\"}",
             zeros);
    n = make_line(line, sizeof line, body);
    spit(f->path, line, n);
    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_ERR_AUDIT_BROKEN);
    assert_broken_at(verify(f->path), 1, "prev does not chain");

    /* An overlong last line with a newline. */
    char *big = malloc(SG_AUDIT_MAX_RECORD + 2);
    assert_non_null(big);
    memset(big, 'a', SG_AUDIT_MAX_RECORD + 1);
    big[SG_AUDIT_MAX_RECORD + 1] = '\n';
    spit(f->path, good, len);
    spit_append(f->path, big, SG_AUDIT_MAX_RECORD + 2);
    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_ERR_AUDIT_BROKEN);
    assert_broken_at(verify(f->path), 3, "too long");
    free(big);

    assert_null(a);
    spit(f->path, good, len);
    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_OK);
    sg_audit_close(&a);
    free(good);
}

/* Hand-made bodies: '@' stands for 64 zeros, '#' for 63. */
static void expand(char *out, size_t cap, const char *tmpl)
{
    size_t o = 0;
    for (const char *t = tmpl; *t != '\0'; t++) {
        size_t n = *t == '@' ? 64 : *t == '#' ? 63 : 1;
        assert_true(o + n < cap);
        if (n == 1)
            out[o] = *t;
        else
            memcpy(out + o, zeros, n);
        o += n;
    }
    out[o] = '\0';
}

static void test_hostile_records(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        const char *reason;
    } cases[] = {
        {"{\"prev\":\"@\",\"seq\":1,\"seq\":1,\"time\":5,\"type\":\"x\"}", "duplicate member"},
        {"{\"prev\":\"@\",\"seq\":1,\"time\":5,\"type\":\"x\\u0000y\"}", "invalid JSON"},
        {"{\"a\":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]],\"prev\":\"@\",\"seq\":1,\"time\":5,\"type\":\"x\"}",
         "nested too deep"},
        {"{\"prev\":\"@\",\"seq\":\"1\",\"time\":5,\"type\":\"x\"}", "\"seq\""},
        {"{\"prev\":\"@\",\"seq\":0,\"time\":5,\"type\":\"x\"}", "\"seq\""},
        {"{\"prev\":\"@\",\"seq\":1,\"time\":5.5,\"type\":\"x\"}", "\"time\""},
        {"{\"prev\":\"@\",\"seq\":1,\"type\":\"x\"}", "\"time\""},
        {"{\"prev\":\"@\",\"seq\":1,\"time\":5,\"type\":\"\"}", "\"type\""},
        {"{\"prev\":\"@\",\"seq\":1,\"time\":5,\"type\":7}", "\"type\""},
        {"{\"prev\":\"#\",\"seq\":1,\"time\":5,\"type\":\"x\"}", "\"prev\""},
        {"{\"prev\":\"#A\",\"seq\":1,\"time\":5,\"type\":\"x\"}", "\"prev\""},
        {"{\"prev\":\"@\",\"seq\":1,\"time\":5,\"type\":\"x\"} x", "invalid JSON"},
        {"{\"prev\":\"@\",\"seq\":99999999999999999999,\"time\":5,\"type\":\"x\"}",
         "invalid JSON"},
        {"{\"prev\":\"@\",\"seq\":2,\"time\":5,\"type\":\"x\"}", "seq 2 where 1 belongs"},
    };
    char body[512], line[640];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        expand(body, sizeof body, cases[i].body);
        size_t n = make_line(line, sizeof line, body);
        assert_broken_at(verify_mem(line, n), 1, cases[i].reason);
    }
    /* The same record is fine with a well-formed body ... */
    snprintf(body, sizeof body, "{\"prev\":\"%s\",\"seq\":1,\"time\":-5,\"type\":\"x\"}", zeros);
    size_t n = make_line(line, sizeof line, body);
    struct verdict v = verify_mem(line, n);
    assert_int_equal(v.err, SIGNET_OK);
    assert_int_equal(v.records, 1);
    /* ... but not with its hash in upper case, nor with a CR before the newline. */
    for (size_t i = 0; i < 64; i++)
        if (line[i] >= 'a' && line[i] <= 'f')
            line[i] = (char)(line[i] - 'a' + 'A');
    assert_broken_at(verify_mem(line, n), 1, "hash mismatch");
    n = make_line(line, sizeof line, body);
    line[n - 1] = '\r';
    line[n++] = '\n';
    assert_broken_at(verify_mem(line, n), 1, "hash mismatch");
    assert_broken_at(verify_mem("\n", 1), 1, "malformed line");
    assert_broken_at(verify_mem("x", 1), 1, "torn");
    v = verify_mem("", 0);
    assert_int_equal(v.err, SIGNET_OK);
    assert_int_equal(v.records, 0);
}

static void test_append_rejects_bad_input(void **state)
{
    struct fx *f = *state;
    struct sg_audit *a = NULL;
    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_OK);

    json_t *fields = json_pack("{s:i}", "seq", 7);
    assert_int_equal(sg_audit_append(a, 1, "sign", fields), SIGNET_ERR_INVALID_ARG);
    json_decref(fields);
    fields = json_pack("{s:s}", "prev", zeros);
    assert_int_equal(sg_audit_append(a, 1, "sign", fields), SIGNET_ERR_INVALID_ARG);
    json_decref(fields);
    fields = json_pack("[i]", 1);
    assert_int_equal(sg_audit_append(a, 1, "sign", fields), SIGNET_ERR_INVALID_ARG);
    json_decref(fields);
    assert_int_equal(sg_audit_append(a, 1, NULL, NULL), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_audit_append(a, 1, "", NULL), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_audit_append(a, 1, "bad\xff", NULL), SIGNET_ERR_INVALID_ARG);
    fields = json_object();
    assert_int_equal(json_object_set_new(fields, "x", json_stringn_nocheck("\xc3(", 2)), 0);
    assert_int_not_equal(sg_audit_append(a, 1, "sign", fields), SIGNET_OK);
    json_decref(fields);

    /* Too big for one record. */
    char *big = malloc(SG_AUDIT_MAX_RECORD);
    assert_non_null(big);
    memset(big, 'b', SG_AUDIT_MAX_RECORD - 1);
    big[SG_AUDIT_MAX_RECORD - 1] = '\0';
    fields = json_pack("{s:s}", "blob", big);
    assert_int_equal(sg_audit_append(a, 1, "sign", fields), SIGNET_ERR_TOO_LARGE);
    json_decref(fields);
    free(big);
    assert_int_equal(sg_audit_staged(a), 0);

    /* A NUL inside a value would not read back (no JSON_ALLOW_NUL): refused. */
    fields = json_pack("{s:s%}", "nul", "a\0b", (size_t)3);
    assert_non_null(fields);
    assert_int_equal(sg_audit_append(a, 1, "note", fields), SIGNET_ERR_INVALID_ARG);
    json_decref(fields);
    assert_int_equal(sg_audit_staged(a), 0);

    /* Newlines, quotes and control bytes inside values stay on one line. */
    fields = json_pack("{s:s, s:s}", "nasty", "a\nb\x01c\"\r\n\u2028", "k\n", "v\n");
    assert_non_null(fields);
    assert_int_equal(sg_audit_append(a, -1, "note", fields), SIGNET_OK);
    json_decref(fields);
    assert_int_equal(sg_audit_append(a, 2, "note", NULL), SIGNET_OK);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK);
    sg_audit_close(&a);
    assert_intact(f->path, 2);
}

/* A failed key transition undoes only its own records; signatures staged
 * before it in the same batch stay; drops tell a batch it lost records. */
static void test_mark_rollback_and_drops(void **state)
{
    struct fx *f = *state;
    struct sg_audit *a = NULL;
    struct sg_audit_mark m;
    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_OK);
    assert_int_equal(append_sign(a, 1), SIGNET_OK);
    assert_int_equal(append_sign(a, 2), SIGNET_OK);
    sg_audit_mark(a, &m);
    assert_int_equal(sg_audit_append(a, 3, "key_activated", NULL), SIGNET_OK);
    assert_int_equal(sg_audit_append(a, 3, "key_retired", NULL), SIGNET_OK);
    sg_audit_rollback(a, &m);
    assert_int_equal(sg_audit_staged(a), 2);
    sg_audit_rollback(a, &m); /* twice is harmless */
    assert_int_equal(sg_audit_staged(a), 2);
    assert_int_equal(append_sign(a, 3), SIGNET_OK);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK);
    assert_int_equal(sg_audit_last_seq(a), 3);
    assert_int_equal(sg_audit_drops(a), 0);

    /* After a commit the mark is stale: nothing to undo, nothing dropped. */
    sg_audit_mark(a, &m);
    assert_int_equal(sg_audit_append(a, 4, "key_activated", NULL), SIGNET_OK);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK);
    assert_int_equal(append_sign(a, 5), SIGNET_OK);
    sg_audit_rollback(a, &m);
    assert_int_equal(sg_audit_staged(a), 1);
    assert_int_equal(sg_audit_last_seq(a), 4);

    /* Drops count lost records, not empty discards or good commits. */
    sg_audit_discard(a);
    assert_int_equal(sg_audit_drops(a), 1);
    sg_audit_discard(a);
    assert_int_equal(sg_audit_drops(a), 1);
    assert_int_equal(append_sign(a, 5), SIGNET_OK);
    sg_audit_test_fail_writes(a, true);
    assert_int_equal(sg_audit_commit(a), SIGNET_ERR_AUDIT);
    assert_int_equal(sg_audit_drops(a), 2);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK); /* nothing left to write */
    assert_int_equal(sg_audit_drops(a), 2);
    sg_audit_test_fail_writes(a, false);
    sg_audit_close(&a);
    assert_intact(f->path, 4);
}

static void test_commit_failure_hook(void **state)
{
    struct fx *f = *state;
    struct sg_audit *a = NULL;
    write_log(f->path, 3);
    size_t len = 0;
    unsigned char *before = slurp(f->path, &len);

    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_OK);
    for (uint64_t i = 4; i <= 8; i++)
        assert_int_equal(append_sign(a, i), SIGNET_OK);
    sg_audit_test_fail_writes(a, true);
    assert_int_equal(sg_audit_commit(a), SIGNET_ERR_AUDIT);
    assert_int_equal(sg_audit_staged(a), 0);
    assert_int_equal(sg_audit_last_seq(a), 3);
    size_t now = 0;
    unsigned char *after = slurp(f->path, &now);
    assert_int_equal(now, len);
    assert_memory_equal(after, before, len);
    free(after);
    assert_intact(f->path, 3);

    /* Still failing: still nothing visible. */
    assert_int_equal(append_sign(a, 4), SIGNET_OK);
    assert_int_equal(sg_audit_commit(a), SIGNET_ERR_AUDIT);
    assert_intact(f->path, 3);

    /* The disk recovers: the same handle continues the chain from seq 3. */
    sg_audit_test_fail_writes(a, false);
    assert_int_equal(append_sign(a, 4), SIGNET_OK);
    assert_int_equal(append_sign(a, 5), SIGNET_OK);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK);
    assert_int_equal(sg_audit_last_seq(a), 5);
    sg_audit_close(&a);
    assert_intact(f->path, 5);
    after = slurp(f->path, &now);
    assert_memory_equal(after, before, len);
    free(after);
    free(before);
}

/* In a child: cap the file size a little above the current length, so the
 * commit's write is cut short and then fails with EFBIG for real. Exit codes
 * say which step went wrong. */
static int efbig_child(const char *path, off_t limit, bool then_recover)
{
    struct sg_audit *a = NULL;
    struct rlimit rl;
    if (signal(SIGXFSZ, SIG_IGN) == SIG_ERR || getrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 10;
    rlim_t old = rl.rlim_cur;
    rl.rlim_cur = (rlim_t)limit;
    if (sg_audit_open(path, &a) != SIGNET_OK)
        return 11;
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 12;
    for (uint64_t i = 1; i <= 20; i++)
        if (append_sign(a, sg_audit_last_seq(a) + i) != SIGNET_OK)
            return 13;
    if (sg_audit_commit(a) != SIGNET_ERR_AUDIT)
        return 14;
    if (sg_audit_last_seq(a) != 3 || sg_audit_staged(a) != 0)
        return 15;
    if (then_recover) {
        rl.rlim_cur = old;
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            return 16;
        for (uint64_t i = 4; i <= 5; i++)
            if (append_sign(a, i) != SIGNET_OK)
                return 17;
        if (sg_audit_commit(a) != SIGNET_OK || sg_audit_last_seq(a) != 5)
            return 18;
    }
    sg_audit_close(&a);
    return 0;
}

static void run_efbig_child(const char *path, off_t limit, bool then_recover)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(efbig_child(path, limit, then_recover));
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_commit_failure_efbig(void **state)
{
    struct fx *f = *state;
    write_log(f->path, 3);
    size_t len = 0;
    unsigned char *before = slurp(f->path, &len);

    run_efbig_child(f->path, (off_t)len + 100, false);
    size_t now = 0;
    unsigned char *after = slurp(f->path, &now);
    assert_int_equal(now, len);
    assert_memory_equal(after, before, len);
    free(after);
    assert_intact(f->path, 3);

    /* Not even a byte of room. */
    run_efbig_child(f->path, (off_t)len, false);
    assert_intact(f->path, 3);

    run_efbig_child(f->path, (off_t)len + 100, true);
    after = slurp(f->path, &now);
    assert_true(now > len);
    assert_memory_equal(after, before, len);
    free(after);
    assert_intact(f->path, 5);
    free(before);
}

static void test_group_commit(void **state)
{
    struct fx *f = *state;
    struct sg_audit *a = NULL;
    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_OK);
    for (uint64_t i = 1; i <= 1000; i++)
        assert_int_equal(append_sign(a, i), SIGNET_OK);
    assert_int_equal(sg_audit_staged(a), 1000);
    assert_int_equal(sg_audit_syncs(a), 0);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK);
    assert_int_equal(sg_audit_syncs(a), 1);
    assert_int_equal(sg_audit_last_seq(a), 1000);

    /* Staging is bounded: past the cap, append refuses and keeps the rest. */
    char *blob = malloc(12000);
    assert_non_null(blob);
    memset(blob, 'z', 11999);
    blob[11999] = '\0';
    json_t *fields = json_pack("{s:s}", "blob", blob);
    signet_err err = SIGNET_OK;
    size_t staged = 0;
    while ((err = sg_audit_append(a, 1, "bulk", fields)) == SIGNET_OK)
        staged++;
    assert_int_equal(err, SIGNET_ERR_TOO_LARGE);
    assert_int_equal(sg_audit_staged(a), staged);
    assert_true(staged * 12000 <= SG_AUDIT_MAX_STAGED);
    assert_true(staged > 1000);
    json_decref(fields);
    free(blob);
    sg_audit_discard(a);
    assert_int_equal(append_sign(a, 1001), SIGNET_OK);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK);
    assert_int_equal(sg_audit_syncs(a), 2);
    sg_audit_close(&a);
    assert_intact(f->path, 1001);

    uint64_t count = 0;
    assert_int_equal(sg_audit_count_type(f->path, "sign", &count), SIGNET_OK);
    assert_int_equal(count, 1001);
    assert_int_equal(sg_audit_count_type(f->path, "bulk", &count), SIGNET_OK);
    assert_int_equal(count, 0);
}

static void test_count_type(void **state)
{
    struct fx *f = *state;
    struct sg_audit *a = NULL;
    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_OK);
    assert_int_equal(sg_audit_append(a, 1, "key_generated", NULL), SIGNET_OK);
    assert_int_equal(append_sign(a, 2), SIGNET_OK);
    assert_int_equal(append_sign(a, 3), SIGNET_OK);
    assert_int_equal(sg_audit_append(a, 4, "sign_x", NULL), SIGNET_OK);
    assert_int_equal(sg_audit_append(a, 5, "sig", NULL), SIGNET_OK);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK);
    sg_audit_close(&a);
    uint64_t count = 99;
    assert_int_equal(sg_audit_count_type(f->path, "sign", &count), SIGNET_OK);
    assert_int_equal(count, 2);
    assert_int_equal(sg_audit_count_type(f->path, "key_generated", &count), SIGNET_OK);
    assert_int_equal(count, 1);
    spit_append(f->path, "x\n", 2);
    count = 99;
    assert_int_equal(sg_audit_count_type(f->path, "sign", &count), SIGNET_ERR_AUDIT_BROKEN);
    assert_int_equal(count, 99);
    char missing[320];
    snprintf(missing, sizeof missing, "%s/none.log", f->dir);
    assert_int_equal(sg_audit_count_type(missing, "sign", &count), SIGNET_ERR_NOT_FOUND);
}

static void test_open_refuses(void **state)
{
    struct fx *f = *state;
    struct sg_audit *a = NULL, *b = NULL;
    char p[400];

    /* A symlink, even to a good log. */
    write_log(f->path, 1);
    snprintf(p, sizeof p, "%s/link.log", f->dir);
    assert_int_equal(symlink(f->path, p), 0);
    assert_int_equal(sg_audit_open(p, &a), SIGNET_ERR_PERMISSION);
    assert_null(a);
    /* A directory, a missing directory, a FIFO. */
    assert_int_not_equal(sg_audit_open(f->dir, &a), SIGNET_OK);
    snprintf(p, sizeof p, "%s/nodir/audit.log", f->dir);
    assert_int_equal(sg_audit_open(p, &a), SIGNET_ERR_NOT_FOUND);
    snprintf(p, sizeof p, "%s/fifo", f->dir);
    assert_int_equal(mkfifo(p, 0600), 0);
    assert_int_equal(sg_audit_open(p, &a), SIGNET_ERR_PERMISSION);
    /* A log others may write. */
    snprintf(p, sizeof p, "%s/shared.log", f->dir);
    spit(p, "", 0);
    assert_int_equal(chmod(p, 0666), 0);
    assert_int_equal(sg_audit_open(p, &a), SIGNET_ERR_PERMISSION);
    assert_int_equal(sg_audit_open("", &a), SIGNET_ERR_INVALID_ARG);
    assert_null(a);

    /* A second appender is welcome (the daemon's signer and a CLI command's). */
    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_OK);
    assert_int_equal(sg_audit_open(f->path, &b), SIGNET_OK);
    assert_int_equal(append_sign(b, 2), SIGNET_OK);
    assert_int_equal(sg_audit_commit(b), SIGNET_OK);
    sg_audit_close(&b);
    sg_audit_close(&a);
    assert_intact(f->path, 2);

    /* A file in a place that takes no writes: either open refuses or the
     * first commit fails, and nothing is signed on top of it. */
    signet_err err = sg_audit_open("/proc/version", &a);
    if (err == SIGNET_OK) {
        assert_int_equal(append_sign(a, 1), SIGNET_OK);
        assert_int_equal(sg_audit_commit(a), SIGNET_ERR_AUDIT);
        assert_int_equal(sg_audit_last_seq(a), 0);
        sg_audit_close(&a);
    }
}

/* ---- several writers ------------------------------------------------------------ */

/* xorshift64: reproducible batch sizes from a fixed seed. */
static uint64_t next_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* The bodies of every record, in order (the file must verify first). */
static json_t *load_bodies(const char *path)
{
    size_t len = 0;
    unsigned char *buf = slurp(path, &len);
    json_t *all = json_array();
    assert_non_null(all);
    size_t start = 0;
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\n') {
            json_error_t jerr;
            json_t *rec = json_loadb((const char *)buf + start + 65, i - start - 65, 0, &jerr);
            assert_non_null(rec);
            assert_int_equal(json_array_append_new(all, rec), 0);
            start = i + 1;
        }
    free(buf);
    return all;
}

static const char *body_str(const json_t *all, size_t seq, const char *key)
{
    const json_t *v = json_object_get(json_array_get(all, seq - 1), key);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

static void test_rechain_after_other_writer(void **state)
{
    struct fx *f = *state;
    struct sg_audit *a = NULL, *b = NULL;
    write_log(f->path, 2);
    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_OK);
    assert_int_equal(sg_audit_open(f->path, &b), SIGNET_OK);

    /* a stages seqs 3-5, b commits 3-6 first: a's become 7-9. */
    for (uint64_t i = 100; i < 103; i++)
        assert_int_equal(append_sign(a, i), SIGNET_OK);
    for (uint64_t i = 200; i < 204; i++)
        assert_int_equal(append_sign(b, i), SIGNET_OK);
    assert_int_equal(sg_audit_commit(b), SIGNET_OK);
    assert_int_equal(sg_audit_last_seq(b), 6);
    assert_int_equal(sg_audit_last_seq(a), 2); /* what a last knew */
    assert_int_equal(sg_audit_commit(a), SIGNET_OK);
    assert_int_equal(sg_audit_last_seq(a), 9);
    assert_int_equal(sg_audit_syncs(a), 1);
    assert_int_equal(sg_audit_drops(a), 0);
    assert_intact(f->path, 9);
    json_t *all = load_bodies(f->path);
    assert_string_equal(body_str(all, 3, "jti"), "jti-200");
    assert_string_equal(body_str(all, 6, "jti"), "jti-203");
    assert_string_equal(body_str(all, 7, "jti"), "jti-100");
    assert_string_equal(body_str(all, 9, "jti"), "jti-102");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(all, 8), "time")),
                     1700000102);
    json_decref(all);

    /* Now b is the stale one; and each continues after the other. */
    assert_int_equal(append_sign(b, 300), SIGNET_OK);
    assert_int_equal(sg_audit_commit(b), SIGNET_OK);
    assert_int_equal(sg_audit_last_seq(b), 10);
    assert_int_equal(append_sign(a, 301), SIGNET_OK);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK);
    assert_int_equal(sg_audit_last_seq(a), 11);
    /* The common case: nobody else wrote, no re-chaining needed. */
    assert_int_equal(append_sign(a, 302), SIGNET_OK);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK);
    assert_int_equal(sg_audit_last_seq(a), 12);
    sg_audit_close(&a);
    sg_audit_close(&b);
    assert_intact(f->path, 12);

    /* A reopened handle and an old one agree. */
    write_log(f->path, 3);
    assert_intact(f->path, 15);
}

/* Re-chaining rebuilds bodies: every field comes through unchanged, seqs grow
 * a digit, and a mark taken before the other writer committed still undoes
 * exactly its own records. */
static void test_rechain_keeps_fields_and_marks(void **state)
{
    struct fx *f = *state;
    struct sg_audit *a = NULL, *b = NULL;
    struct sg_audit_mark m;
    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_OK);
    assert_int_equal(sg_audit_open(f->path, &b), SIGNET_OK);

    json_t *fields = json_pack("{s:s, s:f, s:I, s:{s:[i,b,n]}, s:s}", "nasty",
                               "a\nb\x01c\"\\/\u00e9\u2028", "ratio", 0.1, "big",
                               (json_int_t)INT64_MIN, "nested", "list", 1, 1, "kid", "k-1");
    assert_non_null(fields);
    assert_int_equal(sg_audit_append(a, 7, "note", fields), SIGNET_OK);
    sg_audit_mark(a, &m);
    assert_int_equal(sg_audit_append(a, 8, "key_activated", NULL), SIGNET_OK);
    assert_int_equal(sg_audit_append(a, 8, "key_retired", NULL), SIGNET_OK);
    /* Meanwhile another writer takes seqs 1-9. */
    for (uint64_t i = 1; i <= 9; i++)
        assert_int_equal(append_sign(b, i), SIGNET_OK);
    assert_int_equal(sg_audit_commit(b), SIGNET_OK);
    sg_audit_rollback(a, &m);
    assert_int_equal(sg_audit_staged(a), 1);
    assert_int_equal(sg_audit_append(a, 9, "sign_refused", NULL), SIGNET_OK);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK);
    assert_int_equal(sg_audit_last_seq(a), 11);
    sg_audit_rollback(a, &m); /* spent: nothing happens */
    assert_int_equal(sg_audit_staged(a), 0);
    sg_audit_close(&a);
    sg_audit_close(&b);
    assert_intact(f->path, 11);

    json_t *all = load_bodies(f->path);
    json_t *rec = json_array_get(all, 9);
    assert_int_equal(json_integer_value(json_object_get(rec, "seq")), 10);
    assert_int_equal(json_integer_value(json_object_get(rec, "time")), 7);
    assert_string_equal(json_string_value(json_object_get(rec, "type")), "note");
    const char *key = NULL;
    json_t *value = NULL;
    json_object_foreach(fields, key, value)
    {
        if (!json_equal(json_object_get(rec, key), value))
            fail_msg("field %s changed by re-chaining", key);
    }
    assert_int_equal(json_object_size(rec), json_object_size(fields) + 4);
    assert_string_equal(body_str(all, 11, "type"), "sign_refused");
    json_decref(all);
    json_decref(fields);
    uint64_t n = 0;
    assert_int_equal(sg_audit_count_type(f->path, "key_activated", &n), SIGNET_OK);
    assert_int_equal(n, 0);
}

static void assert_commit_broken_untouched(struct sg_audit *a, const char *path)
{
    size_t len = 0, now = 0;
    unsigned char *before = slurp(path, &len);
    uint64_t seq = sg_audit_last_seq(a), drops = sg_audit_drops(a);
    assert_int_equal(append_sign(a, 50), SIGNET_OK);
    assert_int_equal(sg_audit_commit(a), SIGNET_ERR_AUDIT_BROKEN);
    assert_int_equal(sg_audit_staged(a), 0);
    assert_int_equal(sg_audit_drops(a), drops + 1);
    assert_int_equal(sg_audit_last_seq(a), seq);
    unsigned char *after = slurp(path, &now);
    assert_int_equal(now, len);
    assert_memory_equal(after, before, len);
    free(after);
    free(before);
}

static void test_shrunk_or_damaged_behind_back(void **state)
{
    struct fx *f = *state;
    struct sg_audit *a = NULL;
    write_log(f->path, 5);
    size_t len = 0;
    unsigned char *good = slurp(f->path, &len);
    struct lines l;
    split_lines(good, len, &l);
    size_t three = l.len[0] + l.len[1] + l.len[2];

    /* Cut to three records behind the handle's back: refused, every time. */
    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_OK);
    assert_int_equal(truncate(f->path, (off_t)three), 0);
    assert_commit_broken_untouched(a, f->path);
    assert_commit_broken_untouched(a, f->path);
    sg_audit_close(&a);
    assert_intact(f->path, 3);

    /* Grown, but the new last line is garbage, or a damaged record. */
    spit(f->path, good, three);
    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_OK);
    spit_append(f->path, "garbage\n", 8);
    assert_commit_broken_untouched(a, f->path);
    spit(f->path, good, len);
    unsigned char *bad = malloc(len);
    assert_non_null(bad);
    memcpy(bad, good, len);
    bad[len - 20] ^= 1;
    spit(f->path, bad, len);
    assert_commit_broken_untouched(a, f->path);

    /* Grown by a well-formed record that does not move the chain forward:
     * the handle's own last record again. */
    spit(f->path, good, three);
    spit_append(f->path, l.p[2], l.len[2]);
    assert_commit_broken_untouched(a, f->path);
    sg_audit_close(&a);

    /* Replaced by a longer log of equal seq: the last record is a stranger. */
    spit(f->path, good, three);
    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_OK);
    char other[320];
    snprintf(other, sizeof other, "%s/other.log", f->dir);
    struct sg_audit *o = NULL;
    assert_int_equal(sg_audit_open(other, &o), SIGNET_OK);
    char padding[400];
    memset(padding, 'x', sizeof padding - 1);
    padding[sizeof padding - 1] = '\0';
    json_t *pad = json_pack("{s:s}", "pad", padding);
    for (int i = 0; i < 3; i++)
        assert_int_equal(sg_audit_append(o, 1, "other", pad), SIGNET_OK);
    json_decref(pad);
    assert_int_equal(sg_audit_commit(o), SIGNET_OK);
    sg_audit_close(&o);
    size_t olen = 0;
    unsigned char *obuf = slurp(other, &olen);
    assert_true(olen > three);
    spit(f->path, obuf, olen);
    assert_commit_broken_untouched(a, f->path);
    sg_audit_close(&a);
    free(obuf);
    free(bad);
    free(good);
}

/* A writer that died mid-write left a torn line: the next commit, like the
 * next open, cuts it and chains on. */
static void test_dead_writers_torn_line(void **state)
{
    struct fx *f = *state;
    struct sg_audit *a = NULL, *b = NULL;
    write_log(f->path, 3);
    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_OK);
    assert_int_equal(sg_audit_open(f->path, &b), SIGNET_OK);
    spit_append(f->path, "0123abc {\"seq\"", 15);
    assert_int_equal(append_sign(a, 4), SIGNET_OK);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK);
    assert_int_equal(sg_audit_last_seq(a), 4);
    assert_intact(f->path, 4);

    /* Another writer appended, then one died: b re-chains after both. */
    spit_append(f->path, "f00", 3);
    assert_int_equal(append_sign(b, 5), SIGNET_OK);
    assert_int_equal(sg_audit_commit(b), SIGNET_OK);
    assert_int_equal(sg_audit_last_seq(b), 5);
    assert_intact(f->path, 5);
    sg_audit_close(&a);
    sg_audit_close(&b);
}

/* Re-chaining rewrites each staged line's own top-level "seq" and "prev"
 * in place: members of the same names nested in a caller's fields, keys
 * that sort around them, escapes and a seq that grows a digit must all come
 * out as a chain the verifier accepts, with the caller's fields untouched. */
static void test_rechain_splice_nested(void **state)
{
    struct fx *f = *state;
    struct sg_audit *a = NULL, *b = NULL;
    write_log(f->path, 5);
    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_OK);
    assert_int_equal(sg_audit_open(f->path, &b), SIGNET_OK);
    for (int i = 0; i < 3; i++) {
        json_t *fields = json_pack(
            "{s:{s:s, s:i}, s:[s, {s:s}], s:s, s:s}", "a", "prev", zeros, "seq", 6 + i, "list",
            "\"seq\":6,\"prev\":\"", "prev", "x", "pre", "q\"}\\", "zz", "\\\"prev\\\":");
        assert_non_null(fields);
        assert_int_equal(sg_audit_append(a, 1, "nested", fields), SIGNET_OK);
        json_decref(fields);
    }
    /* b takes seq 6..10 first: a's lines become 11..13 (one digit more). */
    for (uint64_t i = 6; i <= 10; i++)
        assert_int_equal(append_sign(b, i), SIGNET_OK);
    assert_int_equal(sg_audit_commit(b), SIGNET_OK);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK);
    assert_int_equal(sg_audit_last_seq(a), 13);
    sg_audit_close(&a);
    sg_audit_close(&b);
    assert_intact(f->path, 13);
    /* The caller's nested members kept their values. */
    size_t len = 0;
    unsigned char *all = slurp(f->path, &len);
    char *last = (char *)all;
    for (char *nl = memchr(all, '\n', len); nl != NULL && nl + 1 < (char *)all + len;
         nl = memchr(nl + 1, '\n', (size_t)((char *)all + len - nl - 1)))
        last = nl + 1;
    json_error_t jerr;
    json_t *rec = json_loads(last + SG_AUDIT_HASH_HEX + 1, JSON_DISABLE_EOF_CHECK, &jerr);
    assert_non_null(rec);
    assert_int_equal(json_integer_value(json_object_get(rec, "seq")), 13);
    assert_string_equal(json_string_value(json_object_get(json_object_get(rec, "a"), "prev")),
                        zeros);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(rec, "a"), "seq")), 8);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(rec, "list"), 1), "prev")), "x");
    assert_string_equal(json_string_value(json_object_get(rec, "pre")), "q\"}\\");
    json_decref(rec);
    free(all);
}

/* Off-by-one at the limits: the biggest record append takes still fits when
 * re-chaining gives it a longer seq; re-chaining past INT64_MAX fails the
 * commit and leaves the file as it was. */
static void test_rechain_limits(void **state)
{
    struct fx *f = *state;
    struct sg_audit *a = NULL, *b = NULL;
    char line[512], body[256];

    /* Records 1-8, then a's record 9 of the largest size becomes 10. */
    write_log(f->path, 8);
    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_OK);
    assert_int_equal(sg_audit_open(f->path, &b), SIGNET_OK);
    size_t blob_len = SG_AUDIT_MAX_RECORD;
    char *blob = malloc(blob_len + 1);
    assert_non_null(blob);
    signet_err err = SIGNET_ERR_TOO_LARGE;
    while (err == SIGNET_ERR_TOO_LARGE && blob_len > 0) {
        blob_len--;
        memset(blob, 'q', blob_len);
        blob[blob_len] = '\0';
        json_t *fields = json_pack("{s:s}", "blob", blob);
        err = sg_audit_append(a, 1, "x", fields);
        json_decref(fields);
    }
    assert_int_equal(err, SIGNET_OK);
    /* {"blob":"...","prev":"<64>","seq":9,"time":1,"type":"x"}: 18 digits spare. */
    static const char frame[] = "{\"blob\":\"\",\"prev\":\"\",\"seq\":9,\"time\":1,\"type\":\"x\"}";
    size_t body_len = blob_len + strlen(frame) + SG_AUDIT_HASH_HEX;
    assert_int_equal(body_len + 18 + 66, SG_AUDIT_MAX_RECORD);
    free(blob);
    assert_int_equal(append_sign(b, 9), SIGNET_OK);
    assert_int_equal(sg_audit_commit(b), SIGNET_OK);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK);
    assert_int_equal(sg_audit_last_seq(a), 10);
    sg_audit_close(&a);
    sg_audit_close(&b);
    assert_intact(f->path, 10);

    /* A log whose tail is at INT64_MAX - 1 (open reads only the tail). */
    snprintf(body, sizeof body, "{\"prev\":\"%s\",\"seq\":%lld,\"time\":1,\"type\":\"x\"}", zeros,
             (long long)(INT64_MAX - 1));
    size_t n = make_line(line, sizeof line, body);
    spit(f->path, line, n);
    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_OK);
    assert_int_equal(sg_audit_open(f->path, &b), SIGNET_OK);
    assert_int_equal(sg_audit_append(a, 1, "x", NULL), SIGNET_OK);
    assert_int_equal(sg_audit_append(a, 1, "x", NULL), SIGNET_ERR_TOO_LARGE);
    assert_int_equal(sg_audit_append(b, 1, "x", NULL), SIGNET_OK);
    assert_int_equal(sg_audit_commit(b), SIGNET_OK);
    assert_int_equal(sg_audit_last_seq(b), (uint64_t)INT64_MAX);
    size_t len = 0, now = 0;
    unsigned char *before = slurp(f->path, &len);
    assert_int_equal(sg_audit_commit(a), SIGNET_ERR_AUDIT);
    assert_int_equal(sg_audit_drops(a), 1);
    assert_int_equal(sg_audit_last_seq(a), (uint64_t)INT64_MAX);
    unsigned char *after = slurp(f->path, &now);
    assert_int_equal(now, len);
    assert_memory_equal(after, before, len);
    free(after);
    free(before);
    sg_audit_close(&a);
    sg_audit_close(&b);
}

/* Two handles on one file, staging and committing interleaved in every order
 * (batch sizes 0-7; seqs cross 10, 100 and 1000). */
static void test_two_handles_interleaved(void **state)
{
    struct fx *f = *state;
    struct sg_audit *h[2] = {NULL, NULL};
    static const char *const types[2] = {"from_a", "from_b"};
    uint64_t x = 0x9e3779b97f4a7c15u, total = 0, per[2] = {0, 0};
    assert_int_equal(sg_audit_open(f->path, &h[0]), SIGNET_OK);
    assert_int_equal(sg_audit_open(f->path, &h[1]), SIGNET_OK);
    for (int round = 0; round < 200; round++) {
        uint64_t n[2];
        for (size_t k = 0; k < 2; k++) {
            n[k] = next_rand(&x) % 8;
            for (uint64_t i = 0; i < n[k]; i++)
                assert_int_equal(sg_audit_append(h[k], round, types[k], NULL), SIGNET_OK);
        }
        size_t first = (size_t)(next_rand(&x) & 1);
        for (size_t j = 0; j < 2; j++) {
            size_t k = j == 0 ? first : 1 - first;
            assert_int_equal(sg_audit_commit(h[k]), SIGNET_OK);
            total += n[k];
            per[k] += n[k];
            if (n[k] > 0)
                assert_int_equal(sg_audit_last_seq(h[k]), total);
        }
    }
    assert_int_equal(sg_audit_drops(h[0]) + sg_audit_drops(h[1]), 0);
    sg_audit_close(&h[0]);
    sg_audit_close(&h[1]);
    /* verify checks seq n+1 follows n: contiguous, no gaps, no repeats. */
    assert_intact(f->path, total);
    uint64_t count = 0;
    assert_int_equal(sg_audit_count_type(f->path, types[0], &count), SIGNET_OK);
    assert_int_equal(count, per[0]);
    assert_int_equal(sg_audit_count_type(f->path, types[1], &count), SIGNET_OK);
    assert_int_equal(count, per[1]);
    assert_true(total > 1000);
}

#define PROC_RECORDS 500

/* In a child: waits for the start signal, then commits PROC_RECORDS records
 * in batches of 1-16. Exit codes say which step went wrong. */
static int writer_child(const char *path, int start_fd, int id)
{
    struct sg_audit *a = NULL;
    char c = 0;
    uint64_t x = 0x2545f4914f6cdd1du + (uint64_t)id, done = 0, last = 0;
    if (read(start_fd, &c, 1) != 0) /* EOF: the parent let everyone go */
        return 10;
    if (sg_audit_open(path, &a) != SIGNET_OK)
        return 11;
    json_t *fields = json_pack("{s:i}", "writer", id);
    if (fields == NULL)
        return 12;
    while (done < PROC_RECORDS) {
        uint64_t n = 1 + next_rand(&x) % 16;
        if (n > PROC_RECORDS - done)
            n = PROC_RECORDS - done;
        for (uint64_t i = 0; i < n; i++)
            if (sg_audit_append(a, (int64_t)done, id == 0 ? "p0" : "p1", fields) != SIGNET_OK)
                return 13;
        if (sg_audit_commit(a) != SIGNET_OK)
            return 14;
        if (sg_audit_last_seq(a) < last + n)
            return 15;
        last = sg_audit_last_seq(a);
        done += n;
    }
    json_decref(fields);
    if (sg_audit_drops(a) != 0)
        return 16;
    sg_audit_close(&a);
    return 0;
}

static void test_two_processes(void **state)
{
    struct fx *f = *state;
    int start[2];
    pid_t pid[2];
    write_log(f->path, 1);
    assert_int_equal(pipe(start), 0);
    fflush(NULL);
    for (int id = 0; id < 2; id++) {
        pid[id] = fork();
        assert_true(pid[id] >= 0);
        if (pid[id] == 0) {
            (void)close(start[1]);
            _exit(writer_child(f->path, start[0], id));
        }
    }
    (void)close(start[0]);
    (void)close(start[1]); /* both start now */
    for (int id = 0; id < 2; id++) {
        int status = 0;
        assert_int_equal(waitpid(pid[id], &status, 0), pid[id]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_intact(f->path, 1 + 2 * PROC_RECORDS);
    uint64_t count = 0;
    assert_int_equal(sg_audit_count_type(f->path, "p0", &count), SIGNET_OK);
    assert_int_equal(count, PROC_RECORDS);
    assert_int_equal(sg_audit_count_type(f->path, "p1", &count), SIGNET_OK);
    assert_int_equal(count, PROC_RECORDS);
}

/* A commit waits for another writer's lock rather than failing. */
static void test_commit_waits_for_lock(void **state)
{
    struct fx *f = *state;
    struct sg_audit *a = NULL;
    int ready[2];
    struct timespec t0, t1;
    write_log(f->path, 1);
    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_OK);
    assert_int_equal(pipe(ready), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(f->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || flock(fd, LOCK_EX) != 0 || write(ready[1], "x", 1) != 1)
            _exit(1);
        const struct timespec hold = {.tv_sec = 0, .tv_nsec = 300000000};
        (void)nanosleep(&hold, NULL);
        _exit(0);
    }
    char c = 0;
    assert_int_equal(read(ready[0], &c, 1), 1);
    assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &t0), 0);
    assert_int_equal(append_sign(a, 2), SIGNET_OK);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK);
    assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &t1), 0);
    long long waited_ms =
        (long long)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(waited_ms >= 200);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    (void)close(ready[0]);
    (void)close(ready[1]);
    sg_audit_close(&a);
    assert_intact(f->path, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_commit_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_discard_and_close_drop_staged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_bit_flip_caught_at_its_record, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_delete_swap_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_tail_fails_closed, setup, teardown),
        cmocka_unit_test(test_hostile_records),
        cmocka_unit_test_setup_teardown(test_append_rejects_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mark_rollback_and_drops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_failure_hook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_failure_efbig, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_count_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rechain_after_other_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rechain_keeps_fields_and_marks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shrunk_or_damaged_behind_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_writers_torn_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rechain_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rechain_splice_nested, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_handles_interleaved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_processes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_waits_for_lock, setup, teardown),
    };
    /* The bit-flip test provokes thousands of (expected) error logs. */
    sg_log_init("test_audit", (enum sg_log_level)(SG_LOG_ERROR + 1));
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The audit record codec (src/audit/record.c) and the two readers built on
 * it: the full verifier (sg_audit_verify_file) and the monitor's
 * incremental scanner (sg_tm_audit_poll). Logs are written by the real
 * writer, then damaged (a flipped byte anywhere, a deleted line, swapped
 * lines, a duplicate member, a bad hash, an edited record re-hashed, a
 * truncated last line); both readers must give the same verdict at the same
 * record for the same reason. The one intended difference: a torn last line
 * (no newline) is broken for the verifier and not yet read by the scanner. */
#include "testutil.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/record.h"
#include "signer/audit.h"
#include "telemetry/auditscan.h"
#include "util/hex.h"
#include "util/log.h"

#define NOW 1700001000
#define RECORDS 6

struct fx {
    char dir[256];
    char path[320];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (f == NULL || sg_test_mkdtemp(f->dir, sizeof f->dir, "signet-audit-codec") != 0) {
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

static const char zeros[] = "0000000000000000000000000000000000000000000000000000000000000000";

/* ---- files -------------------------------------------------------------------- */

struct log {
    unsigned char *data;
    size_t len;
    size_t off[RECORDS + 1]; /* line i is [off[i], off[i + 1]) */
    size_t n;
};

static void slurp(const char *path, struct log *l)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    l->data = malloc(1 << 20);
    assert_non_null(l->data);
    l->len = fread(l->data, 1, 1 << 20, fp);
    fclose(fp);
    l->n = 0;
    l->off[0] = 0;
    for (size_t i = 0; i < l->len; i++)
        if (l->data[i] == '\n') {
            assert_true(l->n < RECORDS);
            l->off[++l->n] = i + 1;
        }
}

static void spit(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    if (len > 0)
        assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* Writes lines of l in the given order (0-based indexes). */
static void spit_lines(const char *path, const struct log *l, const size_t *order, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    for (size_t i = 0; i < n; i++) {
        size_t k = order[i], len = l->off[k + 1] - l->off[k];
        assert_int_equal(fwrite(l->data + l->off[k], 1, len, fp), len);
    }
    assert_int_equal(fclose(fp), 0);
}

/* The writer's log: a key event, then sign records (full, so the scanner
 * indexes them), then a rotation. */
static void write_log(const char *path)
{
    struct sg_audit *a = NULL;
    assert_int_equal(sg_audit_open(path, &a), SIGNET_OK);
    json_t *k = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "iss", "https://issuer.example/t1",
                          "kid", "k-2026-01");
    assert_non_null(k);
    assert_int_equal(sg_audit_append(a, NOW - 100, "key_generated", k), SIGNET_OK);
    json_decref(k);
    for (int i = 2; i < RECORDS; i++) {
        char jti[16], tok[SG_AUDIT_HASH_HEX + 1];
        uint8_t md[SHA256_DIGEST_LENGTH];
        snprintf(jti, sizeof jti, "jti-%d", i);
        SHA256((const uint8_t *)jti, strlen(jti), md);
        sg_hex_encode(md, sizeof md, tok);
        json_t *s = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "kid", "k-2026-01", "iss",
                              "https://issuer.example/t1", "jti", jti, "token_sha256", tok, "iat",
                              (json_int_t)(NOW - 100 + i), "exp", (json_int_t)(NOW + 500 + i));
        assert_non_null(s);
        assert_int_equal(sg_audit_append(a, NOW - 100 + i, "sign", s), SIGNET_OK);
        json_decref(s);
    }
    assert_int_equal(sg_audit_append(a, NOW, "key_retired", NULL), SIGNET_OK);
    assert_int_equal(sg_audit_commit(a), SIGNET_OK);
    assert_int_equal(sg_audit_last_seq(a), RECORDS);
    sg_audit_close(&a);
}

/* ---- the two readers ---------------------------------------------------------- */

struct verdict {
    signet_err err;
    uint64_t records;   /* good records before the break (or all of them) */
    uint64_t first_bad; /* 0 when intact */
    char why[160];
};

static struct verdict full_verify(const char *path)
{
    struct verdict v;
    memset(&v, 0, sizeof v);
    v.err = sg_audit_verify_file(path, &v.records, &v.first_bad, v.why, sizeof v.why);
    return v;
}

static struct verdict scan(const char *path)
{
    struct verdict v;
    struct sg_tm_audit *a = NULL;
    memset(&v, 0, sizeof v);
    assert_int_equal(sg_tm_audit_new(path, 86400, 600, 1000, &a), SIGNET_OK);
    v.err = sg_tm_audit_poll(a, NOW, NULL, NULL);
    v.records = sg_tm_audit_records(a);
    snprintf(v.why, sizeof v.why, "%s", sg_tm_audit_why(a));
    v.first_bad = v.err == SIGNET_ERR_AUDIT_BROKEN ? v.records + 1 : 0;
    sg_tm_audit_free(&a);
    return v;
}

/* Both readers on path; returns the verifier's verdict once the scanner's
 * agrees with it. */
static struct verdict agree(const char *path)
{
    struct verdict v = full_verify(path), s = scan(path);
    bool torn = v.err == SIGNET_ERR_AUDIT_BROKEN && strstr(v.why, "torn/missing newline") != NULL;
    if (torn) {
        if (s.err != SIGNET_OK || s.records != v.first_bad - 1)
            fail_msg("torn tail: verifier %s at %llu, scanner %s with %llu records (%s)", v.why,
                     (unsigned long long)v.first_bad, signet_err_name(s.err),
                     (unsigned long long)s.records, s.why);
        return v;
    }
    if (v.err != s.err || v.records != s.records || v.first_bad != s.first_bad ||
        strcmp(v.why, s.why) != 0)
        fail_msg("verifier: %s, %llu records, \"%s\"; scanner: %s, %llu records, \"%s\"",
                 signet_err_name(v.err), (unsigned long long)v.records, v.why,
                 signet_err_name(s.err), (unsigned long long)s.records, s.why);
    return v;
}

static void assert_broken_at(struct verdict v, uint64_t rec, const char *reason)
{
    char want[160];
    snprintf(want, sizeof want, "record %llu: %s", (unsigned long long)rec, reason);
    if (v.err != SIGNET_ERR_AUDIT_BROKEN || v.first_bad != rec || strcmp(v.why, want) != 0)
        fail_msg("want \"%s\", got %s at %llu (\"%s\")", want, signet_err_name(v.err),
                 (unsigned long long)v.first_bad, v.why);
}

/* Record k (1-based) of l with its body replaced and hashed again. */
static void rewrite_record(const char *path, const struct log *l, size_t k, const char *body)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    for (size_t i = 0; i < l->n; i++) {
        if (i + 1 != k) {
            size_t len = l->off[i + 1] - l->off[i];
            assert_int_equal(fwrite(l->data + l->off[i], 1, len, fp), len);
            continue;
        }
        char hash[SG_AUDIT_HASH_HEX + 1];
        sg_audit_record_hash((const uint8_t *)body, strlen(body), hash);
        assert_true(fprintf(fp, "%s %s\n", hash, body) > 0);
    }
    assert_int_equal(fclose(fp), 0);
}

/* The body of record k (1-based) as a string. */
static char *body_of(const struct log *l, size_t k)
{
    size_t start = l->off[k - 1] + SG_AUDIT_HASH_HEX + 1, end = l->off[k] - 1;
    char *b = strndup((const char *)l->data + start, end - start);
    assert_non_null(b);
    return b;
}

/* ---- the differential cases ----------------------------------------------------- */

static void test_intact(void **state)
{
    struct fx *f = *state;
    write_log(f->path);
    struct verdict v = agree(f->path);
    assert_int_equal(v.err, SIGNET_OK);
    assert_int_equal(v.records, RECORDS);
    /* An empty log too. */
    spit(f->path, "", 0);
    v = agree(f->path);
    assert_int_equal(v.err, SIGNET_OK);
    assert_int_equal(v.records, 0);
}

/* Every byte of the log flipped in turn (one bit, then a whole byte):
 * never intact, and the same verdict from both readers. */
static void test_flipped_byte(void **state)
{
    struct fx *f = *state;
    struct log l;
    write_log(f->path);
    slurp(f->path, &l);
    assert_int_equal(l.n, RECORDS);
    unsigned char *copy = malloc(l.len);
    assert_non_null(copy);
    for (size_t i = 0; i < l.len; i++) {
        for (int m = 0; m < 2; m++) {
            memcpy(copy, l.data, l.len);
            copy[i] ^= m == 0 ? 0x01 : 0xff;
            spit(f->path, copy, l.len);
            struct verdict v = agree(f->path);
            if (v.err == SIGNET_OK)
                fail_msg("byte %zu flipped (mask %d) still verifies", i, m);
            /* Damage is reported at the record holding the byte (a newline
             * turned into another byte merges two records: the first). */
            size_t rec = 1;
            while (i >= l.off[rec])
                rec++;
            assert_int_equal(v.first_bad, rec);
        }
    }
    free(copy);
    free(l.data);
}

static void test_deleted_line(void **state)
{
    struct fx *f = *state;
    struct log l;
    write_log(f->path);
    slurp(f->path, &l);
    for (size_t del = 0; del < l.n; del++) {
        size_t order[RECORDS], n = 0;
        for (size_t i = 0; i < l.n; i++)
            if (i != del)
                order[n++] = i;
        spit_lines(f->path, &l, order, n);
        struct verdict v = agree(f->path);
        if (del == l.n - 1) { /* the last one: a shorter, intact log */
            assert_int_equal(v.err, SIGNET_OK);
            assert_int_equal(v.records, l.n - 1);
            continue;
        }
        char why[64];
        snprintf(why, sizeof why, "seq %zu where %zu belongs", del + 2, del + 1);
        assert_broken_at(v, del + 1, why);
    }
    free(l.data);
}

static void test_reordered_lines(void **state)
{
    struct fx *f = *state;
    struct log l;
    write_log(f->path);
    slurp(f->path, &l);
    for (size_t k = 0; k + 1 < l.n; k++) {
        size_t order[RECORDS];
        for (size_t i = 0; i < l.n; i++)
            order[i] = i;
        order[k] = k + 1;
        order[k + 1] = k;
        spit_lines(f->path, &l, order, l.n);
        char why[64];
        snprintf(why, sizeof why, "seq %zu where %zu belongs", k + 2, k + 1);
        assert_broken_at(agree(f->path), k + 1, why);
    }
    /* The same line twice. */
    size_t twice[] = {0, 1, 1, 2};
    spit_lines(f->path, &l, twice, 4);
    assert_broken_at(agree(f->path), 3, "seq 2 where 3 belongs");
    free(l.data);
}

/* A record given a duplicate member and hashed again: the body is refused
 * (sg_json_parse), not read with one of the two values. */
static void test_duplicate_member(void **state)
{
    struct fx *f = *state;
    struct log l;
    write_log(f->path);
    slurp(f->path, &l);
    static const char *const dups[] = {"seq", "prev", "type", "kid", "token_sha256"};
    for (size_t d = 0; d < sizeof dups / sizeof dups[0]; d++) {
        char *b = body_of(&l, 3);
        char key[32], body[2048];
        snprintf(key, sizeof key, "\"%s\":", dups[d]);
        char *at = strstr(b, key);
        assert_non_null(at);
        /* {..."kid":"x",...} -> {..."kid":"x","kid":"x",...}: the member repeated. */
        char *end = at + strlen(key);
        end += *end == '"' ? strcspn(end + 1, "\"") + 2 : strcspn(end, ",}");
        snprintf(body, sizeof body, "%.*s,%.*s%s", (int)(end - b), b, (int)(end - at), at, end);
        rewrite_record(f->path, &l, 3, body);
        assert_broken_at(agree(f->path), 3, "duplicate member");
        free(b);
    }
    free(l.data);
}

static void test_bad_hash(void **state)
{
    struct fx *f = *state;
    struct log l;
    write_log(f->path);
    slurp(f->path, &l);
    /* Record 4's hash replaced by record 5's: well-formed, wrong. */
    unsigned char *copy = malloc(l.len);
    assert_non_null(copy);
    memcpy(copy, l.data, l.len);
    memcpy(copy + l.off[3], l.data + l.off[4], SG_AUDIT_HASH_HEX);
    spit(f->path, copy, l.len);
    assert_broken_at(agree(f->path), 4, "hash mismatch");
    /* In upper case: the same hash, not the form the log uses. */
    memcpy(copy, l.data, l.len);
    for (size_t i = l.off[1]; i < l.off[1] + SG_AUDIT_HASH_HEX; i++)
        if (copy[i] >= 'a' && copy[i] <= 'f')
            copy[i] = (unsigned char)(copy[i] - 'a' + 'A');
    spit(f->path, copy, l.len);
    assert_broken_at(agree(f->path), 2, "hash mismatch");
    /* An edited record hashed again: caught by the next one's prev. */
    char *b = body_of(&l, 2);
    char *jti = strstr(b, "jti-2");
    assert_non_null(jti);
    jti[4] = '9';
    rewrite_record(f->path, &l, 2, b);
    assert_broken_at(agree(f->path), 3, "prev does not chain");
    free(b);
    free(copy);
    free(l.data);
}

/* A truncated last line: the verifier calls it torn, the scanner leaves it
 * for later; once the writer has cut it (sg_audit_open), both see the
 * records before it intact. */
static void test_truncated_last_line(void **state)
{
    struct fx *f = *state;
    struct log l;
    write_log(f->path);
    slurp(f->path, &l);
    size_t last = l.off[l.n - 1];
    for (size_t cut = 1; cut < l.len - last; cut += 7) {
        spit(f->path, l.data, l.len - cut);
        struct verdict v = agree(f->path);
        assert_broken_at(v, RECORDS, "torn/missing newline");
    }
    /* Only the newline gone: still torn, though the record is whole. */
    spit(f->path, l.data, l.len - 1);
    assert_broken_at(agree(f->path), RECORDS, "torn/missing newline");
    struct sg_audit *a = NULL;
    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_OK);
    assert_int_equal(sg_audit_last_seq(a), RECORDS - 1);
    sg_audit_close(&a);
    struct verdict v = agree(f->path);
    assert_int_equal(v.err, SIGNET_OK);
    assert_int_equal(v.records, RECORDS - 1);
    free(l.data);
}

/* The scanner polls as the log grows; an edit deep in its history is
 * caught by the periodic full pass, at the same record as the verifier. */
static void test_incremental_then_full(void **state)
{
    struct fx *f = *state;
    struct log l;
    struct sg_tm_audit *s = NULL;
    write_log(f->path);
    slurp(f->path, &l);
    assert_int_equal(sg_tm_audit_new(f->path, 86400, 600, 1000, &s), SIGNET_OK);
    for (size_t k = 1; k <= l.n; k++) {
        spit(f->path, l.data, l.off[k] - 3); /* a line still being written */
        assert_int_equal(sg_tm_audit_poll(s, NOW, NULL, NULL), SIGNET_OK);
        assert_int_equal(sg_tm_audit_records(s), k - 1);
        spit(f->path, l.data, l.off[k]);
        assert_int_equal(sg_tm_audit_poll(s, NOW, NULL, NULL), SIGNET_OK);
        assert_int_equal(sg_tm_audit_records(s), k);
    }
    assert_int_equal(sg_tm_audit_sign_records(s), RECORDS - 2);
    l.data[l.off[1] + 100] ^= 0x20; /* in record 2's body */
    spit(f->path, l.data, l.len);
    sg_tm_audit_force_full(s);
    assert_int_equal(sg_tm_audit_poll(s, NOW, NULL, NULL), SIGNET_ERR_AUDIT_BROKEN);
    struct verdict v = full_verify(f->path);
    assert_broken_at(v, 2, "hash mismatch");
    assert_string_equal(sg_tm_audit_why(s), v.why);
    sg_tm_audit_free(&s);
    free(l.data);
}

/* ---- the codec itself ------------------------------------------------------------ */

/* The writer's bytes are those of the format before the codec existed: the
 * fuzz_audit seed valid_3 was written by the old writer. */
static void test_format_unchanged(void **state)
{
    struct fx *f = *state;
    const char *src = getenv("SIGNET_SOURCE_DIR");
    if (src == NULL)
        skip();
    char golden[512];
    snprintf(golden, sizeof golden, "%s/fuzz/corpus/fuzz_audit/valid_3", src);
    struct log want, got;
    slurp(golden, &want);

    struct sg_audit *a = NULL;
    assert_int_equal(sg_audit_open(f->path, &a), SIGNET_OK);
    json_t *k = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "iss", "https://issuer.example/t1",
                          "kid", "k-2026-01");
    assert_int_equal(sg_audit_append(a, 1700000000, "key_generated", k), SIGNET_OK);
    json_decref(k);
    for (int i = 2; i <= 3; i++) {
        char jti[16], tok[SG_AUDIT_HASH_HEX + 1];
        uint8_t md[SHA256_DIGEST_LENGTH];
        snprintf(jti, sizeof jti, "jti-%d", i);
        SHA256((const uint8_t *)jti, strlen(jti), md);
        sg_hex_encode(md, sizeof md, tok);
        json_t *s = json_pack("{s:s, s:s, s:s, s:s}", "kid", "k-2026-01", "iss",
                              "https://issuer.example/t1", "jti", jti, "token_sha256", tok);
        assert_int_equal(sg_audit_append(a, 1700000000 + i, "sign", s), SIGNET_OK);
        json_decref(s);
    }
    assert_int_equal(sg_audit_commit(a), SIGNET_OK);
    sg_audit_close(&a);
    slurp(f->path, &got);
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.data, want.data, want.len);
    free(got.data);
    free(want.data);
}

static void test_check_and_chain(void **state)
{
    (void)state;
    struct sg_wbuf w;
    char h1[SG_AUDIT_HASH_HEX + 1], h2[SG_AUDIT_HASH_HEX + 1], why[96];
    struct sg_audit_rec r1, r2;
    sg_wbuf_init(&w, 1 << 16);
    json_t *fields = json_pack("{s:s}", "kid", "k1");
    assert_int_equal(sg_audit_record_format(&w, 1, -5, "x", zeros, fields, h1), SIGNET_OK);
    size_t first = w.len;
    assert_int_equal(sg_audit_record_format(&w, 2, 7, "sign", h1, NULL, h2), SIGNET_OK);

    assert_int_equal(sg_audit_record_check(w.data, first - 1, &r1, why, sizeof why), SIGNET_OK);
    assert_int_equal(r1.seq, 1);
    assert_int_equal(r1.time, -5);
    assert_string_equal(r1.type, "x");
    assert_string_equal(r1.prev, zeros);
    assert_string_equal(r1.hash, h1);
    assert_string_equal(json_string_value(json_object_get(r1.body, "kid")), "k1");
    assert_int_equal(sg_audit_record_chain(NULL, &r1, why, sizeof why), SIGNET_OK);
    sg_audit_record_clear(&r1);
    assert_null(r1.body);
    assert_null(r1.type);
    assert_string_equal(r1.hash, h1); /* kept for chaining */

    assert_int_equal(sg_audit_record_check(w.data + first, w.len - first - 1, &r2, why, sizeof why),
                     SIGNET_OK);
    assert_int_equal(sg_audit_record_chain(&r1, &r2, why, sizeof why), SIGNET_OK);
    assert_int_equal(sg_audit_record_chain(NULL, &r2, why, sizeof why), SIGNET_ERR_AUDIT_BROKEN);
    assert_string_equal(why, "seq 2 where 1 belongs");
    r1.hash[0] = r1.hash[0] == 'a' ? 'b' : 'a';
    assert_int_equal(sg_audit_record_chain(&r1, &r2, why, sizeof why), SIGNET_ERR_AUDIT_BROKEN);
    assert_string_equal(why, "prev does not chain");
    sg_audit_record_clear(&r2);

    /* Off by one around the framing; a failed check leaves rec empty. */
    assert_int_equal(sg_audit_record_check(w.data, SG_AUDIT_LINE_OVERHEAD - 1, &r1, why,
                                           sizeof why),
                     SIGNET_ERR_AUDIT_BROKEN);
    assert_string_equal(why, "malformed line");
    assert_null(r1.body);
    assert_int_equal(sg_audit_record_check(w.data, SG_AUDIT_MAX_RECORD, &r1, why, sizeof why),
                     SIGNET_ERR_AUDIT_BROKEN);
    assert_string_equal(why, "record too long");
    assert_int_equal(sg_audit_record_check(w.data, first - 2, &r1, NULL, 0),
                     SIGNET_ERR_AUDIT_BROKEN);

    assert_true(sg_audit_record_is_hash(zeros, 64));
    assert_false(sg_audit_record_is_hash(zeros, 63));
    assert_false(sg_audit_record_is_hash("A000000000000000000000000000000000000000000000000000000000000000", 64));

    /* The format refuses what a reader would refuse, and leaves w as it was. */
    size_t len = w.len;
    json_t *reserved = json_pack("{s:i}", "seq", 3);
    json_t *deep = json_loads("{\"a\":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}", 0, NULL);
    assert_non_null(deep);
    assert_int_equal(sg_audit_record_format(&w, 3, 0, "x", h2, reserved, h1),
                     SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_audit_record_format(&w, 3, 0, "", h2, NULL, h1), SIGNET_ERR_INVALID_ARG);
    char bad[SG_AUDIT_HASH_HEX + 1];
    memset(bad, 'z', SG_AUDIT_HASH_HEX);
    bad[SG_AUDIT_HASH_HEX] = '\0';
    assert_int_equal(sg_audit_record_format(&w, 3, 0, "x", bad, NULL, h1),
                     SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_audit_record_format(&w, 3, 0, "x", h2, deep, h1), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_audit_record_format(&w, 0, 0, "x", h2, NULL, h1), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_audit_record_format(&w, (uint64_t)INT64_MAX + 1, 0, "x", h2, NULL, h1),
                     SIGNET_ERR_TOO_LARGE);
    assert_int_equal(w.len, len);
    assert_int_equal(w.err, SIGNET_OK);
    /* A full buffer: TOO_LARGE, nothing half-written. */
    w.max = w.len + 10;
    assert_int_equal(sg_audit_record_format(&w, 3, 0, "x", h2, NULL, h1), SIGNET_ERR_TOO_LARGE);
    assert_int_equal(w.len, len);
    json_decref(deep);
    json_decref(reserved);
    json_decref(fields);
    sg_wbuf_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_intact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reordered_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_member, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_last_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incremental_then_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format_unchanged, setup, teardown),
        cmocka_unit_test(test_check_and_chain),
    };
    /* Damaged logs make the readers log errors: expected, and noisy. */
    sg_log_init("test_audit_codec", (enum sg_log_level)(SG_LOG_ERROR + 1));
    return cmocka_run_group_tests(tests, NULL, NULL);
}

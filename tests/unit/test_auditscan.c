/* The audit reader's token index (src/telemetry/auditscan.c), which lives in
 * a temporary SQLite database: lookups after a large read, the size cap and
 * what it can no longer vouch for, expiry, a re-read after a cut-back (no
 * duplicates), a SQLite failure (lookups answer UNCOVERED, the chain is
 * still verified, the index is rebuilt later) and the heap staying flat as
 * the record count grows. The logs are written here directly (hash chain
 * and all) so that hundreds of thousands of records take a moment. */
#include "testutil.h"

#include <malloc.h>
#include <openssl/sha.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "telemetry/auditscan.h"
#include "util/hex.h"

#define NOW 2000000
#define BIG 300000
#define SMALL 10000

struct fx {
    char dir[256];
    char log[320];
    FILE *fp;
    uint64_t seq;
    char prev[65];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (f == NULL || sg_test_mkdtemp(f->dir, sizeof f->dir, "signet-scan") != 0) {
        free(f);
        return -1;
    }
    snprintf(f->log, sizeof f->log, "%s/audit.log", f->dir);
    f->fp = fopen(f->log, "w");
    if (f->fp == NULL)
        return -1;
    memset(f->prev, '0', 64);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->fp != NULL)
        fclose(f->fp);
    sg_test_rmrf(f->dir);
    free(f);
    return 0;
}

static void token_sha(uint64_t id, uint8_t raw[32])
{
    char tok[32];
    int n = snprintf(tok, sizeof tok, "tok-%llu", (unsigned long long)id);
    SHA256((const uint8_t *)tok, (size_t)n, raw);
}

/* Appends one chained record: "<sha256 of body> <body>\n". */
static void put_body(struct fx *f, const char *body, size_t len)
{
    uint8_t md[32];
    char hex[65];
    SHA256((const uint8_t *)body, len, md);
    sg_hex_encode(md, sizeof md, hex);
    assert_true(fprintf(f->fp, "%s %s\n", hex, body) > 0);
    memcpy(f->prev, hex, sizeof f->prev);
}

/* A "sign" record for token id (jti "j<id>"). */
static void put_sign(struct fx *f, uint64_t id, int64_t time, int64_t exp)
{
    uint8_t raw[32];
    char sha[65];
    char body[512];
    token_sha(id, raw);
    sg_hex_encode(raw, sizeof raw, sha);
    f->seq++;
    int n = snprintf(body, sizeof body,
                     "{\"seq\":%llu,\"time\":%lld,\"type\":\"sign\",\"prev\":\"%s\",\"kid\":\"k1\","
                     "\"iss\":\"https://a.example/t/a\",\"alg\":\"ES256\",\"jti\":\"j%llu\","
                     "\"token_sha256\":\"%s\",\"iat\":%lld,\"exp\":%lld}",
                     (unsigned long long)f->seq, (long long)time, f->prev,
                     (unsigned long long)id, sha, (long long)time, (long long)exp);
    assert_true(n > 0 && (size_t)n < sizeof body);
    put_body(f, body, (size_t)n);
}

static void put_signs(struct fx *f, uint64_t from, uint64_t to, int64_t time, int64_t exp)
{
    for (uint64_t id = from; id < to; id++)
        put_sign(f, id, time, exp);
    assert_int_equal(fflush(f->fp), 0);
}

static enum sg_tm_lookup lookup(struct sg_tm_audit *a, uint64_t id, int64_t now,
                                struct sg_tm_indexed *rec)
{
    uint8_t raw[32];
    token_sha(id, raw);
    return sg_tm_audit_lookup(a, raw, now, rec);
}

/* malloc'ed bytes in use, the big blocks malloc maps on their own included. */
static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* Many records: found first to last, unknown hashes not found, and the
 * heap (glibc's and SQLite's) the same after 300 000 as after 10 000. */
static void test_index_large(void **state)
{
    struct fx *f = *state;
    struct sg_tm_audit *a = NULL;
    assert_int_equal(sg_tm_audit_new(f->log, 100000, 600, 10000000, &a), SIGNET_OK);
    put_signs(f, 0, SMALL, NOW, NOW + 600);
    assert_int_equal(sg_tm_audit_poll(a, NOW, NULL, NULL), SIGNET_OK);
    assert_int_equal(sg_tm_audit_indexed(a), SMALL);
    size_t heap_small = heap_in_use();
    sqlite3_int64 sql_small = sqlite3_memory_used();

    /* In several polls, as the monitor reads them. */
    for (uint64_t from = SMALL; from < BIG; from += 58000) {
        uint64_t to = from + 58000 < BIG ? from + 58000 : BIG;
        put_signs(f, from, to, NOW + 1, NOW + 601);
        assert_int_equal(sg_tm_audit_poll(a, NOW + 1, NULL, NULL), SIGNET_OK);
        assert_int_equal(sg_tm_audit_indexed(a), to);
    }
    assert_int_equal(sg_tm_audit_records(a), BIG);
    assert_int_equal(sg_tm_audit_sign_records(a), BIG);
    assert_int_equal(sg_tm_audit_evicted_by_cap(a), 0);
    size_t heap_big = heap_in_use();
    sqlite3_int64 sql_big = sqlite3_memory_used();

    struct sg_tm_indexed rec;
    assert_int_equal(lookup(a, 0, NOW, &rec), SG_TM_FOUND);
    assert_int_equal(rec.time, NOW);
    assert_int_equal(rec.exp, NOW + 600);
    assert_true(rec.kid_h == sg_tm_digest64("k1", 2));
    assert_true(rec.jti_h == sg_tm_digest64("j0", 2));
    assert_true(rec.iss_h == sg_tm_digest64("https://a.example/t/a", 21));
    char jti[32];
    int n = snprintf(jti, sizeof jti, "j%d", BIG - 1);
    assert_int_equal(lookup(a, BIG - 1, NOW, &rec), SG_TM_FOUND);
    assert_true(rec.jti_h == sg_tm_digest64(jti, (size_t)n));
    assert_int_equal(rec.exp, NOW + 601);
    /* Digests with the top bit set survive the trip through INTEGER. */
    unsigned high = 0;
    for (uint64_t id = 1; id < BIG; id += 9973) {
        assert_int_equal(lookup(a, id, NOW, &rec), SG_TM_FOUND);
        n = snprintf(jti, sizeof jti, "j%llu", (unsigned long long)id);
        assert_true(rec.jti_h == sg_tm_digest64(jti, (size_t)n));
        high += (unsigned)(rec.jti_h >> 63);
    }
    assert_true(high > 0);
    assert_int_equal(lookup(a, BIG, NOW, &rec), SG_TM_NOT_FOUND);
    assert_int_equal(lookup(a, 10 * BIG, NOW, &rec), SG_TM_NOT_FOUND);

    /* The old heap index took about 80 bytes a record: 290 000 more would
     * be over 20 MiB. Allow the page cache to fill (2 MiB) and a little. */
    print_message("heap %zu -> %zu bytes, sqlite %lld -> %lld bytes\n", heap_small, heap_big,
                  (long long)sql_small, (long long)sql_big);
    assert_true(sql_small > 0 || sql_big == 0);
    assert_true(sql_big - sql_small < 3 * 1024 * 1024);
    assert_true(heap_big < heap_small || heap_big - heap_small < 4 * 1024 * 1024);
    sg_tm_audit_free(&a);
}

/* The cap: the oldest go first (also in the middle of one big batch); a
 * still-valid token it pushed out is UNCOVERED, not NOT_FOUND. */
static void test_index_cap(void **state)
{
    struct fx *f = *state;
    struct sg_tm_audit *a = NULL;
    assert_int_equal(sg_tm_audit_new(f->log, 100000, 600, 1000, &a), SIGNET_OK);
    put_signs(f, 0, 3000, NOW, NOW + 600);
    assert_int_equal(sg_tm_audit_poll(a, NOW, NULL, NULL), SIGNET_OK);
    assert_int_equal(sg_tm_audit_indexed(a), 1000);
    assert_int_equal(sg_tm_audit_evicted_by_cap(a), 2000);
    struct sg_tm_indexed rec;
    for (uint64_t id = 2000; id < 3000; id++)
        assert_int_equal(lookup(a, id, NOW, &rec), SG_TM_FOUND);
    assert_int_equal(lookup(a, 0, NOW, &rec), SG_TM_UNCOVERED);
    assert_int_equal(lookup(a, 1999, NOW, &rec), SG_TM_UNCOVERED);
    assert_int_equal(lookup(a, 5000, NOW, &rec), SG_TM_UNCOVERED);
    /* Once those have expired and the report lag passed, the index can
     * tell again. */
    assert_int_equal(lookup(a, 1999, NOW + 1200, &rec), SG_TM_UNCOVERED);
    assert_int_equal(lookup(a, 1999, NOW + 1201, &rec), SG_TM_NOT_FOUND);
    assert_int_equal(lookup(a, 2000, NOW + 1201, &rec), SG_TM_FOUND);

    /* Across polls, one by one. */
    put_signs(f, 3000, 3010, NOW + 10, NOW + 700);
    assert_int_equal(sg_tm_audit_poll(a, NOW + 10, NULL, NULL), SIGNET_OK);
    assert_int_equal(sg_tm_audit_indexed(a), 1000);
    assert_int_equal(sg_tm_audit_evicted_by_cap(a), 2010);
    assert_int_equal(lookup(a, 2009, NOW + 10, &rec), SG_TM_UNCOVERED);
    assert_int_equal(lookup(a, 2010, NOW + 10, &rec), SG_TM_FOUND);
    assert_int_equal(lookup(a, 3009, NOW + 10, &rec), SG_TM_FOUND);
    assert_int_equal(lookup(a, 3009, NOW + 10, &rec), SG_TM_FOUND);
    sg_tm_audit_free(&a);
}

/* Records older than the retention go at the next poll; records already
 * older when read are never indexed. */
static void test_index_expiry(void **state)
{
    struct fx *f = *state;
    struct sg_tm_audit *a = NULL;
    assert_int_equal(sg_tm_audit_new(f->log, 4000, 600, 1000, &a), SIGNET_OK);
    put_signs(f, 0, 10, NOW - 5000, NOW - 4000);  /* past retention */
    put_signs(f, 10, 20, NOW - 3000, NOW - 2000);
    put_signs(f, 20, 30, NOW - 100, NOW + 500);
    assert_int_equal(sg_tm_audit_poll(a, NOW, NULL, NULL), SIGNET_OK);
    assert_int_equal(sg_tm_audit_records(a), 30);
    assert_int_equal(sg_tm_audit_indexed(a), 20);
    struct sg_tm_indexed rec;
    assert_int_equal(lookup(a, 5, NOW, &rec), SG_TM_NOT_FOUND);
    assert_int_equal(lookup(a, 15, NOW, &rec), SG_TM_FOUND);
    /* Nothing new in the log: expiry alone. */
    assert_int_equal(sg_tm_audit_poll(a, NOW + 1000, NULL, NULL), SIGNET_OK);
    assert_int_equal(sg_tm_audit_indexed(a), 20);
    assert_int_equal(sg_tm_audit_poll(a, NOW + 1001, NULL, NULL), SIGNET_OK);
    assert_int_equal(sg_tm_audit_indexed(a), 10);
    assert_int_equal(lookup(a, 15, NOW + 1001, &rec), SG_TM_NOT_FOUND);
    assert_int_equal(lookup(a, 25, NOW + 1001, &rec), SG_TM_FOUND);
    /* New records after everything expired are numbered on. */
    assert_int_equal(sg_tm_audit_poll(a, NOW + 5000, NULL, NULL), SIGNET_OK);
    assert_int_equal(sg_tm_audit_indexed(a), 0);
    assert_int_equal(lookup(a, 25, NOW + 5000, &rec), SG_TM_NOT_FOUND);
    put_signs(f, 30, 35, NOW + 5000, NOW + 5600);
    assert_int_equal(sg_tm_audit_poll(a, NOW + 5000, NULL, NULL), SIGNET_OK);
    assert_int_equal(sg_tm_audit_indexed(a), 5);
    assert_int_equal(lookup(a, 34, NOW + 5000, &rec), SG_TM_FOUND);
    assert_int_equal(sg_tm_audit_evicted_by_cap(a), 0);
    sg_tm_audit_free(&a);
}

/* A writer's failed commit took back records the reader had seen, and
 * others took their place: the whole log is read again and the tokens
 * seen before are not indexed twice (the first sighting stays). */
static void test_index_cutback(void **state)
{
    struct fx *f = *state;
    struct sg_tm_audit *a = NULL;
    assert_int_equal(sg_tm_audit_new(f->log, 100000, 600, 100000, &a), SIGNET_OK);
    put_signs(f, 0, 990, NOW, NOW + 600);
    long cut = ftell(f->fp);
    assert_true(cut > 0);
    uint64_t seq = f->seq;
    char prev[65];
    memcpy(prev, f->prev, sizeof prev);
    put_signs(f, 990, 1000, NOW, NOW + 600);
    assert_int_equal(sg_tm_audit_poll(a, NOW, NULL, NULL), SIGNET_OK);
    assert_int_equal(sg_tm_audit_indexed(a), 1000);
    assert_int_equal(sg_tm_audit_rescans(a), 0);

    assert_int_equal(ftruncate(fileno(f->fp), cut), 0);
    assert_int_equal(fseek(f->fp, cut, SEEK_SET), 0);
    f->seq = seq;
    memcpy(f->prev, prev, sizeof prev);
    put_signs(f, 990, 1000, NOW + 1, NOW + 601); /* the same tokens, other bytes */
    put_signs(f, 1000, 1005, NOW + 1, NOW + 601);
    assert_int_equal(sg_tm_audit_poll(a, NOW + 1, NULL, NULL), SIGNET_OK);
    assert_int_equal(sg_tm_audit_rescans(a), 1);
    assert_int_equal(sg_tm_audit_records(a), 1005);
    assert_int_equal(sg_tm_audit_indexed(a), 1005);
    struct sg_tm_indexed rec;
    assert_int_equal(lookup(a, 995, NOW + 1, &rec), SG_TM_FOUND);
    assert_int_equal(rec.time, NOW);
    assert_int_equal(lookup(a, 1004, NOW + 1, &rec), SG_TM_FOUND);
    assert_int_equal(rec.time, NOW + 1);

    /* The periodic full verification: everything again, nothing twice. */
    sg_tm_audit_force_full(a);
    assert_int_equal(sg_tm_audit_poll(a, NOW + 2, NULL, NULL), SIGNET_OK);
    assert_int_equal(sg_tm_audit_rescans(a), 2);
    assert_int_equal(sg_tm_audit_indexed(a), 1005);
    assert_int_equal(lookup(a, 0, NOW + 2, &rec), SG_TM_FOUND);
    assert_int_equal(lookup(a, 1005, NOW + 2, &rec), SG_TM_NOT_FOUND);
    sg_tm_audit_free(&a);
}

static uint64_t n_signs;

static void count_signs(void *user, uint64_t seq, int64_t time, const char *type,
                        const json_t *body, const struct sg_tm_sign *sign)
{
    (void)user, (void)seq, (void)time, (void)type, (void)body;
    if (sign != NULL)
        n_signs++;
}

/* SQLite runs out of memory: the chain is still read and verified, the
 * index answers UNCOVERED (never NOT_FOUND, never FOUND from a half-written
 * batch), and a minute later a full re-read rebuilds it. */
static void test_index_failure(void **state)
{
    struct fx *f = *state;
    struct sg_tm_audit *a = NULL;
    assert_int_equal(sg_tm_audit_new(f->log, 100000, 600, 1000000, &a), SIGNET_OK);
    put_signs(f, 0, 100, NOW, NOW + 600);
    assert_int_equal(sg_tm_audit_poll(a, NOW, NULL, NULL), SIGNET_OK);
    if (sqlite3_memory_used() == 0)
        skip(); /* SQLite built without memory statistics: no heap limit */
    put_signs(f, 100, 60000, NOW, NOW + 600);
    sqlite3_int64 old = sqlite3_hard_heap_limit64(sqlite3_memory_used());
    n_signs = 0;
    assert_int_equal(sg_tm_audit_poll(a, NOW, count_signs, NULL), SIGNET_OK);
    (void)sqlite3_hard_heap_limit64(old);
    assert_int_equal(n_signs, 59900);
    assert_int_equal(sg_tm_audit_records(a), 60000);
    assert_string_equal(sg_tm_audit_why(a), "");
    assert_int_equal(sg_tm_audit_indexed(a), 0);
    struct sg_tm_indexed rec;
    assert_int_equal(lookup(a, 0, NOW, &rec), SG_TM_UNCOVERED);
    assert_int_equal(lookup(a, 59999, NOW, &rec), SG_TM_UNCOVERED);
    assert_int_equal(lookup(a, 70000, NOW, &rec), SG_TM_UNCOVERED);

    /* Reading goes on; the rebuild waits its minute. */
    put_signs(f, 60000, 60010, NOW + 30, NOW + 630);
    assert_int_equal(sg_tm_audit_poll(a, NOW + 30, NULL, NULL), SIGNET_OK);
    assert_int_equal(sg_tm_audit_records(a), 60010);
    assert_int_equal(sg_tm_audit_rescans(a), 0);
    assert_int_equal(lookup(a, 70000, NOW + 30, &rec), SG_TM_UNCOVERED);
    assert_int_equal(sg_tm_audit_poll(a, NOW + 60, NULL, NULL), SIGNET_OK);
    assert_int_equal(sg_tm_audit_rescans(a), 1);
    assert_int_equal(sg_tm_audit_records(a), 60010);
    assert_int_equal(sg_tm_audit_indexed(a), 60010);
    assert_int_equal(lookup(a, 0, NOW + 60, &rec), SG_TM_FOUND);
    assert_int_equal(lookup(a, 60009, NOW + 60, &rec), SG_TM_FOUND);
    assert_int_equal(lookup(a, 70000, NOW + 60, &rec), SG_TM_NOT_FOUND);
    /* And it stays: no further full re-reads. */
    assert_int_equal(sg_tm_audit_poll(a, NOW + 200, NULL, NULL), SIGNET_OK);
    assert_int_equal(sg_tm_audit_rescans(a), 1);
    sg_tm_audit_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_index_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_cutback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_failure, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

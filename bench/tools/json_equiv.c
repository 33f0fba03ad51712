/* Differential check of libsignet's JSON parser (lib/json.c) against
 * jansson's json_loadb(JSON_REJECT_DUPLICATES), which it replaced on the
 * verify path for speed. For every input both must agree on accept/reject
 * (and on the duplicate-member verdict), and accepted documents must be
 * equal values with members in the same order.
 *
 *   json_equiv [FILE|DIR]...   seeds (each file, and every base64url part
 *                              of a file that looks like a compact JWS),
 *                              then hostile cases, then random mutations
 *   JSON_EQUIV_ITERS=N         mutations (default 300000)
 *
 * Exit 0 when no difference was found. Built by bench/run.sh. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "json.h"
#include "util/b64url.h"

static unsigned long n_checked, n_accepted, n_failed;

#define ANY_REJECTION (-1) /* expected: some error, whichever comes first */

static int expected(const uint8_t *d, size_t n, json_t **out)
{
    *out = NULL;
    signet_err err = sg_json_check_depth(d, n, SG_JSON_MAX_DEPTH);
    if (err != SIGNET_OK)
        return (int)err;
    /* jansson skips a NUL byte that directly follows a number (its stream
     * buffer treats NUL as "refill"), so it accepts {"a":1\0}. JSON text
     * never contains a raw NUL, and libsignet refuses it anywhere: the one
     * place where it is deliberately stricter than jansson. Its first error
     * may then come earlier in the text than jansson's. */
    if (memchr(d, 0, n) != NULL)
        return ANY_REJECTION;
    json_error_t e;
    json_t *j = json_loadb((const char *)d, n, JSON_REJECT_DUPLICATES, &e);
    if (j == NULL)
        return json_error_code(&e) == json_error_duplicate_key ? SIGNET_ERR_DUPLICATE_MEMBER
                                                              : SIGNET_ERR_BAD_JSON;
    *out = j;
    return SIGNET_OK;
}

static void show(const uint8_t *d, size_t n)
{
    fputs("  input: ", stderr);
    for (size_t i = 0; i < n && i < 300; i++)
        fprintf(stderr, d[i] >= 0x20 && d[i] < 0x7f ? "%c" : "\\x%02x", d[i]);
    fputc('\n', stderr);
}

static void check(const uint8_t *d, size_t n)
{
    json_t *want = NULL, *got = NULL;
    int we = expected(d, n, &want);
    signet_err ge = sg_json_parse(d, n, SIZE_MAX, &got);
    n_checked++;
    int same = (int)ge == we || (we == ANY_REJECTION && ge != SIGNET_OK);
    if (same && want != NULL) {
        n_accepted++;
        char *a = json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY);
        char *b = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
        same = json_equal(want, got) && a != NULL && b != NULL && strcmp(a, b) == 0;
        free(a);
        free(b);
    }
    if (!same) {
        if (n_failed++ < 20) {
            fprintf(stderr, "json_equiv: jansson says %d, libsignet says %d\n", we, (int)ge);
            show(d, n);
        }
    }
    json_decref(want);
    json_decref(got);
}

/* A file, and the decoded parts of anything shaped like a compact JWS. */
static void check_seed(const uint8_t *d, size_t n)
{
    check(d, n);
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && d[i] != '.')
            continue;
        uint8_t buf[65536];
        size_t out = 0;
        if (i > start &&
            sg_b64url_decode((const char *)d + start, i - start, buf, sizeof buf, &out) ==
                SIGNET_OK)
            check(buf, out);
        start = i + 1;
    }
}

static uint8_t *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    uint8_t *buf = malloc(1 << 20);
    *n = buf != NULL ? fread(buf, 1, 1 << 20, f) : 0;
    fclose(f);
    return buf;
}

static uint8_t *seeds[4096];
static size_t seed_len[4096], n_seeds;

static void add_seed(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *dir = opendir(path);
        struct dirent *e;
        while (dir != NULL && (e = readdir(dir)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char sub[4096];
            if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) < (int)sizeof sub)
                add_seed(sub);
        }
        if (dir != NULL)
            closedir(dir);
        return;
    }
    size_t n = 0;
    uint8_t *d = read_all(path, &n);
    if (d == NULL)
        return;
    check_seed(d, n);
    if (n_seeds < 4096 && n < 4096) {
        seeds[n_seeds] = d;
        seed_len[n_seeds++] = n;
    } else {
        free(d);
    }
}

static const char *const hostile[] = {
    "{}", "[]", " {} ", "{}x", "{} {}", "", " ", "1", "\"s\"", "null", "true",
    "{\"a\":1,\"a\":2}", "{\"a\":1,\"b\":{\"a\":1},\"a\":x}", "{\"a\":{\"b\":1,\"b\":2}}",
    "{\"a\\u0000\":1}", "{\"a\":\"\\u0000\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}",
    "{\"a\":\"\\ud800\\udc00\"}", "{\"a\":\"\\ud800\\u0041\"}", "{\"a\":\"\\uDBFF\\uDFFF\"}",
    "{\"a\":\"\\u00e9\\u20AC\"}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\\u12g4\"}",
    "{\"a\":\"\xc3\xa9\"}", "{\"a\":\"\xc3\"}", "{\"a\":\"\xc0\x80\"}", "{\"a\":\"\xed\xa0\x80\"}",
    "{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":\"\xf0\x9f\x98\x80\"}", "{\"a\":\"\xe0\x9f\xbf\"}",
    "{\"a\":\"\x7f\"}", "{\"a\":\"\x1f\"}", "{\"a\":\"\t\"}", "{\"a\":01}", "{\"a\":-}",
    "{\"a\":-0}", "{\"a\":-0.0}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":1e}", "{\"a\":1e+}",
    "{\"a\":1E-2}", "{\"a\":1e400}", "{\"a\":-1e400}", "{\"a\":1e-400}", "{\"a\":+1}",
    "{\"a\":9223372036854775807}", "{\"a\":9223372036854775808}",
    "{\"a\":-9223372036854775808}", "{\"a\":-9223372036854775809}",
    "{\"a\":18446744073709551616}", "{\"a\":123456789012345678901234567890}",
    "{\"a\":1.7976931348623157e308}", "{\"a\":4.9e-324}", "{\"a\":0.1e1}",
    "{\"a\":tru}", "{\"a\":truex}", "{\"a\":nul}", "{\"a\":[1,2,]}", "{\"a\":[,]}",
    "{\"a\":1,}", "{,}", "{\"a\"}", "{\"a\" 1}", "{\"a\":}", "{a:1}", "{'a':1}",
    "{\"a\":1 \"b\":2}", "[1 2]", "[[[]]]", "{\"a\":\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"}",
    "\xef\xbb\xbf{}", "{}\x00", "{\"a\x00\":1}", "\x00{}", "{\"\":1}", "{\"\":1,\"\":2}",
    "{\"a\":1}\n\r\t ", "{\"a\":\"\\u002F\"}", "[\"\\uD834\\uDD1E\"]", "[1,[2,[3,{\"x\":[]}]]]",
    "[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]", "[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]",
};

/* xorshift: deterministic, so a failure can be replayed. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void mutate_and_check(const uint8_t *seed, size_t n)
{
    static const char interesting[] = "{}[]\",:\\u0123456789.eE+-tfnrl \x00\x1f\x7f\x80\xc3\xed\xf4";
    uint8_t buf[8192];
    if (n > sizeof buf - 16)
        n = sizeof buf - 16;
    memcpy(buf, seed, n);
    int edits = 1 + (int)(rnd() % 4);
    for (int e = 0; e < edits; e++) {
        size_t pos = n == 0 ? 0 : rnd() % n;
        uint8_t c = (uint8_t)(rnd() % 2 ? interesting[rnd() % (sizeof interesting - 1)]
                                        : (uint8_t)rnd());
        switch (rnd() % 4) {
        case 0: if (n > 0) buf[pos] = c; break;
        case 1: memmove(buf + pos + 1, buf + pos, n - pos); buf[pos] = c; n++; break;
        case 2: if (n > 0) { memmove(buf + pos, buf + pos + 1, n - pos - 1); n--; } break;
        default: n = pos; break; /* truncate */
        }
    }
    check(buf, n);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        add_seed(argv[i]);
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        const char *h = hostile[i];
        size_t n = strlen(h);
        check((const uint8_t *)h, n);
        if (n_seeds < 4096) {
            seeds[n_seeds] = (uint8_t *)strdup(h);
            seed_len[n_seeds++] = n;
        }
    }
    check((const uint8_t *)"{}\0", 3);
    check((const uint8_t *)"{\"a\0\":1}", 8);
    check((const uint8_t *)"{\"a\":\"x\0\"}", 10);
    const char *iters_env = getenv("JSON_EQUIV_ITERS");
    unsigned long iters = iters_env != NULL ? strtoul(iters_env, NULL, 10) : 300000;
    for (unsigned long i = 0; i < iters && n_seeds > 0; i++) {
        size_t s = (size_t)(rnd() % n_seeds);
        mutate_and_check(seeds[s], seed_len[s]);
    }
    printf("json_equiv: %lu inputs (%lu accepted by both), %lu differences\n", n_checked,
           n_accepted, n_failed);
    for (size_t i = 0; i < n_seeds; i++)
        free(seeds[i]);
    return n_failed == 0 ? 0 : 1;
}

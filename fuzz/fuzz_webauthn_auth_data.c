/* libFuzzer target: authenticator data (WebAuthn §6.1) through
 * sd_wa_parse_auth_data, then sd_wa_cose_alg on the COSE key it found, and
 * sd_wa_cose_alg on the whole input as a COSE key of its own. What the
 * parser hands back must lie inside the input and add up to it; an
 * accepted key must be one of the three algorithms. Seeds in
 * fuzz/corpus/fuzz_webauthn_auth_data/ (fuzz/corpus/gen_webauthn.py). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "signetd/webauthn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_cose(const uint8_t *p, size_t n)
{
    int alg = 1;
    signet_err err = sd_wa_cose_alg(p, n, &alg);
    if (err == SIGNET_OK ? (alg != -7 && alg != -8 && alg != -257) : alg != 0)
        abort();
}

static int inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size)
{
    return p != NULL && p >= data && n <= size && (size_t)(p - data) <= size - n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sd_wa_auth_data ad;
    char why[160] = "";
    signet_err err = sd_wa_parse_auth_data(data, size, &ad, why, sizeof why);
    if (err != SIGNET_OK) {
        if (why[0] == '\0')
            abort();
    } else if (size < 37 || ad.sign_count != ((uint32_t)data[33] << 24 | (uint32_t)data[34] << 16 |
                                              (uint32_t)data[35] << 8 | data[36]) ||
               ad.flags != data[32] || memcmp(ad.rp_id_hash, data, 32) != 0) {
        abort();
    } else if (ad.attested) {
        if (!(ad.flags & SD_WA_FLAG_AT) || ad.cred_id_len > SD_WA_MAX_CRED_ID ||
            ad.cose_key_len == 0 || ad.cose_key_len > SD_WA_MAX_COSE_KEY ||
            !inside(ad.cred_id, ad.cred_id_len, data, size) ||
            !inside(ad.cose_key, ad.cose_key_len, data, size) || ad.cred_id != data + 55 ||
            ad.cose_key != ad.cred_id + ad.cred_id_len ||
            (!(ad.flags & SD_WA_FLAG_ED) && 55 + ad.cred_id_len + ad.cose_key_len != size))
            abort();
        check_cose(ad.cose_key, ad.cose_key_len);
    } else if ((ad.flags & SD_WA_FLAG_AT) || (!(ad.flags & SD_WA_FLAG_ED) && size != 37)) {
        abort();
    }
    check_cose(data, size);
    return 0;
}

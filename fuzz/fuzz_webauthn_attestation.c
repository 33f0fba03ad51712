/* libFuzzer target: the registration ceremony (WebAuthn §7.1) through
 * sd_wa_verify_registration with fixed expectations (RP ID "localhost",
 * origin "http://localhost:8080", the challenge 00 01 .. 1f, UV required).
 * The input is a 2-byte big-endian length L, L bytes of clientDataJSON, then
 * the attestationObject. An accepted credential must have passed every
 * check. Seeds in fuzz/corpus/fuzz_webauthn_attestation/
 * (fuzz/corpus/gen_webauthn.py): real registrations and hostile variants. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "signetd/webauthn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t cd_len = (size_t)data[0] << 8 | data[1];
    if (cd_len > size - 2)
        return 0;
    uint8_t challenge[SD_WA_CHALLENGE_LEN];
    for (size_t i = 0; i < sizeof challenge; i++)
        challenge[i] = (uint8_t)i;
    const struct sd_wa_expect e = {
        .rp_id = "localhost",
        .origin = "http://localhost:8080",
        .challenge = challenge,
        .challenge_len = sizeof challenge,
        .require_uv = 1,
    };
    static struct sd_wa_credential cred;
    char why[160] = "";
    const uint8_t *cd = data + 2, *att = data + 2 + cd_len;
    signet_err err =
        sd_wa_verify_registration(&e, cd, cd_len, att, size - 2 - cd_len, &cred, why, sizeof why);
    if (err != SIGNET_OK) {
        if (why[0] == '\0' || cred.cred_id_len != 0)
            abort(); /* a refusal names its check and hands back nothing */
        return 0;
    }
    const unsigned need = SD_WA_FLAG_UP | SD_WA_FLAG_UV | SD_WA_FLAG_AT;
    if ((cred.flags & need) != need ||
        ((cred.flags & SD_WA_FLAG_BS) && !(cred.flags & SD_WA_FLAG_BE)) ||
        cred.cred_id_len == 0 || cred.cred_id_len > SD_WA_MAX_CRED_ID ||
        cred.cose_key_len == 0 || cred.cose_key_len > SD_WA_MAX_COSE_KEY ||
        (cred.alg != -7 && cred.alg != -8 && cred.alg != -257) || strlen(cred.aaguid) != 36)
        abort();
    int alg = 0;
    if (sd_wa_cose_alg(cred.cose_key, cred.cose_key_len, &alg) != SIGNET_OK || alg != cred.alg)
        abort();
    return 0;
}

/* libFuzzer target: clientDataJSON (WebAuthn §5.8.1) through
 * sd_wa_parse_client_data, the parser both ceremonies start with. On
 * success every field must be terminated and within its array; every
 * refusal must name its check. Seeds in fuzz/corpus/fuzz_webauthn_client_data/
 * (fuzz/corpus/gen_webauthn.py): both ceremonies' client data, duplicate
 * members, crossOrigin, topOrigin, non-canonical challenges. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "signetd/webauthn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sd_wa_client_data cd;
    char why[160] = "";
    signet_err err = sd_wa_parse_client_data(data, size, &cd, why, sizeof why);
    if (err != SIGNET_OK) {
        if (why[0] == '\0')
            abort();
        return 0;
    }
    if (memchr(cd.type, '\0', sizeof cd.type) == NULL ||
        memchr(cd.origin, '\0', sizeof cd.origin) == NULL ||
        cd.challenge_len > sizeof cd.challenge || (cd.cross_origin != 0 && cd.cross_origin != 1) ||
        (cd.has_top_origin != 0 && cd.has_top_origin != 1))
        abort();
    return 0;
}

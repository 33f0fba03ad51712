#include "util/sha256.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>

static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md; /* never freed: one per process, like OpenSSL's own tables */

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void sg_sha256(const void *in, size_t n, uint8_t out[32])
{
    (void)pthread_once(&sha256_once, sha256_fetch);
    if (sha256_md == NULL || EVP_Digest(in, n, out, NULL, sha256_md, NULL) != 1)
        (void)SHA256(in, n, out);
}

/* Public keys of no client's (token.c): an assertion naming an unknown
 * client, or a secret client, is checked against them, one per assertion
 * algorithm (ES256, EdDSA, PS256), so that it costs what one for a
 * private_key_jwt client costs (a parse and, when its alg fits, one
 * signature check) and its timing does not tell which client ids exist.
 * Their private halves were discarded when they were made. */
#ifndef SD_DUMMY_JWKS_H
#define SD_DUMMY_JWKS_H

static const char *const sd_dummy_jwks[] = {
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"sleMg1XHguvLpYT_O71i_uIbrceX4XxkrBlOCzv0afk\","
    "\"y\":\"MxmL_YXXq0UiozW7GB4S5EF1zmnuTJa8z5gDi-Tslkc\"}",
    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"6nazR4SyNF7k4KVzI9YCEIecy7_1b8P8TaFzXo-2bXA\"}",
    "{\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\""
    "rYo2Kw0c7vr-pbfgsjrdPMHuhm6OpakWL5bdOC6bM5zVCHeRK-FsEn0cL80gwHA-ln6hJnxMm-n9BJTQ5VLyEuPi"
    "x1KVfU81MdyxujdLS3GTqmBWPofra_NM7i1QY15bW6aQ2TDDVMH7E_VQEbx5wc37aqDn_JqQZ5QSlTQ-jDabvI2e"
    "kgnybrIxbWcrvcd9IXsQ1IaElWM6KZlKtPs5nLERnbUjhXq06pI3d9IB8g9AwyI_c1_CLENgBJmtCk3vTyqkZnuU"
    "yVwA9UnVAMKAbzL7Egbym1myvYPbH1eyN8O0wC4KK9Zq6_XNdqSJr6Nllo26ZFusE0dNAluaHiwEjQ\"}",
};

#endif

/* signet-authenticator's requests: HTTPS through libcurl (TLS verification
 * always on, no redirects followed, a time limit, a size cap on answers),
 * each carrying a fresh `Signet-Device` proof signed by the device key. */
#ifndef SA_NET_H
#define SA_NET_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stddef.h>

#include "signet/error.h"

#define SA_REPLY_MAX (256u * 1024u) /* bytes of an answer we read */
#define SA_TIMEOUT_S 30L
#define SA_CONNECT_TIMEOUT_S 10L

struct sa_reply {
    long status; /* HTTP status */
    json_t *doc; /* the answer, a JSON object (through sg_json_parse) */
};

/* Once per process, before any sa_call (and sa_net_done at the end). */
SIGNET_WUR signet_err sa_net_init(void);
void sa_net_done(void);

/* Sends method ("GET" or "POST") to url with body (POST: JSON text; GET:
 * NULL) and a proof by key: with a jwk header when device_id is NULL
 * (registration), with kid = device_id otherwise. SIGNET_OK when the
 * server answered a JSON object, whatever the status (out filled; clear it
 * with sa_reply_clear). SIGNET_ERR_NETWORK, _TIMEOUT or _MALFORMED (an
 * answer that is not a JSON object) with a sentence in why otherwise. */
SIGNET_WUR signet_err sa_call(EVP_PKEY *key, const char *device_id, const char *method,
                              const char *url, const char *body, struct sa_reply *out, char *why,
                              size_t whylen);
void sa_reply_clear(struct sa_reply *r);

#endif

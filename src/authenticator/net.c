/* Requests with libcurl. See net.h. */
#include "authenticator/net.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authenticator/devkey.h"
#include "json.h"

struct sink {
    uint8_t *data;
    size_t len;
    int over; /* the answer passed SA_REPLY_MAX */
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *ctx)
{
    struct sink *s = ctx;
    if (nmemb != 0 && size > SIZE_MAX / nmemb)
        return 0;
    size_t n = size * nmemb;
    if (n > SA_REPLY_MAX - s->len) {
        s->over = 1;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    memcpy(s->data + s->len, p, n);
    s->len += n;
    return n;
}

signet_err sa_net_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? SIGNET_OK : SIGNET_ERR_INTERNAL;
}

void sa_net_done(void)
{
    curl_global_cleanup();
}

void sa_reply_clear(struct sa_reply *r)
{
    if (r == NULL)
        return;
    json_decref(r->doc);
    r->doc = NULL;
    r->status = 0;
}

/* The options every request gets: only http(s), no redirects, TLS
 * verification on (libcurl's default, set anyway so that no other code
 * path can have forgotten it), TLS 1.2 at least, time limits. */
static int set_common(CURL *c, const char *url, struct sink *s, char *errbuf)
{
    return curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
           curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
           curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
           curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
           curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
           curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK ||
           curl_easy_setopt(c, CURLOPT_TIMEOUT, SA_TIMEOUT_S) != CURLE_OK ||
           curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, SA_CONNECT_TIMEOUT_S) != CURLE_OK ||
           curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
           curl_easy_setopt(c, CURLOPT_USERAGENT, "signet-authenticator") != CURLE_OK ||
           curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
           curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
           curl_easy_setopt(c, CURLOPT_WRITEDATA, s) != CURLE_OK;
}

signet_err sa_call(EVP_PKEY *key, const char *device_id, const char *method, const char *url,
                   const char *body, struct sa_reply *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    why[0] = '\0';
    int post = strcmp(method, "POST") == 0;
    size_t body_len = body != NULL ? strlen(body) : 0;
    char *proof = NULL, *hdr = NULL;
    struct curl_slist *headers = NULL;
    struct sink s = {NULL, 0, 0};
    char errbuf[CURL_ERROR_SIZE] = "";
    CURL *c = NULL;
    signet_err err = sa_proof_make(key, device_id, method, url, (const uint8_t *)body, body_len,
                                   (int64_t)time(NULL), &proof);
    if (err != SIGNET_OK) {
        (void)snprintf(why, whylen, "cannot sign the request: %s", signet_strerror(err));
        goto out;
    }
    err = SIGNET_ERR_NOMEM;
    size_t hl = strlen("Signet-Device: ") + strlen(proof) + 1;
    hdr = malloc(hl);
    s.data = malloc(SA_REPLY_MAX);
    c = curl_easy_init();
    if (hdr == NULL || s.data == NULL || c == NULL)
        goto out;
    (void)snprintf(hdr, hl, "Signet-Device: %s", proof);
    /* curl_slist_append returns the list's head (NULL: out of memory,
     * the list left as it was) */
    headers = curl_slist_append(NULL, hdr);
    if (headers == NULL || curl_slist_append(headers, "Accept: application/json") == NULL ||
        (post && curl_slist_append(headers, "Content-Type: application/json") == NULL))
        goto out;
    err = SIGNET_ERR_INTERNAL;
    if (set_common(c, url, &s, errbuf) ||
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers) != CURLE_OK)
        goto out;
    if (post) {
        if (curl_easy_setopt(c, CURLOPT_POST, 1L) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body != NULL ? body : "") != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len) != CURLE_OK)
            goto out;
    } else if (curl_easy_setopt(c, CURLOPT_HTTPGET, 1L) != CURLE_OK) {
        goto out;
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        err = rc == CURLE_OPERATION_TIMEDOUT ? SIGNET_ERR_TIMEOUT : SIGNET_ERR_NETWORK;
        if (s.over)
            (void)snprintf(why, whylen, "the server's answer is larger than %u bytes",
                           SA_REPLY_MAX);
        else
            (void)snprintf(why, whylen, "%s: %s", curl_easy_strerror(rc),
                           errbuf[0] != '\0' ? errbuf : "no detail");
        goto out;
    }
    if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status) != CURLE_OK)
        goto out;
    err = sg_json_parse(s.data, s.len, SA_REPLY_MAX, &out->doc);
    if (err == SIGNET_ERR_NOMEM)
        goto out;
    if (err != SIGNET_OK || !json_is_object(out->doc)) {
        err = SIGNET_ERR_MALFORMED;
        (void)snprintf(why, whylen, "the server answered HTTP %ld without a JSON object",
                       out->status);
        goto out;
    }
    err = SIGNET_OK;
out:
    if (err != SIGNET_OK)
        sa_reply_clear(out);
    if (c != NULL)
        curl_easy_cleanup(c);
    curl_slist_free_all(headers);
    free(s.data);
    free(hdr);
    free(proof);
    return err;
}

#include "fetch.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct sink {
    uint8_t *data;
    size_t len;
    size_t max;
    int too_large;
    int64_t max_age;
};

int sg_url_is_https(const char *url)
{
    return strncasecmp(url, "https://", 8) == 0;
}

int sg_url_is_http(const char *url)
{
    return sg_url_is_https(url) || strncasecmp(url, "http://", 7) == 0;
}

void sg_fetch_result_clear(struct sg_fetch_result *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}

int64_t sg_cache_control_max_age(const char *value, size_t len)
{
    int64_t max_age = -1;
    while (len > 0 && (value[len - 1] == '\r' || value[len - 1] == '\n'))
        len--;
    size_t i = 0;
    while (i < len) {
        while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == ','))
            i++;
        size_t start = i;
        while (i < len && value[i] != ',' && value[i] != '=')
            i++;
        size_t name_len = i - start;
        while (name_len > 0 && (value[start + name_len - 1] == ' '))
            name_len--;
        int64_t num = -1;
        if (i < len && value[i] == '=') {
            i++;
            int64_t v = 0;
            size_t digits = 0;
            while (i < len && isdigit((unsigned char)value[i]) && digits < 12) {
                v = v * 10 + (value[i] - '0');
                i++, digits++;
            }
            if (digits > 0 && (i >= len || !isdigit((unsigned char)value[i])))
                num = v;
            while (i < len && value[i] != ',')
                i++;
        }
        if (name_len == 7 && strncasecmp(value + start, "max-age", 7) == 0 && num >= 0)
            max_age = num;
        else if ((name_len == 8 && strncasecmp(value + start, "no-store", 8) == 0) ||
                 (name_len == 8 && strncasecmp(value + start, "no-cache", 8) == 0))
            return 0;
    }
    return max_age;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct sink *s = ud;
    size_t n = size * nmemb;
    if (n > s->max || s->len > s->max - n) {
        s->too_large = 1;
        return 0; /* aborts the transfer */
    }
    uint8_t *p = realloc(s->data, s->len + n + 1);
    if (p == NULL)
        return 0;
    memcpy(p + s->len, ptr, n);
    s->data = p;
    s->len += n;
    s->data[s->len] = '\0';
    return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct sink *s = ud;
    size_t n = size * nmemb;
    static const char name[] = "cache-control:";
    if (n > sizeof name - 1 && strncasecmp(ptr, name, sizeof name - 1) == 0) {
        int64_t v = sg_cache_control_max_age(ptr + sizeof name - 1, n - (sizeof name - 1));
        if (v >= 0)
            s->max_age = v;
    }
    return n;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    const atomic_int *cancel = ud;
    return cancel != NULL && atomic_load(cancel) != 0;
}

signet_err sg_fetch_url(const char *url, const struct sg_fetch_limits *lim,
                        struct sg_fetch_result *out)
{
    memset(out, 0, sizeof *out);
    if (!sg_url_is_http(url))
        return SIGNET_ERR_CONFIG;
    struct sink s = {.max = lim->max_bytes, .max_age = -1};
    signet_err err = SIGNET_ERR_NETWORK;
    CURL *c = curl_easy_init();
    if (c == NULL)
        return SIGNET_ERR_NOMEM;
    const char *protos = sg_url_is_https(url) ? "https" : "http";
    long connect_ms = lim->timeout_ms < 5000 ? lim->timeout_ms : 5000;
    if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, protos) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, lim->timeout_ms) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)lim->max_bytes) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, NULL) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_USERAGENT, "libsignet") != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &s) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &s) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)(uintptr_t)lim->cancel) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L) != CURLE_OK) {
        err = SIGNET_ERR_INTERNAL;
        goto out;
    }
    CURLcode rc = curl_easy_perform(c);
    if (s.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        err = SIGNET_ERR_TOO_LARGE;
        goto out;
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        err = SIGNET_ERR_TIMEOUT;
        goto out;
    }
    if (rc != CURLE_OK)
        goto out;
    long status = 0;
    if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
        goto out;
    out->status = status;
    if (status != 200) {
        err = status == 404 ? SIGNET_ERR_NOT_FOUND : SIGNET_ERR_NETWORK;
        goto out;
    }
    if (s.data == NULL) {
        s.data = calloc(1, 1);
        if (s.data == NULL) {
            err = SIGNET_ERR_NOMEM;
            goto out;
        }
    }
    out->body = s.data;
    out->len = s.len;
    out->max_age = s.max_age;
    s.data = NULL;
    err = SIGNET_OK;
out:
    free(s.data);
    curl_easy_cleanup(c);
    return err;
}

signet_err sg_fetch_file(const char *path, size_t max_bytes, struct sg_fetch_result *out)
{
    memset(out, 0, sizeof *out);
    out->max_age = -1;
    signet_err err = SIGNET_ERR_IO;
    uint8_t *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return errno == ENOENT ? SIGNET_ERR_NOT_FOUND : SIGNET_ERR_IO;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto out;
    if (st.st_size < 0 || (uint64_t)st.st_size > max_bytes) {
        err = SIGNET_ERR_TOO_LARGE;
        goto out;
    }
    buf = malloc(max_bytes + 1);
    if (buf == NULL) {
        err = SIGNET_ERR_NOMEM;
        goto out;
    }
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, max_bytes + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > max_bytes) { /* grew while we read it */
            err = SIGNET_ERR_TOO_LARGE;
            goto out;
        }
    }
    buf[len] = '\0';
    out->body = buf;
    out->len = len;
    buf = NULL;
    err = SIGNET_OK;
out:
    free(buf);
    close(fd);
    return err;
}

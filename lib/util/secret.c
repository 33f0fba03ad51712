#include "util/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void sg_wipe(void *p, size_t n)
{
    if (p != NULL && n > 0)
        OPENSSL_cleanse(p, n);
}

signet_err sg_secret_new(size_t cap, struct sg_secret **out)
{
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0 || cap > 1u << 20)
        return SIGNET_ERR_INVALID_ARG;
    size_t pg = (size_t)page;
    size_t map_len = (cap + 1 + sizeof(struct sg_secret) + pg - 1) / pg * pg;
    void *p = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return SIGNET_ERR_NOMEM;
    /* Best effort: mlock may be refused by RLIMIT_MEMLOCK; MADV_DONTDUMP keeps
     * the page out of core files either way. */
    (void)mlock(p, map_len);
    (void)madvise(p, map_len, MADV_DONTDUMP);
    struct sg_secret *s = p;
    s->data = (uint8_t *)p + sizeof *s;
    s->len = 0;
    s->cap = cap;
    s->map_len = map_len;
    *out = s;
    return SIGNET_OK;
}

void sg_secret_free(struct sg_secret **s)
{
    if (s == NULL || *s == NULL)
        return;
    size_t map_len = (*s)->map_len;
    void *p = *s;
    sg_wipe(p, map_len);
    (void)munlock(p, map_len);
    (void)munmap(p, map_len);
    *s = NULL;
}

signet_err sg_secret_read_fd(int fd, size_t max, struct sg_secret **out)
{
    struct sg_secret *s = NULL;
    /* Room for the secret, a CR LF after it, and the NUL. */
    signet_err err = sg_secret_new(max + 3, &s);
    if (err != SIGNET_OK)
        return err;
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, s->data + n, s->cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err = SIGNET_ERR_IO;
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max + 2) {
            err = SIGNET_ERR_TOO_LARGE;
            goto out;
        }
    }
    if (n > 0 && s->data[n - 1] == '\n')
        n--;
    if (n > 0 && s->data[n - 1] == '\r')
        n--;
    if (n > max) {
        err = SIGNET_ERR_TOO_LARGE;
        goto out;
    }
    if (n == 0) {
        err = SIGNET_ERR_INVALID_ARG;
        goto out;
    }
    s->data[n] = 0;
    s->len = n;
    *out = s;
    s = NULL;
out:
    sg_secret_free(&s);
    return err;
}

signet_err sg_secret_read_file(const char *path, size_t max, struct sg_secret **out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT                     ? SIGNET_ERR_NOT_FOUND
               : errno == EACCES || errno == ELOOP ? SIGNET_ERR_PERMISSION /* ELOOP: a symlink */
                                                   : SIGNET_ERR_IO;
    struct stat st;
    signet_err err = SIGNET_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        err = SIGNET_ERR_IO;
        goto out;
    }
    if ((st.st_mode & 077) != 0) {
        err = SIGNET_ERR_PERMISSION;
        goto out;
    }
    err = sg_secret_read_fd(fd, max, out);
out:
    close(fd);
    return err;
}

signet_err sg_secret_write_file(const char *path, const uint8_t *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return errno == EEXIST ? SIGNET_ERR_EXISTS : SIGNET_ERR_IO;
    size_t off = 0;
    signet_err err = SIGNET_OK;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            err = SIGNET_ERR_IO;
            break;
        }
        off += (size_t)w;
    }
    if (err == SIGNET_OK && fsync(fd) != 0)
        err = SIGNET_ERR_IO;
    close(fd);
    if (err != SIGNET_OK)
        (void)unlink(path);
    return err;
}

signet_err sg_secret_random_text(size_t n, struct sg_secret **out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    struct sg_secret *s = NULL;
    signet_err err = sg_secret_new(n + 1, &s);
    if (err != SIGNET_OK)
        return err;
    if (RAND_bytes(s->data, (int)n) != 1) {
        sg_secret_free(&s);
        return SIGNET_ERR_CRYPTO;
    }
    for (size_t i = 0; i < n; i++)
        s->data[i] = (uint8_t)alphabet[s->data[i] & 63];
    s->data[n] = 0;
    s->len = n;
    *out = s;
    return SIGNET_OK;
}

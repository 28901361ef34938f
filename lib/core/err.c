#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>

static int err_vset(struct cf_err *e, enum cf_code code, int sys, bool retry, const char *fmt,
                    va_list ap)
{
    if (e == NULL)
        return -1;
    e->code = code;
    e->sys_errno = sys;
    e->retryable = retry;
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    if (sys != 0) {
        size_t n = strlen(e->msg);
        snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(sys));
    }
    return -1;
}

int cf_err_set(struct cf_err *e, enum cf_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vset(e, code, 0, false, fmt, ap);
    va_end(ap);
    return -1;
}

int cf_err_sys(struct cf_err *e, enum cf_code code, const char *fmt, ...)
{
    int sys = errno;
    va_list ap;
    va_start(ap, fmt);
    err_vset(e, code, sys, false, fmt, ap);
    va_end(ap);
    return -1;
}

int cf_err_retry(struct cf_err *e, enum cf_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vset(e, code, 0, true, fmt, ap);
    va_end(ap);
    return -1;
}

int cf_err_ctx(struct cf_err *e, const char *fmt, ...)
{
    char prefix[512], old[sizeof(e->msg)];
    va_list ap;

    if (e == NULL)
        return -1;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof(old));
    snprintf(e->msg, sizeof(e->msg), "%s: %s", prefix, old);
    if (e->code == CF_E_OK)
        e->code = CF_E_INTERNAL;
    return -1;
}

void cf_err_clear(struct cf_err *e)
{
    if (e == NULL)
        return;
    e->code = CF_E_OK;
    e->sys_errno = 0;
    e->retryable = false;
    e->msg[0] = '\0';
}

void cf_err_keep(struct cf_err *dst, const struct cf_err *src)
{
    if (dst != NULL && dst->code == CF_E_OK && src != NULL)
        *dst = *src;
}

static void oom(size_t n)
{
    fprintf(stderr, "coffer: out of memory allocating %zu bytes\n", n);
    abort();
}

void *cf_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom(n);
    return p;
}

void *cf_malloc_big(size_t n)
{
    const size_t huge = 2u << 20;
    if (n < huge)
        return cf_malloc(n);
    void *p = NULL;
    if (posix_memalign(&p, huge, n) != 0)
        oom(n);
    /* first touch faults 2 MiB at a time rather than 4 KiB: far fewer (costly) page faults
     * on buffers of several MiB; only a hint, where transparent huge pages are off it does
     * nothing */
    (void)madvise(p, n, MADV_HUGEPAGE);
    return p;
}

void *cf_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        oom(n * size);
    return p;
}

void *cf_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        oom(n);
    return q;
}

char *cf_strdup(const char *s)
{
    return cf_strndup(s, strlen(s));
}

char *cf_strndup(const char *s, size_t n)
{
    char *p = cf_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *cf_asprintf(const char *fmt, ...)
{
    va_list ap;
    int n;
    char *p;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    CF_ASSERT(n >= 0);
    p = cf_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

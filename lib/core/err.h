/* err.h - error values that carry their own message.
 *
 * A function that can fail returns 0 or -1 and takes `struct cf_err *e` last. The place
 * that fails states the cause (cf_err_set, cf_err_sys); each caller prefixes what it was
 * doing (cf_err_ctx). Messages are lowercase, without a final period, and never contain
 * secrets. */
#ifndef CF_ERR_H
#define CF_ERR_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

enum cf_code {
    CF_E_OK = 0,
    CF_E_IO,        /* local file system */
    CF_E_CONFIG,    /* configuration file */
    CF_E_USAGE,     /* command line */
    CF_E_CRYPTO,    /* wrong key, failed authentication */
    CF_E_CORRUPT,   /* damaged or truncated repository data */
    CF_E_NOTFOUND,  /* object, backup or source does not exist */
    CF_E_EXISTS,    /* refused to overwrite */
    CF_E_NET,       /* network, remote server */
    CF_E_AUTH,      /* credentials refused */
    CF_E_SOURCE,    /* a source (database, dump tool) failed */
    CF_E_NOMEM,
    CF_E_LOCKED,    /* held by someone else */
    CF_E_CANCEL,    /* stopped because another part failed */
    CF_E_KEY,       /* the repository's key: key, passphrase or secret key file missing,
                     * readable by others, malformed, or not the one that opens it */
    CF_E_INTERNAL,
};

struct cf_err {
    enum cf_code code;
    int sys_errno;      /* errno at the failure, 0 if none */
    bool retryable;     /* a retry may succeed (timeouts, 5xx) */
    char msg[1024];
};

#define CF_ERR_INIT { CF_E_OK, 0, false, { 0 } }

#if defined(__GNUC__)
#define CF_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CF_PRINTF(a, b)
#endif

/* Each setter returns -1 so that `return cf_err_set(...)` reads naturally. A NULL @e is
 * allowed: the error is dropped. */
int cf_err_set(struct cf_err *e, enum cf_code code, const char *fmt, ...) CF_PRINTF(3, 4);
/* as cf_err_set, appending ": strerror(errno)" (errno read on entry) */
int cf_err_sys(struct cf_err *e, enum cf_code code, const char *fmt, ...) CF_PRINTF(3, 4);
/* as cf_err_set, marked retryable */
int cf_err_retry(struct cf_err *e, enum cf_code code, const char *fmt, ...) CF_PRINTF(3, 4);
/* prefix the message with "what: "; code and flags are kept */
int cf_err_ctx(struct cf_err *e, const char *fmt, ...) CF_PRINTF(2, 3);
void cf_err_clear(struct cf_err *e);
/* copy @src into @dst unless @dst already holds an error (the first error wins) */
void cf_err_keep(struct cf_err *dst, const struct cf_err *src);

/* A bug: abort with file and line in every build. */
#define CF_ASSERT(cond)                                                                  \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "coffer: assertion failed at %s:%d: %s\n", __FILE__, __LINE__, \
                    #cond);                                                              \
            abort();                                                                     \
        }                                                                                \
    } while (0)

/* Allocation that cannot fail quietly: out of memory aborts with a message. */
void *cf_malloc(size_t n);
/* a buffer of several MiB (pipes, part buffers), backed by huge pages where the system
 * allows; freed with free() */
void *cf_malloc_big(size_t n);
void *cf_calloc(size_t n, size_t size);
void *cf_realloc(void *p, size_t n);
char *cf_strdup(const char *s);
char *cf_strndup(const char *s, size_t n);
char *cf_asprintf(const char *fmt, ...) CF_PRINTF(1, 2);

#endif

/* target.h - where repository objects live: a local directory, an S3 bucket.
 *
 * Keys are '/'-separated relative names ("backups/media/20261122T031500Z-ab12/data/00000003").
 * A driver exports one `const struct target_ops`; callers go through the target_* wrappers
 * below, never through ops directly.
 *
 * Contract every driver keeps:
 * - Nothing written through put_begin/write is visible under its key before commit returns 0.
 *   commit is the only step that publishes (rename, CompleteMultipartUpload). After commit
 *   returns, the object is durable (fsync'd, or acknowledged by the server).
 * - abort never fails and frees the writer; after a failed write or commit the caller still
 *   calls abort. A committed writer is freed by commit.
 * - With TARGET_PUT_NOREPLACE, commit fails with CF_E_EXISTS if the key exists.
 * - get of a missing key fails with CF_E_NOTFOUND; list calls back in any order (callers
 *   sort what they need sorted).
 * - Retryable failures (timeouts, 5xx) set e->retryable; the driver retries them itself
 *   before giving up. */
#ifndef CF_TARGET_H
#define CF_TARGET_H

#include <stdint.h>
#include <sys/types.h>

#include "../config/ini.h"
#include "../core/buf.h"
#include "../core/err.h"

#define TARGET_PUT_NOREPLACE 1u

struct target;
struct target_writer;
struct target_reader;

/* one entry of a listing */
typedef int (*target_list_cb)(void *arg, const char *key, uint64_t size);

struct target_ops {
    const char *name;
    const char *const *keys;   /* configuration keys of [repository] this driver reads */
    /* parse and check the [repository] section; no I/O beyond reading files it names */
    int (*open)(const struct ini_section *sec, void **priv, struct cf_err *e);
    void (*close)(void *priv);
    /* a short description for logs: "local /var/backups/coffer", "s3 bucket/prefix" */
    const char *(*describe)(void *priv);

    int (*put_begin)(void *priv, const char *key, uint64_t size_hint, unsigned flags,
                     void **w, struct cf_err *e);
    int (*write)(void *w, const void *buf, size_t len, struct cf_err *e);
    int (*commit)(void *w, struct cf_err *e);
    void (*abort)(void *w);

    int (*get_begin)(void *priv, const char *key, void **r, struct cf_err *e);
    /* up to @cap bytes; 0 at the end; -1 on error */
    ssize_t (*read)(void *r, void *buf, size_t cap, struct cf_err *e);
    void (*get_end)(void *r);

    /* size of @key, CF_E_NOTFOUND if missing */
    int (*stat)(void *priv, const char *key, uint64_t *size, struct cf_err *e);
    /* every key under @prefix (a prefix of key names, usually ending in '/') */
    int (*list)(void *priv, const char *prefix, target_list_cb cb, void *arg, struct cf_err *e);
    /* remove @key; a missing key is not an error */
    int (*remove)(void *priv, const char *key, struct cf_err *e);
    /* optional (NULL: one remove per key): remove the @n keys in as few requests as the
     * target allows; a missing key is not an error */
    int (*remove_many)(void *priv, const char *const *keys, size_t n, struct cf_err *e);
    /* optional (NULL: nothing to do): drop unfinished uploads (multipart uploads of killed
     * writers) started more than @age seconds ago; counts them in *@n */
    int (*sweep)(void *priv, int64_t age, unsigned *n, struct cf_err *e);
};

/* the driver named @name ("local", "s3"), or NULL */
const struct target_ops *target_driver_find(const char *name);

/* Open the target described by [repository]. */
int target_open(const struct ini_section *sec, struct target **out, struct cf_err *e);
void target_close(struct target *t);
const char *target_describe(const struct target *t);

/* target_put_begin() - start writing @key. size_hint is 0 when unknown. */
int target_put_begin(struct target *t, const char *key, uint64_t size_hint, unsigned flags,
                     struct target_writer **w, struct cf_err *e);
/* target_write() - append @len bytes; counts bytes; the first error is latched. */
int target_write(struct target_writer *w, const void *buf, size_t len, struct cf_err *e);
/* target_commit() - make the object visible and durable. Frees @w on success. On -1 the
 * caller must still call target_abort(@w). */
int target_commit(struct target_writer *w, struct cf_err *e);
/* target_abort() - drop what was written; never fails; NULL is fine. Frees @w. */
void target_abort(struct target_writer *w);
uint64_t target_writer_bytes(const struct target_writer *w);

int target_get_begin(struct target *t, const char *key, struct target_reader **r,
                     struct cf_err *e);
ssize_t target_read(struct target_reader *r, void *buf, size_t cap, struct cf_err *e);
void target_get_end(struct target_reader *r);

int target_stat(struct target *t, const char *key, uint64_t *size, struct cf_err *e);
int target_list(struct target *t, const char *prefix, target_list_cb cb, void *arg,
                struct cf_err *e);
int target_remove(struct target *t, const char *key, struct cf_err *e);
/* target_remove_many() - remove @n keys (S3: DeleteObjects, 1000 keys a request) */
int target_remove_many(struct target *t, const char *const *keys, size_t n, struct cf_err *e);
/* target_remove_prefix() - remove every object under @prefix; *@n (may be NULL) counts them */
int target_remove_prefix(struct target *t, const char *prefix, size_t *n, struct cf_err *e);
/* target_sweep() - drop debris of unfinished writes older than @age seconds (S3: abort
 * multipart uploads); *@n counts them. For prune; a no-op on targets without such debris. */
int target_sweep(struct target *t, int64_t age, unsigned *n, struct cf_err *e);

/* whole small objects */
int target_put_buf(struct target *t, const char *key, const void *data, size_t len,
                   unsigned flags, struct cf_err *e);
int target_get_buf(struct target *t, const char *key, size_t max, struct buf *out,
                   struct cf_err *e);

#endif

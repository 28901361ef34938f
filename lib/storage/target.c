/* target.c - the generic layer over target drivers: byte counts, latched errors, and the
 * small-object helpers every caller shares. */
#include "target.h"

#include <string.h>

extern const struct target_ops tgt_local_ops;
#ifdef COFFER_HAVE_S3
extern const struct target_ops tgt_s3_ops;
#endif

static const struct target_ops *const drivers[] = {
    &tgt_local_ops,
#ifdef COFFER_HAVE_S3
    &tgt_s3_ops,
#endif
    NULL,
};

struct target {
    const struct target_ops *ops;
    void *priv;
};

struct target_writer {
    struct target *t;
    void *w;
    char *key;
    uint64_t bytes;
    bool failed;
};

struct target_reader {
    struct target *t;
    void *r;
};

const struct target_ops *target_driver_find(const char *name)
{
    for (size_t i = 0; drivers[i]; i++)
        if (strcmp(drivers[i]->name, name) == 0)
            return drivers[i];
    return NULL;
}

int target_open(const struct ini_section *sec, struct target **out, struct cf_err *e)
{
    const char *name;
    const struct target_ops *ops;
    struct target *t;

    if (ini_get_str(sec, "target", "local", &name, e) != 0)
        return -1;
    ops = target_driver_find(name);
    if (ops == NULL)
        return ini_err(sec, "target", e, "target: unknown kind '%s' (local or s3)", name);
    t = cf_calloc(1, sizeof(*t));
    t->ops = ops;
    if (ops->open(sec, &t->priv, e) != 0) {
        free(t);
        return -1;
    }
    *out = t;
    return 0;
}

void target_close(struct target *t)
{
    if (t == NULL)
        return;
    t->ops->close(t->priv);
    free(t);
}

const char *target_describe(const struct target *t)
{
    return t->ops->describe(t->priv);
}

int target_put_begin(struct target *t, const char *key, uint64_t size_hint, unsigned flags,
                     struct target_writer **w, struct cf_err *e)
{
    void *dw;
    *w = NULL;
    if (t->ops->put_begin(t->priv, key, size_hint, flags, &dw, e) != 0)
        return cf_err_ctx(e, "unable to start writing '%s'", key);
    *w = cf_calloc(1, sizeof(**w));
    (*w)->t = t;
    (*w)->w = dw;
    (*w)->key = cf_strdup(key);
    return 0;
}

int target_write(struct target_writer *w, const void *buf, size_t len, struct cf_err *e)
{
    if (w->failed)
        return cf_err_set(e, CF_E_INTERNAL, "write to '%s' after an error", w->key);
    if (len == 0)
        return 0;
    if (w->t->ops->write(w->w, buf, len, e) != 0) {
        w->failed = true;
        return cf_err_ctx(e, "unable to write '%s'", w->key);
    }
    w->bytes += len;
    return 0;
}

int target_commit(struct target_writer *w, struct cf_err *e)
{
    if (w->failed)
        return cf_err_set(e, CF_E_INTERNAL, "commit of '%s' after an error", w->key);
    if (w->t->ops->commit(w->w, e) != 0) {
        w->failed = true;
        return cf_err_ctx(e, "unable to commit '%s'", w->key);
    }
    free(w->key);
    free(w);
    return 0;
}

void target_abort(struct target_writer *w)
{
    if (w == NULL)
        return;
    w->t->ops->abort(w->w);
    free(w->key);
    free(w);
}

uint64_t target_writer_bytes(const struct target_writer *w)
{
    return w->bytes;
}

int target_get_begin(struct target *t, const char *key, struct target_reader **r,
                     struct cf_err *e)
{
    void *dr;
    *r = NULL;
    if (t->ops->get_begin(t->priv, key, &dr, e) != 0)
        return cf_err_ctx(e, "unable to read '%s'", key);
    *r = cf_calloc(1, sizeof(**r));
    (*r)->t = t;
    (*r)->r = dr;
    return 0;
}

ssize_t target_read(struct target_reader *r, void *buf, size_t cap, struct cf_err *e)
{
    return r->t->ops->read(r->r, buf, cap, e);
}

void target_get_end(struct target_reader *r)
{
    if (r == NULL)
        return;
    r->t->ops->get_end(r->r);
    free(r);
}

int target_stat(struct target *t, const char *key, uint64_t *size, struct cf_err *e)
{
    return t->ops->stat(t->priv, key, size, e);
}

int target_list(struct target *t, const char *prefix, target_list_cb cb, void *arg,
                struct cf_err *e)
{
    return t->ops->list(t->priv, prefix, cb, arg, e);
}

int target_remove(struct target *t, const char *key, struct cf_err *e)
{
    return t->ops->remove(t->priv, key, e);
}

int target_remove_many(struct target *t, const char *const *keys, size_t n, struct cf_err *e)
{
    if (t->ops->remove_many != NULL)
        return n > 0 ? t->ops->remove_many(t->priv, keys, n, e) : 0;
    for (size_t i = 0; i < n; i++)
        if (t->ops->remove(t->priv, keys[i], e) != 0)
            return -1;
    return 0;
}

struct keylist {
    char **v;
    size_t n, cap;
};

static int keylist_add(void *arg, const char *key, uint64_t size)
{
    struct keylist *kl = arg;
    (void)size;
    if (kl->n == kl->cap) {
        kl->cap = kl->cap ? kl->cap * 2 : 64;
        kl->v = cf_realloc(kl->v, kl->cap * sizeof(*kl->v));
    }
    kl->v[kl->n++] = cf_strdup(key);
    return 0;
}

int target_remove_prefix(struct target *t, const char *prefix, size_t *n, struct cf_err *e)
{
    struct keylist kl = { 0 };
    int rc = target_list(t, prefix, keylist_add, &kl, e);
    if (rc == 0)
        rc = target_remove_many(t, (const char *const *)kl.v, kl.n, e);
    if (rc == 0 && n != NULL)
        *n = kl.n;
    for (size_t i = 0; i < kl.n; i++)
        free(kl.v[i]);
    free(kl.v);
    return rc;
}

int target_sweep(struct target *t, int64_t age, unsigned *n, struct cf_err *e)
{
    *n = 0;
    return t->ops->sweep ? t->ops->sweep(t->priv, age, n, e) : 0;
}

int target_put_buf(struct target *t, const char *key, const void *data, size_t len,
                   unsigned flags, struct cf_err *e)
{
    struct target_writer *w = NULL;
    if (target_put_begin(t, key, len, flags, &w, e) != 0)
        return -1;
    if (target_write(w, data, len, e) != 0 || target_commit(w, e) != 0) {
        target_abort(w);
        return -1;
    }
    return 0;
}

int target_get_buf(struct target *t, const char *key, size_t max, struct buf *out,
                   struct cf_err *e)
{
    struct target_reader *r = NULL;
    char tmp[65536];
    ssize_t n;
    int rc = -1;

    buf_reset(out);
    if (target_get_begin(t, key, &r, e) != 0)
        return -1;
    while ((n = target_read(r, tmp, sizeof(tmp), e)) > 0) {
        if (out->len + (size_t)n > max) {
            cf_err_set(e, CF_E_CORRUPT, "'%s' is larger than %zu bytes", key, max);
            goto out;
        }
        buf_append(out, tmp, (size_t)n);
    }
    if (n < 0) {
        cf_err_ctx(e, "unable to read '%s'", key);
        goto out;
    }
    buf_reserve(out, 0);
    rc = 0;
out:
    target_get_end(r);
    return rc;
}

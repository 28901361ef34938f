#include "bpipe.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

struct bpipe {
    pthread_mutex_t mu;
    pthread_cond_t can_read, can_write;
    char *ring;
    size_t cap, head, len;   /* data is ring[head .. head+len) modulo cap */
    bool closed, failed;
    struct cf_err err;
};

struct bpipe *bpipe_new(size_t cap)
{
    struct bpipe *p = cf_calloc(1, sizeof(*p));
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->can_read, NULL);
    pthread_cond_init(&p->can_write, NULL);
    p->ring = cf_malloc(cap);
    p->cap = cap;
    return p;
}

void bpipe_free(struct bpipe *p)
{
    if (p == NULL)
        return;
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->can_read);
    pthread_cond_destroy(&p->can_write);
    free(p->ring);
    free(p);
}

int bpipe_write(struct bpipe *p, const void *buf, size_t len, struct cf_err *e)
{
    const char *src = buf;
    pthread_mutex_lock(&p->mu);
    while (len > 0) {
        while (p->len == p->cap && !p->failed)
            pthread_cond_wait(&p->can_write, &p->mu);
        if (p->failed) {
            if (e)
                *e = p->err;
            pthread_mutex_unlock(&p->mu);
            return -1;
        }
        CF_ASSERT(!p->closed);
        size_t tail = (p->head + p->len) % p->cap;
        size_t room = p->cap - p->len;
        size_t n = len < room ? len : room;
        size_t first = n < p->cap - tail ? n : p->cap - tail;
        memcpy(p->ring + tail, src, first);
        memcpy(p->ring, src + first, n - first);
        p->len += n;
        src += n;
        len -= n;
        pthread_cond_signal(&p->can_read);
    }
    pthread_mutex_unlock(&p->mu);
    return 0;
}

ssize_t bpipe_read(struct bpipe *p, void *buf, size_t cap, struct cf_err *e)
{
    ssize_t rc;
    pthread_mutex_lock(&p->mu);
    while (p->len == 0 && !p->closed && !p->failed)
        pthread_cond_wait(&p->can_read, &p->mu);
    if (p->failed) {
        if (e)
            *e = p->err;
        rc = -1;
    } else if (p->len == 0) {
        rc = 0;
    } else {
        size_t n = cap < p->len ? cap : p->len;
        size_t first = n < p->cap - p->head ? n : p->cap - p->head;
        memcpy(buf, p->ring + p->head, first);
        memcpy((char *)buf + first, p->ring, n - first);
        p->head = (p->head + n) % p->cap;
        p->len -= n;
        rc = (ssize_t)n;
        pthread_cond_signal(&p->can_write);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

ssize_t bpipe_read_full(struct bpipe *p, void *buf, size_t cap, struct cf_err *e)
{
    size_t got = 0;
    while (got < cap) {
        ssize_t n = bpipe_read(p, (char *)buf + got, cap - got, e);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

void bpipe_close(struct bpipe *p)
{
    pthread_mutex_lock(&p->mu);
    p->closed = true;
    pthread_cond_broadcast(&p->can_read);
    pthread_mutex_unlock(&p->mu);
}

void bpipe_fail(struct bpipe *p, const struct cf_err *err)
{
    pthread_mutex_lock(&p->mu);
    if (!p->failed) {
        p->failed = true;
        p->err = *err;
        if (p->err.code == CF_E_OK)
            cf_err_set(&p->err, CF_E_CANCEL, "stopped");
    }
    pthread_cond_broadcast(&p->can_read);
    pthread_cond_broadcast(&p->can_write);
    pthread_mutex_unlock(&p->mu);
}

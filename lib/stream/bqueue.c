#include "bqueue.h"

#include <pthread.h>
#include <stdbool.h>

struct bqueue {
    pthread_mutex_t mu;
    pthread_cond_t cond;      /* any change: a buffer freed, pushed, closed or failed */
    struct bq_buf *bufs;
    struct bq_buf **free_list, **full;
    size_t n, nfree, head, nfull;
    bool closed, failed;
    struct cf_err err;
};

struct bqueue *bqueue_new(size_t nbufs, size_t bufsize)
{
    struct bqueue *q = cf_calloc(1, sizeof(*q));
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cond, NULL);
    q->n = nbufs;
    q->bufs = cf_calloc(nbufs, sizeof(*q->bufs));
    q->free_list = cf_calloc(nbufs, sizeof(*q->free_list));
    q->full = cf_calloc(nbufs, sizeof(*q->full));
    for (size_t i = 0; i < nbufs; i++) {
        q->bufs[i].data = cf_malloc(bufsize);
        q->free_list[q->nfree++] = &q->bufs[i];
    }
    return q;
}

void bqueue_free(struct bqueue *q)
{
    if (q == NULL)
        return;
    for (size_t i = 0; i < q->n; i++)
        free(q->bufs[i].data);
    free(q->bufs);
    free(q->free_list);
    free(q->full);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cond);
    free(q);
}

static void *failed(struct bqueue *q, struct cf_err *e)
{
    if (e)
        *e = q->err;
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

struct bq_buf *bqueue_get_free(struct bqueue *q, struct cf_err *e)
{
    pthread_mutex_lock(&q->mu);
    while (q->nfree == 0 && !q->failed)
        pthread_cond_wait(&q->cond, &q->mu);
    if (q->failed)
        return failed(q, e);
    struct bq_buf *b = q->free_list[--q->nfree];
    pthread_mutex_unlock(&q->mu);
    b->len = 0;
    return b;
}

int bqueue_push(struct bqueue *q, struct bq_buf *b, struct cf_err *e)
{
    pthread_mutex_lock(&q->mu);
    if (q->failed) {
        q->free_list[q->nfree++] = b;
        failed(q, e);
        return -1;
    }
    q->full[(q->head + q->nfull++) % q->n] = b;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

struct bq_buf *bqueue_pop(struct bqueue *q, struct cf_err *e)
{
    pthread_mutex_lock(&q->mu);
    while (q->nfull == 0 && !q->closed && !q->failed)
        pthread_cond_wait(&q->cond, &q->mu);
    if (q->failed)
        return failed(q, e);
    if (q->nfull == 0) {
        pthread_mutex_unlock(&q->mu);
        return NULL;
    }
    struct bq_buf *b = q->full[q->head];
    q->head = (q->head + 1) % q->n;
    q->nfull--;
    pthread_mutex_unlock(&q->mu);
    return b;
}

void bqueue_put_free(struct bqueue *q, struct bq_buf *b)
{
    pthread_mutex_lock(&q->mu);
    q->free_list[q->nfree++] = b;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->mu);
}

void bqueue_close(struct bqueue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->mu);
}

void bqueue_fail(struct bqueue *q, const struct cf_err *err)
{
    pthread_mutex_lock(&q->mu);
    if (!q->failed) {
        q->failed = true;
        q->err = *err;
        if (q->err.code == CF_E_OK)
            cf_err_set(&q->err, CF_E_CANCEL, "stopped");
    }
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->mu);
}

/* repo_lease.c - repository locks as leases (see repo_lease.h, docs/FORMAT.md "locks/"). */
#include "repo_lease.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "../core/log.h"
#include "../core/util.h"
#include "repo_int.h"

#define LEASE_MAX_BYTES 4096

struct lease {
    struct target *t;
    char *key;
    struct lease_info info;
    char token[33];
    int64_t ttl;
    /* the keeper thread */
    pthread_t keeper;
    bool keeping, stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct cf_err keeper_err;
};

static char *lease_key(const char *name)
{
    return cf_asprintf("locks/%s", name);
}

void lease_source_name(const char *source, char *out, size_t cap)
{
    snprintf(out, cap, "source-%s", source);
}

static void this_host(char *out, size_t cap)
{
    if (gethostname(out, cap) != 0)
        snprintf(out, cap, "unknown");
    out[cap - 1] = '\0';
}

/* parse a lock object; @token may be NULL */
static int lease_parse(const char *name, const struct buf *b, struct lease_info *li, char *token,
                       struct cf_err *e)
{
    json_error_t je;
    json_t *j = json_loadb(b->data, b->len, 0, &je);
    const char *purpose = NULL, *host = NULL, *tok = NULL, *cr = NULL, *rn = NULL, *ex = NULL;
    json_int_t pid = 0;
    int rc = -1;

    memset(li, 0, sizeof(*li));
    if (j == NULL || json_unpack(j, "{s:s, s:s, s:I, s:s, s:s, s:s, s:s}", "purpose", &purpose,
                                 "host", &host, "pid", &pid, "token", &tok, "created", &cr,
                                 "renewed", &rn, "expires", &ex) != 0) {
        cf_err_set(e, CF_E_CORRUPT, "lock 'locks/%s' is not a valid lock object", name);
        goto out;
    }
    snprintf(li->name, sizeof(li->name), "%s", name);
    snprintf(li->purpose, sizeof(li->purpose), "%s", purpose);
    snprintf(li->host, sizeof(li->host), "%s", host);
    li->pid = (long)pid;
    if (time_parse_rfc3339(cr, &li->created, e) != 0 ||
        time_parse_rfc3339(rn, &li->renewed, e) != 0 ||
        time_parse_rfc3339(ex, &li->expires, e) != 0) {
        cf_err_ctx(e, "lock 'locks/%s'", name);
        goto out;
    }
    if (token)
        snprintf(token, 33, "%s", tok);
    char me[256];
    this_host(me, sizeof(me));
    if (li->expires < time(NULL))
        li->stale = true;
    else if (strcmp(li->host, me) == 0 && li->pid > 0 && kill((pid_t)li->pid, 0) != 0 &&
             errno == ESRCH)
        li->stale = true;
    li->mine = strcmp(li->host, me) == 0 && li->pid == (long)getpid();
    rc = 0;
out:
    json_decref(j);
    return rc;
}

static int lease_fetch(struct target *t, const char *name, struct lease_info *li, char *token,
                       struct cf_err *e)
{
    struct buf b = BUF_INIT;
    char *key = lease_key(name);
    int rc = target_get_buf(t, key, LEASE_MAX_BYTES, &b, e);
    if (rc == 0)
        rc = lease_parse(name, &b, li, token, e);
    buf_free(&b);
    free(key);
    return rc;
}

int lease_read(struct target *t, const char *name, struct lease_info *out, struct cf_err *e)
{
    return lease_fetch(t, name, out, NULL, e);
}

static int lease_write(struct lease *l, unsigned flags, struct cf_err *e)
{
    char cr[32], rn[32], ex[32];
    time_t now = time(NULL);

    l->info.renewed = now;
    l->info.expires = now + (time_t)l->ttl;
    time_format_rfc3339(l->info.created, cr, sizeof(cr));
    time_format_rfc3339(l->info.renewed, rn, sizeof(rn));
    time_format_rfc3339(l->info.expires, ex, sizeof(ex));
    json_t *j = json_pack("{s:i, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s}", "format", 1, "name",
                          l->info.name, "purpose", l->info.purpose, "host", l->info.host, "pid",
                          (json_int_t)l->info.pid, "token", l->token, "created", cr, "renewed",
                          rn, "expires", ex);
    char *text = json_dumps(j, JSON_SORT_KEYS);
    int rc = target_put_buf(l->t, l->key, text, strlen(text), flags, e);
    free(text);
    json_decref(j);
    return rc;
}

/* remove a stale lock, but only the one we looked at: if its token changed, someone else
 * took it over first */
static int lease_remove_stale(struct target *t, const char *name, const char *token,
                              struct cf_err *e)
{
    struct lease_info li;
    char now_token[33];
    char *key = lease_key(name);
    int rc = -1;

    if (lease_fetch(t, name, &li, now_token, e) != 0) {
        if (e->code == CF_E_NOTFOUND) {
            cf_err_clear(e);
            rc = 0;
        }
        goto out;
    }
    if (strcmp(now_token, token) != 0) {
        cf_err_set(e, CF_E_LOCKED, "lock 'locks/%s' was taken over by %s pid %ld", name,
                   li.host, li.pid);
        goto out;
    }
    rc = target_remove(t, key, e);
out:
    free(key);
    return rc;
}

int lease_acquire(struct target *t, const char *name, const char *purpose, int64_t ttl,
                  struct lease **out, struct cf_err *e)
{
    struct lease *l;
    unsigned char rnd[16];

    if (sodium_init() < 0)
        return cf_err_set(e, CF_E_INTERNAL, "libsodium failed to initialise");
    l = cf_calloc(1, sizeof(*l));
    randombytes_buf(rnd, sizeof(rnd));
    hex_encode(rnd, sizeof(rnd), l->token);
    l->t = t;
    l->key = lease_key(name);
    l->ttl = ttl > 0 ? ttl : LEASE_DEFAULT_TTL;
    snprintf(l->info.name, sizeof(l->info.name), "%s", name);
    snprintf(l->info.purpose, sizeof(l->info.purpose), "%s", purpose);
    this_host(l->info.host, sizeof(l->info.host));
    l->info.pid = (long)getpid();
    l->info.mine = true;

    for (int attempt = 0; attempt < 3; attempt++) {
        struct lease_info cur;
        char token[33], until[32], since[32];

        l->info.created = time(NULL);
        if (lease_write(l, TARGET_PUT_NOREPLACE, e) == 0) {
            *out = l;
            return 0;
        }
        if (e->code != CF_E_EXISTS)
            goto fail;
        cf_err_clear(e);
        if (lease_fetch(t, name, &cur, token, e) != 0) {
            if (e->code == CF_E_NOTFOUND) {   /* released meanwhile: try again */
                cf_err_clear(e);
                continue;
            }
            if (e->code != CF_E_CORRUPT)
                goto fail;
            /* an unreadable lock (torn by a crash on a target without atomic puts) cannot
             * name a live holder: treat it as stale */
            log_warn("taking over unreadable lock locks/%s: %s", name, e->msg);
            cf_err_clear(e);
            if (target_remove(t, l->key, e) != 0)
                goto fail;
            continue;
        }
        time_format_rfc3339(cur.expires, until, sizeof(until));
        time_format_rfc3339(cur.created, since, sizeof(since));
        if (!cur.stale) {
            cf_err_set(e, CF_E_LOCKED,
                       "repository lock 'locks/%s' is held by %s on %s pid %ld since %s until %s; "
                       "HINT: wait for it to finish, or for the lock to expire (it is renewed "
                       "while its holder works)",
                       name, cur.purpose, cur.host, cur.pid, since, until);
            goto fail;
        }
        log_warn("taking over stale lock locks/%s held by %s on %s pid %ld since %s (%s)", name,
                 cur.purpose, cur.host, cur.pid, since,
                 cur.expires < time(NULL) ? "expired" : "process is gone");
        if (lease_remove_stale(t, name, token, e) != 0)
            goto fail;
    }
    cf_err_set(e, CF_E_LOCKED, "repository lock 'locks/%s' is contended; HINT: try again", name);
fail:
    cf_err_ctx(e, "unable to lock the repository");
    free(l->key);
    free(l);
    return -1;
}

int lease_renew(struct lease *l, struct cf_err *e)
{
    struct lease_info cur;
    char token[33];

    if (lease_fetch(l->t, l->info.name, &cur, token, e) != 0 || strcmp(token, l->token) != 0) {
        if (e->code == CF_E_OK || e->code == CF_E_NOTFOUND)
            cf_err_set(e, CF_E_LOCKED, "lost repository lock 'locks/%s' (it expired and was "
                       "taken over or removed)", l->info.name);
        return -1;
    }
    if (lease_write(l, 0, e) != 0)
        return cf_err_ctx(e, "unable to renew repository lock 'locks/%s'", l->info.name);
    return 0;
}

int lease_keep(struct lease *l, struct cf_err *e)
{
    if (time(NULL) - l->info.renewed < l->ttl / 3)
        return 0;
    return lease_renew(l, e);
}

static void *keeper_main(void *arg)
{
    struct lease *l = arg;
    struct timespec ts;

    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += l->ttl / 3 > 0 ? l->ttl / 3 : 1;
        if (pthread_cond_timedwait(&l->cv, &l->mu, &ts) == 0 || l->stop)
            continue;
        struct cf_err e = CF_ERR_INIT;
        if (lease_renew(l, &e) != 0) {
            log_warn("unable to renew lock locks/%s: %s", l->info.name, e.msg);
            if (e.code == CF_E_LOCKED) {
                cf_err_keep(&l->keeper_err, &e);
                break;
            }
        }
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

int lease_keeper_start(struct lease *l, struct cf_err *e)
{
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    l->stop = false;
    cf_err_clear(&l->keeper_err);
    if (pthread_create(&l->keeper, NULL, keeper_main, l) != 0) {
        pthread_cond_destroy(&l->cv);
        pthread_mutex_destroy(&l->mu);
        return cf_err_set(e, CF_E_INTERNAL, "unable to start the lock renewal thread");
    }
    l->keeping = true;
    return 0;
}

int lease_keeper_stop(struct lease *l, struct cf_err *e)
{
    if (l == NULL || !l->keeping)
        return 0;
    pthread_mutex_lock(&l->mu);
    l->stop = true;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->keeper, NULL);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    l->keeping = false;
    if (l->keeper_err.code != CF_E_OK) {
        cf_err_keep(e, &l->keeper_err);
        return -1;
    }
    return 0;
}

void lease_release(struct lease *l)
{
    struct cf_err e = CF_ERR_INIT;

    if (l == NULL)
        return;
    lease_keeper_stop(l, NULL);
    if (lease_remove_stale(l->t, l->info.name, l->token, &e) != 0)
        log_warn("unable to release lock locks/%s: %s", l->info.name, e.msg);
    free(l->key);
    free(l);
}

struct list_acc {
    struct target *t;
    struct lease_info *v;
    size_t n;
};

static int list_one(void *arg, const char *key, uint64_t size)
{
    struct list_acc *a = arg;
    struct cf_err e = CF_ERR_INIT;
    struct lease_info li;

    (void)size;
    if (lease_fetch(a->t, key + strlen("locks/"), &li, NULL, &e) != 0) {
        if (e.code == CF_E_NOTFOUND)
            return 0;   /* released while we listed */
        memset(&li, 0, sizeof(li));
        snprintf(li.name, sizeof(li.name), "%s", key + strlen("locks/"));
        snprintf(li.purpose, sizeof(li.purpose), "unreadable");
        li.stale = true;
    }
    a->v = cf_realloc(a->v, (a->n + 1) * sizeof(*a->v));
    a->v[a->n++] = li;
    return 0;
}

static int cmp_info(const void *a, const void *b)
{
    return strcmp(((const struct lease_info *)a)->name, ((const struct lease_info *)b)->name);
}

int lease_list(struct target *t, struct lease_info **out, size_t *n, struct cf_err *e)
{
    struct list_acc a = { t, NULL, 0 };

    if (target_list(t, "locks/", list_one, &a, e) != 0) {
        free(a.v);
        return cf_err_ctx(e, "unable to list repository locks");
    }
    if (a.n > 1)
        qsort(a.v, a.n, sizeof(*a.v), cmp_info);
    *out = a.v;
    *n = a.n;
    return 0;
}

int repo_lock(struct repo *r, const char *name, const char *purpose, int64_t ttl,
              struct lease **out, struct cf_err *e)
{
    return lease_acquire(repo_target(r), name, purpose, ttl, out, e);
}

int repo_locks_list(struct repo *r, struct lease_info **out, size_t *n, struct cf_err *e)
{
    return lease_list(repo_target(r), out, n, e);
}

int repo_lock_source(struct repo *r, const char *source, const char *purpose, int64_t ttl,
                     unsigned flags, struct lease **out, struct cf_err *e)
{
    char name[REPO_NAME_MAX + 16];
    lease_source_name(source, name, sizeof(name));
    for (int attempt = 0;; attempt++) {
        if (lease_acquire(repo_target(r), name, purpose, ttl, out, e) == 0) {
            if (!(flags & REPO_LOCK_KEEP) || lease_keeper_start(*out, e) == 0)
                return 0;
            lease_release(*out);
            *out = NULL;
            return -1;
        }
        if (!(flags & REPO_LOCK_WAIT) || e->code != CF_E_LOCKED || attempt >= 60)
            return -1;
        if (attempt == 0)
            log_info("waiting for lock source=%s: %s", source, e->msg);
        cf_err_clear(e);
        sleep(1);
    }
}

int repo_unlock_source(struct lease *l, struct cf_err *e)
{
    int rc = lease_keeper_stop(l, e);
    lease_release(l);
    return rc;
}

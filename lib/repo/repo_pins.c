/* repo_pins.c - pins live in the repository (pins/<source>/<id>), so a rebuilt index, or
 * another host, sees them. Plain JSON, not encrypted: prune must honour pins on a host that
 * holds only the public key (docs/FORMAT.md "pins/"). Removal records (removed/<source>/<id>)
 * are written the same way, for the same reason: every host's index must tell a backup that
 * coffer removed from one that vanished. */
#include "repo_pins.h"

#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "../core/log.h"
#include "../core/util.h"
#include "repo_int.h"

#define PIN_MAX_BYTES 8192

static char *pin_key(const char *source, const char *id)
{
    return cf_asprintf("pins/%s/%s", source, id);
}

struct pin_acc {
    struct target *t;
    struct repo_pin *v;
    size_t n;
    struct cf_err *e;
};

static int pin_one(void *arg, const char *key, uint64_t size)
{
    struct pin_acc *a = arg;
    struct buf b = BUF_INIT;
    struct repo_pin p;
    struct repo_key k;
    json_t *j = NULL;
    const char *reason = "", *at = NULL, *host = "";

    (void)size;
    if (repo_key_parse(key, &k) != REPO_KEY_PIN)
        return 0;   /* not a pin */
    memset(&p, 0, sizeof(p));
    snprintf(p.source, sizeof(p.source), "%s", k.source);
    snprintf(p.id, sizeof(p.id), "%s", k.id);
    if (target_get_buf(a->t, key, PIN_MAX_BYTES, &b, a->e) != 0) {
        buf_free(&b);
        if (a->e->code == CF_E_NOTFOUND) {   /* unpinned while we listed */
            cf_err_clear(a->e);
            return 0;
        }
        return -1;
    }
    /* a pin that cannot be parsed still pins: being wrong here must never delete a backup */
    j = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
    if (j == NULL ||
        json_unpack(j, "{s?:s, s?:s, s?:s}", "reason", &reason, "pinned_at", &at, "host", &host) != 0)
        reason = "(unreadable pin object)";
    snprintf(p.reason, sizeof(p.reason), "%s", reason);
    snprintf(p.host, sizeof(p.host), "%s", host);
    if (at == NULL || time_parse_rfc3339(at, &p.at, NULL) != 0)
        p.at = 0;
    json_decref(j);
    buf_free(&b);
    a->v = cf_realloc(a->v, (a->n + 1) * sizeof(*a->v));
    a->v[a->n++] = p;
    return 0;
}

static int cmp_pin(const void *a, const void *b)
{
    const struct repo_pin *x = a, *y = b;
    int c = strcmp(x->source, y->source);
    return c ? c : strcmp(x->id, y->id);
}

int repo_pins_load(struct repo *r, struct repo_pin **out, size_t *n, struct cf_err *e)
{
    struct pin_acc a = { repo_target(r), NULL, 0, e };

    if (target_list(repo_target(r), "pins/", pin_one, &a, e) != 0) {
        free(a.v);
        return cf_err_ctx(e, "unable to read the pins");
    }
    if (a.n > 1)
        qsort(a.v, a.n, sizeof(*a.v), cmp_pin);
    *out = a.v;
    *n = a.n;
    return 0;
}

const struct repo_pin *repo_pins_find(const struct repo_pin *v, size_t n, const char *source,
                                    const char *id)
{
    struct repo_pin key;
    snprintf(key.source, sizeof(key.source), "%s", source);
    snprintf(key.id, sizeof(key.id), "%s", id);
    return n ? bsearch(&key, v, n, sizeof(*v), cmp_pin) : NULL;
}

/* write @key: {"format": 1, "source", "id", @what: @text, @when_name: @at, "host"} */
static int record_put(struct target *t, const char *key, const char *source, const char *id,
                      const char *what, const char *text, const char *when_name, time_t at,
                      struct cf_err *e)
{
    char when[32], host[256] = "";

    gethostname(host, sizeof(host) - 1);
    time_format_rfc3339(at, when, sizeof(when));
    json_t *j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s}", "format", 1, "source", source, "id",
                          id, what, text, when_name, when, "host", host);
    char *s = json_dumps(j, JSON_INDENT(2));
    int rc = target_put_buf(t, key, s, strlen(s), 0, e);
    free(s);
    json_decref(j);
    return rc;
}

int repo_pin_put(struct repo *r, const char *source, const char *id, const char *reason,
                time_t at, struct cf_err *e)
{
    char *key = pin_key(source, id);
    int rc = record_put(repo_target(r), key, source, id, "reason", reason ? reason : "",
                        "pinned_at", at, e);
    if (rc != 0)
        cf_err_ctx(e, "unable to pin backup %s/%s", source, id);
    free(key);
    return rc;
}

static char *removed_key(const char *source, const char *id)
{
    return cf_asprintf("removed/%s/%s", source, id);
}

int repo_removed_put(struct repo *r, const char *source, const char *id, const char *by,
                    struct cf_err *e)
{
    char *key = removed_key(source, id);
    int rc = record_put(repo_target(r), key, source, id, "by", by, "removed_at", time(NULL), e);
    if (rc != 0)
        cf_err_ctx(e, "unable to record the removal of backup %s/%s", source, id);
    free(key);
    return rc;
}

int repo_removed_exists(struct repo *r, const char *source, const char *id, bool *yes,
                       struct cf_err *e)
{
    char *key = removed_key(source, id);
    uint64_t size;
    int rc = target_stat(repo_target(r), key, &size, e);
    *yes = rc == 0;
    if (rc != 0 && e->code == CF_E_NOTFOUND) {
        cf_err_clear(e);
        rc = 0;
    }
    free(key);
    return rc;
}

void repo_removed_drop(struct repo *r, const char *source, const char *id)
{
    struct cf_err e = CF_ERR_INIT;
    char *key = removed_key(source, id);
    if (target_remove(repo_target(r), key, &e) != 0)
        log_warn("unable to remove %s, which says the backup was removed: %s", key, e.msg);
    free(key);
}

int repo_pin_remove(struct repo *r, const char *source, const char *id, struct cf_err *e)
{
    char *key = pin_key(source, id);
    int rc = target_remove(repo_target(r), key, e);
    if (rc != 0)
        cf_err_ctx(e, "unable to unpin backup %s/%s", source, id);
    free(key);
    return rc;
}

/* repo_obj.c - the repository's objects by name: parsing keys, writing and reading data
 * objects, and what prune and verify need of the target (listing, removal, sweeping, sizes).
 * The pipeline and the tools come through here; only lib/repo talks to the target. */
#include "repo.h"

#include <inttypes.h>
#include <string.h>

#include "../core/util.h"
#include "../storage/target.h"
#include "repo_int.h"

/* copy the segment [@p, @end) into @out (@cap bytes); -1 when empty or too long */
static int segment(const char *p, const char *end, char *out, size_t cap)
{
    if (end <= p || (size_t)(end - p) >= cap)
        return -1;
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
    return 0;
}

/* "<source>/<id>" at @p (ending at '/' or the end), then *@rest the text after the id */
static int source_and_id(const char *p, struct repo_key *k, const char **rest)
{
    const char *s1 = strchr(p, '/'), *s2;
    if (s1 == NULL || segment(p, s1, k->source, sizeof(k->source)) != 0)
        return -1;
    s2 = strchr(s1 + 1, '/');
    if (s2 == NULL)
        s2 = s1 + 1 + strlen(s1 + 1);
    if (segment(s1 + 1, s2, k->id, sizeof(k->id)) != 0)
        return -1;
    *rest = s2;
    return 0;
}

enum repo_key_kind repo_key_parse(const char *key, struct repo_key *k)
{
    const char *rest;

    memset(k, 0, sizeof(*k));
    k->kind = REPO_KEY_UNKNOWN;
    if (strcmp(key, "repo.json") == 0) {
        k->kind = REPO_KEY_REPO_JSON;
    } else if (strncmp(key, "backups/", 8) == 0) {
        if (source_and_id(key + 8, k, &rest) != 0 || *rest != '/')
            return k->kind;
        if (strcmp(rest, "/manifest") == 0) {
            k->kind = REPO_KEY_MANIFEST;
        } else if (strncmp(rest, "/data/", 6) == 0) {
            char *end;
            unsigned long n = strtoul(rest + 6, &end, 10);
            k->kind = *end == '\0' && n <= UINT32_MAX ? REPO_KEY_DATA : REPO_KEY_BACKUP_OTHER;
            k->n = (uint32_t)n;
        } else {
            k->kind = REPO_KEY_BACKUP_OTHER;
        }
    } else if (strncmp(key, "pins/", 5) == 0) {
        if (source_and_id(key + 5, k, &rest) == 0 && *rest == '\0')
            k->kind = REPO_KEY_PIN;
    } else if (strncmp(key, "removed/", 8) == 0) {
        if (source_and_id(key + 8, k, &rest) == 0 && *rest == '\0')
            k->kind = REPO_KEY_REMOVED;
    } else if (strncmp(key, "locks/", 6) == 0) {
        k->kind = REPO_KEY_LOCK;
    } else if (strncmp(key, "drills/", 7) == 0) {
        if (source_and_id(key + 7, k, &rest) == 0 && *rest == '\0')
            k->kind = REPO_KEY_DRILL;
    } else if (strncmp(key, "logs/", 5) == 0) {
        const char *s1 = strchr(key + 5, '/');
        if (s1 != NULL && segment(key + 5, s1, k->source, sizeof(k->source)) == 0)
            k->kind = REPO_KEY_LOG;
    }
    return k->kind;
}

const char *repo_describe(struct repo *r)
{
    return target_describe(repo_target(r));
}

char *repo_location(const struct conf *c)
{
    struct target *t = NULL;
    struct cf_err e = CF_ERR_INIT;
    char *s = NULL;
    if (target_open(c->target, &t, &e) == 0)
        s = cf_strdup(target_describe(t));
    target_close(t);
    return s;
}

int repo_object_begin(struct repo *r, const char *source, const char *id, uint32_t n,
                      uint64_t size_hint, struct target_writer **w, struct cf_err *e)
{
    char *key = repo_key_data(source, id, n);
    int rc = target_put_begin(repo_target(r), key, size_hint, 0, w, e);
    free(key);
    return rc;
}

int repo_object_write(struct target_writer *w, const void *p, size_t n, struct cf_err *e)
{
    return target_write(w, p, n, e);
}

int repo_object_commit(struct target_writer *w, struct cf_err *e)
{
    return target_commit(w, e);
}

void repo_object_abort(struct target_writer *w)
{
    target_abort(w);
}

int repo_object_open(struct repo *r, const char *source, const char *id, uint32_t n,
                     struct target_reader **rd, struct cf_err *e)
{
    char *key = repo_key_data(source, id, n);
    int rc = target_get_begin(repo_target(r), key, rd, e);
    free(key);
    return rc;
}

ssize_t repo_object_read(struct target_reader *rd, void *buf, size_t cap, struct cf_err *e)
{
    return target_read(rd, buf, cap, e);
}

void repo_object_close(struct target_reader *rd)
{
    target_get_end(rd);
}

int repo_object_stat(struct repo *r, const char *source, const char *id, uint32_t n,
                     uint64_t *size, struct cf_err *e)
{
    char *key = repo_key_data(source, id, n);
    int rc = target_stat(repo_target(r), key, size, e);
    free(key);
    return rc;
}

int repo_backup_discard(struct repo *r, const char *source, const char *id, struct cf_err *e)
{
    char *prefix = repo_key_backup_prefix(source, id);
    int rc = target_remove_prefix(repo_target(r), prefix, NULL, e);
    free(prefix);
    return rc;
}

struct objects_ctx {
    repo_object_fn fn;
    void *arg;
};

static int objects_cb(void *arg, const char *key, uint64_t size)
{
    struct objects_ctx *c = arg;
    struct repo_key k;
    (void)size;
    if (repo_key_parse(key, &k) != REPO_KEY_MANIFEST && k.kind != REPO_KEY_DATA &&
        k.kind != REPO_KEY_BACKUP_OTHER)
        return 0;
    return c->fn(c->arg, key, &k);
}

int repo_backup_objects(struct repo *r, repo_object_fn fn, void *arg, struct cf_err *e)
{
    struct objects_ctx c = { fn, arg };
    return target_list(repo_target(r), "backups/", objects_cb, &c, e);
}

int repo_remove_objects(struct repo *r, const char *const *keys, size_t n, struct cf_err *e)
{
    return target_remove_many(repo_target(r), keys, n, e);
}

int repo_sweep_uploads(struct repo *r, int64_t age, unsigned *n, struct cf_err *e)
{
    return target_sweep(repo_target(r), age, n, e);
}

int repo_backup_check_sizes(struct repo *r, const struct manifest *m, struct cf_err *e)
{
    for (size_t i = 0; m->objects_listed && i < m->nobjects; i++) {
        uint32_t n = m->objects[i].n;
        uint64_t want = m->objects[i].size, got = 0;
        if (repo_object_stat(r, m->source, m->id, n, &got, e) != 0)
            return cf_err_ctx(e, "object %u", n);
        if (got != want)
            return cf_err_set(e, CF_E_CORRUPT, "object %u is %" PRIu64 " bytes, the manifest "
                              "says %" PRIu64, n, got, want);
    }
    /* an incremental volume backup's references to other backups' segments (layout 3) */
    size_t i;
    json_t *ref;
    json_array_foreach(m->refs, i, ref) {
        const char *rid = json_string_value(json_object_get(ref, "id"));
        json_int_t n = json_integer_value(json_object_get(ref, "n"));
        uint64_t want = (uint64_t)json_integer_value(json_object_get(ref, "size")), got = 0;
        if (rid == NULL || n < 0 || n > UINT32_MAX)
            return cf_err_set(e, CF_E_CORRUPT, "a reference of the manifest is malformed");
        if (repo_object_stat(r, m->source, rid, (uint32_t)n, &got, e) != 0)
            return cf_err_ctx(e, "object %lld of backup %s, which it references", (long long)n,
                              rid);
        if (got != want)
            return cf_err_set(e, CF_E_CORRUPT, "object %lld of backup %s, which it references, "
                              "is %" PRIu64 " bytes, the manifest says %" PRIu64, (long long)n,
                              rid, got, want);
    }
    return 0;
}

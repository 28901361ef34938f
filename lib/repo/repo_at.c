/* repo_at.c - which backup is "the backup at T": one rule, for restore (from the repository)
 * and for the catalog index alike. */
#include "repo.h"

#include <string.h>

#include "../core/log.h"
#include "../core/util.h"

int repo_when_parse(const char *what, const char *s, struct repo_when *out, struct cf_err *e)
{
    memset(out, 0, sizeof(*out));
    if (strcmp(s, "latest") == 0) {
        out->latest = true;
        return 0;
    }
    /* latest_ok only for the message: "latest" itself is taken above */
    return time_parse_at(what, s, true, &out->t, e);
}

void repo_when_format(struct repo_when w, char *out, size_t cap)
{
    if (w.latest)   /* a request, not a date: never printed as one */
        snprintf(out, cap, "latest");
    else
        time_format_rfc3339(w.t, out, cap);
}

bool repo_when_base_ok(struct repo_when w, time_t finished)
{
    /* finished is a whole second: the end lies within it, so only an earlier second is
     * certainly before w.t */
    return w.latest || !w.replay || (finished != 0 && finished < w.t);
}

int repo_when_late_err(struct cf_err *e, const char *source, struct repo_when w, const char *id,
                       time_t finished)
{
    char when[32], fin[32];

    repo_when_format(w, when, sizeof(when));
    time_format_rfc3339(finished, fin, sizeof(fin));
    return cf_err_set(e, CF_E_NOTFOUND,
                      "source '%s' has no dump certainly taken before %s to replay its binlog "
                      "from: dump %s started before it but finished only at %s, and its "
                      "snapshot may be from any moment until then (it could hold changes made "
                      "after %s). HINT: restore --at a moment after %s replays from that dump; "
                      "'catalog list --source %s' shows the dumps", source, when, id,
                      finished ? fin : "an unknown time", when, finished ? fin : "its finish",
                      source);
}

ssize_t repo_choose_at(const void *v, size_t n, size_t size, size_t time_off,
                       struct repo_when w, repo_judge_fn judge, void *arg)
{
    for (size_t i = n; i-- > 0;) {
        time_t t;
        memcpy(&t, (const char *)v + i * size + time_off, sizeof(t));
        if (!w.latest && t > w.t)
            continue;
        int k = judge ? judge(arg, i) : REPO_TAKE;
        if (k == REPO_TAKE)
            return (ssize_t)i;
        if (k == REPO_STOP)
            return -1;
    }
    return -1;
}

int repo_find_at(struct repo *r, const char *source, struct repo_when w, struct repo_ref *ref,
                 struct manifest **manifest, struct cf_err *e)
{
    return repo_find_at_skipping(r, source, w, NULL, ref, manifest, e);
}

/* repo_find_at_skipping()'s judge: the caller's skip, then the manifest must open, and for a
 * replay the backup must have finished before the moment */
struct find_ctx {
    struct repo *r;
    struct repo_ref *refs;
    const struct repo_find_hooks *h;
    struct repo_when w;
    struct manifest **manifest;
    size_t skipped;
    ssize_t late;          /* the newest passed over as finished too late, -1: none */
    time_t late_finished;
    bool failed;
    struct cf_err err;   /* when failed: not damage, the repository cannot be read */
};

static int find_judge(void *arg, size_t i)
{
    struct find_ctx *c = arg;
    struct repo_ref *ref = &c->refs[i];
    struct cf_err me = CF_ERR_INIT;
    const char *why;

    if (c->h && c->h->skip && (why = c->h->skip(c->h->arg, ref->id)) != NULL) {
        log_warn("skipping damaged backup %s/%s: %s", ref->source, ref->id, why);
        c->skipped++;
        return REPO_PASS;
    }
    if (repo_manifest_load(c->r, ref->source, ref->id, c->manifest, &me) == 0) {
        time_t fin = (*c->manifest)->finished;
        char fs[32];
        if (repo_when_base_ok(c->w, fin))
            return REPO_TAKE;
        time_format_rfc3339(fin, fs, sizeof(fs));
        log_info("passing over backup %s/%s as the replay's dump: finished %s, not certainly "
                 "before the moment", ref->source, ref->id, fin ? fs : "at an unknown time");
        if (c->late < 0) {
            c->late = (ssize_t)i;
            c->late_finished = fin;
        }
        if (c->h && c->h->late)
            c->h->late(c->h->arg, ref->id, fin);
        manifest_free(*c->manifest);
        *c->manifest = NULL;
        return REPO_PASS;
    }
    if ((me.code != CF_E_CRYPTO && me.code != CF_E_CORRUPT && me.code != CF_E_NOTFOUND) ||
        !repo_can_read(c->r)) {
        c->failed = true;
        c->err = me;
        return REPO_STOP;
    }
    log_warn("skipping damaged backup %s/%s: %s", ref->source, ref->id, me.msg);
    c->skipped++;
    return REPO_PASS;
}

int repo_find_at_skipping(struct repo *r, const char *source, struct repo_when w,
                          const struct repo_find_hooks *h, struct repo_ref *ref,
                          struct manifest **manifest, struct cf_err *e)
{
    struct find_ctx c = { r, NULL, h, w, manifest, 0, -1, 0, false, CF_ERR_INIT };
    size_t n = 0;
    char when[32];
    ssize_t k;

    if (repo_list(r, source, &c.refs, &n, e) != 0)
        return -1;
    k = repo_choose_at(c.refs, n, sizeof(*c.refs), offsetof(struct repo_ref, time), w,
                       find_judge, &c);
    if (k >= 0)
        *ref = c.refs[k];
    if (k < 0 && !c.failed && c.late >= 0) {
        repo_when_late_err(e, source, w, c.refs[c.late].id, c.late_finished);
        free(c.refs);
        return -1;
    }
    free(c.refs);
    if (k >= 0)
        return 0;
    if (c.failed) {
        *e = c.err;
        return -1;
    }
    if (n == 0)
        return cf_err_set(e, CF_E_NOTFOUND, "source '%s' has no backups in this repository",
                          source);
    if (w.latest) {
        char all[48] = "its only backup is";
        if (n > 1)
            snprintf(all, sizeof(all), "all %zu backups are", n);
        return cf_err_set(e, CF_E_NOTFOUND,
                          "source '%s' has no intact backup: %s damaged; HINT: 'catalog verify "
                          "--all --source %s' says what is wrong, 'catalog list --source %s' "
                          "shows what there is",
                          source, all, source, source);
    }
    repo_when_format(w, when, sizeof(when));
    return cf_err_set(e, CF_E_NOTFOUND,
                      "source '%s' has no complete backup at or before %s (%zu backups, %zu "
                      "damaged); HINT: 'catalog list --source %s' shows what there is",
                      source, when, n, c.skipped, source);
}

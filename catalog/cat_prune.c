/* cat_prune.c - `catalog prune`: retention per source, then the debris of backups that never
 * committed. Under the repository's prune lock, and each source's lock while that source is
 * changed, both renewed as leases while the work goes on. */
#include "catalog.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../lib/core/cli.h"
#include "../lib/core/log.h"
#include "../lib/core/util.h"
#include "../lib/repo/repo_lease.h"
#include "../lib/repo/repo_seg.h"
#include "cat_ctx.h"

/* objects under backups/ grouped by backup, to find the uncommitted ones */
struct obj {
    char source[128];
    char id[64];
    char *key;
    bool manifest;
};

static int obj_cb(void *arg, const char *key, const struct repo_key *k)
{
    struct buf *b = arg;
    struct obj o;

    memset(&o, 0, sizeof(o));
    snprintf(o.source, sizeof(o.source), "%s", k->source);
    snprintf(o.id, sizeof(o.id), "%s", k->id);
    o.key = cf_strdup(key);
    o.manifest = k->kind == REPO_KEY_MANIFEST;
    buf_append(b, &o, sizeof(o));
    return 0;
}

static int cmp_obj(const void *a, const void *b)
{
    const struct obj *x = a, *y = b;
    int c = strcmp(x->source, y->source);
    if (c == 0)
        c = strcmp(x->id, y->id);
    return c ? c : strcmp(x->key, y->key);
}

struct prune_run {
    struct cat_ctx *ctx;
    const struct catalog_opts *o;
    struct lease *lock;     /* locks/prune */
    struct lease *slock;    /* locks/source-<source> of the source being pruned */
    time_t now;
    int64_t grace, ttl;
    size_t kept, deleted, swept, skipped, failed;
    json_t *items;
    json_t *skipped_sources;
    json_t *marks;          /* "<id>/<n>" of every data object a kept backup references */
    uint64_t freed, retained;
};

static void item(struct prune_run *p, const char *source, const char *id, const char *action,
                 unsigned reasons, const char *detail, const char *error)
{
    char why[160];
    json_t *rs = json_array();

    for (unsigned b = 0; b < RET_REASON_COUNT; b++)
        if (reasons & (1u << b))
            json_array_append_new(rs, json_string(retention_reason_name(1u << b)));
    json_array_append_new(p->items,
                          json_pack("{s:s, s:s, s:s, s:o, s:s?, s:b, s:s?}", "source", source,
                                    "id", id, "action", action, "reasons", rs, "detail", detail,
                                    "done", !p->o->dry_run && error == NULL, "error", error));
    if (p->o->json)
        return;
    if (reasons)
        retention_reasons_format(reasons, why, sizeof(why));
    else
        snprintf(why, sizeof(why), "%s", detail ? detail : "");
    printf("%-16s %-26s %-7s %s%s%s\n", source, id, action, why, error ? ": FAILED: " : "",
           error ? error : "");
    fflush(stdout);
}

/* The same pause hook as the tests use to kill a prune half-way (COFFER_TEST_PRUNE_PAUSE_MS);
 * unset in production. */
static void test_pause(void)
{
    const char *ms = getenv("COFFER_TEST_PRUNE_PAUSE_MS");
    if (ms && *ms)
        usleep((useconds_t)atoi(ms) * 1000);
}

/* renew both leases when due; a lost lease stops the prune */
static int keep_leases(struct prune_run *p, struct cf_err *e)
{
    if (p->lock && lease_keep(p->lock, e) != 0)
        return -1;
    return p->slock ? lease_keep(p->slock, e) : 0;
}

/* "# media: [job nightly] keep-daily 2, keep-monthly 12 (Europe/Berlin)" */
static void print_rules(const char *source, const struct cat_policy_set *ps)
{
    static const char *const names[] = { "keep-last", "keep-hourly", "keep-daily",
                                         "keep-weekly", "keep-monthly", "keep-yearly" };
    if (ps->n == 0) {
        printf("# %s: no retention rules: everything is kept\n", source);
        return;
    }
    for (size_t k = 0; k < ps->n; k++) {
        const struct ret_policy *r = &ps->p[k];
        const long v[] = { r->keep_last, r->keep_hourly, r->keep_daily,
                           r->keep_weekly, r->keep_monthly, r->keep_yearly };
        printf("# %s: %s", source, ps->origin[k]);
        for (size_t i = 0; i < sizeof(v) / sizeof(*v); i++)
            if (v[i] > 0)
                printf(" %s %ld", names[i], v[i]);
        if (r->keep_within > 0)
            printf(" keep-within %llds", (long long)r->keep_within);
        printf(" (%s)\n", r->timezone[0] ? r->timezone : "UTC");
    }
}

/* retention of one source: rows from the index (already refreshed) */
static int prune_retention(struct prune_run *p, const char *source, struct cf_err *e)
{
    struct cat_ctx *ctx = p->ctx;
    struct cat_policy_set ps;
    struct cat_filter f = { .repo = ctx->repo_id, .source = source };
    struct cat_row *rows = NULL;
    struct ret_backup *b = NULL;
    struct ret_decision *d = NULL;
    size_t n = 0;
    int rc = -1;

    json_decref(p->marks);
    p->marks = json_object();
    if (cat_policy_for(ctx->c, source, &ps, e) != 0 ||
        cat_index_query(ctx->x, &f, &rows, &n, e) != 0)
        goto out;
    if (!p->o->json)
        print_rules(source, &ps);
    /* a vanished backup is not in the repository: nothing to keep or delete, but say so */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].status != CAT_VANISHED) {
            rows[m++] = rows[i];
            continue;
        }
        item(p, source, rows[i].id, "leave", 0, "vanished: its manifest is missing and no "
             "prune removed it (catalog status)", NULL);
        cat_row_clear(&rows[i]);
    }
    n = m;
    b = cf_calloc(n ? n : 1, sizeof(*b));
    d = cf_calloc(n ? n : 1, sizeof(*d));
    for (size_t i = 0; i < n; i++) {
        b[i].id = rows[i].id;
        b[i].time = rows[i].time;
        b[i].state = rows[i].status == CAT_DAMAGED ? RET_DAMAGED : RET_COMPLETE;
        b[i].pinned = rows[i].pinned;
    }
    if (cat_policy_apply(&ps, b, n, p->now, d, e) != 0)
        goto out;
    /* mark: what every backup that stays references (docs/FORMAT.md "Prune: mark, then
     * sweep"); nothing is deleted when a reference list cannot be read */
    for (size_t i = 0; i < n; i++)
        if (d[i].keep && repo_refs_mark(ctx->r, source, rows[i].id, p->marks, e) != 0)
            goto out;
    for (size_t i = n; i-- > 0;) {   /* newest first, as an operator reads it */
        if (d[i].keep) {
            p->kept++;
            item(p, source, rows[i].id, "keep", d[i].reasons, NULL, NULL);
            continue;
        }
        if (p->o->dry_run) {
            p->deleted++;
            item(p, source, rows[i].id, "delete", 0, "no rule keeps it", NULL);
            continue;
        }
        if (keep_leases(p, e) != 0)
            goto out;
        struct cf_err de = CF_ERR_INIT;
        /* the removal record first, so that no index, here or on another host, takes the
         * backup for vanished; then the manifest, then the data (repo_backup_remove): a
         * half-removed backup is debris */
        if (repo_removed_put(ctx->r, source, rows[i].id, "prune", e) != 0)
            goto out;
        uint64_t freed = 0, retained = 0;
        if (repo_backup_remove_marked(ctx->r, source, rows[i].id, p->marks, &freed, &retained,
                                      &de) != 0) {
            if (de.code == CF_E_NET || de.code == CF_E_IO || de.code == CF_E_AUTH) {
                cf_err_keep(e, &de);
                goto out;
            }
            repo_removed_drop(ctx->r, source, rows[i].id);
            p->failed++;
            item(p, source, rows[i].id, "delete", 0, "no rule keeps it", de.msg);
            continue;
        }
        if (cat_index_set_status(ctx->x, ctx->repo_id, source, rows[i].id, CAT_PRUNED, NULL,
                                 e) != 0)
            goto out;
        p->deleted++;
        p->freed += freed;
        p->retained += retained;
        log_info("pruned source=%s id=%s freed=%" PRIu64 " retained=%" PRIu64, source,
                 rows[i].id, freed, retained);
        char why[160];
        if (retained)
            snprintf(why, sizeof(why), "no rule keeps it; %" PRIu64 " bytes of its data stay "
                     "for the backups that reference them", retained);
        item(p, source, rows[i].id, "delete", 0, retained ? why : "no rule keeps it", NULL);
        test_pause();
    }
    rc = 0;
out:
    free(d);
    free(b);
    cat_rows_free(rows, n);
    return rc;
}

/* debris of one source: objects of backups without a manifest, older than the grace period */
static int prune_debris(struct prune_run *p, const struct obj *v, size_t n, struct cf_err *e)
{
    for (size_t i = 0; i < n;) {
        size_t j = i;
        bool committed = false;
        while (j < n && strcmp(v[j].id, v[i].id) == 0) {
            committed |= v[j].manifest;
            j++;
        }
        time_t t;
        char detail[160], since[32];
        if (committed || time_parse_compact(v[i].id, &t) != 0) {
            i = j;
            continue;
        }
        /* the data of a vanished backup is kept until an operator forgets it: it may be
         * all that is left of it */
        struct cat_row r;
        struct cf_err ge = CF_ERR_INIT;
        memset(&r, 0, sizeof(r));
        bool vanished = cat_index_get(p->ctx->x, p->ctx->repo_id, v[i].source, v[i].id, &r,
                                      &ge) == 0 && r.status == CAT_VANISHED;
        cat_row_clear(&r);
        if (vanished) {
            snprintf(detail, sizeof(detail), "%zu objects of a vanished backup, kept until "
                     "`catalog forget %s`", j - i, v[i].id);
            item(p, v[i].source, v[i].id, "leave", 0, detail, NULL);
            i = j;
            continue;
        }
        /* retained data: the data objects kept backups reference stay */
        size_t unmarked = 0;
        for (size_t k = i; k < j; k++)
            unmarked += !repo_key_marked(v[k].key, p->marks);
        if (unmarked == 0) {
            snprintf(detail, sizeof(detail), "%zu objects of a removed backup, referenced by "
                     "kept backups", j - i);
            item(p, v[i].source, v[i].id, "leave", 0, detail, NULL);
            i = j;
            continue;
        }
        time_format_rfc3339(t, since, sizeof(since));
        if (p->now - t < p->grace) {
            snprintf(detail, sizeof(detail), "uncommitted since %s, within the grace period "
                     "(maybe still running)", since);
            item(p, v[i].source, v[i].id, "leave", 0, detail, NULL);
            i = j;
            continue;
        }
        snprintf(detail, sizeof(detail), "uncommitted since %s, %zu objects", since, j - i);
        if (!p->o->dry_run) {
            if (keep_leases(p, e) != 0)
                return -1;
            const char **keys = cf_calloc(j - i, sizeof(*keys));
            size_t nk = 0;
            for (size_t k = i; k < j; k++)
                if (!repo_key_marked(v[k].key, p->marks))
                    keys[nk++] = v[k].key;
            int rc = repo_remove_objects(p->ctx->r, keys, nk, e);
            free(keys);
            if (rc != 0)
                return cf_err_ctx(e, "unable to sweep debris of %s/%s", v[i].source, v[i].id);
            log_info("swept debris source=%s id=%s objects=%zu", v[i].source, v[i].id, j - i);
        }
        p->swept++;
        item(p, v[i].source, v[i].id, "sweep", 0, detail, NULL);
        i = j;
    }
    return 0;
}

static bool source_seen(json_t *list, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) if (strcmp(json_string_value(v), s) == 0) return true;
    return false;
}

int catalog_prune(const struct conf *c, const struct repo_unlock *u, const struct catalog_opts *o)
{
    struct cf_err e = CF_ERR_INIT;
    struct cat_ctx ctx;
    struct prune_run p;
    struct buf objs = BUF_INIT;
    json_t *sources = json_array();
    int rc = EXIT_FAILED;
    bool opened = false;

    memset(&p, 0, sizeof(p));
    p.ctx = &ctx;
    p.o = o;
    p.now = time(NULL);
    p.items = json_array();
    p.skipped_sources = json_array();
    p.grace = 86400;
    p.ttl = LEASE_DEFAULT_TTL;
    if (c->catalog != NULL &&
        (ini_get_duration(c->catalog, "debris-grace", 86400, &p.grace, &e) != 0 ||
         ini_get_duration(c->catalog, "lock-ttl", LEASE_DEFAULT_TTL, &p.ttl, &e) != 0)) {
        rc = cli_fail("catalog", &e);
        goto out;
    }
    if (cat_ctx_open(c, u, false, &ctx, &e) != 0) {
        rc = cli_fail("catalog", &e);
        goto out;
    }
    opened = true;
    if (!o->json)
        cat_ctx_note(&ctx);
    if (!repo_can_read(ctx.r)) {
        cf_err_set(&e, CF_E_KEY, "prune must read every manifest to tell damaged backups "
                   "apart, and this repository is sealed to a public key; HINT: pass "
                   "--secret-key-file FILE");
        rc = cli_fail("catalog", &e);
        goto out;
    }
    /* every configured source's rules, checked before anything is deleted */
    for (size_t k = 0; k < c->nsources; k++) {
        struct cat_policy_set ps;
        if (cat_policy_for(c, c->sources[k]->name, &ps, &e) != 0) {
            rc = cli_fail("catalog", &e);
            goto out;
        }
    }
    if (!o->dry_run && repo_lock(ctx.r, "prune", "prune", p.ttl, &p.lock, &e) != 0) {
        rc = cli_fail("catalog", &e);
        goto out;
    }
    /* the index may have changed hands while we waited for nothing: refresh under the lock */
    if (cat_sync(&ctx, false, &e) != 0 ||
        repo_backup_objects(ctx.r, obj_cb, &objs, &e) != 0) {
        rc = cli_fail("catalog", &e);
        goto out;
    }
    struct obj *v = (struct obj *)objs.data;
    size_t nv = objs.len / sizeof(struct obj);
    if (nv > 1)
        qsort(v, nv, sizeof(*v), cmp_obj);
    /* every source with objects, plus every configured one */
    for (size_t i = 0; i < nv; i++)
        if (!source_seen(sources, v[i].source))
            json_array_append_new(sources, json_string(v[i].source));
    if (!o->json)
        printf("%-16s %-26s %-7s %s\n", "SOURCE", "ID", "ACTION", "WHY");
    size_t i0 = 0;
    size_t si;
    json_t *sj;
    json_array_foreach(sources, si, sj) {
        const char *s = json_string_value(sj);
        struct lease *sl = NULL;
        size_t i1 = i0;
        while (i1 < nv && strcmp(v[i1].source, s) == 0)
            i1++;
        if (o->source && strcmp(o->source, s) != 0) {
            i0 = i1;
            continue;
        }
        if (!o->dry_run && repo_lock_source(ctx.r, s, "prune", p.ttl, 0, &sl, &e) != 0) {
            if (e.code != CF_E_LOCKED) {
                rc = cli_fail("catalog", &e);
                goto out;
            }
            log_warn("skipping source %s: %s", s, e.msg);
            cli_say(LOG_WARN, "catalog: warning: source '%s' skipped: %s", s, e.msg);
            json_array_append_new(p.skipped_sources, json_string(s));
            p.skipped++;
            cf_err_clear(&e);
            i0 = i1;
            continue;
        }
        p.slock = sl;
        int k = prune_retention(&p, s, &e);
        if (k == 0)
            k = prune_debris(&p, v + i0, i1 - i0, &e);
        p.slock = NULL;
        repo_unlock_source(sl, NULL);
        if (k != 0) {
            rc = cli_fail("catalog", &e);
            goto out;
        }
        i0 = i1;
    }
    if (!o->dry_run) {
        /* unfinished uploads of killed writers (S3 multipart uploads), as old as debris */
        unsigned nup = 0;
        if (repo_sweep_uploads(ctx.r, p.grace, &nup, &e) != 0) {
            log_warn("unable to sweep unfinished uploads: %s", e.msg);
            cf_err_clear(&e);
        } else if (nup > 0) {
            log_info("swept unfinished uploads=%u", nup);
        }
    }
    if (o->json) {
        json_t *res = json_pack("{s:o, s:b, s:o, s:I, s:I, s:I, s:I, s:o, s:I, s:I}", "catalog",
                                cat_ctx_json(&ctx), "dry_run", o->dry_run, "backups", p.items,
                                "kept", (json_int_t)p.kept, "deleted", (json_int_t)p.deleted,
                                "swept", (json_int_t)p.swept, "failed", (json_int_t)p.failed,
                                "skipped_sources", p.skipped_sources, "bytes_freed",
                                (json_int_t)p.freed, "bytes_retained", (json_int_t)p.retained);
        p.items = p.skipped_sources = NULL;
        cat_print_json(res);
        json_decref(res);
    } else {
        printf("%zu kept, %zu %s, %zu debris %s%s\n", p.kept, p.deleted,
               o->dry_run ? "to delete" : "deleted", p.swept, o->dry_run ? "to sweep" : "swept",
               o->dry_run ? " (dry run: nothing changed)" : "");
        if (!o->dry_run && p.deleted)
            printf("freed %" PRIu64 " bytes; %" PRIu64 " bytes of removed backups stay, "
                   "referenced by kept ones\n", p.freed, p.retained);
        if (p.skipped)
            printf("%zu sources skipped (locked by a running backup)\n", p.skipped);
    }
    rc = p.failed ? EXIT_FAILED : p.skipped ? EXIT_PARTIAL : EXIT_OK;
out:
    lease_release(p.lock);
    for (size_t i = 0; i < objs.len / sizeof(struct obj); i++)
        free(((struct obj *)objs.data)[i].key);
    buf_free(&objs);
    json_decref(sources);
    json_decref(p.items);
    json_decref(p.skipped_sources);
    json_decref(p.marks);
    if (opened)
        cat_ctx_close(&ctx);
    return rc;
}

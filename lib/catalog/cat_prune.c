/* cat_prune.c - `catalog prune`: retention per source, then the debris of backups that never
 * committed. Under the repository's prune lock, and each source's lock while that source is
 * changed, both renewed as leases while the work goes on. */
#include "cat_prune.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../core/cli.h"
#include "../core/log.h"
#include "../core/util.h"
#include "../repo/repo_lease.h"
#include "../repo/repo_seg.h"
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
    json_t *logs;           /* the log archive's ranges kept and deleted, with why */
    size_t logs_deleted;
    uint64_t logs_freed;
    struct cat_log *dropv;  /* the files of the source being pruned to remove */
    size_t ndrop;
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
    if (ps->n == 0)
        printf("# %s: no retention rules: every backup is kept\n", source);
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
    if (ps->keep_pitr > 0)
        printf("# %s: %s keep-pitr %llds: the log archive's window\n", source, ps->pitr_origin,
               (long long)ps->keep_pitr);
}

/* one archived file as prune sorts it */
struct lfile {
    const struct cat_log *l;
    struct log_file f;
    struct log_decision d;
    bool superseded;   /* a binlog's partial object whose file is archived further */
};

/* A binlog's partial object is superseded once its whole file or a longer partial of it is
 * archived: binlog-follow removes it then, unless it died in between. @x is sorted, so one
 * file's objects are side by side. */
static void mark_superseded(struct lfile *x, size_t m)
{
    for (size_t i = 0; i < m;) {
        size_t j = i;
        uint64_t best = UINT64_MAX, len;   /* UINT64_MAX: none yet; 0 the whole file */
        while (j < m && strcmp(x[j].f.pos.stream, x[i].f.pos.stream) == 0 &&
               x[j].f.pos.seq == x[i].f.pos.seq && x[j].f.pos.kind == x[i].f.pos.kind) {
            len = cat_log_partial(CAT_LOG_BINLOG, x[j].l->file);
            if (best == UINT64_MAX || (best != 0 && (len == 0 || len > best)))
                best = len;
            j++;
        }
        for (size_t k = i; k < j; k++)
            if (cat_log_partial(CAT_LOG_BINLOG, x[k].l->file) != best) {
                x[k].superseded = true;
                x[k].d.keep = 0;
            }
        i = j;
    }
}

static int cmp_lfile(const void *a, const void *b)
{
    const struct lfile *x = a, *y = b;
    int c = (x->f.pos.kind == LOG_HISTORY) - (y->f.pos.kind == LOG_HISTORY);
    if (c == 0)
        c = strcmp(x->f.pos.stream, y->f.pos.stream);
    if (c == 0)
        c = x->f.pos.seq < y->f.pos.seq ? -1 : x->f.pos.seq > y->f.pos.seq;
    return c ? c : strcmp(x->l->file, y->l->file);
}

/* why a run of files is kept, in words */
static void log_why(const struct lfile *x, const struct cat_bases *bs, const struct log_plan *pl,
                    const struct cat_policy_set *ps, enum cat_log_naming naming, char *out,
                    size_t cap)
{
    char when[32] = "?";
    size_t len = 0;

    out[0] = '\0';
    const char *base = naming == CAT_LOG_BINLOG ? "dump" : "base backup";

    if (x->d.keep & LOGK_NO_BASE) {
        snprintf(out, cap, naming == CAT_LOG_BINLOG
                               ? "no dump with a binlog position: no binlog is deleted"
                               : "no physical base backup: no log file is deleted");
        return;
    }
    if (x->d.keep & LOGK_WINDOW) {
        const struct log_base *a = &bs->b[pl->anchor];
        time_format_rfc3339(pl->window_start, when, sizeof(when));
        len += (size_t)snprintf(out + len, cap - len, "keep-pitr %llds %s: the window from %s, "
                                "replayed from %s %s%s",
                                (long long)ps->keep_pitr, ps->pitr_origin, when, base, a->id,
                                pl->anchor_short ? " (the oldest: none stopped before the "
                                                   "window)" : "");
    }
    if ((x->d.keep & LOGK_LATEST) && len < cap)
        len += (size_t)snprintf(out + len, cap - len, "%sfrom the newest %s %s on "
                                "(restore to the end of the archive)", len ? "; " : "", base,
                                bs->b[pl->latest].id);
    if ((x->d.keep & LOGK_BACKUP) && len < cap)
        len += (size_t)snprintf(out + len, cap - len, "%sconsistency of kept base backup %s",
                                len ? "; " : "", bs->b[x->d.base].id);
    if ((x->d.keep & LOGK_HISTORY) && len < cap)
        snprintf(out + len, cap - len, "%stimeline history of a kept file", len ? "; " : "");
}

/* The log archive of one source after its backups were decided (@d over @rows): which files
 * each kept base backup and the keep-pitr window need, the rest removed. The base backup the
 * window starts from is kept whatever the backup rules said (RET_BY_PITR in @d). */
static int prune_logs_plan(struct prune_run *p, const char *source,
                           const struct cat_policy_set *ps, const struct cat_row *rows, size_t n,
                           struct ret_decision *d, struct cf_err *e)
{
    struct cat_ctx *ctx = p->ctx;
    struct cat_bases bs;
    struct cat_log *v = NULL;
    size_t nv = 0, m = 0;
    struct lfile *x = NULL;
    struct log_plan pl;
    enum cat_log_naming naming = cat_log_naming_of(ctx->c, source);
    int rc = -1;

    memset(&bs, 0, sizeof(bs));
    if (cat_index_logs(ctx->x, ctx->repo_id, source, &v, &nv, e) != 0)
        goto out;
    if (nv == 0) {
        rc = 0;
        goto out;
    }
    /* no rule at all keeps every backup, and so every log file (as an empty policy does) */
    if (ps->n == 0 && ps->keep_pitr == 0) {
        if (!p->o->json)
            printf("# %s: no retention rules: every archived log file is kept\n", source);
        rc = 0;
        goto out;
    }
    if (cat_log_bases(ctx, source, rows, n, &bs, e) != 0)
        goto out;
    for (size_t k = 0; k < bs.n; k++)
        bs.b[k].kept = d[bs.row[k]].keep;
    x = cf_calloc(nv, sizeof(*x));
    for (size_t i = 0; i < nv; i++) {
        if (!cat_log_parse(naming, v[i].file, bs.seg_size, &x[m].f.pos)) {
            if (!p->o->json)
                printf("# %s: log file %s: not a name retention knows, left alone\n", source,
                       v[i].file);
            continue;
        }
        x[m].l = &v[i];
        x[m].f.pushed = (time_t)v[i].pushed;
        m++;
    }
    qsort(x, m, sizeof(*x), cmp_lfile);
    struct log_file *lf = cf_calloc(m ? m : 1, sizeof(*lf));
    struct log_decision *ld = cf_calloc(m ? m : 1, sizeof(*ld));
    for (size_t i = 0; i < m; i++)
        lf[i] = x[i].f;
    log_retention(bs.b, bs.n, lf, m, p->now, ps->keep_pitr, ld, &pl);
    for (size_t i = 0; i < m; i++)
        x[i].d = ld[i];
    free(lf);
    free(ld);
    if (naming == CAT_LOG_BINLOG && pl.have_base)
        mark_superseded(x, m);
    if (pl.anchored && !d[bs.row[pl.anchor]].keep) {
        d[bs.row[pl.anchor]].keep = true;
        d[bs.row[pl.anchor]].reasons |= RET_BY_PITR;
    } else if (pl.anchored) {
        d[bs.row[pl.anchor]].reasons |= RET_BY_PITR;
    }
    /* runs of files with one decision, per stream, as the operator reads them */
    for (size_t i = 0; i < m;) {
        size_t j = i;
        uint64_t bytes = 0;
        while (j < m && strcmp(x[j].f.pos.stream, x[i].f.pos.stream) == 0 &&
               (x[j].f.pos.kind == LOG_HISTORY) == (x[i].f.pos.kind == LOG_HISTORY) &&
               x[j].d.keep == x[i].d.keep && x[j].d.base == x[i].d.base &&
               x[j].superseded == x[i].superseded)
            bytes += x[j++].l->stored;
        char why[512], sz[32];
        bool del = x[i].d.keep == 0;
        format_bytes(bytes, sz, sizeof(sz));
        if (x[i].superseded)
            snprintf(why, sizeof(why), "superseded: a longer part or the whole of the binlog "
                     "file is archived");
        else if (del && naming == CAT_LOG_BINLOG)
            snprintf(why, sizeof(why), "no window needs them (a kept dump restores as of its "
                     "own time without binlogs)");
        else if (del)
            snprintf(why, sizeof(why), "no kept base backup and no window needs them");
        else
            log_why(&x[i], &bs, &pl, ps, naming, why, sizeof(why));
        json_array_append_new(p->logs, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:b}",
                                                 "source", source, "stream", x[i].f.pos.stream,
                                                 "first", x[i].l->file, "last",
                                                 x[j - 1].l->file, "files", (json_int_t)(j - i),
                                                 "stored_bytes", (json_int_t)bytes, "action",
                                                 del ? "delete" : "keep", "why", why, "done",
                                                 del && !p->o->dry_run));
        if (!p->o->json)
            printf("# %s: logs %s %s..%s (%zu files, %s): %s\n", source, del ? "DELETE" : "keep",
                   x[i].l->file, x[j - 1].l->file, j - i, sz, why);
        if (del) {
            p->logs_deleted += j - i;
            p->logs_freed += bytes;
        }
        i = j;
    }
    /* the files to remove stay in @v order: remember them for prune_logs_do() */
    size_t w = 0;
    for (size_t i = 0; i < m; i++)
        if (x[i].d.keep == 0)
            v[w++] = *x[i].l;
    p->dropv = v;
    p->ndrop = w;
    v = NULL;
    rc = 0;
out:
    free(x);
    free(v);
    cat_bases_free(&bs);
    return rc;
}

/* remove what prune_logs_plan() chose, then their index rows */
static int prune_logs_do(struct prune_run *p, const char *source, struct cf_err *e)
{
    const char **files = NULL;
    int rc = -1;

    if (p->ndrop == 0 || p->o->dry_run) {
        rc = 0;
        goto out;
    }
    if (keep_leases(p, e) != 0)
        goto out;
    files = cf_calloc(p->ndrop, sizeof(*files));
    for (size_t i = 0; i < p->ndrop; i++)
        files[i] = p->dropv[i].file;
    if (repo_log_remove(p->ctx->r, source, files, p->ndrop, e) != 0)
        goto out;
    for (size_t i = 0; i < p->ndrop; i++)
        if (cat_index_log_drop(p->ctx->x, p->ctx->repo_id, source, files[i], e) != 0)
            goto out;
    log_info("pruned logs source=%s files=%zu", source, p->ndrop);
    rc = 0;
out:
    free(files);
    free(p->dropv);
    p->dropv = NULL;
    p->ndrop = 0;
    return rc;
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
    if (cat_policy_apply(&ps, b, n, p->now, d, e) != 0 ||
        prune_logs_plan(p, source, &ps, rows, n, d, e) != 0)
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
    /* the log files last: a base backup is gone before the WAL only it needed */
    if (prune_logs_do(p, source, e) != 0)
        goto out;
    rc = 0;
out:
    free(p->dropv);
    p->dropv = NULL;
    p->ndrop = 0;
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
    p.logs = json_array();
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
    /* then the sources with only a log archive (after those with objects: the walk below
     * takes the objects of each in order) */
    char **ls = NULL;
    size_t nls = 0;
    if (cat_index_log_sources(ctx.x, ctx.repo_id, &ls, &nls, &e) != 0) {
        rc = cli_fail("catalog", &e);
        goto out;
    }
    for (size_t i = 0; i < nls; i++) {
        if (!source_seen(sources, ls[i]))
            json_array_append_new(sources, json_string(ls[i]));
        free(ls[i]);
    }
    free(ls);
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
        json_t *res = json_pack("{s:o, s:b, s:o, s:I, s:I, s:I, s:I, s:o, s:o, s:I, s:I, s:I, s:I}",
                                "catalog", cat_ctx_json(&ctx), "dry_run", o->dry_run, "backups",
                                p.items, "kept", (json_int_t)p.kept, "deleted",
                                (json_int_t)p.deleted, "swept", (json_int_t)p.swept, "failed",
                                (json_int_t)p.failed, "skipped_sources", p.skipped_sources,
                                "logs", p.logs, "logs_deleted", (json_int_t)p.logs_deleted,
                                "logs_freed_bytes", (json_int_t)p.logs_freed, "bytes_freed",
                                (json_int_t)p.freed, "bytes_retained", (json_int_t)p.retained);
        p.items = p.skipped_sources = p.logs = NULL;
        cat_print_json(res);
        json_decref(res);
    } else {
        printf("%zu kept, %zu %s, %zu debris %s%s\n", p.kept, p.deleted,
               o->dry_run ? "to delete" : "deleted", p.swept, o->dry_run ? "to sweep" : "swept",
               o->dry_run ? " (dry run: nothing changed)" : "");
        if (p.logs_deleted) {
            char fr[32];
            format_bytes(p.logs_freed, fr, sizeof(fr));
            printf("%zu archived log files %s, %s freed%s\n", p.logs_deleted,
                   o->dry_run ? "to delete" : "deleted", fr, o->dry_run ? " (dry run)" : "");
        }
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
    json_decref(p.logs);
    json_decref(p.marks);
    if (opened)
        cat_ctx_close(&ctx);
    return rc;
}

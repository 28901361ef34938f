/* cat_sync.c - the index kept in step with the repository: the repository wins. */
#include "cat_ctx.h"

#include <stdio.h>
#include <string.h>

#include "../core/cli.h"
#include "../core/log.h"
#include "../core/util.h"

/* meta keys: which repository a target holds, and when it was last read */
static char *meta_key_location(const struct conf *c)
{
    char *where = repo_location(c), *k = NULL;
    if (where != NULL)
        k = cf_asprintf("location:%s", where);
    free(where);
    return k;
}

static int cmp_row_key(const void *a, const void *b)
{
    const struct cat_row *x = a, *y = b;
    int c = strcmp(x->source, y->source);
    return c ? c : strcmp(x->id, y->id);
}

static int cmp_ref_row(const struct repo_ref *f, const struct cat_row *r)
{
    int c = strcmp(f->source, r->source);
    return c ? c : strcmp(f->id, r->id);
}

static void row_pin(struct cat_row *row, const struct repo_pin *p)
{
    free(row->pin_reason);
    row->pin_reason = p ? cf_strdup(p->reason) : NULL;
    row->pinned = p != NULL;
    row->pinned_at = p ? p->at : 0;
}

int cat_begin_once(struct cat_ctx *ctx, bool *in_tx, struct cf_err *e)
{
    if (*in_tx)
        return 0;
    if (cat_index_begin(ctx->x, e) != 0)
        return -1;
    *in_tx = true;
    return 0;
}

void cat_vanished_msg(const struct cat_row *r, char *out, size_t cap)
{
    char since[32] = "?";
    if (r->gone_at)
        time_format_rfc3339(r->gone_at, since, sizeof(since));
    snprintf(out, cap, "its manifest is missing from the repository (noticed %s) and no coffer "
             "prune removed it; HINT: find out what removed backups/%s/%s/manifest (a mistaken "
             "rm, a bucket lifecycle rule, an intruder) and copy it back if a copy exists; once "
             "the loss is understood, `catalog forget %s` stops this report", since, r->source,
             r->id, r->id);
}

/* A row whose backup is no longer in the repository: pruned when a removal record says coffer
 * removed it (here or on another host) or an operator forgot it, else vanished. A vanished row
 * is checked again on every refresh, so that a forget on another host reaches this index. */
static int row_gone(struct cat_ctx *ctx, const struct cat_row *r, bool *in_tx, struct cf_err *e)
{
    bool removed;

    if (r->status == CAT_PRUNED)
        return 0;
    if (repo_removed_exists(ctx->r, r->source, r->id, &removed, e) != 0)
        return -1;
    enum cat_status st = removed ? CAT_PRUNED : CAT_VANISHED;
    if (st == r->status)
        return 0;
    if (cat_begin_once(ctx, in_tx, e) != 0 ||
        cat_index_set_status(ctx->x, ctx->repo_id, r->source, r->id, st, r->damage, e) != 0)
        return -1;
    if (st == CAT_PRUNED) {
        ctx->st.gone++;
    } else {
        ctx->st.vanished++;
        log_warn("backup %s/%s vanished: its manifest is missing from the repository and no "
                 "coffer prune removed it", r->source, r->id);
    }
    return 0;
}

/* The drill reports under drills/ the index does not know yet: each read once (it needs the
 * key: in public-key mode without the secret key there is nothing to learn, and no error). A
 * report that cannot be read is a warning; the next refresh tries it again. */
static int cat_sync_drills(struct cat_ctx *ctx, bool *in_tx, struct cf_err *e)
{
    struct repo_ref *refs = NULL;
    size_t n = 0;
    int rc = -1;

    if (!repo_can_read(ctx->r))
        return 0;
    if (repo_drill_list(ctx->r, NULL, &refs, &n, e) != 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        struct cat_drill d;
        json_t *rep = NULL;
        bool has;
        if (cat_index_drill_has(ctx->x, ctx->repo_id, refs[i].source, refs[i].id, &has, e) != 0)
            goto out;
        if (has)
            continue;
        if (repo_drill_load(ctx->r, refs[i].source, refs[i].id, &rep, e) != 0 ||
            cat_drill_from_report(rep, ctx->repo_id, &d, e) != 0) {
            json_decref(rep);
            if (e->code == CF_E_NET || e->code == CF_E_IO || e->code == CF_E_AUTH)
                goto out;
            log_warn("drill report drills/%s/%s not read: %s", refs[i].source, refs[i].id,
                     e->msg);
            cf_err_clear(e);
            continue;
        }
        json_decref(rep);
        /* the subject is the report's place, whatever its text says */
        snprintf(d.subject, sizeof(d.subject), "%s", refs[i].source);
        snprintf(d.id, sizeof(d.id), "%s", refs[i].id);
        if (cat_begin_once(ctx, in_tx, e) != 0 || cat_index_drill_put(ctx->x, &d, e) != 0)
            goto out;
        ctx->st.drills_added++;
    }
    rc = 0;
out:
    free(refs);
    return rc;
}

int cat_sync(struct cat_ctx *ctx, bool rebuild, struct cf_err *e)
{
    struct repo_ref *refs = NULL;
    struct cat_row *rows = NULL;
    struct repo_pin *pins = NULL;
    size_t nref = 0, nrow = 0, npin = 0, i = 0, k = 0;
    bool in_tx = false;
    int rc = -1;

    if (repo_list(ctx->r, NULL, &refs, &nref, e) != 0 ||
        repo_pins_load(ctx->r, &pins, &npin, e) != 0)
        goto out;
    /* the write transaction starts with the first change: a refresh that finds the index in
     * step writes nothing (no lock taken, no sync to disk) */
    if (rebuild && (cat_begin_once(ctx, &in_tx, e) != 0 ||
                    cat_index_forget(ctx->x, ctx->repo_id, e) != 0))
        goto out;
    struct cat_filter f = { .repo = ctx->repo_id, .with_pruned = true };
    if (cat_index_query(ctx->x, &f, &rows, &nrow, e) != 0)
        goto out;
    if (nrow > 1)
        qsort(rows, nrow, sizeof(*rows), cmp_row_key);

    /* both lists sorted by source then id: one merge walk */
    while (i < nref || k < nrow) {
        int c = i >= nref ? 1 : k >= nrow ? -1 : cmp_ref_row(&refs[i], &rows[k]);
        if (c > 0) {   /* in the index only */
            if (row_gone(ctx, &rows[k], &in_tx, e) != 0)
                goto out;
            k++;
            continue;
        }
        const struct repo_pin *p = repo_pins_find(pins, npin, refs[i].source, refs[i].id);
        /* a vanished backup that is back (copied back by an operator) is read again */
        bool have = c == 0 && rows[k].status != CAT_PRUNED && rows[k].status != CAT_VANISHED;
        /* rows written without the manifest (public-key mode) are completed once it can be
         * read; a damaged one stays as it is until verify says otherwise */
        if (!have ||
            (!rows[k].details && rows[k].status == CAT_COMPLETE && repo_can_read(ctx->r))) {
            struct cat_row nr;
            if (cat_row_from_repo(ctx->r, refs[i].source, refs[i].id, &nr, e) != 0) {
                cat_row_clear(&nr);
                if (e->code != CF_E_NOTFOUND)
                    goto out;
                /* removed since we listed it (a prune elsewhere): the next refresh sees it gone */
                cf_err_clear(e);
                i++;
                if (c == 0)
                    k++;
                continue;
            }
            if (have && rows[k].status == CAT_DAMAGED && nr.status == CAT_COMPLETE) {
                /* damage found by verify is not in the manifest: keep it */
                nr.status = CAT_DAMAGED;
                nr.damage = rows[k].damage ? cf_strdup(rows[k].damage) : NULL;
            }
            row_pin(&nr, p);
            int w = cat_begin_once(ctx, &in_tx, e) == 0 ? cat_index_put(ctx->x, &nr, e) : -1;
            if (!have && nr.status == CAT_DAMAGED) {
                ctx->st.damaged++;
                log_warn("backup %s/%s is damaged: %s", nr.source, nr.id, nr.damage);
            }
            cat_row_clear(&nr);
            if (w != 0)
                goto out;
            if (have)
                ctx->st.reread++;
            else
                ctx->st.added++;
        } else if (rows[k].pinned != (p != NULL) ||
                   (p && strcmp(rows[k].pin_reason ? rows[k].pin_reason : "", p->reason) != 0)) {
            if (cat_begin_once(ctx, &in_tx, e) != 0 ||
                cat_index_set_pin(ctx->x, ctx->repo_id, refs[i].source, refs[i].id, p != NULL,
                                  p ? p->reason : NULL, p ? p->at : 0, e) != 0)
                goto out;
            ctx->st.pins++;
        }
        i++;
        if (c == 0)
            k++;
    }
    if (cat_sync_logs(ctx, rebuild, &in_tx, e) != 0 || cat_sync_drills(ctx, &in_tx, e) != 0)
        goto out;
    /* when it was last refreshed, for answers given offline: kept to the minute, so that an
     * unchanged index is not rewritten on every command */
    char now[32], last[32];
    time_t lt = 0;
    char *mk = cf_asprintf("synced:%s", ctx->repo_id), *lk = meta_key_location(ctx->c);
    struct cf_err me = CF_ERR_INIT;
    if (cat_index_meta_get(ctx->x, mk, last, sizeof(last), &me) != 0 ||
        time_parse_rfc3339(last, &lt, &me) != 0)
        lt = 0;
    int w = 0;
    if (in_tx || time(NULL) - lt >= 60) {
        time_format_rfc3339(time(NULL), now, sizeof(now));
        w = cat_begin_once(ctx, &in_tx, e);
        if (w == 0)
            w = cat_index_meta_set(ctx->x, mk, now, e);
        if (w == 0 && lk)
            w = cat_index_meta_set(ctx->x, lk, ctx->repo_id, e);
    }
    free(mk);
    free(lk);
    if (w != 0 || (in_tx && cat_index_commit(ctx->x, e) != 0))
        goto out;
    in_tx = false;
    ctx->synced_at = time(NULL);
    rc = 0;
out:
    if (in_tx)
        cat_index_rollback(ctx->x);
    if (rc != 0)
        cf_err_ctx(e, "unable to refresh the catalog index from the repository");
    cat_rows_free(rows, nrow);
    free(pins);
    free(refs);
    return rc;
}

/* The repository cannot be reached: find which repository this configuration points at
 * from the index alone, so its rows can still be shown. */
static int go_offline(struct cat_ctx *ctx, const struct cf_err *why, struct cf_err *e)
{
    char *lk = meta_key_location(ctx->c), when[32];
    struct cf_err me = CF_ERR_INIT;

    snprintf(ctx->offline_why, sizeof(ctx->offline_why), "%s", why->msg);
    if (lk == NULL || cat_index_meta_get(ctx->x, lk, ctx->repo_id, sizeof(ctx->repo_id), &me) != 0) {
        free(lk);
        cf_err_keep(e, why);
        return cf_err_ctx(e, "the repository is unreachable and the catalog index has never "
                             "seen it");
    }
    free(lk);
    char *mk = cf_asprintf("synced:%s", ctx->repo_id);
    if (cat_index_meta_get(ctx->x, mk, when, sizeof(when), &me) != 0 ||
        time_parse_rfc3339(when, &ctx->synced_at, &me) != 0)
        ctx->synced_at = 0;
    free(mk);
    ctx->offline = true;
    return 0;
}

int cat_ctx_open(const struct conf *c, const struct repo_unlock *u, bool allow_offline,
                 struct cat_ctx *ctx, struct cf_err *e)
{
    const char *path;
    struct cf_err re = CF_ERR_INIT;

    memset(ctx, 0, sizeof(*ctx));
    ctx->c = c;
    if (cat_index_path(c, &path, e) != 0 || cat_index_open(path, &ctx->x, &ctx->st.fresh, e) != 0)
        goto fail;
    if (repo_open(c, u, &ctx->r, &re) != 0) {
        /* a wrong key or a bad configuration is not "unreachable" */
        if (!allow_offline || re.code == CF_E_CRYPTO || cli_exit_code(&re) == EXIT_USAGE) {
            cf_err_keep(e, &re);
            goto fail;
        }
        if (go_offline(ctx, &re, e) != 0)
            goto fail;
        return 0;
    }
    snprintf(ctx->repo_id, sizeof(ctx->repo_id), "%s", repo_id(ctx->r));
    if (cat_sync(ctx, false, &re) != 0) {
        if (!allow_offline || re.code == CF_E_LOCKED || re.code == CF_E_CORRUPT) {
            cf_err_keep(e, &re);
            goto fail;
        }
        repo_close(ctx->r);
        ctx->r = NULL;
        if (go_offline(ctx, &re, e) != 0)
            goto fail;
    }
    return 0;
fail:
    cat_ctx_close(ctx);
    return -1;
}

int cat_index_refresh(const struct conf *c, struct repo *r, struct cat_sync_stats *st,
                      struct cf_err *e)
{
    struct cat_ctx ctx;
    const char *path;
    int rc = -1;

    memset(&ctx, 0, sizeof(ctx));
    ctx.c = c;
    ctx.r = r;
    snprintf(ctx.repo_id, sizeof(ctx.repo_id), "%s", repo_id(r));
    if (cat_index_path(c, &path, e) == 0 && cat_index_open(path, &ctx.x, &ctx.st.fresh, e) == 0 &&
        cat_sync(&ctx, false, e) == 0)
        rc = 0;
    if (st)
        *st = ctx.st;
    cat_index_close(ctx.x);
    return rc;
}

void cat_ctx_close(struct cat_ctx *ctx)
{
    repo_close(ctx->r);
    cat_index_close(ctx->x);
    ctx->r = NULL;
    ctx->x = NULL;
}

void cat_ctx_note(const struct cat_ctx *ctx)
{
    const struct cat_sync_stats *s = &ctx->st;
    char when[32] = "never";

    if (ctx->offline) {
        if (ctx->synced_at)
            time_format_rfc3339(ctx->synced_at, when, sizeof(when));
        cli_say(LOG_WARN,
                "catalog: warning: repository unreachable (%s); showing the catalog index as "
                "last refreshed at %s; HINT: check that the repository is mounted or reachable "
                "and run the command again",
                ctx->offline_why, when);
        return;
    }
    if (s->added || s->gone || s->reread || s->pins || s->vanished)
        cli_say(LOG_INFO,
                "catalog: index %s from the repository: %zu added (%zu damaged), %zu gone, "
                "%zu re-read, %zu pins changed%s",
                s->fresh ? "built" : "refreshed", s->added, s->damaged, s->gone, s->reread,
                s->pins, s->vanished ? ", backups VANISHED (see catalog status)" : "");
}

json_t *cat_ctx_json(const struct cat_ctx *ctx)
{
    const struct cat_sync_stats *s = &ctx->st;
    char when[32] = "";
    if (ctx->synced_at)
        time_format_rfc3339(ctx->synced_at, when, sizeof(when));
    return json_pack("{s:s, s:s, s:b, s:s?, s:s?, s:b, s:I, s:I, s:I, s:I, s:I, s:I}",
                     "repository", ctx->repo_id, "index", cat_index_file(ctx->x), "offline",
                     ctx->offline, "offline_error", ctx->offline ? ctx->offline_why : NULL,
                     "synced_at", when[0] ? when : NULL, "refreshed",
                     s->added || s->gone || s->reread || s->pins || s->vanished, "added",
                     (json_int_t)s->added, "gone", (json_int_t)s->gone, "reread",
                     (json_int_t)s->reread, "pins_changed", (json_int_t)s->pins,
                     "damaged_added", (json_int_t)s->damaged, "vanished",
                     (json_int_t)s->vanished);
}

json_t *cat_json_time(time_t t)
{
    char s[32];
    if (t == 0)
        return json_null();
    time_format_rfc3339(t, s, sizeof(s));
    return json_string(s);
}

const char *cat_row_status(const struct cat_row *r)
{
    /* committed, but this host cannot open the manifest (public-key mode): not known good */
    if (r->status == CAT_COMPLETE && !r->details)
        return "sealed";
    return cat_status_name(r->status);
}

json_t *cat_row_json(const struct cat_row *r)
{
    json_t *cons = NULL;
    if (r->consistency)
        cons = json_loads(r->consistency, JSON_DECODE_ANY, NULL);
    json_t *v = json_pack(
        "{s:s, s:s, s:s, s:o, s:s, s:s?, s:o, s:o, s:s, s:s?, s:I, s:I, s:I, s:s?, s:o, s:b,"
        " s:b, s:s?, s:o, s:{s:s, s:b, s:o, s:s?}}",
        "repository", r->repo, "source", r->source, "id", r->id, "time",
        cat_json_time(r->time), "kind", r->kind, "job", r->job[0] ? r->job : NULL,
        "started", cat_json_time(r->started), "finished", cat_json_time(r->finished),
        "status", cat_row_status(r), "damage", r->damage, "bytes_in",
        (json_int_t)r->bytes_in, "bytes_stored", (json_int_t)r->bytes_stored, "objects",
        (json_int_t)r->objects, "tool", r->tool_version[0] ? r->tool_version : NULL,
        "consistency", cons ? cons : json_null(), "details", r->details, "pinned", r->pinned,
        "pin_reason", r->pin_reason, "pinned_at", cat_json_time(r->pinned_at), "verify",
        "result", cat_verify_name(r->verify), "quick", r->verify_quick, "at",
        cat_json_time(r->verified_at), "error", r->verify_error);
    return v;
}

void cat_print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    puts(s);
    free(s);
}

/* --- the log archive (logs/<source>/): the logs table kept in step --- */

static int list_cb(void *arg, const char *file, uint64_t stored)
{
    struct buf *b = arg;
    struct cat_log l;
    memset(&l, 0, sizeof(l));
    snprintf(l.file, sizeof(l.file), "%s", file);
    l.stored = stored;
    l.last_event = -1;
    buf_append(b, &l, sizeof(l));
    return 0;
}

static int cmp_log(const void *a, const void *b)
{
    return strcmp(((const struct cat_log *)a)->file, ((const struct cat_log *)b)->file);
}

/* one source: list logs/<source>/ once; read the header only of files the index lacks */
static int sync_source(struct cat_ctx *ctx, const char *source, bool *in_tx, struct cf_err *e)
{
    struct buf lb = BUF_INIT;
    struct cat_log *have = NULL;
    size_t nhave = 0, i = 0, k = 0;
    bool binlog = cat_log_naming_of(ctx->c, source) == CAT_LOG_BINLOG;
    int rc = -1;

    if (repo_log_list(ctx->r, source, list_cb, &lb, e) != 0 ||
        cat_index_logs(ctx->x, ctx->repo_id, source, &have, &nhave, e) != 0)
        goto out;
    struct cat_log *got = (struct cat_log *)lb.data;
    size_t ngot = lb.len / sizeof(*got);
    if (ngot > 1)
        qsort(got, ngot, sizeof(*got), cmp_log);
    while (i < ngot || k < nhave) {
        int c = i >= ngot ? 1 : k >= nhave ? -1 : strcmp(got[i].file, have[k].file);
        if (c > 0) {   /* gone from the repository (pruned here or elsewhere) */
            if (cat_begin_once(ctx, in_tx, e) != 0 ||
                cat_index_log_drop(ctx->x, ctx->repo_id, source, have[k].file, e) != 0)
                goto out;
            ctx->st.logs_gone++;
            k++;
            continue;
        }
        /* a binlog row of an index before schema 6 lacks its last event: read once */
        if (c < 0 || have[k].stored != got[i].stored || (binlog && have[k].last_event < 0)) {
            struct repo_log_meta m;
            struct cf_err se = CF_ERR_INIT;
            if (repo_log_stat(ctx->r, source, got[i].file, &m, &se) != 0) {
                if (se.code != CF_E_NOTFOUND && se.code != CF_E_CORRUPT) {
                    cf_err_keep(e, &se);
                    goto out;
                }
                /* removed since listed, or a header that does not read: verify names it */
                m.pushed = 0;
                m.last_event = 0;
            }
            got[i].pushed = m.pushed;
            got[i].last_event = binlog ? m.last_event : -1;
            if (cat_begin_once(ctx, in_tx, e) != 0 ||
                cat_index_log_put(ctx->x, ctx->repo_id, source, &got[i], e) != 0)
                goto out;
            ctx->st.logs_added++;
        }
        i++;
        if (c == 0)
            k++;
    }
    rc = 0;
out:
    free(have);
    buf_free(&lb);
    return rc;
}

static void name_add(char ***v, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i], s) == 0)
            return;
    *v = cf_realloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = cf_strdup(s);
}

int cat_sync_logs(struct cat_ctx *ctx, bool rebuild, bool *in_tx, struct cf_err *e)
{
    char **names = NULL;
    size_t n = 0;
    struct cat_row *rows = NULL;
    size_t nrows = 0;
    int rc = -1;

    if (rebuild && (cat_begin_once(ctx, in_tx, e) != 0 ||
                    cat_index_log_drop(ctx->x, ctx->repo_id, NULL, NULL, e) != 0))
        return -1;
    /* the sources to look at: configured ones, those with backups, those seen before */
    struct cat_filter f = { .repo = ctx->repo_id, .with_pruned = true };
    if (cat_index_log_sources(ctx->x, ctx->repo_id, &names, &n, e) != 0 ||
        cat_index_query(ctx->x, &f, &rows, &nrows, e) != 0)
        goto out;
    for (size_t i = 0; i < ctx->c->nsources; i++)
        name_add(&names, &n, ctx->c->sources[i]->name);
    for (size_t i = 0; i < nrows; i++)
        name_add(&names, &n, rows[i].source);
    for (size_t i = 0; i < n; i++)
        if (sync_source(ctx, names[i], in_tx, e) != 0)
            goto out;
    rc = 0;
out:
    cat_rows_free(rows, nrows);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* catalog.c - list, show, at, verify, pin, status, rebuild over the index (prune is in
 * cat_prune.c). Field names of --json output are documented in docs/CATALOG.md. */
#include "catalog.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../lib/catalog/cat_ctx.h"
#include "../lib/core/cli.h"
#include "../lib/core/log.h"
#include "../lib/core/util.h"
#include "../lib/db/db_binlog.h"
#include "../lib/repo/repo_lease.h"
#include "../lib/stream/pipeline.h"
#include "../policies/objectives.h"

/* open and refresh; on failure print the error and return the exit code (else -1) */
static int open_ctx(const struct conf *c, const struct repo_unlock *u, bool allow_offline,
                    const struct catalog_opts *o, struct cat_ctx *ctx)
{
    struct cf_err e = CF_ERR_INIT;
    if (cat_ctx_open(c, u, allow_offline, ctx, &e) != 0)
        return cli_fail("catalog", &e);
    if (!o->json || ctx->offline)
        cat_ctx_note(ctx);
    return -1;
}

static void fmt_time(time_t t, char *out, size_t cap)
{
    if (t == 0)
        snprintf(out, cap, "-");
    else
        time_format_rfc3339(t, out, cap);
}

/* "3d 4h", "2h 05m", "42s" */
void cat_fmt_age(int64_t s, char *out, size_t cap)
{
    if (s >= 86400)
        snprintf(out, cap, "%" PRId64 "d %02" PRId64 "h", s / 86400, s % 86400 / 3600);
    else if (s >= 3600)
        snprintf(out, cap, "%" PRId64 "h %02" PRId64 "m", s / 3600, s % 3600 / 60);
    else if (s >= 60)
        snprintf(out, cap, "%" PRId64 "m %02" PRId64 "s", s / 60, s % 60);
    else
        snprintf(out, cap, "%" PRId64 "s", s);
}

static void print_rows_text(const struct cat_row *v, size_t n)
{
    printf("%-16s %-26s %-8s %-20s %10s %10s  %-8s %s\n", "SOURCE", "ID", "KIND", "TIME", "IN",
           "STORED", "STATUS", "PIN");
    for (size_t i = 0; i < n; i++) {
        char in[32] = "-", st[32] = "-", t[32];
        if (v[i].details) {
            format_bytes(v[i].bytes_in, in, sizeof(in));
            format_bytes(v[i].bytes_stored, st, sizeof(st));
        }
        fmt_time(v[i].time, t, sizeof(t));
        printf("%-16s %-26s %-8s %-20s %10s %10s  %-8s %s\n", v[i].source, v[i].id,
               v[i].kind[0] ? v[i].kind : "-", t, in, st, cat_row_status(&v[i]),
               v[i].pinned ? (v[i].pin_reason && v[i].pin_reason[0] ? v[i].pin_reason
                                                                    : "pinned")
                           : "");
    }
}

int catalog_list(const struct conf *c, const struct repo_unlock *u, const struct catalog_opts *o)
{
    struct cf_err e = CF_ERR_INIT;
    struct cat_ctx ctx;
    struct cat_row *v = NULL;
    size_t n = 0;
    int rc = open_ctx(c, u, true, o, &ctx);

    if (rc >= 0)
        return rc;
    struct cat_filter f = { .repo = ctx.repo_id, .source = o->source, .job = o->job,
                            .since = o->since, .until = o->until };
    if (cat_index_query(ctx.x, &f, &v, &n, &e) != 0) {
        rc = cli_fail("catalog", &e);
        goto out;
    }
    if (o->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, cat_row_json(&v[i]));
        /* an array of rows (what scripts iterate over); the refresh report is on stderr */
        cat_print_json(arr);
        json_decref(arr);
    } else if (n == 0) {
        printf("no backups%s%s\n", o->source ? " of source " : "", o->source ? o->source : "");
    } else {
        print_rows_text(v, n);
    }
    rc = EXIT_OK;
out:
    cat_rows_free(v, n);
    cat_ctx_close(&ctx);
    return rc;
}

int catalog_show(const struct conf *c, const struct repo_unlock *u, const char *id,
                 const struct catalog_opts *o)
{
    struct cf_err e = CF_ERR_INIT;
    struct cat_ctx ctx;
    struct cat_row r;
    json_t *row = NULL;
    struct manifest *m = NULL;
    int rc = open_ctx(c, u, true, o, &ctx);

    if (rc >= 0)
        return rc;
    memset(&r, 0, sizeof(r));
    if (cat_index_get(ctx.x, ctx.repo_id, o->source, id, &r, &e) != 0) {
        rc = cli_fail("catalog", &e);
        goto out;
    }
    row = cat_row_json(&r);
    /* the manifest's own details, when it can be read */
    if (ctx.r && r.status != CAT_PRUNED && r.status != CAT_VANISHED && repo_can_read(ctx.r) &&
        repo_manifest_load(ctx.r, r.source, r.id, &m, &e) == 0) {
        json_t *d = manifest_details_json(m);
        json_object_update(row, d);
        json_decref(d);
    }
    if (o->json) {
        cat_print_json(row);
    } else {
        const char *k;
        json_t *val;
        json_object_foreach(row, k, val) {
            if (json_is_null(val))
                continue;
            char *s = json_is_string(val) ? NULL : json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY);
            printf("%-13s %s\n", k, s ? s : json_string_value(val));
            free(s);
        }
    }
    rc = r.status == CAT_COMPLETE ? EXIT_OK : EXIT_FAILED;
out:
    manifest_free(m);
    json_decref(row);
    cat_row_clear(&r);
    cat_ctx_close(&ctx);
    return rc;
}

/* the sources to report on: configured ones, and any other the index knows */
static json_t *source_names(struct cat_ctx *ctx, const struct catalog_opts *o, struct cf_err *e)
{
    json_t *names = json_array();
    struct cat_row *v = NULL;
    size_t n = 0;

    if (o->source) {
        json_array_append_new(names, json_string(o->source));
        return names;
    }
    for (size_t i = 0; i < ctx->c->nsources; i++)
        json_array_append_new(names, json_string(ctx->c->sources[i]->name));
    struct cat_filter f = { .repo = ctx->repo_id };
    if (cat_index_query(ctx->x, &f, &v, &n, e) != 0) {
        json_decref(names);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        size_t k;
        json_t *s;
        json_array_foreach(names, k, s) seen |= strcmp(json_string_value(s), v[i].source) == 0;
        if (!seen)
            json_array_append_new(names, json_string(v[i].source));
    }
    cat_rows_free(v, n);
    return names;
}

/* For a mariadb source that archives binlogs, asked for a moment: can the archive carry
 * backup @r to @t (docs/PITR.md "MariaDB")? From the index's consistency point (each
 * database's binlog file) and the log objects' headers alone. 0 yes or not applicable, 1
 * no (said on stdout or in @j), -1 error. */
static int binlog_reach(const struct cat_ctx *ctx, const char *source, const struct cat_row *r,
                        time_t t, bool text, json_t *j, struct cf_err *e)
{
    const struct ini_section *sec = conf_source(ctx->c, source);
    struct db_binlog_conf bc;
    json_t *cons, *dbs, *d;
    size_t i;
    int rc = 0;

    if (sec == NULL || db_binlog_conf_load(sec, &bc, e) != 0 || !bc.archive ||
        r->consistency == NULL) {
        cf_err_clear(e);
        return 0;
    }
    if (ctx->r == NULL)
        return cf_err_set(e, CF_E_NET, "the binlog archive of '%s' cannot be read offline",
                          source);
    cons = json_loads(r->consistency, 0, NULL);
    dbs = json_object_get(cons, "binlog");
    json_array_foreach(dbs, i, d) {
        const char *db = json_string_value(json_object_get(d, "database"));
        const char *file = json_string_value(json_object_get(d, "file"));
        struct repo_binlog_reach rr;
        char last[32];
        if (db == NULL || file == NULL)
            continue;
        if (repo_binlog_reach(ctx->r, source, file, (int64_t)t, &rr, e) != 0) {
            rc = -1;
            break;
        }
        fmt_time((time_t)rr.last, last, sizeof(last));
        if (!rr.ok)
            rc = 1;
        if (text && rr.ok)
            printf("  binlog   %s: reachable, %s .. %s (%zu file%s)\n", db, file, rr.last_file,
                   rr.files, rr.files == 1 ? "" : "s");
        else if (text && rr.pruned)
            printf("  binlog   %s: NOT reachable: the archive no longer holds '%s', where the "
                   "replay after this dump starts (catalog prune keeps binlogs only for the "
                   "keep-pitr window and from the newest dump on); HINT: a moment inside the "
                   "window\n", db, rr.gap);
        else if (text && rr.gap[0])
            printf("  binlog   %s: NOT reachable: '%s' was never archived (a gap); the last "
                   "moment reachable is %s\n", db, rr.gap, last);
        else if (text)
            printf("  binlog   %s: NOT reachable: the archive ends at %s (%s); HINT: backupd "
                   "binlog-sync %s\n", db, last, rr.last_file[0] ? rr.last_file : file, source);
        json_object_set_new(j, db, json_pack("{s:b, s:s, s:s, s:s?, s:b}", "reachable", rr.ok,
                                             "from", file, "last_event", last, "gap",
                                             rr.gap[0] ? rr.gap : NULL, "pruned", rr.pruned));
    }
    json_decref(cons);
    return rc;
}

int catalog_at(const struct conf *c, const struct repo_unlock *u, struct repo_when when,
               const struct catalog_opts *o)
{
    struct cf_err e = CF_ERR_INIT;
    struct cat_ctx ctx;
    json_t *names = NULL, *arr = json_array();
    size_t missing = 0, i;
    json_t *sj;
    char ws[32];
    int rc;

    if (o->source && catalog_source_physical(c, o->source)) {
        json_decref(arr);
        return catalog_at_pitr(c, u, when, o);
    }
    rc = open_ctx(c, u, true, o, &ctx);
    if (rc >= 0) {
        json_decref(arr);
        return rc;
    }
    if ((names = source_names(&ctx, o, &e)) == NULL) {
        rc = cli_fail("catalog", &e);
        goto out;
    }
    repo_when_format(when, ws, sizeof(ws));
    if (!o->json)
        printf("%-16s %-26s %-20s %s\n", "SOURCE", "ID", "TIME", "AGE AT THAT TIME");
    json_array_foreach(names, i, sj) {
        const char *s = json_string_value(sj);
        struct cat_row r;
        struct repo_when sw = when;
        cf_err_clear(&e);
        sw.replay = !when.latest && db_binlog_replays(conf_source(c, s));   /* as restore */
        if (cat_index_at(ctx.x, ctx.repo_id, s, sw, &r, &e) != 0) {
            if (e.code != CF_E_NOTFOUND) {
                rc = cli_fail("catalog", &e);
                goto out;
            }
            missing++;
            fprintf(stderr, "catalog: %s\n", e.msg);
            json_array_append_new(arr, json_pack("{s:s, s:n, s:s}", "source", s, "backup",
                                                 "error", e.msg));
            if (!o->json)
                printf("%-16s %-26s %-20s %s\n", s, "-", "-", "no complete backup at or before");
            continue;
        }
        char t[32], age[32];
        fmt_time(r.time, t, sizeof(t));
        time_t now = time(NULL);
        time_t ref = !when.latest && when.t < now ? when.t : now;   /* 'latest': age now */
        cat_fmt_age(ref > r.time ? (int64_t)(ref - r.time) : 0, age, sizeof(age));
        json_t *bj = json_object();
        json_array_append_new(arr, json_pack("{s:s, s:o, s:o}", "source", s, "backup",
                                             cat_row_json(&r), "binlog", bj));
        if (!o->json)
            printf("%-16s %-26s %-20s %s\n", s, r.id, t, age);
        int br = when.latest ? 0 : binlog_reach(&ctx, s, &r, when.t, !o->json, bj, &e);
        cat_row_clear(&r);
        if (br < 0) {
            rc = cli_fail("catalog", &e);
            goto out;
        }
        missing += br == 1;
    }
    if (o->json) {
        json_t *res = json_pack("{s:o, s:s, s:o}", "catalog", cat_ctx_json(&ctx), "at", ws,
                                "sources", arr);
        arr = NULL;
        cat_print_json(res);
        json_decref(res);
    }
    rc = missing ? EXIT_FAILED : EXIT_OK;
out:
    json_decref(arr);
    json_decref(names);
    cat_ctx_close(&ctx);
    return rc;
}

int catalog_verify(const struct conf *c, const struct repo_unlock *u, const char *id,
                   const struct catalog_opts *o)
{
    struct cf_err e = CF_ERR_INIT;
    struct cat_ctx ctx;
    struct cat_row *v = NULL;
    size_t n = 0, bad = 0, done = 0, vanished = 0;
    json_t *rows = json_array();
    int rc = open_ctx(c, u, false, o, &ctx);

    if (rc >= 0) {
        json_decref(rows);
        return rc;
    }
    if (!repo_can_read(ctx.r)) {
        cf_err_set(&e, CF_E_KEY, "verifying reads the manifests: this repository is sealed "
                                    "to a public key; HINT: pass --secret-key-file FILE");
        rc = cli_fail("catalog", &e);
        goto out;
    }
    struct cat_filter f = { .repo = ctx.repo_id, .source = o->source };
    if (id != NULL) {
        v = cf_calloc(1, sizeof(*v));
        if (cat_index_get(ctx.x, ctx.repo_id, o->source, id, &v[0], &e) != 0) {
            free(v);
            v = NULL;
            rc = cli_fail("catalog", &e);
            goto out;
        }
        n = 1;
    } else if (cat_index_query(ctx.x, &f, &v, &n, &e) != 0) {
        rc = cli_fail("catalog", &e);
        goto out;
    }
    for (size_t i = 0; i < n && !o->logs; i++) {
        if (v[i].status == CAT_VANISHED) {   /* whatever was asked, until forgotten */
            char why[1024];
            cat_vanished_msg(&v[i], why, sizeof(why));
            done++;
            bad++;
            vanished++;
            json_array_append_new(rows, json_pack("{s:s,s:s,s:s,s:b,s:s,s:I}", "id", v[i].id,
                                                  "source", v[i].source, "result", "vanished",
                                                  "quick", o->quick, "error", why, "ms",
                                                  (json_int_t)0));
            if (!o->json)
                printf("%s/%s: VANISHED: %s\n", v[i].source, v[i].id, why);
            log_error("backup vanished source=%s id=%s", v[i].source, v[i].id);
            continue;
        }
        /* --latest: the newest complete backup of each source (rows sorted by source, time) */
        if (o->latest && (v[i].status != CAT_COMPLETE ||
                          (i + 1 < n && strcmp(v[i + 1].source, v[i].source) == 0 &&
                           v[i + 1].status == CAT_COMPLETE)))
            continue;
        struct manifest *m = NULL;
        uint64_t t0 = time_mono_ms();
        cf_err_clear(&e);
        int k = repo_manifest_load(ctx.r, v[i].source, v[i].id, &m, &e);
        if (k == 0)
            k = o->quick ? repo_backup_check_sizes(ctx.r, m, &e)
                         : pipeline_verify(ctx.r, m, &e);
        manifest_free(m);
        if (k != 0 && e.code != CF_E_CORRUPT && e.code != CF_E_CRYPTO &&
            e.code != CF_E_NOTFOUND) {
            rc = cli_fail("catalog", &e);   /* not damage: the repository is unreachable */
            goto out;
        }
        struct cf_err we = CF_ERR_INIT;
        if (cat_index_set_verify(ctx.x, ctx.repo_id, v[i].source, v[i].id,
                                 k == 0 ? CAT_VERIFY_OK : CAT_VERIFY_FAILED, o->quick, time(NULL),
                                 k == 0 ? NULL : e.msg, &we) != 0 ||
            cat_index_set_status(ctx.x, ctx.repo_id, v[i].source, v[i].id,
                                 k == 0 ? CAT_COMPLETE : CAT_DAMAGED, k == 0 ? NULL : e.msg,
                                 &we) != 0)
            log_warn("unable to record the verify result in the index: %s", we.msg);
        done++;
        if (k != 0)
            bad++;
        json_array_append_new(rows, json_pack("{s:s,s:s,s:s,s:b,s:s?,s:I}", "id", v[i].id,
                                              "source", v[i].source, "result",
                                              k == 0 ? "ok" : "damaged", "quick", o->quick,
                                              "error", k == 0 ? NULL : e.msg, "ms",
                                              (json_int_t)(time_mono_ms() - t0)));
        if (!o->json) {
            if (k == 0)
                printf("%s/%s: ok%s\n", v[i].source, v[i].id, o->quick ? " (quick)" : "");
            else
                printf("%s/%s: DAMAGED: %s\n", v[i].source, v[i].id, e.msg);
            fflush(stdout);
        }
        if (k != 0)
            log_error("verify failed source=%s id=%s: %s", v[i].source, v[i].id, e.msg);
    }
    /* the archived log files: --logs, or --all (of --source, else of every source) */
    size_t ldone = 0, lbad = 0;
    json_t *lres = json_array();
    if (o->logs || o->all) {
        json_t *ls = source_names(&ctx, o, &e);
        size_t si;
        json_t *sj;
        int k = ls == NULL ? -1 : 0;
        json_array_foreach(ls, si, sj) {
            if (k == 0)
                k = cat_verify_logs(&ctx, json_string_value(sj), o, lres, &ldone, &lbad, &e);
        }
        json_decref(ls);
        if (k != 0) {
            json_decref(lres);
            rc = cli_fail("catalog", &e);
            goto out;
        }
    }
    if (o->json) {
        json_t *res = json_pack("{s:o, s:o, s:I, s:I, s:I, s:o, s:I, s:I}", "catalog",
                                cat_ctx_json(&ctx), "results", rows, "verified",
                                (json_int_t)done, "damaged", (json_int_t)(bad - vanished),
                                "vanished", (json_int_t)vanished, "logs", lres,
                                "logs_verified", (json_int_t)ldone, "logs_damaged",
                                (json_int_t)lbad);
        rows = NULL;
        cat_print_json(res);
        json_decref(res);
    } else {
        printf("%zu backups verified%s, %zu damaged", done, o->quick ? " (quick)" : "",
               bad - vanished);
        if (vanished)
            printf(", %zu VANISHED", vanished);
        if (o->logs || o->all)
            printf("; %zu archived log files verified, %zu damaged", ldone, lbad);
        putchar('\n');
        json_decref(lres);
    }
    rc = bad || lbad ? EXIT_FAILED : EXIT_OK;
out:
    json_decref(rows);
    cat_rows_free(v, n);
    cat_ctx_close(&ctx);
    return rc;
}

int catalog_pin(const struct conf *c, const struct repo_unlock *u, const char *id, bool pin,
                const struct catalog_opts *o)
{
    struct cf_err e = CF_ERR_INIT;
    struct cat_ctx ctx;
    struct cat_row r;
    time_t now = time(NULL);
    int rc = open_ctx(c, u, false, o, &ctx);

    if (rc >= 0)
        return rc;
    memset(&r, 0, sizeof(r));
    if (cat_index_get(ctx.x, ctx.repo_id, o->source, id, &r, &e) != 0 ||
        ((r.status == CAT_PRUNED || r.status == CAT_VANISHED) &&
         cf_err_set(&e, CF_E_NOTFOUND, "backup %s/%s was %s: there is nothing left to %s",
                    r.source, r.id, cat_status_name(r.status), pin ? "pin" : "unpin") != 0)) {
        rc = cli_fail("catalog", &e);
        goto out;
    }
    /* the repository first: it is the truth, the index follows */
    if ((pin ? repo_pin_put(ctx.r, r.source, r.id, o->reason, now, &e)
             : repo_pin_remove(ctx.r, r.source, r.id, &e)) != 0 ||
        cat_index_set_pin(ctx.x, ctx.repo_id, r.source, r.id, pin, o->reason ? o->reason : "",
                          now, &e) != 0) {
        rc = cli_fail("catalog", &e);
        goto out;
    }
    if (o->json) {
        json_t *res = json_pack("{s:s, s:s, s:b, s:s?}", "source", r.source, "id", r.id,
                                "pinned", pin, "reason", pin ? o->reason : NULL);
        cat_print_json(res);
        json_decref(res);
    } else {
        printf("%s/%s: %s\n", r.source, r.id, pin ? "pinned (never pruned until unpinned)"
                                                  : "unpinned (retention applies again)");
    }
    rc = EXIT_OK;
out:
    cat_row_clear(&r);
    cat_ctx_close(&ctx);
    return rc;
}

int catalog_status(const struct conf *c, const struct repo_unlock *u,
                   const struct catalog_opts *o)
{
    struct cf_err e = CF_ERR_INIT;
    struct cat_ctx ctx;
    json_t *names = NULL, *arr = json_array(), *locks = json_array(), *sj;
    json_t *mirrors = json_array();
    json_t *drills = json_array();
    struct lease_info *li = NULL;
    size_t nli = 0, notok = 0, i;
    time_t now = time(NULL);
    int rc = open_ctx(c, u, true, o, &ctx);

    if (rc >= 0) {
        json_decref(arr);
        json_decref(locks);
        json_decref(mirrors);
        json_decref(drills);
        return rc;
    }
    if (ctx.offline)
        notok++;   /* an unreachable repository is not OK, whatever the index says */
    if ((names = source_names(&ctx, o, &e)) == NULL) {
        rc = cli_fail("catalog", &e);
        goto out;
    }
    if (!o->json)
        printf("%-16s %-26s %-10s %-8s %-9s %s\n", "SOURCE", "NEWEST", "AGE", "RPO", "STATE",
               "LAST VERIFY");
    json_array_foreach(names, i, sj) {
        const char *s = json_string_value(sj);
        struct cat_policy_set ps;
        struct cat_row *v = NULL, *newest = NULL, *verified = NULL;
        size_t n = 0;
        struct cat_filter f = { .repo = ctx.repo_id, .source = s };
        if (cat_policy_for(c, s, &ps, &e) != 0 || cat_index_query(ctx.x, &f, &v, &n, &e) != 0) {
            rc = cli_fail("catalog", &e);
            goto out;
        }
        json_t *gone = json_array();
        for (size_t k = 0; k < n; k++) {
            if (v[k].status == CAT_VANISHED) {
                char why[1024];
                cat_vanished_msg(&v[k], why, sizeof(why));
                json_array_append_new(gone, json_pack("{s:s, s:s}", "id", v[k].id, "error", why));
                cli_say(LOG_ERROR, "catalog: backup %s/%s VANISHED: %s", s, v[k].id, why);
            }
            if (v[k].status == CAT_COMPLETE)
                newest = &v[k];
            if (v[k].verify != CAT_VERIFY_NEVER &&
                (verified == NULL || v[k].verified_at >= verified->verified_at))
                verified = &v[k];
        }
        /* a source with a log archive: the newer of its newest backup and what its
         * archive reaches (the newest segment's push, the newest binlog event) is the
         * recovery point (cat_logcmd.c) */
        struct cat_arch ar;
        if (cat_arch_load(&ctx, s, &ar, &e) != 0) {
            cat_rows_free(v, n);
            json_decref(gone);
            rc = cli_fail("catalog", &e);
            goto out;
        }
        time_t point = newest ? newest->time : 0;
        if (ar.a.point > point)
            point = (time_t)ar.a.point;
        struct rpo_eval ev;
        objective_rpo(point != 0, point, now, ps.rpo, &ev);
        if (ar.a.ngaps)
            notok++;
        bool verify_bad = verified && verified->verify == CAT_VERIFY_FAILED;
        /* the newest attempt of `backupd run` failed: FAILED, whatever the RPO says */
        struct cat_attempts at;
        if (cat_index_attempts(ctx.x, s, NULL, &at, &e) != 0) {
            cat_rows_free(v, n);
            json_decref(gone);
            rc = cli_fail("catalog", &e);
            goto out;
        }
        bool failed = at.have_last && !at.last.ok;
        char att[32] = "-";
        fmt_time(at.last.finished, att, sizeof(att));
        if (failed)
            cli_say(LOG_ERROR, "catalog: source %s: last backup attempt FAILED at %s (job %s): %s",
                    s, att, at.last.job, at.last.error ? at.last.error : "?");
        if (ev.state == OBJ_VIOLATED || verify_bad || json_array_size(gone) > 0 || failed)
            notok++;
        char age[32] = "-", rpo[32] = "-", vt[32] = "-", vdesc[256] = "never verified";
        if (point)
            cat_fmt_age(ev.age, age, sizeof(age));
        if (ps.rpo)
            cat_fmt_age(ps.rpo, rpo, sizeof(rpo));
        if (verified) {
            fmt_time(verified->verified_at, vt, sizeof(vt));
            snprintf(vdesc, sizeof(vdesc), "%s%s %s of %s%s%s", cat_verify_name(verified->verify),
                     verified->verify_quick ? " (quick)" : "", vt, verified->id,
                     verify_bad ? ": " : "", verify_bad ? verified->verify_error : "");
        }
        /* without an objective: OK once there is a backup */
        const char *state = failed               ? "FAILED"
                            : ev.state != OBJ_NONE ? objective_state_name(ev.state)
                            : ar.a.ngaps           ? "GAPS"
                            : newest               ? "OK"
                                                   : "NONE";
        json_t *aj = at.have_last
                         ? json_pack("{s:s, s:s, s:s, s:I, s:s?, s:s?}", "at", att, "job",
                                     at.last.job, "result", at.last.ok ? "ok" : "failed",
                                     "duration_ms", (json_int_t)at.last.duration_ms,
                                     "error", at.last.error, "backup_id",
                                     at.last.backup_id[0] ? at.last.backup_id : NULL)
                         : json_null();
        cat_attempt_clear(&at.last);
        json_t *vj = verified ? json_pack("{s:s, s:s, s:b, s:s, s:s?}", "result",
                                          cat_verify_name(verified->verify), "id", verified->id,
                                          "quick", verified->verify_quick, "at", vt, "error",
                                          verified->verify_error)
                              : json_null();
        size_t nvanished = json_array_size(gone);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:I, s:I, s:s, s:b, s:o, s:o, s:o, s:o}",
                                             "source", s, "state", nvanished ? "VANISHED" : state,
                                             "newest", newest ? cat_row_json(newest) : json_null(),
                                             "age_seconds", point ? (json_int_t)ev.age : (json_int_t)0,
                                             "rpo_seconds", (json_int_t)ps.rpo, "rpo_state",
                                             ev.state == OBJ_NONE ? "NONE"
                                                                  : objective_state_name(ev.state),
                                             "verified", verified != NULL, "last_verify", vj,
                                             "last_attempt", aj, "vanished", gone, "archive",
                                             ar.have ? cat_arch_json(&ar, now) : json_null()));
        if (!o->json) {
            printf("%-16s %-26s %-10s %-8s %-9s %s\n", s, newest ? newest->id : "-", age, rpo,
                   nvanished ? "VANISHED" : state, vdesc);
            if (ar.have)
                cat_arch_print(&ar, s, now, stdout);
        }
        cat_arch_free(&ar);
        cat_rows_free(v, n);
    }
    cat_mirror_status(&ctx, o, mirrors, &notok);
    notok += (size_t)cat_drill_status(c, ctx.r, o->json, drills);
    if (ctx.r != NULL && repo_locks_list(ctx.r, &li, &nli, &e) != 0) {
        rc = cli_fail("catalog", &e);
        goto out;
    }
    if (!o->json)
        printf("\n%s\n", nli ? "repository locks:" : "repository locks: none");
    for (size_t k = 0; k < nli; k++) {
        char since[32], until[32];
        fmt_time(li[k].created, since, sizeof(since));
        fmt_time(li[k].expires, until, sizeof(until));
        json_array_append_new(locks, json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:b}", "name",
                                               li[k].name, "purpose", li[k].purpose, "host",
                                               li[k].host, "pid", (json_int_t)li[k].pid,
                                               "since", since, "expires", until, "stale",
                                               li[k].stale));
        if (!o->json)
            printf("  %-20s %-8s %s pid %ld since %s until %s%s\n", li[k].name, li[k].purpose,
                   li[k].host, li[k].pid, since, until, li[k].stale ? " (STALE: will be taken over)"
                                                                    : "");
    }
    if (o->json) {
        json_t *res = json_pack("{s:o, s:b, s:o, s:o, s:o, s:o}", "catalog", cat_ctx_json(&ctx),
                                "ok", notok == 0, "sources", arr, "locks", locks, "mirrors",
                                mirrors, "drills", drills);
        arr = locks = mirrors = drills = NULL;
        cat_print_json(res);
        json_decref(res);
    }
    rc = notok ? EXIT_FAILED : EXIT_OK;
out:
    free(li);
    json_decref(arr);
    json_decref(locks);
    json_decref(mirrors);
    json_decref(drills);
    json_decref(names);
    cat_ctx_close(&ctx);
    return rc;
}

int catalog_rebuild(const struct conf *c, const struct repo_unlock *u,
                    const struct catalog_opts *o)
{
    struct cf_err e = CF_ERR_INIT;
    struct cat_ctx ctx;
    struct repo *r = NULL;
    const char *path;
    bool fresh;
    uint64_t t0 = time_mono_ms();
    int rc = EXIT_FAILED;

    memset(&ctx, 0, sizeof(ctx));
    ctx.c = c;
    if (repo_open(c, u, &r, &e) != 0)
        goto fail;
    if (!repo_can_read(r)) {
        cf_err_set(&e, CF_E_KEY, "rebuilding the catalog reads every manifest, and this "
                   "repository is sealed to a public key; HINT: pass --secret-key-file FILE "
                   "(the secret key of the repository)");
        goto fail;
    }
    if (cat_index_path(c, &path, &e) != 0 || cat_index_open(path, &ctx.x, &fresh, &e) != 0)
        goto fail;
    ctx.r = r;
    r = NULL;
    snprintf(ctx.repo_id, sizeof(ctx.repo_id), "%s", repo_id(ctx.r));
    if (cat_sync(&ctx, true, &e) != 0)
        goto fail;
    struct cat_filter f = { .repo = ctx.repo_id };
    struct cat_row *v = NULL;
    size_t n = 0, damaged = 0, pinned = 0, vanished = 0;
    if (cat_index_query(ctx.x, &f, &v, &n, &e) != 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        damaged += v[i].status == CAT_DAMAGED;
        pinned += v[i].pinned;
        vanished += v[i].status == CAT_VANISHED;
    }
    n -= vanished;
    cat_rows_free(v, n);
    uint64_t ms = time_mono_ms() - t0;
    if (o->json) {
        json_t *res = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "repository",
                                ctx.repo_id, "index", cat_index_file(ctx.x), "backups",
                                (json_int_t)n, "damaged", (json_int_t)damaged, "pinned",
                                (json_int_t)pinned, "vanished_kept", (json_int_t)vanished,
                                "ms", (json_int_t)ms);
        cat_print_json(res);
        json_decref(res);
    } else {
        printf("catalog rebuilt from the repository: %zu backups (%zu damaged, %zu pinned) in "
               "%" PRIu64 " ms\n", n, damaged, pinned, ms);
        if (vanished)   /* the repository cannot recreate them: the index's rows are kept */
            printf("%zu vanished backups kept from the old index (catalog status lists them)\n",
                   vanished);
    }
    rc = EXIT_OK;
    goto out;
fail:
    rc = cli_fail("catalog", &e);
out:
    repo_close(r);
    cat_ctx_close(&ctx);
    return rc;
}

int catalog_forget(const struct conf *c, const struct repo_unlock *u, const char *id,
                   const struct catalog_opts *o)
{
    struct cf_err e = CF_ERR_INIT;
    struct cat_ctx ctx;
    struct cat_row r;
    int rc = open_ctx(c, u, false, o, &ctx);

    if (rc >= 0)
        return rc;
    memset(&r, 0, sizeof(r));
    if (cat_index_get(ctx.x, ctx.repo_id, o->source, id, &r, &e) != 0) {
        rc = cli_fail("catalog", &e);
        goto out;
    }
    if (r.status != CAT_VANISHED) {
        cf_err_set(&e, CF_E_USAGE, "backup %s/%s is %s, not vanished: there is nothing to "
                   "forget; HINT: forget only acknowledges a backup whose manifest went missing "
                   "(catalog status lists them); retention removes backups (catalog prune)",
                   r.source, r.id, cat_row_status(&r));
        rc = cli_fail("catalog", &e);
        goto out;
    }
    /* the repository first, so that every host's index stops reporting it */
    if (repo_removed_put(ctx.r, r.source, r.id, "forget", &e) != 0 ||
        cat_index_set_status(ctx.x, ctx.repo_id, r.source, r.id, CAT_PRUNED, r.damage,
                             &e) != 0) {
        rc = cli_fail("catalog", &e);
        goto out;
    }
    log_info("forgot vanished backup source=%s id=%s", r.source, r.id);
    if (o->json) {
        json_t *res = json_pack("{s:s, s:s, s:b}", "source", r.source, "id", r.id, "forgotten",
                                1);
        cat_print_json(res);
        json_decref(res);
    } else {
        printf("%s/%s: forgotten (its loss is acknowledged; objects left of it are swept by "
               "catalog prune as debris)\n", r.source, r.id);
    }
    rc = EXIT_OK;
out:
    cat_row_clear(&r);
    cat_ctx_close(&ctx);
    return rc;
}

#include "restore_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/core/cli.h"
#include "../lib/core/log.h"
#include "../lib/core/util.h"
#include "../lib/catalog/cat_index.h"
#include "../lib/db/db_binlog.h"
#include "../lib/stream/pipeline.h"
#include "restore_binlog.h"

void restore_age(time_t from, time_t to, char *out, size_t cap)
{
    long long d = (long long)(to - from);
    if (d < 0)
        d = 0;
    if (d < 120)
        snprintf(out, cap, "%llds", d);
    else if (d < 7200)
        snprintf(out, cap, "%lldmin", d / 60);
    else if (d < 172800)
        snprintf(out, cap, "%lldh %lldmin", d / 3600, d % 3600 / 60);
    else
        snprintf(out, cap, "%lldd %lldh", d / 86400, d % 86400 / 3600);
}

/* Backups that `catalog verify` found damaged, as the index remembers them: restore passes
 * over them as `catalog at` does. No index, no memory: then only the repository decides. */
static void known_damage_load(const struct conf *c, const char *source, struct restore_one *p)
{
    struct cf_err e = CF_ERR_INIT;
    struct cat_index *x = NULL;
    struct cat_filter f = { 0 };
    const char *path;
    bool fresh;
    if (cat_index_path(c, &path, &e) != 0 || access(path, F_OK) != 0 ||
        cat_index_open(path, &x, &fresh, &e) != 0)
        return;
    f.source = source;
    if (cat_index_query(x, &f, &p->damage, &p->ndamage, &e) != 0)
        log_warn("catalog index %s unreadable, restore decides from the repository alone: %s",
                 path, e.msg);
    cat_index_close(x);
}

static const char *known_damage_why(const struct restore_one *p, const char *id)
{
    for (size_t i = 0; i < p->ndamage; i++)
        if (p->damage[i].status == CAT_DAMAGED && strcmp(p->damage[i].id, id) == 0)
            return p->damage[i].damage ? p->damage[i].damage : "catalog verify found it damaged";
    return NULL;
}

/* The backups repo_find_at_skipping() considered, newest first. Its skip callback sees each
 * candidate before that candidate's manifest is read, so every one but the chosen (the last)
 * was passed over: for the reason the index gives, or because its manifest did not open. */
static const char *chooser_skip(void *arg, const char *id)
{
    struct restore_one *p = arg;
    p->seen = cf_realloc(p->seen, (p->nseen + 1) * sizeof(*p->seen));
    struct restore_seen *s = &p->seen[p->nseen++];
    memset(s, 0, sizeof(*s));
    snprintf(s->id, sizeof(s->id), "%s", id);
    s->why = known_damage_why(p, id);
    return s->why;
}

/* repo_find_at_skipping() passed over the candidate @id, the last one seen, as a dump that
 * finished too late to replay from */
static void chooser_late(void *arg, const char *id, time_t finished)
{
    struct restore_one *p = arg;
    CF_ASSERT(p->nseen > 0 && strcmp(p->seen[p->nseen - 1].id, id) == 0);
    p->seen[p->nseen - 1].late = true;
    p->seen[p->nseen - 1].finished = finished;
}

/* the plan's lines about the backup chosen for @at, and the newer ones passed over */
static void plan_backup(const struct restore_one *p, struct repo_when at)
{
    char when[32], ago[32];
    bool latest = at.latest;
    size_t passed = p->nseen > 0 ? p->nseen - 1 : 0, late = 0;
    const size_t shown = 5;

    CF_ASSERT(p->nseen > 0 && strcmp(p->seen[p->nseen - 1].id, p->ref.id) == 0);
    time_format_rfc3339(p->ref.time, when, sizeof(when));
    restore_age(p->ref.time, latest ? time(NULL) : at.t, ago, sizeof(ago));
    printf("  backup   %s, taken %s, %s %s", p->ref.id, when, ago,
           latest ? "ago" : "before the requested time");
    for (size_t i = 0; i < passed; i++)
        late += p->seen[i].late;
    if (passed == 0)
        printf("%s\n", latest ? " (the newest)" : "");
    else if (late == passed)
        printf(": NOT the newest at or before it, %zu newer dump%s finished too late to "
               "replay from\n", passed, passed == 1 ? "" : "s");
    else
        printf(": NOT the newest%s, %zu newer backup%s passed over as damaged%s\n",
               latest ? "" : " at or before it", passed - late, passed - late == 1 ? "" : "s",
               late ? " or finished too late to replay from" : "");
    if (p->rp) {
        char fin[32];
        time_format_rfc3339(p->m->finished, fin, sizeof(fin));
        printf("  dump     finished %s: its snapshot is before the requested time, the replay "
               "starts there\n", fin);
    }
    for (size_t i = 0; i < passed && i < shown; i++) {
        if (p->seen[i].late) {
            char fin[32];
            time_format_rfc3339(p->seen[i].finished, fin, sizeof(fin));
            printf("  skipped  %s: finished %s, not before the requested time: its snapshot "
                   "may hold later changes, so the replay starts from an older dump\n",
                   p->seen[i].id, p->seen[i].finished ? fin : "at an unknown time");
        } else if (p->seen[i].why)
            printf("  skipped  %s: catalog verify found it damaged: %s\n", p->seen[i].id,
                   p->seen[i].why);
        else
            printf("  skipped  %s: its manifest is missing or does not open ('catalog verify "
                   "%s' says why)\n", p->seen[i].id, p->seen[i].id);
    }
    if (passed > shown)
        printf("  skipped  and %zu more; HINT: 'catalog list' shows them all\n", passed - shown);
}

int restore_one_prepare(const struct conf *c, struct repo *r, const char *source,
                        const struct ini_section *sec, struct repo_when at,
                        const struct restore_opts *opts, struct restore_one *p, struct cf_err *e)
{
    if (sec == NULL)
        sec = conf_source(c, source);

    memset(p, 0, sizeof(*p));
    p->source = source;
    p->opts = *opts;
    if (sec == NULL)
        return cf_err_set(e, CF_E_USAGE, "no [source %s] in %s", source, c->ini->file);
    if (source_open(sec, &p->src, e) != 0)
        return -1;
    if (opts->to_datadir)
        return restore_pitr_prepare(r, at, p, e);
    known_damage_load(c, source, p);
    /* the one rule with catalog at: a dump to replay from must have finished before --at */
    at.replay = !at.latest && db_binlog_replays(conf_source(c, source));   /* as the replay */
    struct repo_find_hooks h = { chooser_skip, chooser_late, p };
    if (repo_find_at_skipping(r, source, at, &h, &p->ref, &p->m, e) != 0)
        return -1;
    p->kind = p->m->kind[0] ? p->m->kind : NULL;
    if (p->kind == NULL || strcmp(p->kind, source_kind(p->src)) != 0)
        return cf_err_set(e, CF_E_USAGE,
                          "backup %s holds a '%s' source but [source %s] is now of type '%s'",
                          p->ref.id, p->kind ? p->kind : "?", source, source_kind(p->src));
    p->opts.backup_id = p->ref.id;
    if (source_plan(p->src, &p->opts, p->m->info, &p->dest, e) != 0 ||
        restore_binlog_prepare(c, r, source, sec, p->m->info, (int64_t)p->m->started,
                               &p->opts, at, &p->rp, e) != 0)
        return -1;
    p->restore_bytes = source_restore_bytes(p->m->parts, p->opts.database, p->m->bytes_in);
    return 0;
}

void restore_one_print_plan(const struct restore_one *p, struct repo_when at)
{
    char stored[32], in[32];

    if (p->pitr) {
        struct buf b = BUF_INIT;
        repo_pitr_describe(p->pitr, p->source, at, &b);
        buf_append(&b, p->dest.data, p->dest.len);
        fwrite(b.data, 1, b.len, stdout);
        fflush(stdout);
        buf_free(&b);
        return;
    }
    format_bytes(p->m->bytes_stored, stored, sizeof(stored));
    format_bytes(p->restore_bytes, in, sizeof(in));
    printf("  source   %s (%s)\n", p->source, p->kind);
    plan_backup(p, at);
    printf("  size     %s stored in %zu objects, %s to restore%s\n", stored,
           p->m->objects_listed ? p->m->nobjects : 0, in,
           p->opts.database ? " (the chosen database)" : "");
    fwrite(p->dest.data, 1, p->dest.len, stdout);
    if (p->rp)
        restore_binlog_plan(p->rp, stdout);
    fflush(stdout);
}

int restore_one_run(struct repo *r, struct restore_one *p, double *secs, struct cf_err *e)
{
    char in[32];
    uint64_t t0 = time_mono_ms();

    *secs = 0;
    log_info("restore start source=%s id=%s", p->source, p->ref.id);
    if (pipeline_restore(r, p->src, p->m, &p->opts, e) != 0) {
        *secs = (double)(time_mono_ms() - t0) / 1000.0;
        log_error("restore failed source=%s id=%s: %s", p->source, p->ref.id, e->msg);
        return cf_err_ctx(e, "restore of %s/%s", p->source, p->ref.id);
    }
    if (p->rp && restore_binlog_apply(p->rp, e) != 0) {
        *secs = (double)(time_mono_ms() - t0) / 1000.0;
        log_error("restore replay failed source=%s id=%s: %s", p->source, p->ref.id, e->msg);
        return cf_err_ctx(e, "replaying the binlog events on the dump of %s/%s (a database "
                          "this restore created is dropped again, --to-file removed; one that "
                          "existed is left as loaded)", p->source, p->ref.id);
    }
    *secs = (double)(time_mono_ms() - t0) / 1000.0;
    if (p->pitr) {
        log_info("restore done source=%s id=%s to-datadir=%s ms=%.0f", p->source, p->ref.id,
                 p->opts.to_datadir, *secs * 1000);
        restore_pitr_done(p, *secs);
        fflush(stdout);
        return 0;
    }
    double mb = (double)p->restore_bytes / 1e6;
    format_bytes(p->restore_bytes, in, sizeof(in));
    log_info("restore done source=%s id=%s ms=%.0f", p->source, p->ref.id, *secs * 1000);
    printf("restore done: %s restored from backup %s in %.1f s (%.1f MB/s)\n", in, p->ref.id,
           *secs, *secs > 0 ? mb / *secs : 0.0);
    if (p->rp) {
        char last[32];
        int64_t la = restore_binlog_last_applied(p->rp);
        time_format_rfc3339((time_t)la, last, sizeof(last));
        printf("binlog replayed: last event applied at %s\n",
               la ? last : "none (nothing committed after the dump)");
    }
    fflush(stdout);
    return 0;
}

void restore_one_free(struct restore_one *p)
{
    if (p == NULL)
        return;
    restore_binlog_free(p->rp);
    buf_free(&p->dest);
    free(p->seen);
    cat_rows_free(p->damage, p->ndamage);
    if (p->pitr) {   /* it owns the manifest */
        repo_pitr_free(p->pitr);
        free(p->pitr);
        p->m = NULL;
    }
    manifest_free(p->m);
    source_close(p->src);
    memset(p, 0, sizeof(*p));
}

int restore_run(const struct conf *c, const struct repo_unlock *u, const char *source,
                struct repo_when at, const struct restore_opts *opts)
{
    struct cf_err e = CF_ERR_INIT;
    struct repo *r = NULL;
    struct restore_one p;
    struct restore_opts o = *opts;
    char *cmd = NULL;
    double secs;
    int rc;

    memset(&p, 0, sizeof(p));
    if (conf_source(c, source) == NULL) {
        cf_err_set(&e, CF_E_USAGE, "no [source %s] in %s", source, c->ini->file);
        return cli_fail("restore", &e);
    }
    /* the destination is checked before any line of the plan is printed */
    if (o.to_datadir && restore_pitr_command(c, u, source, &cmd, &e) != 0) {
        rc = cli_fail("restore", &e);
        goto out;
    }
    o.restore_command = cmd;
    if (repo_open(c, u, &r, &e) != 0 ||
        restore_one_prepare(c, r, source, NULL, at, &o, &p, &e) != 0) {
        rc = cli_fail("restore", &e);
        goto out;
    }
    printf("restore plan%s\n", opts->dry_run ? " (dry run: nothing will be changed)" : "");
    restore_one_print_plan(&p, at);
    if (opts->dry_run) {
        rc = EXIT_OK;
        goto out;
    }
    rc = restore_one_run(r, &p, &secs, &e) == 0 ? EXIT_OK : cli_fail("restore", &e);
out:
    restore_one_free(&p);
    repo_close(r);
    free(cmd);
    return rc;
}

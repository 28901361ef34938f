#include "restore.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/core/cli.h"
#include "../lib/core/log.h"
#include "../lib/core/util.h"
#include "../lib/catalog/cat_index.h"
#include "../lib/stream/pipeline.h"
#include "restore_binlog.h"

static void age(time_t from, time_t to, char *out, size_t cap)
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
struct known_damage {
    struct cat_row *rows;
    size_t n;
};

static void known_damage_load(const struct conf *c, const char *source, struct known_damage *k)
{
    struct cf_err e = CF_ERR_INIT;
    struct cat_index *x = NULL;
    struct cat_filter f = { 0 };
    const char *path;
    bool fresh;
    memset(k, 0, sizeof(*k));
    if (cat_index_path(c, &path, &e) != 0 || access(path, F_OK) != 0 ||
        cat_index_open(path, &x, &fresh, &e) != 0)
        return;
    f.source = source;
    if (cat_index_query(x, &f, &k->rows, &k->n, &e) != 0)
        log_warn("catalog index %s unreadable, restore decides from the repository alone: %s",
                 path, e.msg);
    cat_index_close(x);
}

static const char *known_damage_why(const struct known_damage *k, const char *id)
{
    for (size_t i = 0; i < k->n; i++)
        if (k->rows[i].status == CAT_DAMAGED && strcmp(k->rows[i].id, id) == 0)
            return k->rows[i].damage ? k->rows[i].damage : "catalog verify found it damaged";
    return NULL;
}

/* The backups repo_find_at_skipping() considered, newest first. Its skip callback sees each
 * candidate before that candidate's manifest is read, so every one but the chosen (the last)
 * was passed over: for the reason the index gives, or because its manifest did not open. */
struct chooser {
    struct known_damage damage;
    struct seen {
        char id[REPO_ID_MAX];
        const char *why;   /* the index's reason, or NULL */
    } *seen;
    size_t n;
};

static const char *chooser_skip(void *arg, const char *id)
{
    struct chooser *ch = arg;
    ch->seen = cf_realloc(ch->seen, (ch->n + 1) * sizeof(*ch->seen));
    struct seen *s = &ch->seen[ch->n++];
    snprintf(s->id, sizeof(s->id), "%s", id);
    s->why = known_damage_why(&ch->damage, id);
    return s->why;
}

/* the plan's lines about the backup chosen for @at, and the newer ones passed over */
static void plan_backup(const struct chooser *ch, const struct repo_ref *ref,
                        struct repo_when at)
{
    char when[32], ago[32];
    bool latest = at.latest;
    size_t passed = ch->n > 0 ? ch->n - 1 : 0;
    const size_t shown = 5;

    CF_ASSERT(ch->n > 0 && strcmp(ch->seen[ch->n - 1].id, ref->id) == 0);
    time_format_rfc3339(ref->time, when, sizeof(when));
    age(ref->time, latest ? time(NULL) : at.t, ago, sizeof(ago));
    printf("  backup   %s, taken %s, %s %s", ref->id, when, ago,
           latest ? "ago" : "before the requested time");
    if (passed == 0)
        printf("%s\n", latest ? " (the newest)" : "");
    else
        printf(": NOT the newest%s, %zu newer backup%s passed over as damaged\n",
               latest ? "" : " at or before it", passed, passed == 1 ? "" : "s");
    for (size_t i = 0; i < passed && i < shown; i++) {
        if (ch->seen[i].why)
            printf("  skipped  %s: catalog verify found it damaged: %s\n", ch->seen[i].id,
                   ch->seen[i].why);
        else
            printf("  skipped  %s: its manifest is missing or does not open ('catalog verify "
                   "%s' says why)\n", ch->seen[i].id, ch->seen[i].id);
    }
    if (passed > shown)
        printf("  skipped  and %zu more; HINT: 'catalog list' shows them all\n", passed - shown);
}

int restore_run(const struct conf *c, const struct repo_unlock *u, const char *source,
                struct repo_when at, const struct restore_opts *opts_in)
{
    const struct ini_section *sec = conf_source(c, source);
    struct restore_opts opts = *opts_in;
    struct cf_err e = CF_ERR_INIT;
    struct repo *r = NULL;
    struct source *src = NULL;
    struct repo_ref ref;
    struct chooser ch = { { NULL, 0 }, NULL, 0 };
    struct buf dest = BUF_INIT;
    struct manifest *m = NULL;
    struct binlog_replay *rp = NULL;
    char stored[32], in[32];
    int rc;

    if (sec == NULL) {
        cf_err_set(&e, CF_E_USAGE, "no [source %s] in %s", source, c->ini->file);
        return cli_fail("restore", &e);
    }
    known_damage_load(c, source, &ch.damage);
    if (source_open(sec, &src, &e) != 0 || repo_open(c, u, &r, &e) != 0 ||
        repo_find_at_skipping(r, source, at, chooser_skip, &ch, &ref, &m, &e) != 0) {
        rc = cli_fail("restore", &e);
        goto out;
    }
    const char *kind = m->kind[0] ? m->kind : NULL;
    if (kind == NULL || strcmp(kind, source_kind(src)) != 0) {
        cf_err_set(&e, CF_E_USAGE,
                   "backup %s holds a '%s' source but [source %s] is now of type '%s'", ref.id,
                   kind ? kind : "?", source, source_kind(src));
        rc = cli_fail("restore", &e);
        goto out;
    }
    opts.backup_id = ref.id;
    /* the destination is checked before any line of the plan is printed */
    if (source_plan(src, &opts, m->info, &dest, &e) != 0 ||
        restore_binlog_prepare(c, r, source, m->info, (int64_t)m->started, &opts, at, &rp,
                               &e) != 0) {
        rc = cli_fail("restore", &e);
        goto out;
    }
    format_bytes(m->bytes_stored, stored, sizeof(stored));
    uint64_t restore_bytes = source_restore_bytes(m->parts, opts.database, m->bytes_in);
    format_bytes(restore_bytes, in, sizeof(in));
    printf("restore plan%s\n", opts.dry_run ? " (dry run: nothing will be changed)" : "");
    printf("  source   %s (%s)\n", source, kind);
    plan_backup(&ch, &ref, at);
    printf("  size     %s stored in %zu objects, %s to restore%s\n", stored,
           m->objects_listed ? m->nobjects : 0, in,
           opts.database ? " (the chosen database)" : "");
    fwrite(dest.data, 1, dest.len, stdout);
    if (rp)
        restore_binlog_plan(rp, stdout);
    fflush(stdout);
    if (opts.dry_run) {
        rc = EXIT_OK;
        goto out;
    }
    uint64_t t0 = time_mono_ms();
    log_info("restore start source=%s id=%s", source, ref.id);
    if (pipeline_restore(r, src, m, &opts, &e) != 0) {
        log_error("restore failed source=%s id=%s: %s", source, ref.id, e.msg);
        cf_err_ctx(&e, "restore of %s/%s", source, ref.id);
        rc = cli_fail("restore", &e);
        goto out;
    }
    if (rp && restore_binlog_apply(rp, &e) != 0) {
        log_error("restore replay failed source=%s id=%s: %s", source, ref.id, e.msg);
        cf_err_ctx(&e, "replaying the binlog events on the dump of %s/%s (a database this "
                   "restore created is dropped again, --to-file removed; one that existed is "
                   "left as loaded)", source, ref.id);
        rc = cli_fail("restore", &e);
        goto out;
    }
    double secs = (double)(time_mono_ms() - t0) / 1000.0;
    double mb = (double)restore_bytes / 1e6;
    log_info("restore done source=%s id=%s ms=%.0f", source, ref.id, secs * 1000);
    printf("restore done: %s restored from backup %s in %.1f s (%.1f MB/s)\n", in, ref.id, secs,
           secs > 0 ? mb / secs : 0.0);
    if (rp) {
        char last[32];
        int64_t la = restore_binlog_last_applied(rp);
        time_format_rfc3339((time_t)la, last, sizeof(last));
        printf("binlog replayed: last event applied at %s\n",
               la ? last : "none (nothing committed after the dump)");
    }
    rc = EXIT_OK;
out:
    restore_binlog_free(rp);
    buf_free(&dest);
    free(ch.seen);
    cat_rows_free(ch.damage.rows, ch.damage.n);
    manifest_free(m);
    repo_close(r);
    source_close(src);
    return rc;
}

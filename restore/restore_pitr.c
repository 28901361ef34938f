/* restore_pitr.c - a PostgreSQL cluster as it was at moment T, from a physical base backup and
 * the WAL archive (docs/PITR.md): the stage of restore_one_prepare() for a destination
 * --to-datadir, which `restore --source`, `restore --job` and `restore drill` share. The
 * choice of base backup and WAL is repo_pitr_plan()'s, which `catalog at` prints alike;
 * everything is checked before anything is written. */
#include "restore_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/core/util.h"
#include "../lib/repo/manifest.h"

/* @s for the shell: as it is when every character is plain, else in single quotes; NULL
 * when it holds a quote */
static char *shell_quoted(const char *s)
{
    if (s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-")] == 0)
        return cf_strdup(s);
    return strchr(s, '\'') ? NULL : cf_asprintf("'%s'", s);
}

int restore_pitr_command(const struct conf *c, const struct repo_unlock *u, const char *source,
                         char **out, struct cf_err *e)
{
    char exe[PATH_MAX], *conf = realpath(c->ini->file, NULL);
    char *key = u->secret_key_file ? realpath(u->secret_key_file, NULL) : NULL;
    char *qexe = NULL, *qconf = NULL, *qkey = NULL, *qsrc = NULL, *qmir = NULL;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    int rc = -1;

    if (n <= 0 || conf == NULL || (u->secret_key_file && key == NULL)) {
        cf_err_sys(e, CF_E_IO, "unable to find the absolute paths for restore_command");
        goto out;
    }
    exe[n] = '\0';
    qexe = shell_quoted(exe);
    qconf = shell_quoted(conf);
    qkey = key ? shell_quoted(key) : cf_strdup("");
    qsrc = shell_quoted(source);
    /* a restore from a mirror fetches its WAL from that mirror too */
    qmir = c->target_name ? shell_quoted(c->target_name) : cf_strdup("");
    if (!qexe || !qconf || !qkey || !qsrc || !qmir) {
        cf_err_set(e, CF_E_USAGE, "a path or name for restore_command holds a quote (')");
        goto out;
    }
    *out = cf_asprintf("%s --config %s%s%s%s%s wal-fetch %s %%f %%p", qexe, qconf,
                       c->target_name ? " --repository " : "", qmir,
                       key ? " --secret-key-file " : "", qkey, qsrc);
    rc = 0;
out:
    free(qmir);
    free(qexe);
    free(qconf);
    free(qkey);
    free(qsrc);
    free(key);
    free(conf);
    return rc;
}

int restore_pitr_prepare(struct repo *r, struct repo_when at, struct restore_one *p,
                         struct cf_err *e)
{
    CF_ASSERT(p->opts.to_datadir != NULL && p->opts.restore_command != NULL);
    p->pitr = cf_calloc(1, sizeof(*p->pitr));
    if (repo_pitr_plan(r, p->source, at, p->pitr, e) != 0)
        return -1;
    p->m = p->pitr->m;   /* owned by p->pitr */
    p->ref = p->pitr->base;
    p->kind = p->m->kind;
    if (strcmp(p->kind, source_kind(p->src)) != 0)
        return cf_err_set(e, CF_E_USAGE, "backup %s holds a '%s' source but [source %s] is now "
                          "of type '%s'", p->ref.id, p->kind, p->source, source_kind(p->src));
    if (!at.latest) {
        struct tm tm;
        gmtime_r(&at.t, &tm);
        strftime(p->target, sizeof(p->target), "%Y-%m-%d %H:%M:%S+00", &tm);
        p->opts.recovery_target = p->target;
    }
    p->opts.backup_id = p->ref.id;
    p->restore_bytes = p->m->bytes_in;
    return source_plan(p->src, &p->opts, p->m->info, &p->dest, e);
}

time_t restore_one_point(const struct restore_one *p, struct repo_when at)
{
    if (p->pitr == NULL)
        return p->ref.time;
    return at.latest ? (time_t)p->pitr->reach : at.t;
}

void restore_pitr_done(const struct restore_one *p, double secs)
{
    printf("restore done: base backup %s in %s in %.1f s, set up to recover %s.\n"
           "next: start the server on it as the cluster's owner (pg_ctl -D %s start); it fetches "
           "the WAL through restore_command and %s (docs/PITR.md)\n", p->ref.id,
           p->opts.to_datadir, secs, p->opts.recovery_target ? "to the requested moment"
                                                            : "to the end of the archive",
           p->opts.to_datadir, p->opts.pause ? "pauses at the target" : "then opens for writing");
}

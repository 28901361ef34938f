/* restore_pitr.c - `restore --source S --at T --to-datadir DIR`: a PostgreSQL cluster as it
 * was at moment T, from a physical base backup and the WAL archive (docs/PITR.md). The choice
 * of base backup and WAL is repo_pitr_plan()'s, which `catalog at` prints alike; everything
 * is checked before anything is written. */
#include "restore.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/core/cli.h"
#include "../lib/core/log.h"
#include "../lib/core/util.h"
#include "../lib/repo/manifest.h"
#include "../lib/repo/repo_pitr.h"
#include "../lib/stream/pipeline.h"

/* @s for the shell: as it is when every character is plain, else in single quotes; NULL
 * when it holds a quote */
static char *shell_quoted(const char *s)
{
    if (s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-")] == 0)
        return cf_strdup(s);
    return strchr(s, '\'') ? NULL : cf_asprintf("'%s'", s);
}

/* the restore_command: this binary, the configuration, wal-fetch; absolute paths, no secret */
static int restore_command(const struct conf *c, const struct repo_unlock *u,
                           const char *source, char **out, struct cf_err *e)
{
    char exe[PATH_MAX], *conf = realpath(c->ini->file, NULL);
    char *key = u->secret_key_file ? realpath(u->secret_key_file, NULL) : NULL;
    char *qexe = NULL, *qconf = NULL, *qkey = NULL, *qsrc = NULL;
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
    if (!qexe || !qconf || !qkey || !qsrc) {
        cf_err_set(e, CF_E_USAGE, "a path for restore_command holds a quote (')");
        goto out;
    }
    *out = cf_asprintf("%s --config %s%s%s wal-fetch %s %%f %%p", qexe, qconf,
                       key ? " --secret-key-file " : "", qkey, qsrc);
    rc = 0;
out:
    free(qexe);
    free(qconf);
    free(qkey);
    free(qsrc);
    free(key);
    free(conf);
    return rc;
}

int restore_pitr_run(const struct conf *c, const struct repo_unlock *u, const char *source,
                     struct repo_when at, const struct restore_opts *opts_in)
{
    const struct ini_section *sec = conf_source(c, source);
    struct restore_opts opts = *opts_in;
    struct cf_err e = CF_ERR_INIT;
    struct repo *r = NULL;
    struct source *src = NULL;
    struct repo_pitr p = { 0 };
    struct buf lines = BUF_INIT, plan = BUF_INIT;
    char *cmd = NULL, target[40];
    int rc;

    if (sec == NULL) {
        cf_err_set(&e, CF_E_USAGE, "no [source %s] in %s", source, c->ini->file);
        return cli_fail("restore", &e);
    }
    if (source_open(sec, &src, &e) != 0 || repo_open(c, u, &r, &e) != 0 ||
        restore_command(c, u, source, &cmd, &e) != 0 ||
        repo_pitr_plan(r, source, at, &p, &e) != 0) {
        rc = cli_fail("restore", &e);
        goto out;
    }
    if (strcmp(p.m->kind, source_kind(src)) != 0) {
        cf_err_set(&e, CF_E_USAGE, "backup %s holds a '%s' source but [source %s] is now of "
                   "type '%s'", p.base.id, p.m->kind, source, source_kind(src));
        rc = cli_fail("restore", &e);
        goto out;
    }
    if (!at.latest) {
        struct tm tm;
        gmtime_r(&at.t, &tm);
        strftime(target, sizeof(target), "%Y-%m-%d %H:%M:%S+00", &tm);
        opts.recovery_target = target;
    }
    opts.restore_command = cmd;
    opts.backup_id = p.base.id;
    if (source_plan(src, &opts, p.m->info, &lines, &e) != 0) {
        rc = cli_fail("restore", &e);
        goto out;
    }
    printf("restore plan%s\n", opts.dry_run ? " (dry run: nothing will be changed)" : "");
    repo_pitr_describe(&p, source, at, &plan);
    fwrite(plan.data, 1, plan.len, stdout);
    fwrite(lines.data, 1, lines.len, stdout);
    fflush(stdout);
    if (opts.dry_run) {
        rc = EXIT_OK;
        goto out;
    }
    uint64_t t0 = time_mono_ms();
    log_info("restore start source=%s id=%s to-datadir=%s", source, p.base.id, opts.to_datadir);
    if (pipeline_restore(r, src, p.m, &opts, &e) != 0) {
        log_error("restore failed source=%s id=%s: %s", source, p.base.id, e.msg);
        cf_err_ctx(&e, "restore of %s/%s", source, p.base.id);
        rc = cli_fail("restore", &e);
        goto out;
    }
    log_info("restore done source=%s id=%s ms=%llu", source, p.base.id,
             (unsigned long long)(time_mono_ms() - t0));
    printf("restore done: base backup %s in %s, set up to recover %s.\n"
           "next: start the server on it as the cluster's owner (pg_ctl -D %s start); it fetches "
           "the WAL through restore_command and %s (docs/PITR.md)\n", p.base.id,
           opts.to_datadir, at.latest ? "to the end of the archive" : "to the requested moment",
           opts.to_datadir, opts.pause ? "pauses at the target" : "then opens for writing");
    rc = EXIT_OK;
out:
    buf_free(&lines);
    buf_free(&plan);
    free(cmd);
    repo_pitr_free(&p);
    repo_close(r);
    source_close(src);
    return rc;
}

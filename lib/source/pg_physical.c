/* pg_physical.c - `method = physical` of the postgres source: a base backup streamed from
 * `pg_basebackup -D - -Ft -X none` (the WAL comes from the archive, docs/PITR.md), and its
 * restore into a new data directory set up to recover to a moment.
 *
 * Where the manifest's facts come from: the tar stream itself, read as it passes
 * (chk_pgtar.c): backup_label gives the start LSN, its segment and the timeline; the
 * "WAL-Ranges" of backup_manifest (which pg_basebackup appends to the tar it writes to stdout)
 * give the stop LSN; global/pg_control gives the system identifier. These describe the backup
 * exactly, with no race against a second session; libpq only checks the server first
 * (archiving on, no extra tablespace) and reads its version and WAL segment size.
 *
 * With `-X none` and archive_mode on, the server's pg_backup_stop switches to a new WAL
 * segment and waits until its archiver reports the stop segment archived; the pipeline then
 * checks the repository itself (the archive_command could point elsewhere) for `stop_wal`,
 * bounded by `archive-wait` (info "wait_for_log"), before it commits the manifest.
 *
 * That server-side wait has no bound of its own: when archiving breaks after the check made
 * before the backup starts, pg_backup_stop waits (and pg_basebackup with it) until archiving
 * works again. A watchdog on a second connection sees the backup's walsender waiting for the
 * archive (wait event BackupWaitWalArchive) and, after `archive-wait`, ends it and fails the
 * backup, naming the archiver's last failure. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../core/log.h"
#include "../core/util.h"
#include "../db/db_pg.h"
#include "child.h"
#include "chk.h"
#include "pg_int.h"
#include "tar_extract.h"

#define PART_BASE "base"

int pg_phys_load(const struct ini_section *sec, struct pg_phys *ph, struct cf_err *e)
{
    const char *method, *cp;
    memset(ph, 0, sizeof(*ph));
    if (ini_get_str(sec, "method", "logical", &method, e) != 0 ||
        ini_get_str(sec, "checkpoint", "fast", &cp, e) != 0 ||
        ini_get_duration(sec, "archive-wait", 60, &ph->archive_wait, e) != 0)
        return -1;
    if (strcmp(method, "physical") == 0)
        ph->physical = true;
    else if (strcmp(method, "logical") != 0)
        return ini_err(sec, "method", e, "method: '%s' is neither logical (pg_dump) nor "
                       "physical (base backup and WAL archive)", method);
    if (strcmp(cp, "fast") == 0)
        ph->fast = true;
    else if (strcmp(cp, "spread") != 0)
        return ini_err(sec, "checkpoint", e, "checkpoint: '%s' is neither fast nor spread", cp);
    if (ph->archive_wait < 1 || ph->archive_wait > 86400)
        return ini_err(sec, "archive-wait", e, "archive-wait: between 1s and 1d");
    return 0;
}

bool pg_info_physical(json_t *info)
{
    const char *m = json_string_value(json_object_get(info, "method"));
    return m != NULL && strcmp(m, "physical") == 0;
}

/* ------------------------------------------------------------------------------------------
 * backup
 * ---------------------------------------------------------------------------------------- */

static int parse_lsn(const char *s, uint64_t *out)
{
    unsigned hi, lo;
    int n = 0;
    if (sscanf(s, "%X/%X%n", &hi, &lo, &n) != 2 || n == 0)
        return -1;
    *out = (uint64_t)hi << 32 | lo;
    return 0;
}

void pg_wal_name(uint32_t tli, uint64_t lsn, uint64_t segsize, char out[25])
{
    uint64_t seg = lsn / segsize, per = UINT64_C(0x100000000) / segsize;
    snprintf(out, 25, "%08X%08X%08X", tli, (unsigned)(seg / per), (unsigned)(seg % per));
}

/* a single-row, single-column query as text into @out */
static int pg_value(PGconn *c, const char *what, const char *sql, char *out, size_t cap,
                    struct cf_err *e)
{
    PGresult *r = pg_exec(c, what, sql, 0, NULL, e);
    if (r == NULL)
        return -1;
    snprintf(out, cap, "%s", PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return 0;
}

/* before anything is streamed: archiving on, no tablespace but the default ones */
static int phys_server_check(struct db_settings *p, PGconn *c, json_t *info, struct cf_err *e)
{
    char v[512], where[512];
    db_pg_where(p, where, sizeof(where));
    if (pg_value(c, "reading archive_mode", "SELECT current_setting('archive_mode')", v,
                 sizeof(v), e) != 0)
        return -1;
    if (strcmp(v, "off") == 0)
        return cf_err_set(e, CF_E_SOURCE,
                          "postgres at %s has archive_mode = off: a physical base backup is "
                          "useless without the WAL archive. HINT: set archive_mode = on and "
                          "archive_command to 'backupd ... wal-push %s %%p' (docs/PITR.md), "
                          "then restart the server", where, p->name);
    /* with archiving failing, pg_backup_stop would wait for the stop segment for ever */
    if (pg_value(c, "reading pg_stat_archiver",
                 "SELECT coalesce(last_failed_wal || ' at ' || last_failed_time, '') FROM "
                 "pg_stat_archiver WHERE last_failed_time > coalesce(last_archived_time, "
                 "'-infinity')", v, sizeof(v), e) != 0)
        return -1;
    if (v[0])
        return cf_err_set(e, CF_E_SOURCE,
                          "archiving on postgres at %s is failing (last failure: %s): the base "
                          "backup would wait for ever for its WAL. HINT: see the server's log for "
                          "the archive_command's error and pg_stat_archiver (docs/PITR.md "
                          "\"When archiving fails\")", where, v);
    if (pg_value(c, "listing tablespaces",
                 "SELECT string_agg(spcname || ' (' || pg_tablespace_location(oid) || ')', "
                 "', ') FROM pg_tablespace WHERE spcname NOT IN ('pg_default', 'pg_global')",
                 v, sizeof(v), e) != 0)
        return -1;
    if (v[0])
        return cf_err_set(e, CF_E_SOURCE,
                          "postgres at %s has tablespaces outside its data directory: %s; a "
                          "physical backup of coffer streams one tar and cannot hold them. "
                          "HINT: use method = logical for this cluster, or move the tables "
                          "into pg_default (docs/PITR.md)", where, v);
    if (pg_value(c, "reading wal_segment_size",
                 "SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'", v,
                 sizeof(v), e) != 0)
        return -1;
    json_object_set_new(info, "wal_segment_size", json_integer(strtoll(v, NULL, 10)));
    json_object_set_new(info, "server_version", json_integer(PQserverVersion(c)));
    return 0;
}

/* start LSN and timeline from backup_label, stop LSN from the manifest's WAL-Ranges */
static int phys_info(const struct pgtar_summary *s, json_t *info, struct cf_err *e)
{
    const char *label = s->label.data, *mt = s->manifest_tail.data;
    const char *p, *ranges;
    unsigned tli = 0, mtli = 0;
    uint64_t start, stop, segsize = (uint64_t)json_integer_value(json_object_get(info,
                                                                "wal_segment_size"));
    char lsn[32], name[25];

    p = strstr(label, "START WAL LOCATION: ");
    if (p == NULL || parse_lsn(p + 20, &start) != 0 ||
        (p = strstr(label, "START TIMELINE: ")) == NULL || sscanf(p + 16, "%u", &tli) != 1)
        return cf_err_set(e, CF_E_CORRUPT, "backup_label of the base backup does not parse");
    ranges = strstr(mt, "\"WAL-Ranges\"");
    if (ranges == NULL || (p = strstr(ranges, "\"Timeline\":")) == NULL ||
        sscanf(p + 11, "%u", &mtli) != 1 || (p = strstr(p, "\"End-LSN\":")) == NULL ||
        (p = strchr(p + 10, '"')) == NULL || parse_lsn(p + 1, &stop) != 0)
        return cf_err_set(e, CF_E_CORRUPT,
                          "backup_manifest of the base backup has no WAL range that parses");
    if (strstr(p, "\"Timeline\":") != NULL || mtli != tli)
        return cf_err_set(e, CF_E_SOURCE, "the base backup spans a timeline switch (the server "
                          "was promoted during it). HINT: take it again");
    if (segsize == 0 || stop < start)
        return cf_err_set(e, CF_E_CORRUPT, "the base backup's WAL range does not parse");
    json_object_set_new(info, "timeline", json_integer(tli));
    snprintf(lsn, sizeof(lsn), "%X/%X", (unsigned)(start >> 32), (unsigned)start);
    json_object_set_new(info, "start_lsn", json_string(lsn));
    snprintf(lsn, sizeof(lsn), "%X/%X", (unsigned)(stop >> 32), (unsigned)stop);
    json_object_set_new(info, "stop_lsn", json_string(lsn));
    pg_wal_name(tli, start, segsize, name);
    json_object_set_new(info, "start_wal", json_string(name));
    pg_wal_name(tli, stop, segsize, name);
    json_object_set_new(info, "stop_wal", json_string(name));
    snprintf(lsn, sizeof(lsn), "%" PRIu64, s->system_identifier);
    json_object_set_new(info, "system_identifier", json_string(lsn));
    return 0;
}

static int phys_sink(void *ctx, const void *buf, size_t len, struct cf_err *e)
{
    return source_out_write(ctx, buf, len, e);
}

/* the watchdog over pg_backup_stop's wait for the archive (see the top of the file) */
struct stop_watch {
    PGconn *c;               /* its own connection, used by the watchdog thread only */
    const char *app;         /* the application_name pg_basebackup connects with */
    long limit;              /* seconds of waiting for the archive that are tolerated */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;               /* set by the backup when pg_basebackup has ended */
    bool fired;              /* set by the watchdog when it ended the backup */
    char failure[512];       /* pg_stat_archiver's last failure when it fired */
};

static void *stop_watch_run(void *arg)
{
    struct stop_watch *w = arg;
    const char *params[] = { w->app };
    long waited = 0;
    struct cf_err e = { 0 };

    pthread_mutex_lock(&w->mu);
    while (!w->done) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        if (w->done)
            break;
        pthread_mutex_unlock(&w->mu);
        PGresult *r = pg_exec(w->c, "watching the base backup's wait for the archive",
                              "SELECT pid FROM pg_stat_activity WHERE application_name = $1 "
                              "AND wait_event = 'BackupWaitWalArchive'", 1, params, &e);
        bool waiting = r != NULL && PQntuples(r) > 0;
        PQclear(r);
        waited = waiting ? waited + 1 : 0;
        if (waited > w->limit) {
            pg_value(w->c, "reading pg_stat_archiver",
                     "SELECT coalesce(last_failed_wal || ' at ' || last_failed_time, 'none "
                     "recorded') FROM pg_stat_archiver", w->failure, sizeof(w->failure), &e);
            /* ends the walsender: the server aborts the backup, pg_basebackup fails */
            PQclear(pg_exec(w->c, "ending the waiting base backup",
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                            "application_name = $1", 1, params, &e));
            pthread_mutex_lock(&w->mu);
            w->fired = true;
            break;
        }
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int pg_phys_export(struct db_settings *p, const struct pg_phys *ph, struct source_out *out,
                   json_t *info, struct cf_err *e)
{
    struct child ch = { 0 };
    struct src_reader r;
    struct db_pg_env env = { 0 };
    struct pgtar_summary s;
    PGconn *c = NULL;
    char *tool = src_tool_path("pg_basebackup", p->bindir, DB_PG_TOOLS_GLOB);
    char *label = cf_asprintf("--label=coffer %s", p->name);
    char *cp = ph->fast ? "--checkpoint=fast" : "--checkpoint=spread";
    char *argv[] = { tool, "--pgdata=-", "--format=tar", "--wal-method=none", cp, label,
                     "--no-password", NULL };
    int rc = -1;
    char app[64];
    struct stop_watch w = { .app = app, .limit = ph->archive_wait,
                            .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
    pthread_t watcher;
    bool watching = false;

    memset(&s, 0, sizeof(s));
    src_reader_init(&r, -1, "pg_basebackup output", phys_sink, out);
    json_object_set_new(info, "method", json_string("physical"));
    if (db_pg_connect_admin(p, &c, e) != 0 || phys_server_check(p, c, info, e) != 0)
        goto out;
    json_object_set_new(info, "start_time", json_integer((json_int_t)time(NULL)));
    db_pg_env_build(p, NULL, &env);
    /* a name of its own, by which the watchdog finds its walsender */
    snprintf(app, sizeof(app), "coffer base backup %ld", (long)getpid());
    for (size_t i = 0; i < env.n; i++)
        if (strncmp(env.v[i], "PGAPPNAME=", 10) == 0) {
            free(env.v[i]);
            env.v[i] = cf_asprintf("PGAPPNAME=%s", app);
        }
    if (source_out_part(out, PART_BASE, e) != 0 ||
        src_child_start(&ch, "pg_basebackup", argv, (const char *const *)env.v, CHILD_READ,
                        e) != 0)
        goto out;
    w.c = c;
    watching = pthread_create(&watcher, NULL, stop_watch_run, &w) == 0;
    r.fd = ch.fd;
    int prc = pgtar_check(&r, &s, e);
    if (prc == 0)
        prc = src_reader_flush(&r, e);
    prc = src_child_conclude(&ch, prc, prc == 0, e);
    if (watching) {
        pthread_mutex_lock(&w.mu);
        w.done = true;
        pthread_cond_signal(&w.cv);
        pthread_mutex_unlock(&w.mu);
        pthread_join(watcher, NULL);
        watching = false;
    }
    if (w.fired) {
        cf_err_clear(e);
        cf_err_set(e, CF_E_SOURCE,
                   "the base backup of %s waited more than archive-wait (%lds) in "
                   "pg_backup_stop for the WAL archive and was ended: archiving is failing "
                   "(pg_stat_archiver's last failure: %s). HINT: see the server's log for the "
                   "archive_command's error (docs/PITR.md \"When archiving fails\")",
                   p->name, ph->archive_wait, w.failure);
        goto out;
    }
    if (prc != 0)
        goto out;
    /* pg_backup_stop has returned: every change of the backup is in WAL up to stop_lsn */
    json_object_set_new(info, "stop_time", json_integer((json_int_t)time(NULL)));
    if (phys_info(&s, info, e) != 0)
        goto out;
    json_object_set_new(info, "wait_for_log",
                        json_pack("{s:O,s:I}", "file", json_object_get(info, "stop_wal"),
                                  "seconds", (json_int_t)ph->archive_wait));
    log_info("base backup streamed source=%s members=%u bytes=%" PRIu64 " start=%s stop=%s",
             p->name, s.members, s.bytes,
             json_string_value(json_object_get(info, "start_lsn")),
             json_string_value(json_object_get(info, "stop_lsn")));
    rc = 0;
out:
    src_child_kill(&ch);
    src_reader_free(&r);
    pgtar_summary_free(&s);
    db_pg_env_free(&env);
    PQfinish(c);
    free(label);
    free(tool);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * restore into a data directory
 * ---------------------------------------------------------------------------------------- */

/* the data directory must be new or an empty directory */
static int datadir_check(const char *dir, bool *exists, struct cf_err *e)
{
    struct stat st;
    bool empty;
    *exists = false;
    if (stat(dir, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        return cf_err_sys(e, CF_E_IO, "--to-datadir '%s'", dir);
    }
    if (!S_ISDIR(st.st_mode))
        return cf_err_set(e, CF_E_EXISTS, "--to-datadir '%s' exists and is not a directory", dir);
    if (fs_dir_is_empty(dir, &empty, e) != 0)
        return -1;
    if (!empty)
        return cf_err_set(e, CF_E_EXISTS, "--to-datadir '%s' is not empty: a restore never "
                          "writes over a data directory. HINT: give a new directory", dir);
    *exists = true;
    return 0;
}

int pg_phys_plan(const struct restore_opts *o, json_t *info, struct buf *lines,
                 struct cf_err *e)
{
    bool exists;
    if (o->to_datadir == NULL)
        return cf_err_set(e, CF_E_USAGE, "this is a physical base backup: it restores into a "
                          "new data directory. HINT: restore --source S --at T --to-datadir DIR (with --job: "
                          "--map S=DIR or S.to-datadir = DIR in the profile)");
    if (o->to_file || o->into_db || o->to_dir || o->into_redis || o->database)
        return cf_err_set(e, CF_E_USAGE, "a physical base backup restores with --to-datadir "
                          "alone (no --to-file, --into-db, --database)");
    char *dir = src_tar_dest_path(o->to_datadir);
    int rc = datadir_check(dir, &exists, e);
    if (rc == 0)
        buf_printf(lines, "  datadir  %s (%s, mode 0700): the base backup, recovery.signal, "
                   "and in postgresql.auto.conf restore_command, %s%s, archive_mode = off\n",
                   dir, exists ? "empty" : "created",
                   o->recovery_target ? "recovery_target_time, recovery_target_action = "
                   : "recovery to the end of the archive",
                   o->recovery_target ? (o->pause ? "pause" : "promote") : "");
    (void)info;
    free(dir);
    return rc;
}

/* the recovery settings, appended to postgresql.auto.conf (the last setting wins) */
static int phys_recovery_conf(const char *dir, const struct restore_opts *o, json_t *info,
                              struct cf_err *e)
{
    struct buf b = BUF_INIT;
    char *path = cf_asprintf("%s/postgresql.auto.conf", dir);
    int rc = -1, fd = -1;

    buf_printf(&b, "\n# coffer restore (docs/PITR.md): base backup %s, recovered from the WAL "
               "archive\n", o->backup_id ? o->backup_id : "?");
    buf_puts(&b, "restore_command = '");
    for (const char *s = o->restore_command; *s; s++) {
        buf_append(&b, s, 1);
        if (*s == '\'')
            buf_append(&b, s, 1);   /* a quote doubled: '' */
    }
    buf_puts(&b, "'\n");
    if (o->recovery_target) {
        buf_printf(&b, "recovery_target_time = '%s'\n", o->recovery_target);
        buf_printf(&b, "recovery_target_action = '%s'\n", o->pause ? "pause" : "promote");
    }
    buf_puts(&b, "recovery_target_timeline = 'latest'\n");
    buf_puts(&b, "# a restored copy never archives into the production archive; after a real\n"
                 "# recovery turn it on again (docs/PITR.md \"After a recovery\")\n"
                 "archive_mode = 'off'\n");
    (void)info;
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        cf_err_sys(e, CF_E_IO, "unable to open '%s'", path);
        goto out;
    }
    if (fs_write_all(fd, b.data, b.len, path, e) != 0 || fsync(fd) != 0)
        goto out;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    buf_free(&b);
    free(path);
    return rc;
}

/* as root, the files coffer wrote belong to the cluster's owner (that of PG_VERSION) */
static int phys_chown(const char *dir, struct cf_err *e)
{
    const char *mine[] = { "", "/recovery.signal", "/postgresql.auto.conf" };
    struct stat st;
    char *pv = cf_asprintf("%s/PG_VERSION", dir);
    int rc = 0;
    if (geteuid() == 0 && stat(pv, &st) == 0)
        for (size_t i = 0; i < sizeof(mine) / sizeof(mine[0]) && rc == 0; i++) {
            char *f = cf_asprintf("%s%s", dir, mine[i]);
            if (chown(f, st.st_uid, st.st_gid) != 0)
                rc = cf_err_sys(e, CF_E_IO, "unable to give '%s' to the cluster's owner", f);
            free(f);
        }
    free(pv);
    return rc;
}

int pg_phys_import(struct source_in *in, const struct restore_opts *o, json_t *info,
                   struct cf_err *e)
{
    char *dest = NULL, *parent = NULL, *tmp = NULL, *sig = NULL;
    bool exists;
    int rc = -1;

    if (o->to_datadir == NULL || o->restore_command == NULL)
        return cf_err_set(e, CF_E_USAGE, "a physical base backup restores with --to-datadir");
    dest = src_tar_dest_path(o->to_datadir);
    if (datadir_check(dest, &exists, e) != 0)
        goto out;
    parent = fs_dirname(dest);
    if (fs_mkdir_p(parent, 0755, e) != 0)
        goto out;
    if (src_tar_extract_beside(in, dest, "base backup stream", NULL, NULL, &tmp, e) != 0)
        goto out;
    sig = cf_asprintf("%s/recovery.signal", tmp);
    if (fs_write_file_atomic(sig, "", 0, 0600, e) != 0 ||
        phys_recovery_conf(tmp, o, info, e) != 0 || phys_chown(tmp, e) != 0)
        goto out;
    if (chmod(tmp, 0700) != 0) {
        cf_err_sys(e, CF_E_IO, "unable to set the mode of '%s'", tmp);
        goto out;
    }
    if (exists && rmdir(dest) != 0) {
        cf_err_sys(e, CF_E_IO, "unable to replace the empty directory '%s'", dest);
        goto out;
    }
    if (src_tar_partial_place(&tmp, dest, e) != 0)
        goto out;
    rc = 0;
out:
    src_tar_partial_drop(tmp);
    free(sig);
    free(parent);
    free(dest);
    return rc;
}

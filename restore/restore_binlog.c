/* restore_binlog.c - a mariadb restore to a moment: the dump, then the archived binlog events
 * from the position the dump recorded for each database up to the moment (exclusive), for
 * that database only (docs/PITR.md "MariaDB").
 *
 * Everything is checked before anything is loaded: the archive must hold every file from the
 * dump's recorded file on, without a gap, up to an event at or after the moment (the proof
 * that no event before it is missing). The files are fetched into a private 0700 directory
 * and scanned (db_binlog.h) for the last transaction that will be applied; the replay is
 * mariadb-binlog over the local files (--start-position in the first, --stop-datetime in UTC,
 * --database, --rewrite-db into another name, --skip-gtid-strict-mode) piped into the mariadb
 * client, without the lines that would give the replayed events the original server's GTIDs
 * (gtid_filter below). */
#include "restore_binlog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/core/log.h"
#include "../lib/core/util.h"
#include "../lib/db/db_binlog.h"
#include "../lib/db/db_maria.h"
#include "../lib/source/child.h"

struct replay_db {
    char *orig, *dest;
    bool created;   /* the restore creates @dest: dropped when the replay fails */
    uint64_t pos;
    char **files;   /* in order, the first from pos */
    size_t nfiles;
    struct db_binlog_scan sc;   /* applied_* are the last transaction replayed */
};

struct binlog_replay {
    const char *source;
    struct db_settings *m;
    char *dir;
    int64_t stop;
    struct replay_db *dbs;
    size_t n;
    const char *to_file;
};

static void rfc(int64_t t, char *out, size_t cap)
{
    time_format_rfc3339((time_t)t, out, cap);
}

/* follow the archive from @d's first file until an event at or after rp->stop */
static int chain(struct repo *r, struct binlog_replay *rp, struct replay_db *d, char **names,
                 size_t nn, int64_t dump_time, struct cf_err *e)
{
    int64_t reach = dump_time;
    char when[32], at[32], name[300];

    if (!db_binlog_name(d->files[0], NULL, NULL))
        return cf_err_set(e, CF_E_CORRUPT, "the dump records binlog file '%s', which is not a "
                          "binlog file's name", d->files[0]);
    rfc(rp->stop, at, sizeof(at));
    snprintf(name, sizeof(name), "%s", d->files[0]);
    for (size_t k = 0;; k++, repo_binlog_next(name, name, sizeof(name))) {
        const char *obj = repo_binlog_object(names, nn, name);
        bool whole = obj && strcmp(obj, name) == 0;
        if (obj == NULL) {
            rfc(reach, when, sizeof(when));
            /* the dump's own file, and the archive holds only later ones: pruned (or archived
             * only after the dump was taken), not a hole in the middle */
            if (k == 0 && repo_binlog_after(names, nn, name) &&
                !repo_binlog_before(names, nn, name))
                return cf_err_set(e, CF_E_NOTFOUND,
                                  "the binlog archive of source '%s' no longer holds '%s', "
                                  "where the replay after the dump taken %s starts: the "
                                  "archive begins at a later file (catalog prune keeps binlogs "
                                  "only for the keep-pitr window and from the newest dump on), "
                                  "so %s cannot be reached. HINT: restore --at a moment inside "
                                  "the keep-pitr window ('catalog logs %s' shows what is "
                                  "archived), or --at latest for the newest dump alone",
                                  rp->source, name, when, at, rp->source);
            if (repo_binlog_after(names, nn, name))
                return cf_err_set(e, CF_E_NOTFOUND,
                                  "the binlog archive of source '%s' has a gap: '%s' was never "
                                  "archived (purged from the server first?), so %s cannot be "
                                  "reached from this dump; the last moment reachable is %s. "
                                  "HINT: restore --at %s or earlier, or to a moment after a "
                                  "dump taken after the gap", rp->source, name, at, when, when);
            return cf_err_set(e, CF_E_NOTFOUND,
                              "the binlog archive of source '%s' ends before %s: its last event "
                              "is at %s (in the file before '%s'), and what happened after it "
                              "is not archived yet. HINT: run 'backupd binlog-sync %s' first "
                              "(binlog-follow seals every binlog-seal-interval), or restore "
                              "--at %s", rp->source, at, when, name, rp->source, when);
        }
        if (k > 0) {
            d->files = cf_realloc(d->files, (d->nfiles + 1) * sizeof(char *));
            d->files[d->nfiles++] = cf_strdup(name);
        }
        char *path = cf_asprintf("%s/%s", rp->dir, name);
        if (access(path, F_OK) != 0 &&
            repo_log_fetch(r, rp->source, obj, path, e) != 0) {
            free(path);
            return cf_err_ctx(e, "fetching '%s'", obj);
        }
        int src = db_binlog_scan(path, k == 0 ? d->pos : 4, rp->stop,
                                 strcmp(d->orig, d->dest) != 0 ? d->orig : NULL, k > 0,
                                 &d->sc, e);
        free(path);
        if (src != 0)
            return -1;
        if (d->sc.last_time > reach)
            reach = d->sc.last_time;
        if (d->sc.reached)
            return 0;
        if (!whole || !d->sc.closed) {
            rfc(reach, when, sizeof(when));
            return cf_err_set(e, CF_E_NOTFOUND,
                              "the binlog archive of source '%s' ends before %s: '%s' is "
                              "archived only up to %s (sealed while the server wrote it). "
                              "HINT: wait for binlog-follow's next seal or run 'backupd "
                              "binlog-sync %s', or restore --at %s", rp->source, at, name, when,
                              rp->source, when);
        }
    }
}

/* does database @db exist on @c? */
static int db_exists(MYSQL *c, const char *db, bool *yes, struct cf_err *e)
{
    char *esc = cf_malloc(strlen(db) * 2 + 1), *sql;
    MYSQL_RES *r;
    mysql_real_escape_string(c, esc, db, strlen(db));
    sql = cf_asprintf("SELECT 1 FROM information_schema.schemata WHERE schema_name = '%s'", esc);
    free(esc);
    if (mysql_query(c, sql) != 0 || (r = mysql_store_result(c)) == NULL) {
        free(sql);
        return cf_err_set(e, CF_E_SOURCE, "looking up database '%s': %s", db, mysql_error(c));
    }
    free(sql);
    *yes = mysql_num_rows(r) > 0;
    mysql_free_result(r);
    return 0;
}

/* after a failed replay: what the restore created goes, so that nothing half-restored looks
 * complete (a database that was there before stays, as loaded: the message says so) */
static void undo(const struct binlog_replay *rp)
{
    MYSQL *c = NULL;
    struct cf_err e = CF_ERR_INIT;
    if (rp->to_file) {
        if (unlink(rp->to_file) != 0)
            log_warn("restore cleanup: unable to remove '%s': %s", rp->to_file, strerror(errno));
        return;
    }
    for (size_t i = 0; i < rp->n; i++) {
        if (!rp->dbs[i].created)
            continue;
        if (c == NULL && db_maria_connect(rp->m, NULL, 0, &c, &e) != 0)
            break;
        char *sql = cf_asprintf("DROP DATABASE IF EXISTS `%s`", rp->dbs[i].dest);
        if (mysql_query(c, sql) != 0)
            log_warn("restore cleanup: dropping '%s': %s", rp->dbs[i].dest, mysql_error(c));
        else
            log_info("restore cleanup: dropped the half-restored database '%s'", rp->dbs[i].dest);
        free(sql);
    }
    if (e.code != CF_E_OK)
        log_warn("restore cleanup: %s", e.msg);
    mysql_close(c);
}

int restore_binlog_prepare(const struct conf *c, struct repo *r, const char *source,
                           const struct ini_section *dest, json_t *info, int64_t dump_time,
                           const struct restore_opts *o, struct repo_when at,
                           struct binlog_replay **out, struct cf_err *e)
{
    const struct ini_section *sec = conf_source(c, source);
    struct db_binlog_conf bc;
    struct binlog_replay *rp = NULL;
    json_t *dbs = json_object_get(info, "databases");
    char **names = NULL;
    size_t nn = 0;
    MYSQL *my = NULL;
    int rc = -1;

    *out = NULL;
    if (sec == NULL || at.latest || db_binlog_conf_load(sec, &bc, e) != 0 || !bc.archive)
        return e->code == CF_E_OK ? 0 : -1;
    rp = cf_calloc(1, sizeof(*rp));
    rp->source = source;
    rp->stop = (int64_t)at.t;
    rp->to_file = o->to_file;
    /* the server the dump goes into, which is not [source]'s in a drill */
    if (db_maria_settings_load(dest ? dest : sec, &rp->m, e) != 0 ||
        repo_binlog_names(r, source, &names, &nn, e) != 0)
        goto out;
    if (fs_private_tmpdir("replay", &rp->dir, e) != 0)
        goto out;
    if (!o->to_file && db_maria_connect(rp->m, NULL, 0, &my, e) != 0)
        goto out;
    rp->dbs = cf_calloc(json_array_size(dbs) + 1, sizeof(*rp->dbs));
    for (size_t i = 0; i < json_array_size(dbs); i++) {
        json_t *d = json_array_get(dbs, i);
        const char *orig = json_string_value(json_object_get(d, "name"));
        const char *file = json_string_value(json_object_get(d, "binlog_file"));
        if (orig == NULL || (o->database && strcmp(o->database, orig) != 0))
            continue;
        if (file == NULL || json_integer_value(json_object_get(d, "binlog_pos")) <= 0) {
            cf_err_set(e, CF_E_NOTFOUND, "the dump of database '%s' records no binlog position "
                       "(binary logging was off when it was taken): no binlog can be replayed "
                       "on it. HINT: restore --at latest for the dump alone", orig);
            goto out;
        }
        struct replay_db *x = &rp->dbs[rp->n++];
        x->orig = cf_strdup(orig);
        x->dest = cf_strdup(o->to_file ? orig : o->into_db && strcmp(o->into_db, "SAME") != 0
                                                    ? o->into_db : orig);
        x->pos = (uint64_t)json_integer_value(json_object_get(d, "binlog_pos"));
        if (my && db_exists(my, x->dest, &x->created, e) != 0)
            goto out;
        x->created = my && !x->created;
        x->files = cf_calloc(1, sizeof(char *));
        x->files[0] = cf_strdup(file);
        x->nfiles = 1;
        if (chain(r, rp, x, names, nn, dump_time, e) != 0) {
            cf_err_ctx(e, "replaying binlogs on database '%s'", orig);
            goto out;
        }
        /* a statement names tables as it likes ("INSERT INTO shop.t"): --rewrite-db changes
         * only its default database, so replayed into another name it could change the
         * original; only row events are renamed exactly */
        if (x->sc.statements > 0) {
            cf_err_set(e, CF_E_USAGE,
                       "the binlog events to replay on database '%s' hold %" PRIu64 " statement%s "
                       "logged as SQL (binlog_format STATEMENT or MIXED, or DDL), such as '%s': "
                       "replayed into '%s' they could change '%s' itself, so a restore under "
                       "another name is refused. HINT: restore into the same name on a scratch "
                       "server (another [source] with --into-db SAME), or restore --at a moment "
                       "before them; binlog_format = ROW avoids this (docs/PITR.md \"MariaDB\")",
                       orig, x->sc.statements, x->sc.statements == 1 ? "" : "s",
                       x->sc.statement, x->dest, orig);
            goto out;
        }
    }
    rc = 0;
    *out = rp;
    rp = NULL;
out:
    mysql_close(my);
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(names);
    restore_binlog_free(rp);
    return rc;
}

void restore_binlog_plan(const struct binlog_replay *rp, FILE *f)
{
    char at[32], last[32];
    rfc(rp->stop, at, sizeof(at));
    for (size_t i = 0; i < rp->n; i++) {
        const struct replay_db *d = &rp->dbs[i];
        fprintf(f, "  binlog   %s: %s:%" PRIu64 " .. %s (%zu file%s), events before %s\n",
                d->orig, d->files[0], d->pos, d->files[d->nfiles - 1], d->nfiles,
                d->nfiles == 1 ? "" : "s", at);
        if (d->sc.applied_gtid[0]) {
            rfc(d->sc.applied_time, last, sizeof(last));
            fprintf(f, "  last     event applied to %s: GTID %s at %s\n", d->orig,
                    d->sc.applied_gtid, last);
        } else {
            fprintf(f, "  last     event applied to %s: none (nothing committed between the "
                       "dump and %s)\n", d->orig, at);
        }
        if (rp->to_file)
            fprintf(f, "  note     the replay after the dump names database %s itself: load "
                       "the file into a database of that name (a scratch server)\n", d->orig);
        if (strcmp(d->orig, d->dest) != 0)
            fprintf(f, "  rename   events of %s replayed into %s (--rewrite-db; exact for "
                       "binlog_format = ROW, docs/PITR.md)\n", d->orig, d->dest);
    }
}

/* The lines of mariadb-binlog's output that give a replayed event the original server's
 * GTID ("SET @@session.gtid_seq_no=N", gtid_domain_id, server_id, each on a line of its own)
 * are left out: the destination server logs the replayed events under GTIDs of its own, as
 * it logs the dump's load; with the original's, gtid_strict_mode refuses the first one whose
 * sequence number is not above the server's (WAL-G issue 2556), and without strict mode the
 * server's binlog would get GTIDs out of order. */
#define GTID_LINE "/*M!100001 SET @@session."
struct gtid_filter {
    int fd;
    enum { AT_START, HOLD, PASS } st;
    char held[256];
    size_t n;
};

static bool gtid_line(const char *l, size_t n)
{
    size_t p = strlen(GTID_LINE);
    return n > p && (strncmp(l + p, "gtid_", 5) == 0 || strncmp(l + p, "server_id=", 10) == 0);
}

static int filter_write(struct gtid_filter *f, const char *p, size_t len, struct cf_err *e)
{
    const char *end = p + len;
    while (p < end) {
        if (f->st == AT_START) {   /* comparing the line's start with GTID_LINE */
            if (*p == GTID_LINE[f->n]) {
                f->held[f->n++] = *p++;
                if (f->n == strlen(GTID_LINE))
                    f->st = HOLD;
                continue;
            }
            if (fs_write_all(f->fd, f->held, f->n, "the replay", e) != 0)
                return -1;
            f->n = 0;
            f->st = PASS;
        } else if (f->st == HOLD) {   /* a "SET @@session." line: kept whole to judge it */
            f->held[f->n++] = *p++;
            bool eol = f->held[f->n - 1] == '\n';
            if (eol || f->n == sizeof(f->held)) {
                if (!(eol && gtid_line(f->held, f->n)) &&
                    fs_write_all(f->fd, f->held, f->n, "the replay", e) != 0)
                    return -1;
                f->n = 0;
                f->st = eol ? AT_START : PASS;
            }
        } else {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *to = nl ? nl + 1 : end;
            if (fs_write_all(f->fd, p, (size_t)(to - p), "the replay", e) != 0)
                return -1;
            p = to;
            if (nl)
                f->st = AT_START;
        }
    }
    return 0;
}

/* mariadb-binlog of @d's files up to the stop time, its output copied into @fd */
static int replay_one(const struct binlog_replay *rp, const struct replay_db *d, int fd,
                      struct cf_err *e)
{
    struct child bl = { 0 };
    char *tool = src_tool_path("mariadb-binlog", rp->m->bindir, NULL);
    char stop[64], buf[65536];
    struct tm tm;
    time_t st = (time_t)rp->stop;
    gmtime_r(&st, &tm);
    strftime(stop, sizeof(stop), "--stop-datetime=%Y-%m-%d %H:%M:%S", &tm);
    char *db = cf_asprintf("--database=%s", d->orig);
    char *rw = cf_asprintf("--rewrite-db=%s->%s", d->orig, d->dest);
    char *start = cf_asprintf("--start-position=%" PRIu64, d->pos);
    char **argv = cf_calloc(d->nfiles + 12, sizeof(char *));
    char **paths = cf_calloc(d->nfiles + 1, sizeof(char *));
    const char *env[] = { "TZ=UTC", NULL };   /* --stop-datetime is in the local zone */
    struct gtid_filter f = { fd, AT_START, { 0 }, 0 };
    int k = 0, rc = -1;
    ssize_t got;

    argv[k++] = tool;
    argv[k++] = "--no-defaults";
    argv[k++] = "--skip-gtid-strict-mode";
    argv[k++] = db;
    if (strcmp(d->orig, d->dest) != 0)
        argv[k++] = rw;
    argv[k++] = start;
    argv[k++] = stop;
    argv[k++] = "--";
    for (size_t i = 0; i < d->nfiles; i++)
        argv[k++] = paths[i] = cf_asprintf("%s/%s", rp->dir, d->files[i]);
    argv[k] = NULL;
    if (src_child_start(&bl, "mariadb-binlog", argv, env, CHILD_READ, e) != 0)
        goto out;
    while ((got = read(bl.fd, buf, sizeof(buf))) != 0) {
        if (got < 0) {
            if (errno == EINTR)
                continue;
            cf_err_sys(e, CF_E_IO, "reading mariadb-binlog's output");
            goto out;
        }
        if (filter_write(&f, buf, (size_t)got, e) != 0)
            goto out;
    }
    if (fs_write_all(fd, f.held, f.n, "the replay", e) != 0)
        goto out;
    if (src_child_finish(&bl, e) != 0)
        goto out;
    rc = 0;
out:
    src_child_kill(&bl);
    for (size_t i = 0; i < d->nfiles; i++)
        free(paths[i]);
    free(paths);
    free(argv);
    free(start);
    free(rw);
    free(db);
    free(tool);
    return rc;
}

static const char replay_head[] =
    "\n-- coffer: binlog events replayed on top of the dump (docs/PITR.md \"MariaDB\"),\n"
    "-- without the original server's GTIDs\n";

int restore_binlog_apply(const struct binlog_replay *rp, struct cf_err *e)
{
    struct child cl = { 0 };
    char *optfile = NULL, *tool = NULL, *defaults = NULL;
    int rc = -1, fd = -1;

    if (rp->to_file) {   /* the replay SQL after the dump in the file */
        if ((fd = open(rp->to_file, O_WRONLY | O_APPEND | O_CLOEXEC)) < 0)
            return cf_err_sys(e, CF_E_IO, "unable to open '%s'", rp->to_file);
        if (fs_write_all(fd, replay_head, strlen(replay_head), rp->to_file, e) != 0)
            goto out;
        for (size_t i = 0; i < rp->n; i++)
            if (replay_one(rp, &rp->dbs[i], fd, e) != 0)
                goto out;
        if (fsync(fd) != 0) {
            cf_err_sys(e, CF_E_IO, "unable to sync '%s'", rp->to_file);
            goto out;
        }
        rc = 0;
        goto out;
    }
    if (db_maria_option_file(rp->m, &optfile, e) != 0)
        goto out;
    tool = src_tool_path("mariadb", rp->m->bindir, NULL);
    defaults = cf_asprintf("--defaults-extra-file=%s", optfile);
    for (size_t i = 0; i < rp->n; i++) {
        char *argv[] = { tool, defaults, "--binary-mode", NULL };
        if (src_child_start(&cl, "mariadb client replaying binlog events", argv, NULL,
                            CHILD_WRITE, e) != 0)
            goto out;
        if (fs_write_all(cl.fd, replay_head, strlen(replay_head), "the replay", e) != 0 ||
            replay_one(rp, &rp->dbs[i], cl.fd, e) != 0) {
            src_child_conclude(&cl, -1, true, e);   /* the client's error explains best */
            goto out;
        }
        if (src_child_finish(&cl, e) != 0)
            goto out;
        log_info("restore replay source=%s database=%s into=%s files=%zu last=%s", rp->source,
                 rp->dbs[i].orig, rp->dbs[i].dest, rp->dbs[i].nfiles,
                 rp->dbs[i].sc.applied_gtid[0] ? rp->dbs[i].sc.applied_gtid : "-");
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    src_child_kill(&cl);
    if (rc != 0)
        undo(rp);
    db_secret_file_remove(optfile);
    free(defaults);
    free(tool);
    return rc;
}

int64_t restore_binlog_last_applied(const struct binlog_replay *rp)
{
    int64_t t = 0;
    for (size_t i = 0; i < rp->n; i++)
        if (rp->dbs[i].sc.applied_time > t)
            t = rp->dbs[i].sc.applied_time;
    return t;
}

void restore_binlog_free(struct binlog_replay *rp)
{
    if (rp == NULL)
        return;
    for (size_t i = 0; i < rp->n; i++) {
        free(rp->dbs[i].orig);
        free(rp->dbs[i].dest);
        for (size_t j = 0; j < rp->dbs[i].nfiles; j++)
            free(rp->dbs[i].files[j]);
        free(rp->dbs[i].files);
    }
    free(rp->dbs);
    if (rp->dir) {
        struct cf_err e = CF_ERR_INIT;
        if (fs_remove_tree(rp->dir, &e) != 0)
            log_warn("restore: %s", e.msg);
        free(rp->dir);
    }
    db_settings_free(rp->m);
    free(rp);
}

/* backupd_binlog.c - `backupd binlog-sync SOURCE`: archive every closed binlog file of a
 * mariadb source that is not archived yet (docs/PITR.md "MariaDB"). The files are read from
 * the server with mariadb-binlog --read-from-remote-server --raw into a private directory,
 * checked and described by their event headers (db_binlog.h), and pushed one object each
 * under logs/<source>/binlog/ with their times and GTIDs in the object's id. */
#include "backupd.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/core/cli.h"
#include "../lib/core/log.h"
#include "../lib/core/util.h"
#include "../lib/catalog/cat_index.h"
#include "../lib/db/db_binlog.h"
#include "../lib/db/db_maria.h"
#include "../lib/repo/repo.h"
#include "../lib/source/child.h"
#include "../lib/stream/stream_opts.h"
#include "backupd_binlog.h"

int binlog_source_open(const struct conf *c, const char *source, const char *cmd,
                       struct binlog_src *b, struct cf_err *e)
{
    const struct ini_section *s = conf_source(c, source);
    const char *type = NULL;

    memset(b, 0, sizeof(*b));
    b->name = source;
    if (s == NULL)
        return cf_err_set(e, CF_E_USAGE, "no [source %s] in %s", source, c->ini->file);
    if (ini_get_str(s, "type", "", &type, e) != 0)
        return -1;
    if (strcmp(type, "mariadb") != 0)
        return cf_err_set(e, CF_E_USAGE, "source '%s' is of type '%s': %s archives MariaDB "
                          "binlogs (type = mariadb)", source, type, cmd);
    if (db_binlog_conf_load(s, &b->conf, e) != 0)
        return -1;
    if (!b->conf.archive)
        return cf_err_set(e, CF_E_USAGE, "source '%s' does not archive binlogs. HINT: set "
                          "binlog-archive = yes in [source %s] (docs/PITR.md \"MariaDB\")",
                          source, source);
    if (stream_opts_resolve(c->repository, s, &b->so, e) != 0 ||
        db_maria_settings_load(s, &b->m, e) != 0)
        return -1;
    b->sec = s;
    return 0;
}

void binlog_source_close(struct binlog_src *b)
{
    db_settings_free(b->m);
    b->m = NULL;
}

/* --- what is archived --- */

int binlog_archived_load(struct repo *r, const char *source, struct binlog_archived *a,
                         struct cf_err *e)
{
    return repo_binlog_names(r, source, &a->names, &a->n, e);
}

bool binlog_archived_has(const struct binlog_archived *a, const char *name)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->names[i], name) == 0)
            return true;
    return false;
}

/* the highest sequence number archived whole with base @base (0: none) */
static uint64_t archived_max(const struct binlog_archived *a, const char *base, size_t bl)
{
    uint64_t best = 0, seq, partial;
    size_t l;
    for (size_t i = 0; i < a->n; i++)
        if (db_binlog_object_name(a->names[i], &seq, &l, &partial) && partial == 0 &&
            l == bl && strncmp(a->names[i], base, bl) == 0 && seq > best)
            best = seq;
    return best;
}

void binlog_archived_free(struct binlog_archived *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->names[i]);
    free(a->names);
    memset(a, 0, sizeof(*a));
}

/* --- one file --- */

int binlog_push_file(struct repo *r, const struct binlog_src *b, const char *path,
                     const char *object, bool whole, struct repo_log_stats *st,
                     struct db_binlog_scan *sc, struct cf_err *e)
{
    char extra[256], *tmp = NULL;
    int rc = -1;

    if (db_binlog_scan(path, 4, 0, NULL, false, sc, e) != 0)
        return -1;
    if (whole && !sc->closed)
        return cf_err_set(e, CF_E_SOURCE, "'%s' as read from the server does not end with a "
                          "rotate or stop event: it is not whole", path);
    snprintf(extra, sizeof(extra), "events=%" PRId64 "..%" PRId64 "%s%s%s%s%s",
             sc->first_time, sc->last_time, sc->gtid_first[0] ? ";gtid=" : "",
             sc->gtid_first, sc->gtid_first[0] ? ".." : "", sc->gtid_last,
             whole ? ";closed" : "");
    /* the object's name is the key's last part: a partial copy goes under its own name */
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (strcmp(base, object) != 0) {
        char *dir = fs_dirname(path);
        tmp = cf_asprintf("%s/%s", dir, object);
        free(dir);
        if (link(path, tmp) != 0 && errno != EEXIST) {
            cf_err_sys(e, CF_E_IO, "unable to link '%s'", tmp);
            free(tmp);
            return -1;
        }
    }
    rc = repo_log_push_extra(r, b->name, tmp ? tmp : path, b->so.level, extra, st, e);
    if (rc != 0 && e->code == CF_E_EXISTS)
        cf_err_ctx(e, "a binlog file of other content has this name (after RESET MASTER, or from "
                   "another server with the same log_bin base name, the numbering starts over: "
                   "give that server its own [source])");
    if (tmp)
        unlink(tmp);
    free(tmp);
    return rc;
}

int binlog_fetch(const struct binlog_src *b, const char *optfile, const char *dir,
                 const char *file, bool stop_never, struct child *ch, struct cf_err *e)
{
    char *tool = src_tool_path("mariadb-binlog", b->m->bindir, NULL);
    char *defaults = cf_asprintf("--defaults-extra-file=%s", optfile);
    char *result = cf_asprintf("--result-file=%s/", dir);
    char *what = cf_asprintf("mariadb-binlog reading '%s' from the server", file);
    char *argv[] = { tool, defaults, "--read-from-remote-server", "--raw", result,
                     stop_never ? "--stop-never" : "--", stop_never ? "--" : (char *)file,
                     stop_never ? (char *)file : NULL, NULL };
    int rc = src_child_start(ch, what, argv, NULL, CHILD_READ, e);
    if (rc == 0 && !stop_never) {
        char buf[4096];
        while (read(ch->fd, buf, sizeof(buf)) > 0)
            ;
        rc = src_child_finish(ch, e);
    }
    free(what);
    free(result);
    free(defaults);
    free(tool);
    return rc;
}

unsigned binlog_gap_report(const char *source, char **names, size_t n,
                           const struct binlog_archived *a)
{
    uint64_t oldest, top;
    size_t bl;
    if (n == 0 || !db_binlog_name(names[0], &oldest, &bl) ||
        (top = archived_max(a, names[0], bl)) == 0 || oldest <= top + 1)
        return 0;
    log_error("binlog gap source=%s missing=%.*s.%06" PRIu64 "..%06" PRIu64 ": purged from the "
              "server before they were archived; a restore to a moment after the last archived "
              "event before the gap needs a newer dump. HINT: archive more often than the "
              "server's binlog expiry (expire_logs_days / binlog_expire_logs_seconds)",
              source, (int)bl, names[0], top + 1, oldest - 1);
    return 1;
}

/* The newest dump's replay starts in the files it recorded: one older than the server's
 * oldest and not archived was purged before it was archived (the first binlog-sync came too
 * late). Read from the catalog index, when there is one; 1 when such a gap is logged. */
static unsigned dump_gap_report(const struct conf *c, const char *source, char **names,
                                size_t n, const struct binlog_archived *a)
{
    struct cf_err e = CF_ERR_INIT;
    struct cat_index *x = NULL;
    struct cat_filter f = { 0 };
    struct cat_row *rows = NULL;
    size_t nr = 0, bl, fl;
    const char *path;
    uint64_t oldest, seq;
    unsigned gaps = 0;
    bool fresh;

    if (n == 0 || !db_binlog_name(names[0], &oldest, &bl) ||
        cat_index_path(c, &path, &e) != 0 || access(path, F_OK) != 0 ||
        cat_index_open(path, &x, &fresh, &e) != 0)
        return 0;
    f.source = source;
    if (cat_index_query(x, &f, &rows, &nr, &e) == 0 && nr > 0) {
        const struct cat_row *r = NULL;   /* the newest complete one (rows go by time) */
        for (size_t i = nr; i-- > 0 && r == NULL;)
            if (rows[i].status == CAT_COMPLETE)
                r = &rows[i];
        json_t *cons = r && r->consistency ? json_loads(r->consistency, 0, NULL) : NULL, *d;
        size_t i;
        json_array_foreach(json_object_get(cons, "binlog"), i, d) {
            const char *file = json_string_value(json_object_get(d, "file"));
            if (file && db_binlog_name(file, &seq, &fl) && fl == bl &&
                strncmp(file, names[0], bl) == 0 && seq < oldest &&
                !binlog_archived_has(a, file)) {
                log_error("binlog gap source=%s missing=%s: the newest dump (%s) starts its "
                          "replay there, but the server purged it before it was archived; "
                          "restoring to a moment after that dump needs a newer dump. HINT: "
                          "take a dump now (backupd run), and archive more often than the "
                          "server's binlog expiry", source, file, r->id);
                gaps = 1;
                break;
            }
        }
        json_decref(cons);
    }
    cat_rows_free(rows, nr);
    cat_index_close(x);
    return gaps;
}

int binlog_server_files(MYSQL *c, char ***names, size_t *n, struct cf_err *e)
{
    MYSQL_RES *r;
    MYSQL_ROW row;
    *names = NULL;
    *n = 0;
    if (mysql_query(c, "SHOW BINARY LOGS") != 0 || (r = mysql_store_result(c)) == NULL)
        return cf_err_set(e, CF_E_SOURCE, "SHOW BINARY LOGS: %s", mysql_error(c));
    *names = cf_calloc((size_t)mysql_num_rows(r) + 1, sizeof(char *));
    while ((row = mysql_fetch_row(r)))
        if (row[0])
            (*names)[(*n)++] = cf_strdup(row[0]);
    mysql_free_result(r);
    return 0;
}

int backupd_binlog_sync(const struct conf *c, const char *source)
{
    struct cf_err e = CF_ERR_INIT;
    struct binlog_src b;
    struct binlog_archived a = { 0 };
    struct repo *r = NULL;
    struct child ch = { 0 };
    MYSQL *my = NULL;
    char **names = NULL, *optfile = NULL, *dir = NULL;
    size_t n = 0;
    unsigned pushed = 0, gaps = 0;
    int rc = EXIT_FAILED;

    signal(SIGPIPE, SIG_IGN);
    if (binlog_source_open(c, source, "binlog-sync", &b, &e) != 0 ||
        repo_open(c, NULL, &r, &e) != 0 || db_maria_connect(b.m, NULL, 0, &my, &e) != 0)
        goto fail;
    /* the file being written is closed, so that everything until now is archived */
    if (mysql_query(my, "FLUSH BINARY LOGS") != 0) {
        cf_err_set(&e, CF_E_SOURCE, "FLUSH BINARY LOGS: %s. HINT: the user needs RELOAD (or "
                   "ALL PRIVILEGES); log_bin must be on", mysql_error(my));
        goto fail;
    }
    if (binlog_server_files(my, &names, &n, &e) != 0 ||
        binlog_archived_load(r, source, &a, &e) != 0 ||
        db_maria_binlog_option_file(b.m, &optfile, &e) != 0 || fs_private_tmpdir("binlog", &dir, &e) != 0)
        goto fail;
    gaps = binlog_gap_report(source, names, n, &a);
    if (gaps == 0)
        gaps = dump_gap_report(c, source, names, n, &a);
    for (size_t i = 0; i + 1 < n; i++) {   /* every one but the last, which is open */
        struct repo_log_stats st;
        struct db_binlog_scan sc;
        char *path;
        if (binlog_archived_has(&a, names[i]))
            continue;
        if (!db_binlog_name(names[i], NULL, NULL)) {
            log_warn("binlog skipped source=%s file=%s: not a name coffer archives", source,
                     names[i]);
            continue;
        }
        path = cf_asprintf("%s/%s", dir, names[i]);
        int frc = binlog_fetch(&b, optfile, dir, names[i], false, &ch, &e);
        if (frc == 0)
            frc = binlog_push_file(r, &b, path, names[i], true, &st, &sc, &e);
        unlink(path);
        free(path);
        if (frc != 0) {
            cf_err_ctx(&e, "binlog '%s'", names[i]);
            goto fail;
        }
        pushed++;
        log_info("binlog archived source=%s file=%s events=%" PRIu64 " first=%" PRId64
                 " last=%" PRId64 " gtid=%s..%s in=%" PRIu64 " stored=%" PRIu64 "%s",
                 source, names[i], sc.events, sc.first_time, sc.last_time, sc.gtid_first,
                 sc.gtid_last, st.bytes_in, st.bytes_stored,
                 st.existed ? " (already archived)" : "");
    }
    log_info("binlog-sync done source=%s archived=%u gaps=%u", source, pushed, gaps);
    rc = gaps ? EXIT_FAILED : EXIT_OK;
    goto out;
fail:
    rc = cli_fail("backupd", &e);
out:
    src_child_kill(&ch);
    if (dir) {
        struct cf_err re = CF_ERR_INIT;
        if (fs_remove_tree(dir, &re) != 0)
            log_warn("binlog-sync: %s", re.msg);
    }
    free(dir);
    db_secret_file_remove(optfile);
    ini_list_free(names, n);
    binlog_archived_free(&a);
    mysql_close(my);
    repo_close(r);
    binlog_source_close(&b);
    return rc;
}

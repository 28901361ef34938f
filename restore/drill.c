/* drill.c - `restore drill`: every source of a job (or one source) restored at a moment into
 * scratch servers started for it, each copy checked, the recovery time measured against the
 * objectives, and the report kept: in the repository under drills/, in --report files, and
 * as a summary on stdout. */
#include "drill.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../policies/objectives.h"
#include "../lib/catalog/cat_ctx.h"
#include "../lib/catalog/cat_drill.h"
#include "../lib/core/cli.h"
#include "../lib/core/log.h"
#include "../lib/core/util.h"
#include "../lib/core/version.h"
#include "../lib/db/db_binlog.h"
#include "../lib/source/sqlrows.h"
#include "restore_binlog.h"
#include "restore_int.h"

/* Each source gets a scratch server of its own, stopped once its checks are done: sources
 * never meet (two may hold databases of the same name), and two cores never carry more than
 * one scratch server at a time. */
struct drill {
    const struct conf *c;
    const struct repo_unlock *u;
    struct repo *r;
    struct repo_when at;
    char *scratch;
    struct drill_server srv;   /* the current source's, if any */
    json_t *failures;
};

static void fail(struct drill *d, const char *fmt, ...) CF_PRINTF(2, 3);
static void fail(struct drill *d, const char *fmt, ...)
{
    char m[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof(m), fmt, ap);
    va_end(ap);
    json_array_append_new(d->failures, json_string(m));
}

/* a [source] like @name's, pointing at the scratch server @s (as its superuser, no password) */
static int scratch_section(const struct conf *c, const char *name, const struct drill_server *s,
                           struct ini **out, struct cf_err *e)
{
    const struct ini_section *orig = conf_source(c, name);
    const char *type = NULL;
    struct buf t = BUF_INIT;
    ini_get_str(orig, "type", "", &type, e);
    buf_printf(&t, "[source %s]\ntype = %s\n", name, type);
    if (strcmp(s->kind, "postgres") == 0)
        buf_printf(&t, "host = %s\nport = 5432\nuser = postgres\nbin-dir = %s\n", s->sock,
                   s->bindir);
    else
        buf_printf(&t, "socket = %s\nuser = root\n", s->sock);
    int rc = ini_parse_string(t.data, "(drill)", out, e);
    buf_free(&t);
    return rc;
}

/* the objective @key of @sec (seconds, 0 when not set) against @measured_ms */
static json_t *rto_judge(const struct ini_section *sec, uint64_t measured_ms, bool *violated)
{
    int64_t obj = 0;
    struct cf_err e = CF_ERR_INIT;
    if (sec)
        ini_get_duration(sec, "rto", 0, &obj, &e);
    /* whole seconds up: 1.2 s is over an objective of 1 s */
    enum obj_state st = objective_rto((int64_t)((measured_ms + 999) / 1000), obj);
    *violated = st == OBJ_VIOLATED;
    return json_pack("{s:o,s:I,s:s}", "objective_s", obj > 0 ? json_integer(obj) : json_null(),
                     "measured_ms", (json_int_t)measured_ms, "result",
                     st == OBJ_NONE ? "not set" : st == OBJ_OK ? "passed" : "FAILED");
}

/* restore one part (the source, or one database of it) into the scratch destination */
static int restore_part(struct drill *d, const char *name, const struct ini_section *sec,
                        const struct restore_opts *o, struct restore_one *p, uint64_t *ms,
                        struct cf_err *e)
{
    double secs = 0;
    int rc = restore_one_prepare(d->c, d->r, name, sec, d->at, o, p, e) == 0 &&
                     restore_one_run(d->r, p, &secs, e) == 0
                 ? 0
                 : -1;
    *ms += (uint64_t)(secs * 1000);
    return rc;
}

/* a restored MariaDB database's checks: the row counts against the rows its dump held, unless
 * binlog events replayed after the dump have changed them */
static void maria_check(const struct restore_one *p, const struct drill_target *t,
                        const char *sql, const char *expect, json_t *checks)
{
    struct cf_err e = CF_ERR_INIT;
    const struct sqlrows *rows = p->opts.count_rows;
    const char *skip = NULL;
    char why[1100];

    if (p->rp && restore_binlog_last_applied(p->rp) != 0) {
        skip = "replayed events change the counts (binlog replayed after the dump up to the "
               "drill's moment)";
    } else if (sqlrows_end(p->opts.count_rows, &e) != 0) {
        snprintf(why, sizeof(why), "%s", e.msg);
        skip = why;
    }
    drill_check_mariadb(t, skip ? NULL : rows, skip, sql, expect, checks);
}

/* one source: its scratch server, its restore, its checks; the source's report into @s */
static void drill_source(struct drill *d, const char *name, json_t *s, uint64_t *job_ms)
{
    const struct ini_section *sec = conf_source(d->c, name);
    const char *kind = NULL, *sql = NULL, *expect = NULL;
    struct cf_err e = CF_ERR_INIT;
    struct repo_ref ref;
    struct manifest *m = NULL;
    struct drill_server *srv = NULL;
    struct ini *scratch = NULL;
    struct restore_opts o = { .jobs = 1 };
    struct restore_one p;
    json_t *checks = json_array();
    uint64_t start_ms = 0, restore_ms = 0;
    char when[32], *voldir = NULL;
    bool restored = false, rto_bad = false;

    memset(&p, 0, sizeof(p));
    ini_get_str(sec, "type", "", &kind, &e);
    ini_get_str(sec, "check-sql", NULL, &sql, &e);
    ini_get_str(sec, "check-expect", NULL, &expect, &e);
    json_object_set_new(s, "name", json_string(name));
    json_object_set_new(s, "kind", json_string(kind));
    printf("drill: source %s (%s)\n", name, kind);
    fflush(stdout);
    if (drill_is_physical(sec)) {   /* its base backup and WAL, recovered by its server */
        struct drill_phys ph = { d->c, d->u, d->r, d->at, d->scratch };
        restored = drill_physical(&ph, name, s, checks, &d->srv, &start_ms, &restore_ms, &e) == 0;
        goto checked;
    }
    struct repo_when w = d->at;   /* the backup restore_part() will choose */
    w.replay = !w.latest && db_binlog_replays(sec);
    if (repo_find_at(d->r, name, w, &ref, &m, &e) != 0) {
        fail(d, "source %s: no backup to drill: %s", name, e.msg);
        goto out;
    }
    time_format_rfc3339(ref.time, when, sizeof(when));
    json_object_set_new(s, "backup", json_string(ref.id));
    json_object_set_new(s, "backup_time", json_string(when));
    if (strcmp(kind, "volume") != 0) {
        char major[16];
        json_int_t v = json_integer_value(json_object_get(m->info, "server_version_num"));
        snprintf(major, sizeof(major), "%" JSON_INTEGER_FORMAT, v / 10000);
        char *label = cf_asprintf("%s-%s", kind, name);
        int src = drill_server_start(&d->srv, kind, strcmp(kind, "postgres") == 0 && v > 0 ? major
                                                                                         : NULL,
                                     d->scratch, label, &e);
        free(label);
        start_ms = d->srv.start_ms;
        if (src != 0) {
            fail(d, "source %s: %s", name, e.msg);
            goto out;
        }
        srv = &d->srv;
        json_object_set_new(s, "server", json_sprintf("%s%s%s (pid %ld, %s)", kind,
                                                      srv->major[0] ? " " : "", srv->major,
                                                      (long)srv->pid, srv->dir));
    }
    if (strcmp(kind, "volume") == 0) {
        char *vols = cf_asprintf("%s/volumes", d->scratch);
        voldir = cf_asprintf("%s/%s", vols, name);
        if (mkdir(vols, 0700) != 0 && errno != EEXIST)
            cf_err_sys(&e, CF_E_SOURCE, "unable to create '%s'", vols);
        free(vols);
        o.to_dir = voldir;
        if (e.code == CF_E_OK && restore_part(d, name, NULL, &o, &p, &restore_ms, &e) == 0) {
            restored = true;
            struct drill_target t = { NULL, NULL, voldir };
            drill_check_volume(&t, d->r, p.m, checks);
        }
    } else if (strcmp(kind, "redis") == 0) {
        o.into_redis = srv->sock;
        if (restore_part(d, name, NULL, &o, &p, &restore_ms, &e) == 0) {
            restored = true;
            struct drill_target t = { srv, NULL, NULL };
            drill_check_redis(&t, p.m->info, checks);
        }
    } else if (scratch_section(d->c, name, srv, &scratch, &e) == 0) {
        size_t i;
        json_t *db;
        restored = true;
        json_array_foreach(json_object_get(m->info, "databases"), i, db) {
            const char *dbname = json_string_value(json_object_get(db, "name"));
            restore_one_free(&p);
            o.database = o.into_db = dbname;
            sqlrows_free(o.count_rows);
            o.count_rows = strcmp(kind, "mariadb") == 0 ? sqlrows_new() : NULL;
            if (restore_part(d, name, &scratch->sec[0], &o, &p, &restore_ms, &e) != 0) {
                restored = false;
                break;
            }
            struct drill_target t = { srv, dbname, NULL };
            if (strcmp(kind, "postgres") == 0)
                drill_check_postgres(&t, db, i == 0 ? sql : NULL, expect, checks);
            else
                maria_check(&p, &t, i == 0 ? sql : NULL, expect, checks);
        }
        sqlrows_free(o.count_rows);
    }
checked:
    if (!restored) {
        json_object_set_new(s, "error", json_string(e.msg));
        fail(d, "source %s: restore failed: %s", name, e.msg);
    }
out:
    json_object_set_new(s, "server_start_ms", json_integer((json_int_t)start_ms));
    json_object_set_new(s, "restore_ms", json_integer((json_int_t)restore_ms));
    json_object_set_new(s, "rto", rto_judge(sec, start_ms + restore_ms, &rto_bad));
    *job_ms += start_ms + restore_ms;
    size_t i;
    json_t *c;
    bool ok = restored;
    json_array_foreach(checks, i, c)
        if (strcmp(json_string_value(json_object_get(c, "result")), "FAILED") == 0) {
            ok = false;
            fail(d, "source %s: %s: %s", name, json_string_value(json_object_get(c, "name")),
                 json_string_value(json_object_get(c, "detail")));
        }
    if (rto_bad) {
        ok = false;
        fail(d, "source %s: RTO %.1f s is over its objective rto = %" JSON_INTEGER_FORMAT " s",
             name, (double)(start_ms + restore_ms) / 1000.0,
             json_integer_value(json_object_get(json_object_get(s, "rto"), "objective_s")));
    }
    json_object_set_new(s, "result", json_string(ok ? "passed" : "FAILED"));
    json_object_set_new(s, "checks", checks);
    restore_one_free(&p);
    drill_server_stop(&d->srv);
    ini_free(scratch);
    manifest_free(m);
    free(voldir);
}

/* A host that has only the configuration, the repository and the key has no catalog index:
 * the drill rebuilds it from the repository, as a catalog command would, before it starts (so
 * that the drill it records sits beside every backup). Not a finding when it fails: the drill
 * reads the repository and needs no index. */
static void index_rebuild_if_missing(const struct conf *c, struct repo *r)
{
    struct cf_err e = CF_ERR_INIT;
    struct cat_sync_stats st;
    const char *path;

    if (cat_index_path(c, &path, &e) != 0 || access(path, F_OK) == 0)
        return;
    if (cat_index_refresh(c, r, &st, &e) != 0) {
        cli_say(LOG_WARN, "restore: warning: the catalog index %s is missing and was not "
                "rebuilt: %s", path, e.msg);
        return;
    }
    log_info("drill catalog index rebuilt path=%s backups=%zu drills=%zu", path, st.added,
             st.drills_added);
    printf("catalog index %s was missing: rebuilt from the repository (%zu backups, %zu "
           "drills)\n", path, st.added, st.drills_added);
}

/* "random": a moment at which every source has a backup, between the newest of their first
 * backups and now */
static int random_at(struct drill *d, char **sources, size_t n, struct cf_err *e)
{
    time_t lo = 0, now = time(NULL);
    for (size_t i = 0; i < n; i++) {
        struct repo_ref *refs = NULL;
        size_t nr = 0;
        if (repo_list(d->r, sources[i], &refs, &nr, e) != 0)
            return -1;
        if (nr == 0) {
            free(refs);
            return cf_err_set(e, CF_E_NOTFOUND, "source %s has no backup to drill", sources[i]);
        }
        if (refs[0].time > lo)
            lo = refs[0].time;
        free(refs);
    }
    d->at.latest = false;
    d->at.t = now > lo ? lo + (time_t)randombytes_uniform((uint32_t)(now - lo + 1)) : lo;
    return 0;
}

int restore_drill_run(const struct conf *c, const struct repo_unlock *u,
                      const struct restore_drill_opts *o)
{
    struct drill d = { .c = c, .u = u, .at = o->at };
    struct cf_err e = CF_ERR_INIT;
    const struct conf_job *job = o->job ? conf_job(c, o->job) : NULL;
    char *one[1] = { (char *)o->source };
    char **sources = job ? job->sources : one;
    size_t n = job ? job->nsources : 1;
    char id[REPO_ID_MAX], subject[REPO_NAME_MAX + 8], t0s[32], t1s[32], at[40], host[256] = "";
    struct timespec now;
    json_t *rep = NULL, *srcs;
    uint64_t job_ms = 0;
    bool rto_bad = false;
    int rc = EXIT_FAILED;

    if (o->job && job == NULL) {
        cf_err_set(&e, CF_E_USAGE, "no [job %s] in %s", o->job, c->ini->file);
        return cli_fail("restore", &e);
    }
    if (o->source && conf_source(c, o->source) == NULL) {
        cf_err_set(&e, CF_E_USAGE, "no [source %s] in %s", o->source, c->ini->file);
        return cli_fail("restore", &e);
    }
    snprintf(subject, sizeof(subject), "%s.%s", job ? "job" : "source", job ? o->job : o->source);
    if (repo_open(c, u, &d.r, &e) != 0) {
        rc = cli_fail("restore", &e);
        goto out;
    }
    index_rebuild_if_missing(c, d.r);
    if ((o->random && random_at(&d, sources, n, &e) != 0) ||
        drill_scratch_begin(o->scratch_dir, &d.scratch, &e) != 0) {
        rc = cli_fail("restore", &e);
        goto out;
    }
    clock_gettime(CLOCK_REALTIME, &now);
    repo_new_id(&now, id);
    time_format_rfc3339(now.tv_sec, t0s, sizeof(t0s));
    repo_when_format(d.at, at, sizeof(at));
    gethostname(host, sizeof(host) - 1);
    d.failures = json_array();
    srcs = json_array();
    rep = json_pack("{s:s,s:i,s:s,s:s,s:o,s:o,s:s,s:b,s:s,s:s,s:s}", "format", "coffer-drill",
                    "version", 1, "id", id, "subject", subject, "job",
                    job ? json_string(o->job) : json_null(), "source",
                    job ? json_null() : json_string(o->source), "at", at, "at_random", o->random,
                    "host", host, "coffer_version", COFFER_VERSION, "started", t0s);
    log_info("drill start id=%s subject=%s at=%s scratch=%s", id, subject, at, d.scratch);
    printf("drill %s of %s at %s, scratch directory %s\n", id, subject, at, d.scratch);
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_object();
        drill_source(&d, sources[i], s, &job_ms);
        json_array_append_new(srcs, s);
    }
    drill_scratch_end(d.scratch);
    d.scratch = NULL;
    json_object_set_new(rep, "sources", srcs);
    json_object_set_new(rep, "rto", rto_judge(job ? job->sec : NULL, job_ms, &rto_bad));
    if (rto_bad)
        fail(&d, "job %s: RTO %.1f s is over its objective rto = %" JSON_INTEGER_FORMAT " s",
             o->job, (double)job_ms / 1000.0,
             json_integer_value(json_object_get(json_object_get(rep, "rto"), "objective_s")));
    time_format_rfc3339(time(NULL), t1s, sizeof(t1s));
    json_object_set_new(rep, "finished", json_string(t1s));
    json_object_set_new(rep, "result",
                        json_string(json_array_size(d.failures) ? "FAILED" : "passed"));
    json_object_set(rep, "failures", d.failures);
    /* the evidence survives this host: in the repository first */
    char *text = json_dumps(rep, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (repo_drill_save(d.r, subject, id, text, &e) != 0) {
        fail(&d, "the report was not stored in the repository: %s", e.msg);
        json_object_set_new(rep, "result", json_string("FAILED"));
        cf_err_clear(&e);
    }
    free(text);
    /* then in the catalog index, for the metrics; the drill does not depend on it */
    if (catalog_drill_record(c, d.r, rep, &e) != 0) {
        cli_say(LOG_WARN, "restore: warning: %s", e.msg);
        cf_err_clear(&e);
    }
    for (size_t i = 0; i < o->nreports; i++)
        if (drill_report_write(rep, o->reports[i], &e) != 0) {
            fprintf(stderr, "restore: error: %s\n", e.msg);
            fail(&d, "%s", e.msg);
            cf_err_clear(&e);
        }
    drill_report_summary(rep);
    rc = json_array_size(d.failures) ? EXIT_FAILED : EXIT_OK;
    if (rc != EXIT_OK)
        fprintf(stderr, "restore: error: drill %s of %s failed: %zu finding%s (see the report)\n",
                id, subject, json_array_size(d.failures),
                json_array_size(d.failures) == 1 ? "" : "s");
out:
    drill_server_stop(&d.srv);
    drill_scratch_end(d.scratch);
    json_decref(d.failures);
    json_decref(rep);
    repo_close(d.r);
    return rc;
}

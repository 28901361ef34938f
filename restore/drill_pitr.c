/* drill_pitr.c - the drill of a physical PostgreSQL source (`method = physical`): its base
 * backup and WAL restored into a scratch data directory as `restore --to-datadir` does (the
 * same plan, every segment checked present first), a scratch server of the backup's major
 * version started on it, recovery to the moment awaited until the server promotes, then
 * pg_amcheck of every database and the source's check-sql. The recovery is part of the
 * measured time: a physical source is back only when its server has replayed the WAL. */
#include "drill.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/core/log.h"
#include "../lib/core/util.h"
#include "../lib/stream/pipeline.h"
#include "restore_int.h"

/* how long recovery may take: a floor for the server's own start, plus per WAL segment far
 * more than replay needs here (~0.1 s for 16 MiB), so only a stuck recovery hits it */
#define RECOVERY_WAIT_MS 120000
#define RECOVERY_WAIT_PER_SEGMENT_MS 2000

bool drill_is_physical(const struct ini_section *sec)
{
    const char *type = NULL, *method = NULL;
    struct cf_err e = CF_ERR_INIT;
    return ini_get_str(sec, "type", "", &type, &e) == 0 && strcmp(type, "postgres") == 0 &&
           ini_get_str(sec, "method", "logical", &method, &e) == 0 &&
           strcmp(method, "physical") == 0;
}

/* the database check-sql runs in: the first `databases` names, else postgres */
static char *sql_database(const struct ini_section *sec)
{
    char **dbs = NULL, *db;
    size_t n = 0;
    struct cf_err e = CF_ERR_INIT;
    if (ini_kv_find(sec, "databases") != NULL && ini_get_list(sec, "databases", &dbs, &n, &e) == 0 &&
        n > 0 && strcmp(dbs[0], "all") != 0)
        db = cf_strdup(dbs[0]);
    else
        db = cf_strdup("postgres");
    ini_list_free(dbs, n);
    return db;
}

/* One probe of the recovering server: whether it is still in recovery, how far it replayed.
 * -1 when it does not answer. */
static int probe(PGconn **c, const struct drill_server *srv, bool *in_recovery, char *lsn,
                 size_t lsn_cap, double *last_xact)
{
    const char *k[] = { "host", "port", "user", "dbname", "application_name", "connect_timeout",
                        NULL };
    const char *v[] = { srv->sock, "5432", "postgres", "postgres", "coffer-drill", "10", NULL };
    if (*c == NULL || PQstatus(*c) != CONNECTION_OK) {
        PQfinish(*c);
        *c = PQconnectdbParams(k, v, 0);
        if (PQstatus(*c) != CONNECTION_OK)
            return -1;
    }
    PGresult *r = PQexec(*c, "SELECT pg_is_in_recovery(), coalesce(pg_last_wal_replay_lsn()::text, "
                             "''), coalesce(extract(epoch FROM pg_last_xact_replay_timestamp())"
                             "::float8, 'NaN')");
    int rc = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        *in_recovery = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        snprintf(lsn, lsn_cap, "%s", PQgetvalue(r, 0, 1));
        *last_xact = strtod(PQgetvalue(r, 0, 2), NULL);
        rc = 0;
    }
    PQclear(r);
    return rc;
}

/* Until the server on the restored data directory has replayed to the moment and promoted
 * (recovery_target_action = promote), bounded; then the "recovery" check: no transaction
 * replayed from after the moment. On -1 @e says how far it got, quoting the server's log. */
static int wait_recovered(const struct drill_server *srv, const struct restore_one *p,
                          struct repo_when at, json_t *checks, struct cf_err *e)
{
    uint64_t bound = RECOVERY_WAIT_MS + p->pitr->segments * RECOVERY_WAIT_PER_SEGMENT_MS;
    uint64_t t0 = time_mono_ms();
    struct timespec ts = { 0, 100 * 1000000L };
    char lsn[64] = "", last[40] = "none", target[32];
    double xact = NAN;
    bool in_recovery = true, exited = false;
    PGconn *c = NULL;
    int rc = -1;

    while (time_mono_ms() - t0 < bound) {
        if (probe(&c, srv, &in_recovery, lsn, sizeof(lsn), &xact) == 0 && !in_recovery)
            break;
        if (kill(srv->pid, 0) != 0 && errno == ESRCH) {
            exited = true;
            break;
        }
        nanosleep(&ts, NULL);
    }
    PQfinish(c);
    if (!isnan(xact))
        time_format_rfc3339((time_t)floor(xact), last, sizeof(last));
    if (at.latest)
        snprintf(target, sizeof(target), "the end of the archive");
    else
        time_format_rfc3339(at.t, target, sizeof(target));
    if (in_recovery) {
        struct buf t = BUF_INIT;
        char *log = cf_asprintf("%s/server.log", srv->dir);
        drill_log_tail(log, &t);
        cf_err_set(e, CF_E_SOURCE, "recovery to %s %s after %.1f s (replayed up to %s, the last "
                   "transaction committed at %s; the plan replays %s .. %s); HINT: the scratch "
                   "server's log%s", target, exited ? "failed: the server stopped"
                   : "did not finish", (double)(time_mono_ms() - t0) / 1000.0,
                   lsn[0] ? lsn : "no WAL", last, p->pitr->first, p->pitr->last,
                   t.data ? t.data : " is empty");
        buf_free(&t);
        free(log);
        goto out;
    }
    /* recovery_target_time is T to the second, inclusive: nothing committed after T.000000 */
    if (!at.latest && !isnan(xact) && xact > (double)at.t)
        drill_check_add(checks, "recovery", DRILL_FAIL, "replayed a transaction committed at %s, "
                        "after the moment %s", last, target);
    else
        drill_check_add(checks, "recovery", DRILL_PASS, "base backup %s and WAL %s .. %s (%" PRIu64
                        " segments) replayed to %s in %.1f s, promoted; the last transaction "
                        "replayed committed at %s", p->ref.id, p->pitr->first, p->pitr->last,
                        p->pitr->segments, target, (double)(time_mono_ms() - t0) / 1000.0,
                        last);
    rc = 0;
out:
    return rc;
}

int drill_physical(const struct drill_phys *ph, const char *name, json_t *s, json_t *checks,
                   struct drill_server *srv, uint64_t *start_ms, uint64_t *restore_ms,
                   struct cf_err *e)
{
    const struct ini_section *sec = conf_source(ph->c, name);
    const char *sql = NULL, *expect = NULL;
    char *label = cf_asprintf("postgres-%s", name);
    char *data = cf_asprintf("%s/%s/data", ph->scratch, label);
    char *cmd = NULL, *db = sql_database(sec), when[32], major[16];
    struct restore_opts o = { .jobs = 1, .to_datadir = data };
    struct restore_one p;
    int rc = -1;

    memset(&p, 0, sizeof(p));
    ini_get_str(sec, "check-sql", NULL, &sql, e);
    ini_get_str(sec, "check-expect", NULL, &expect, e);
    cf_err_clear(e);
    if (restore_pitr_command(ph->c, ph->u, name, &cmd, e) != 0)
        goto out;
    o.restore_command = cmd;
    if (restore_one_prepare(ph->c, ph->r, name, NULL, ph->at, &o, &p, e) != 0)
        goto out;
    time_format_rfc3339(p.ref.time, when, sizeof(when));
    json_object_set_new(s, "backup", json_string(p.ref.id));
    json_object_set_new(s, "backup_time", json_string(when));
    json_object_set_new(s, "wal", json_sprintf("%s .. %s (%" PRIu64 " segments)", p.pitr->first,
                                               p.pitr->last, p.pitr->segments));
    printf("drill: source %s: base backup %s and WAL %s .. %s, %" PRIu64 " segments\n", name,
           p.ref.id, p.pitr->first, p.pitr->last, p.pitr->segments);
    fflush(stdout);

    uint64_t t0 = time_mono_ms();
    log_info("drill restore start source=%s id=%s to-datadir=%s", name, p.ref.id, data);
    int prc = pipeline_restore(ph->r, p.src, p.m, &p.opts, e);
    *restore_ms += time_mono_ms() - t0;
    if (prc != 0) {
        cf_err_ctx(e, "restore of %s/%s", name, p.ref.id);
        goto out;
    }
    json_int_t v = json_integer_value(json_object_get(p.m->info, "server_version"));
    snprintf(major, sizeof(major), "%" JSON_INTEGER_FORMAT, v / 10000);
    if (drill_server_start_restored(srv, v > 0 ? major : NULL, ph->scratch, label, e) != 0) {
        *start_ms = srv->start_ms;
        goto out;
    }
    *start_ms = srv->start_ms;
    json_object_set_new(s, "server", json_sprintf("postgres %s (pid %ld, %s)", srv->major,
                                                  (long)srv->pid, srv->dir));
    t0 = time_mono_ms();
    int wrc = wait_recovered(srv, &p, ph->at, checks, e);
    uint64_t recovery_ms = time_mono_ms() - t0;
    *restore_ms += recovery_ms;
    json_object_set_new(s, "recovery_ms", json_integer((json_int_t)recovery_ms));
    if (wrc != 0)
        goto out;
    struct drill_target t = { srv, db, NULL };
    drill_check_pg_cluster(&t, sql, expect, checks);
    rc = 0;
out:
    restore_one_free(&p);
    free(cmd);
    free(db);
    free(data);
    free(label);
    return rc;
}

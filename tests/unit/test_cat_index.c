/* test_cat_index.c - lib/catalog/cat_index.c on real SQLite files: rows in and out, filters,
 * `at`, pins and verify results kept across refreshes, a missing directory, a corrupted file
 * moved aside, a file locked by another process, manifest fields. */
#include "unit.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../../lib/catalog/cat_archive.h"
#include "../../lib/catalog/cat_drill.h"
#include "../../lib/catalog/cat_health.h"
#include "../../lib/catalog/cat_index.h"
#include "../../lib/core/log.h"
#include "../../lib/core/util.h"
#include "../../lib/repo/repo.h"

static char dir[] = "/tmp/coffer-catidx.XXXXXX";

static void row(struct cat_row *r, const char *source, const char *id, enum cat_status st)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->repo, sizeof(r->repo), "repo-1");
    snprintf(r->source, sizeof(r->source), "%s", source);
    snprintf(r->id, sizeof(r->id), "%s", id);
    time_parse_compact(id, &r->time);
    snprintf(r->kind, sizeof(r->kind), "volume");
    snprintf(r->job, sizeof(r->job), "nightly");
    r->status = st;
    r->bytes_in = 1000;
    r->details = true;
}

static struct cat_index *open_at(const char *name, bool *fresh)
{
    struct cf_err e = CF_ERR_INIT;
    struct cat_index *x = NULL;
    char *p = cf_asprintf("%s/%s", dir, name);
    if (cat_index_open(p, &x, fresh, &e) != 0)
        printf("# open %s: %s\n", p, e.msg);
    free(p);
    return x;
}

/* the index @name made older by @sql (its meta 'schema' set back too), then opened again:
 * upgraded in place to this schema, with its rows */
static struct cat_index *reopen_older(const char *name, const char *sql)
{
    struct cf_err e = CF_ERR_INIT;
    char *p = cf_asprintf("%s/%s", dir, name), v[64] = "";
    sqlite3 *db;
    bool fresh = true;

    CHECK_EQ_INT(sqlite3_open(p, &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    free(p);
    struct cat_index *x = open_at(name, &fresh);
    CHECK(x != NULL && !fresh);
    if (x != NULL)
        CHECK_EQ_INT(cat_index_meta_get(x, "schema", v, sizeof(v), &e), 0);
    CHECK_STR(v, "6");
    return x;
}

TEST(create_private_in_missing_directory)
{
    bool fresh = false;
    struct cat_index *x = open_at("var/lib/coffer/catalog.db", &fresh);
    CHECK(x != NULL);
    CHECK(fresh);
    struct stat st;
    char *p = cf_asprintf("%s/var/lib/coffer/catalog.db", dir);
    CHECK_EQ_INT(stat(p, &st), 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0600);
    cat_index_close(x);
    x = open_at("var/lib/coffer/catalog.db", &fresh);
    CHECK(x != NULL && !fresh);
    cat_index_close(x);
    free(p);
}

/* a replay's dump must have finished in a second before the moment (repo_when_base_ok) */
TEST(at_replay_needs_a_dump_finished_before)
{
    bool fresh;
    struct cf_err e = CF_ERR_INIT;
    struct cat_index *x = open_at("r.db", &fresh);
    struct cat_row r;
    struct repo_when w = { false, 0, true };

    CHECK_EQ_INT(cat_index_begin(x, &e), 0);
    row(&r, "my", "20261120T030000Z-aaaaaaaa", CAT_COMPLETE);
    r.finished = r.time + 5;
    CHECK_EQ_INT(cat_index_put(x, &r, &e), 0);
    row(&r, "my", "20261121T030000Z-bbbbbbbb", CAT_COMPLETE);
    r.finished = r.time + 10;   /* its snapshot: any moment from 03:00:00 to 03:00:10 */
    CHECK_EQ_INT(cat_index_put(x, &r, &e), 0);
    CHECK_EQ_INT(cat_index_commit(x, &e), 0);

    time_parse_compact("20261121T030009Z", &w.t);   /* after the id, before the finish */
    CHECK_EQ_INT(cat_index_at(x, NULL, "my", w, &r, &e), 0);
    CHECK_STR(r.id, "20261120T030000Z-aaaaaaaa");   /* the older dump, a longer replay */
    cat_row_clear(&r);
    w.replay = false;   /* no replay: the dump as of its own time */
    CHECK_EQ_INT(cat_index_at(x, NULL, "my", w, &r, &e), 0);
    CHECK_STR(r.id, "20261121T030000Z-bbbbbbbb");
    cat_row_clear(&r);
    w.replay = true;
    time_parse_compact("20261121T030010Z", &w.t);   /* the finish's second: not certain */
    CHECK_EQ_INT(cat_index_at(x, NULL, "my", w, &r, &e), 0);
    CHECK_STR(r.id, "20261120T030000Z-aaaaaaaa");
    cat_row_clear(&r);
    time_parse_compact("20261121T030011Z", &w.t);
    CHECK_EQ_INT(cat_index_at(x, NULL, "my", w, &r, &e), 0);
    CHECK_STR(r.id, "20261121T030000Z-bbbbbbbb");
    cat_row_clear(&r);
    time_parse_compact("20261120T030003Z", &w.t);   /* none finished before: refused */
    CHECK_EQ_INT(cat_index_at(x, NULL, "my", w, &r, &e), -1);
    CHECK_EQ_INT(e.code, CF_E_NOTFOUND);
    CHECK_MSG(e, "source 'my' has no dump certainly taken before 2026-11-20T03:00:03Z to "
                 "replay its binlog from: dump 20261120T030000Z-aaaaaaaa started before it "
                 "but finished only at 2026-11-20T03:00:05Z");
    cf_err_clear(&e);
    cat_index_close(x);
}

/* retention anchors a window on a dump as restore chooses one: by its finish (cat_archive.c),
 * also when the index remembered the dump with its start as its moment */
TEST(dump_base_stands_after_its_finish)
{
    bool fresh;
    struct cf_err e = CF_ERR_INIT;
    struct cat_index *x = open_at("b.db", &fresh);
    struct cat_row r, *v = NULL;
    struct cat_filter f = { .source = "my" };
    struct cat_bases bs;
    struct log_base b;
    size_t n = 0;

    CHECK_EQ_INT(cat_index_begin(x, &e), 0);
    row(&r, "my", "20261121T030000Z-bbbbbbbb", CAT_COMPLETE);
    r.finished = r.time + 10;
    CHECK_EQ_INT(cat_index_put(x, &r, &e), 0);
    memset(&b, 0, sizeof(b));
    snprintf(b.stream, sizeof(b.stream), "binlog");
    b.start = b.stop = 7;
    b.stop_time = r.time;
    b.self_contained = true;
    CHECK_EQ_INT(cat_base_put(x, "repo-1", "my", r.id, true, &b, 0, &e), 0);
    CHECK_EQ_INT(cat_index_commit(x, &e), 0);
    CHECK_EQ_INT(cat_index_query(x, &f, &v, &n, &e), 0);
    CHECK_EQ_INT(cat_bases_cached(x, v, n, &bs, &e), 0);
    CHECK_EQ_INT(bs.n, 1);
    if (bs.n == 1)
        CHECK_EQ_INT(bs.b[0].stop_time, r.time + 11);   /* the first second after its finish */
    cat_bases_free(&bs);
    cat_rows_free(v, n);
    cat_index_close(x);
}

TEST(rows_filters_and_at)
{
    bool fresh;
    struct cf_err e = CF_ERR_INIT;
    struct cat_index *x = open_at("a.db", &fresh);
    struct cat_row r, *v = NULL;
    size_t n = 0;

    CHECK_EQ_INT(cat_index_begin(x, &e), 0);
    row(&r, "media", "20261120T030000Z-aaaaaaaa", CAT_COMPLETE);
    CHECK_EQ_INT(cat_index_put(x, &r, &e), 0);
    row(&r, "media", "20261121T030000Z-bbbbbbbb", CAT_DAMAGED);
    r.damage = (char *)"manifest fails to decrypt";
    CHECK_EQ_INT(cat_index_put(x, &r, &e), 0);
    row(&r, "media", "20261122T030000Z-cccccccc", CAT_PRUNED);
    CHECK_EQ_INT(cat_index_put(x, &r, &e), 0);
    row(&r, "db", "20261121T040000Z-dddddddd", CAT_COMPLETE);
    snprintf(r.job, sizeof(r.job), "hourly");
    r.consistency = (char *)"{\"lsn\":\"0/1A2B\"}";
    CHECK_EQ_INT(cat_index_put(x, &r, &e), 0);
    CHECK_EQ_INT(cat_index_commit(x, &e), 0);

    struct cat_filter all = { 0 };
    CHECK_EQ_INT(cat_index_query(x, &all, &v, &n, &e), 0);
    CHECK_EQ_INT(n, 3);   /* pruned left out */
    if (n == 3) {
        CHECK_STR(v[0].source, "db");
        CHECK_STR(v[0].consistency, "{\"lsn\":\"0/1A2B\"}");
        CHECK_STR(v[1].id, "20261120T030000Z-aaaaaaaa");
        CHECK_EQ_INT(v[2].status, CAT_DAMAGED);
        CHECK_STR(v[2].damage, "manifest fails to decrypt");
    }
    cat_rows_free(v, n);
    all.with_pruned = true;
    CHECK_EQ_INT(cat_index_query(x, &all, &v, &n, &e), 0);
    CHECK_EQ_INT(n, 4);
    cat_rows_free(v, n);
    struct cat_filter f = { .source = "media", .since = 0 };
    time_parse_compact("20261121T000000Z", &f.since);
    CHECK_EQ_INT(cat_index_query(x, &f, &v, &n, &e), 0);
    CHECK_EQ_INT(n, 1);
    cat_rows_free(v, n);
    struct cat_filter j = { .job = "hourly" };
    CHECK_EQ_INT(cat_index_query(x, &j, &v, &n, &e), 0);
    CHECK_EQ_INT(n, 1);
    cat_rows_free(v, n);
    struct cat_filter u = { .until = 0 };
    time_parse_compact("20261120T030000Z", &u.until);   /* inclusive */
    CHECK_EQ_INT(cat_index_query(x, &u, &v, &n, &e), 0);
    CHECK_EQ_INT(n, 1);
    cat_rows_free(v, n);

    /* at: the damaged and pruned ones are never chosen */
    time_t at;
    time_parse_compact("20261122T120000Z", &at);
    CHECK_EQ_INT(cat_index_at(x, NULL, "media", (struct repo_when){ false, at, false }, &r, &e), 0);
    CHECK_STR(r.id, "20261120T030000Z-aaaaaaaa");
    cat_row_clear(&r);
    time_parse_compact("20261120T025959Z", &at);
    CHECK_EQ_INT(cat_index_at(x, NULL, "media", (struct repo_when){ false, at, false }, &r, &e), -1);
    CHECK_EQ_INT(e.code, CF_E_NOTFOUND);
    CHECK_MSG(e, "no complete backup of source 'media' at or before 2026-11-20T02:59:59Z");
    cf_err_clear(&e);

    CHECK_EQ_INT(cat_index_get(x, NULL, NULL, "20261121T040000Z-dddddddd", &r, &e), 0);
    CHECK_STR(r.source, "db");
    CHECK_STR(r.job, "hourly");
    cat_row_clear(&r);
    CHECK_EQ_INT(cat_index_get(x, NULL, "media", "nope", &r, &e), -1);
    CHECK_EQ_INT(e.code, CF_E_NOTFOUND);
    CHECK_MSG(e, "HINT:");
    cat_index_close(x);
}

TEST(pins_and_verify_kept)
{
    bool fresh;
    struct cf_err e = CF_ERR_INIT;
    struct cat_index *x = open_at("b.db", &fresh);
    struct cat_row r, g;

    row(&r, "media", "20261120T030000Z-aaaaaaaa", CAT_COMPLETE);
    CHECK_EQ_INT(cat_index_put(x, &r, &e), 0);
    CHECK_EQ_INT(cat_index_set_pin(x, "repo-1", "media", r.id, true, "incident 42", 100, &e), 0);
    CHECK_EQ_INT(cat_index_set_verify(x, "repo-1", "media", r.id, CAT_VERIFY_FAILED, true, 200,
                                      "object 3 is missing", &e), 0);
    CHECK_EQ_INT(cat_index_get(x, "repo-1", "media", r.id, &g, &e), 0);
    CHECK(g.pinned);
    CHECK_STR(g.pin_reason, "incident 42");
    CHECK_EQ_INT(g.pinned_at, 100);
    CHECK_EQ_INT(g.verify, CAT_VERIFY_FAILED);
    CHECK(g.verify_quick);
    CHECK_STR(g.verify_error, "object 3 is missing");
    cat_row_clear(&g);
    /* a refresh of the row (no verify result in it) keeps the verify result */
    r.bytes_in = 5;
    r.pinned = true;
    CHECK_EQ_INT(cat_index_put(x, &r, &e), 0);
    CHECK_EQ_INT(cat_index_get(x, "repo-1", "media", r.id, &g, &e), 0);
    CHECK_EQ_INT(g.bytes_in, 5);
    CHECK_EQ_INT(g.verify, CAT_VERIFY_FAILED);
    cat_row_clear(&g);
    CHECK_EQ_INT(cat_index_set_status(x, "repo-1", "media", r.id, CAT_DAMAGED, "bad", &e), 0);
    CHECK_EQ_INT(cat_index_get(x, "repo-1", "media", r.id, &g, &e), 0);
    CHECK_EQ_INT(g.status, CAT_DAMAGED);
    CHECK_STR(cat_status_name(g.status), "damaged");
    CHECK_STR(cat_verify_name(g.verify), "failed");
    cat_row_clear(&g);
    cat_index_close(x);
}

TEST(corrupted_file_moved_aside)
{
    bool fresh;
    struct cf_err e = CF_ERR_INIT;
    char *p = cf_asprintf("%s/c.db", dir);
    const char junk[] = "this is not a database, it is a sandwich. this is not a database.";
    CHECK_EQ_INT(fs_write_file_atomic(p, junk, sizeof(junk), 0600, &e), 0);
    struct cat_index *x = open_at("c.db", &fresh);
    CHECK(x != NULL);
    CHECK(fresh);
    struct cat_row r;
    row(&r, "media", "20261120T030000Z-aaaaaaaa", CAT_COMPLETE);
    CHECK_EQ_INT(cat_index_put(x, &r, &e), 0);
    cat_index_close(x);
    /* the broken file is kept beside it */
    char *cmd = cf_asprintf("ls %s/c.db.broken-* >/dev/null 2>&1", dir);
    CHECK_EQ_INT(system(cmd), 0);
    free(cmd);
    /* a truncated database (first page cut) is corrupt too */
    char *q = cf_asprintf("%s/d.db", dir);
    x = open_at("d.db", &fresh);
    for (int i = 0; i < 300; i++) {
        char id[64];
        snprintf(id, sizeof(id), "20261120T03%04dZ-%08x", i, i);
        row(&r, "media", id, CAT_COMPLETE);
        cat_index_put(x, &r, &e);
    }
    cat_index_close(x);
    CHECK_EQ_INT(truncate(q, 4096 * 2 + 100), 0);
    x = open_at("d.db", &fresh);
    CHECK(x != NULL);
    CHECK(fresh);
    cat_index_close(x);
    free(q);
    free(p);
}

TEST(other_schema_replaced)
{
    bool fresh;
    char *p = cf_asprintf("%s/s.db", dir);
    sqlite3 *db;
    sqlite3_open(p, &db);
    sqlite3_exec(db, "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
                     "INSERT INTO meta VALUES('schema','99');", NULL, NULL, NULL);
    sqlite3_close(db);
    struct cat_index *x = open_at("s.db", &fresh);
    CHECK(x != NULL && fresh);
    cat_index_close(x);
    free(p);
}

/* an index written by schema 1 (the code before vanished backups): upgraded in place, its rows
 * kept (a pruned row stays pruned), and usable for the new states at once */
TEST(schema_1_upgraded_in_place)
{
    bool fresh = true;
    char *p = cf_asprintf("%s/v1.db", dir);
    sqlite3 *db;
    CHECK_EQ_INT(sqlite3_open(p, &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db,
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "CREATE TABLE backups("
        " repo TEXT NOT NULL, source TEXT NOT NULL, id TEXT NOT NULL, time INTEGER NOT NULL,"
        " kind TEXT NOT NULL DEFAULT '', job TEXT NOT NULL DEFAULT '',"
        " started INTEGER NOT NULL DEFAULT 0, finished INTEGER NOT NULL DEFAULT 0,"
        " consistency TEXT, bytes_in INTEGER NOT NULL DEFAULT 0,"
        " bytes_stored INTEGER NOT NULL DEFAULT 0, objects INTEGER NOT NULL DEFAULT 0,"
        " tool_version TEXT NOT NULL DEFAULT '', status INTEGER NOT NULL, damage TEXT,"
        " details INTEGER NOT NULL DEFAULT 0, pinned INTEGER NOT NULL DEFAULT 0, pin_reason TEXT,"
        " pinned_at INTEGER NOT NULL DEFAULT 0, verify INTEGER NOT NULL DEFAULT 0,"
        " verify_quick INTEGER NOT NULL DEFAULT 0, verified_at INTEGER NOT NULL DEFAULT 0,"
        " verify_error TEXT, PRIMARY KEY(repo, source, id));"
        "CREATE INDEX backups_by_time ON backups(repo, source, time);"
        "INSERT INTO meta VALUES('schema','1');"
        "INSERT INTO meta VALUES('synced:repo-1','2026-11-22T05:00:00Z');"
        "INSERT INTO backups(repo, source, id, time, status, verify, pinned, pin_reason) VALUES"
        " ('repo-1','media','20261121T030000Z-aaaaaaaa',1795230000,0,1,1,'keep'),"
        " ('repo-1','media','20261120T030000Z-bbbbbbbb',1795143600,2,0,0,NULL);",
        NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    struct cf_err e = CF_ERR_INIT;
    struct cat_index *x = open_at("v1.db", &fresh);
    CHECK(x != NULL && !fresh);
    struct cat_row r;
    CHECK_EQ_INT(cat_index_get(x, "repo-1", "media", "20261121T030000Z-aaaaaaaa", &r, &e), 0);
    CHECK(r.status == CAT_COMPLETE && r.verify == CAT_VERIFY_OK && r.pinned && r.gone_at == 0);
    CHECK_STR(r.pin_reason, "keep");
    cat_row_clear(&r);
    CHECK_EQ_INT(cat_index_get(x, "repo-1", "media", "20261120T030000Z-bbbbbbbb", &r, &e), 0);
    CHECK(r.status == CAT_PRUNED);
    cat_row_clear(&r);
    char v[64];
    CHECK_EQ_INT(cat_index_meta_get(x, "schema", v, sizeof(v), &e), 0);
    CHECK_STR(v, "6");
    CHECK_EQ_INT(cat_index_meta_get(x, "synced:repo-1", v, sizeof(v), &e), 0);
    /* schema 3: the attempts table, usable at once */
    struct cat_attempt a = { .source = "media", .job = "nightly", .started = 100,
                             .finished = 160, .duration_ms = 60000, .ok = false,
                             .error = "volume '/x': No such file or directory" };
    struct cat_attempts at;
    CHECK_EQ_INT(cat_index_attempt_add(x, &a, &e), 0);
    a.ok = true;
    a.error = NULL;
    a.started = 200;
    a.finished = 230;
    a.bytes_in = 7;
    snprintf(a.backup_id, sizeof(a.backup_id), "20261122T030000Z-cccccccc");
    CHECK_EQ_INT(cat_index_attempt_add(x, &a, &e), 0);
    a.ok = false;
    a.started = 300;
    a.finished = 310;
    a.bytes_in = 0;
    a.error = "again";
    a.backup_id[0] = '\0';
    CHECK_EQ_INT(cat_index_attempt_add(x, &a, &e), 0);
    CHECK_EQ_INT(cat_index_attempts(x, "media", "nightly", &at, &e), 0);
    CHECK(at.have_last && !at.last.ok && at.total == 3 && at.failures == 2);
    CHECK(at.last_success == 230 && at.success_bytes_in == 7 && at.last.finished == 310);
    CHECK_STR(at.last.error, "again");
    cat_attempt_clear(&at.last);
    CHECK_EQ_INT(cat_index_attempts(x, "media", "weekly", &at, &e), 0);
    CHECK(!at.have_last && at.total == 0 && at.last_success == 0);
    /* the new state: vanished, with the time it was noticed; a rebuild keeps the row */
    CHECK_EQ_INT(cat_index_set_status(x, "repo-1", "media", "20261121T030000Z-aaaaaaaa",
                                      CAT_VANISHED, NULL, &e), 0);
    CHECK_EQ_INT(cat_index_forget(x, "repo-1", &e), 0);
    cat_index_close(x);
    x = open_at("v1.db", &fresh);   /* opened again: schema 6 now, nothing to upgrade */
    CHECK(x != NULL && !fresh);
    CHECK_EQ_INT(cat_index_get(x, "repo-1", "media", "20261121T030000Z-aaaaaaaa", &r, &e), 0);
    CHECK(r.status == CAT_VANISHED && r.gone_at >= time(NULL) - 60);
    CHECK_STR(cat_status_name(r.status), "vanished");
    cat_row_clear(&r);
    CHECK_EQ_INT(cat_index_get(x, "repo-1", "media", "20261120T030000Z-bbbbbbbb", &r, &e), -1);
    CHECK(e.code == CF_E_NOTFOUND);
    /* attempts are not in the repository: a rebuild (forget) keeps them */
    CHECK_EQ_INT(cat_index_attempts(x, "media", NULL, &at, &e), 0);
    CHECK(at.total == 3);
    cat_attempt_clear(&at.last);
    cat_index_close(x);
    free(p);
}

TEST(locked_by_another_process)
{
    bool fresh;
    struct cf_err e = CF_ERR_INIT;
    struct cat_index *x = open_at("l.db", &fresh);
    int pfd[2];
    CHECK_EQ_INT(pipe(pfd), 0);
    pid_t child = fork();
    if (child == 0) {
        sqlite3 *db;
        char *p = cf_asprintf("%s/l.db", dir);
        sqlite3_open(p, &db);
        sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL);
        (void)!write(pfd[1], "x", 1);
        sleep(30);
        _exit(0);
    }
    char c;
    CHECK_EQ_INT(read(pfd[0], &c, 1), 1);
    uint64_t t0 = time_mono_ms();
    CHECK_EQ_INT(cat_index_begin(x, &e), -1);
    CHECK_EQ_INT(e.code, CF_E_LOCKED);
    CHECK_MSG(e, "is locked by another process");
    CHECK_MSG(e, "HINT:");
    CHECK(time_mono_ms() - t0 >= CAT_BUSY_MS - 100);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    cf_err_clear(&e);
    CHECK_EQ_INT(cat_index_begin(x, &e), 0);
    CHECK_EQ_INT(cat_index_commit(x, &e), 0);
    cat_index_close(x);
    close(pfd[0]);
    close(pfd[1]);
}

TEST(unwritable_directory)
{
    bool fresh;
    struct cf_err e = CF_ERR_INIT;
    struct cat_index *x = NULL;
    CHECK_EQ_INT(cat_index_open("/proc/coffer-nope/catalog.db", &x, &fresh, &e), -1);
    CHECK_MSG(e, "catalog index");
    CHECK(x == NULL);
}

TEST(manifest_fields)
{
    struct manifest *mf = NULL;
    struct cat_row r;
    memset(&r, 0, sizeof(r));
    json_t *m = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:[{},{},{}], s:{s:s}, s:s}",
                          "kind", "postgres", "job", "nightly", "started",
                          "2026-11-22T03:15:00Z", "finished", "2026-11-22T03:20:00Z",
                          "bytes_in", (json_int_t)123456789, "bytes_stored", (json_int_t)4567,
                          "objects", "consistency", "lsn", "0/16B3740", "tool",
                          "coffer 0.1.0");
    CHECK_EQ_INT(manifest_from_json(m, &mf, NULL), 0);
    cat_row_from_manifest(mf, &r);
    manifest_free(mf);
    CHECK_STR(r.kind, "postgres");
    CHECK_STR(r.job, "nightly");
    CHECK_EQ_INT(r.finished - r.started, 300);
    CHECK_EQ_INT(r.bytes_in, 123456789);
    CHECK_EQ_INT(r.bytes_stored, 4567);
    CHECK_EQ_INT(r.objects, 3);
    CHECK_STR(r.consistency, "{\"lsn\":\"0/16B3740\"}");
    CHECK_STR(r.tool_version, "coffer 0.1.0");
    CHECK(r.details);
    json_decref(m);
    /* as the pipeline writes it: under "info" */
    m = json_pack("{s:{s:{s:s}}, s:n}", "info", "consistency", "snapshot", "s1", "job");
    CHECK_EQ_INT(manifest_from_json(m, &mf, NULL), 0);
    cat_row_from_manifest(mf, &r);
    manifest_free(mf);
    CHECK_STR(r.consistency, "{\"snapshot\":\"s1\"}");
    json_decref(m);
    cat_row_clear(&r);
}

/* an index of schema 3 (before the log archive): upgraded in place to 5, its rows
 * kept, the logs table usable at once; opening it again upgrades nothing */
TEST(schema_3_upgraded_to_4)
{
    bool fresh = true;
    struct cf_err e = CF_ERR_INIT;

    /* a schema 3 file is a fresh index of today without the logs table */
    struct cat_index *x = open_at("v3.db", &fresh);
    CHECK(x != NULL && fresh);
    struct cat_row r;
    row(&r, "pg", "20261121T030000Z-aaaaaaaa", CAT_COMPLETE);
    CHECK_EQ_INT(cat_index_put(x, &r, &e), 0);
    cat_index_close(x);
    x = reopen_older("v3.db", "DROP TABLE logs; UPDATE meta SET value = '3' WHERE key = "
                     "'schema'");
    CHECK_EQ_INT(cat_index_get(x, "repo-1", "pg", "20261121T030000Z-aaaaaaaa", &r, &e), 0);
    cat_row_clear(&r);
    /* the logs table: put, replace, list sorted, sources, drop one, drop all */
    struct cat_log l = { "000000010000000000000003", 1000, 300, -1 };
    CHECK_EQ_INT(cat_index_log_put(x, "repo-1", "pg", &l, &e), 0);
    snprintf(l.file, sizeof(l.file), "000000010000000000000001");
    CHECK_EQ_INT(cat_index_log_put(x, "repo-1", "pg", &l, &e), 0);
    l.stored = 999;
    CHECK_EQ_INT(cat_index_log_put(x, "repo-1", "pg", &l, &e), 0);
    CHECK_EQ_INT(cat_index_log_put(x, "repo-2", "pg", &l, &e), 0);
    CHECK_EQ_INT(cat_index_log_put(x, "repo-1", "maria", &l, &e), 0);
    struct cat_log *lv = NULL;
    size_t n = 0;
    CHECK_EQ_INT(cat_index_logs(x, "repo-1", "pg", &lv, &n, &e), 0);
    CHECK_EQ_INT(n, 2);
    if (n == 2) {
        CHECK_STR(lv[0].file, "000000010000000000000001");
        CHECK_EQ_INT(lv[0].stored, 999);
        CHECK_EQ_INT(lv[0].pushed, 1000);
        CHECK_STR(lv[1].file, "000000010000000000000003");
    }
    free(lv);
    char **names = NULL;
    CHECK_EQ_INT(cat_index_log_sources(x, "repo-1", &names, &n, &e), 0);
    CHECK_EQ_INT(n, 2);
    if (n == 2) {
        CHECK_STR(names[0], "maria");
        CHECK_STR(names[1], "pg");
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    CHECK_EQ_INT(cat_index_log_drop(x, "repo-1", "pg", "000000010000000000000001", &e), 0);
    CHECK_EQ_INT(cat_index_logs(x, "repo-1", "pg", &lv, &n, &e), 0);
    CHECK_EQ_INT(n, 1);
    free(lv);
    cat_index_close(x);
    x = open_at("v3.db", &fresh);   /* schema 6 now: nothing to upgrade, rows there */
    CHECK(x != NULL && !fresh);
    CHECK_EQ_INT(cat_index_log_drop(x, "repo-1", NULL, NULL, &e), 0);
    CHECK_EQ_INT(cat_index_logs(x, "repo-1", "maria", &lv, &n, &e), 0);
    CHECK_EQ_INT(n, 0);
    free(lv);
    CHECK_EQ_INT(cat_index_logs(x, "repo-2", "pg", &lv, &n, &e), 0);
    CHECK_EQ_INT(n, 1);
    free(lv);
    cat_index_close(x);
}

/* an index of schema 4 (before drills): upgraded in place to 6, its rows and logs kept, the
 * drills table usable at once: put, replace, has, the newest of a subject */
TEST(schema_4_upgraded_to_5)
{
    bool fresh = true, found, has;
    struct cf_err e = CF_ERR_INIT;

    struct cat_index *x = open_at("v4.db", &fresh);
    CHECK(x != NULL && fresh);
    struct cat_row r;
    row(&r, "pg", "20261121T030000Z-aaaaaaaa", CAT_COMPLETE);
    CHECK_EQ_INT(cat_index_put(x, &r, &e), 0);
    struct cat_log l = { "000000010000000000000003", 1000, 300, -1 };
    CHECK_EQ_INT(cat_index_log_put(x, "repo-1", "pg", &l, &e), 0);
    cat_index_close(x);
    x = reopen_older("v4.db", "DROP TABLE drills; ALTER TABLE logs DROP COLUMN last_event; "
                     "UPDATE meta SET value = '4' WHERE key = 'schema'");
    CHECK_EQ_INT(cat_index_get(x, "repo-1", "pg", "20261121T030000Z-aaaaaaaa", &r, &e), 0);
    cat_row_clear(&r);
    struct cat_log *lv = NULL;
    size_t n = 0;
    CHECK_EQ_INT(cat_index_logs(x, "repo-1", "pg", &lv, &n, &e), 0);
    CHECK_EQ_INT(n, 1);
    free(lv);

    struct cat_drill d, last;
    CHECK_EQ_INT(cat_index_drill_last(x, NULL, "job.app", &last, &found, &e), 0);
    CHECK(!found);
    json_t *rep = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:i}}", "id",
                            "20261121T040000Z-bbbbbbbb", "subject", "job.app", "started",
                            "2026-11-21T04:00:00Z", "finished", "2026-11-21T04:02:00Z", "result",
                            "passed", "rto", "measured_ms", 81500);
    CHECK_EQ_INT(cat_drill_from_report(rep, "repo-1", &d, &e), 0);
    CHECK(d.ok);
    CHECK_EQ_INT(d.rto_ms, 81500);
    CHECK_EQ_INT(d.finished - d.started, 120);
    CHECK_EQ_INT(cat_index_drill_put(x, &d, &e), 0);
    CHECK_EQ_INT(cat_index_drill_put(x, &d, &e), 0);   /* again: replaced, not doubled */
    /* a later drill that failed, and one of another subject */
    json_object_set_new(rep, "id", json_string("20261122T040000Z-cccccccc"));
    json_object_set_new(rep, "started", json_string("2026-11-22T04:00:00Z"));
    json_object_set_new(rep, "result", json_string("FAILED"));
    CHECK_EQ_INT(cat_drill_from_report(rep, "repo-1", &d, &e), 0);
    CHECK(!d.ok);
    CHECK_EQ_INT(cat_index_drill_put(x, &d, &e), 0);
    json_object_set_new(rep, "subject", json_string("source.pg"));
    json_object_set_new(rep, "started", json_string("2026-11-23T04:00:00Z"));
    CHECK_EQ_INT(cat_drill_from_report(rep, "repo-1", &d, &e), 0);
    CHECK_EQ_INT(cat_index_drill_put(x, &d, &e), 0);
    CHECK_EQ_INT(cat_index_drill_last(x, "repo-1", "job.app", &last, &found, &e), 0);
    CHECK(found && !last.ok);
    CHECK_STR(last.id, "20261122T040000Z-cccccccc");
    CHECK_EQ_INT(cat_index_drill_last(x, "repo-2", "job.app", &last, &found, &e), 0);
    CHECK(!found);
    CHECK_EQ_INT(cat_index_drill_has(x, "repo-1", "job.app", "20261121T040000Z-bbbbbbbb", &has,
                                     &e), 0);
    CHECK(has);
    CHECK_EQ_INT(cat_index_drill_has(x, "repo-1", "source.pg", "20261121T040000Z-bbbbbbbb", &has,
                                     &e), 0);
    CHECK(!has);
    /* a report without its result is refused */
    json_object_del(rep, "result");
    CHECK_EQ_INT(cat_drill_from_report(rep, "repo-1", &d, &e), -1);
    CHECK_EQ_INT(e.code, CF_E_CORRUPT);
    cf_err_clear(&e);
    json_decref(rep);
    cat_index_close(x);
    x = open_at("v4.db", &fresh);   /* schema 6 now: nothing to upgrade, drills there */
    CHECK(x != NULL && !fresh);
    CHECK_EQ_INT(cat_index_drill_last(x, NULL, "source.pg", &last, &found, &e), 0);
    CHECK(found);
    CHECK_EQ_INT(last.rto_ms, 81500);
    cat_index_close(x);
}

/* what status reads from the rows: the newest segment, ranges and gaps, for WAL and binlogs */
TEST(archive_summary)
{
    struct cat_log v[] = {
        { "000000010000000000000001", 100, 10, -1 }, { "000000010000000000000002", 160, 10, -1 },
        { "000000010000000000000005", 400, 10, -1 }, { "00000002.history", 420, 1, -1 },
        { "000000020000000000000005", 430, 10, -1 }, { "not-a-wal-name", 0, 5, -1 },
    };
    struct cat_archive a;
    char s[96];

    cat_archive_sum(v, 6, CAT_LOG_WAL, LOG_WAL_SEG_DEFAULT, &a);
    CHECK_EQ_INT(a.files, 6);
    CHECK_EQ_INT(a.unparsed, 1);
    CHECK_EQ_INT(a.stored, 46);
    CHECK(a.have_last);
    CHECK_STR(a.last.file, "000000020000000000000005");
    CHECK_EQ_INT(a.nranges, 3);
    CHECK_EQ_INT(a.ngaps, 1);
    if (a.ngaps == 1) {
        cat_log_format(CAT_LOG_WAL, a.gaps[0].stream, a.gaps[0].first, LOG_WAL_SEG_DEFAULT, s,
                       sizeof(s));
        CHECK_STR(s, "000000010000000000000003");
        CHECK_EQ_INT(a.gaps[0].files, 2);
    }
    cat_archive_free(&a);
    struct cat_log b[] = { { "mysql-bin.000041", 1, 1, -1 }, { "mysql-bin.000043", 2, 1, -1 } };
    cat_archive_sum(b, 2, CAT_LOG_BINLOG, 0, &a);
    CHECK_EQ_INT(a.ngaps, 1);
    CHECK_STR(a.last.file, "mysql-bin.000043");
    cat_log_format(CAT_LOG_BINLOG, "mysql-bin", 42, 0, s, sizeof(s));
    CHECK_STR(s, "mysql-bin.000042");
    cat_archive_free(&a);
    /* WAL: the recovery point is the newest segment's push */
    cat_archive_sum(v, 6, CAT_LOG_WAL, LOG_WAL_SEG_DEFAULT, &a);
    CHECK_EQ_INT(a.point, 430);
    cat_archive_free(&a);
    /* binlogs sealed by binlog-follow: the file being written as partial objects (a shorter
     * one left behind by a crash), at its file's place; the newest object is the longest
     * partial, and the recovery point its last event, not its push */
    struct cat_log c[] = {
        { "binlog.000041", 510, 1, 500 },
        { "binlog.000042", 610, 1, 600 },
        { "binlog.000043.partial-1234", 700, 1, 690 },
        { "binlog.000043.partial-999", 650, 1, 640 },
    };
    cat_archive_sum(c, 4, CAT_LOG_BINLOG, 0, &a);
    CHECK_EQ_INT(a.unparsed, 0);
    CHECK_EQ_INT(a.nranges, 1);
    CHECK_EQ_INT(a.ngaps, 0);
    CHECK_STR(a.last.file, "binlog.000043.partial-1234");
    CHECK_EQ_INT(a.point, 690);
    cat_archive_free(&a);
    /* the whole file wins over its partial objects; no last event recorded: its push */
    struct cat_log d[] = {
        { "binlog.000043", 720, 1, 0 },
        { "binlog.000043.partial-1234", 700, 1, 690 },
        { "binlog.000045", 900, 1, 880 },
    };
    cat_archive_sum(d, 2, CAT_LOG_BINLOG, 0, &a);
    CHECK_STR(a.last.file, "binlog.000043");
    CHECK_EQ_INT(a.point, 720);
    cat_archive_free(&a);
    cat_archive_sum(d, 3, CAT_LOG_BINLOG, 0, &a);
    CHECK_EQ_INT(a.ngaps, 1);   /* binlog.000044 */
    CHECK_EQ_INT(a.point, 880);
    cat_archive_free(&a);
    struct log_pos pos;
    CHECK(cat_log_parse(CAT_LOG_BINLOG, "binlog.000043.partial-1234", 0, &pos));
    CHECK_STR(pos.stream, "binlog");
    CHECK_EQ_INT(pos.seq, 43);
    CHECK_EQ_INT(pos.kind, LOG_SEGMENT);
    CHECK(!cat_log_parse(CAT_LOG_BINLOG, "binlog.000043.partial-", 0, &pos));
    CHECK(!cat_log_parse(CAT_LOG_BINLOG, "binlog.000043.partial-x1", 0, &pos));
}

/* an index of schema 5: upgraded in place to 6, each log row's last event -1 (not read), so
 * that the next refresh reads the binlog headers once; a row written now keeps its own */
TEST(schema_5_upgraded_to_6)
{
    bool fresh = true;
    struct cf_err e = CF_ERR_INIT;

    struct cat_index *x = open_at("v5.db", &fresh);
    CHECK(x != NULL && fresh);
    struct cat_log l = { "binlog.000007", 1000, 300, 990 };
    CHECK_EQ_INT(cat_index_log_put(x, "repo-1", "my", &l, &e), 0);
    cat_index_close(x);
    x = reopen_older("v5.db", "ALTER TABLE logs DROP COLUMN last_event; UPDATE meta SET value "
                     "= '5' WHERE key = 'schema'");
    struct cat_log *lv = NULL;
    size_t n = 0;
    CHECK_EQ_INT(cat_index_logs(x, "repo-1", "my", &lv, &n, &e), 0);
    CHECK_EQ_INT(n, 1);
    if (n == 1) {
        CHECK_EQ_INT(lv[0].last_event, -1);
        CHECK_EQ_INT(lv[0].pushed, 1000);
    }
    free(lv);
    CHECK_EQ_INT(cat_index_log_put(x, "repo-1", "my", &l, &e), 0);
    CHECK_EQ_INT(cat_index_logs(x, "repo-1", "my", &lv, &n, &e), 0);
    CHECK(n == 1 && lv[0].last_event == 990);
    free(lv);
    cat_index_close(x);
}

int main(void)
{
    log_setup(LOG_ERROR, LOG_TEXT);
    if (mkdtemp(dir) == NULL)
        return 1;
    RUN(create_private_in_missing_directory);
    RUN(at_replay_needs_a_dump_finished_before);
    RUN(dump_base_stands_after_its_finish);
    RUN(rows_filters_and_at);
    RUN(pins_and_verify_kept);
    RUN(corrupted_file_moved_aside);
    RUN(other_schema_replaced);
    RUN(schema_1_upgraded_in_place);
    RUN(schema_3_upgraded_to_4);
    RUN(schema_4_upgraded_to_5);
    RUN(archive_summary);
    RUN(schema_5_upgraded_to_6);
    RUN(locked_by_another_process);
    RUN(unwritable_directory);
    RUN(manifest_fields);
    struct cf_err e = CF_ERR_INIT;
    fs_remove_tree(dir, &e);
    return unit_done();
}

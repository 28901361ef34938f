/* test_cat_logprune.c - `catalog prune` of a WAL archive (lib/catalog/cat_prune.c over
 * policies/logrange.c) in a real local repository: WAL files pushed with repo_log_push, base
 * backups as physical manifests written with the repository's own manifest writer (the
 * contract of docs/PITR.md: info.method, timeline, start_wal, stop_wal, stop_time), the push
 * times set in the index (the refresh keeps what it knows). Checks which files and backups
 * remain, what --dry-run says and leaves, and that without a base backup no file is deleted.
 * Also the helper that writes such a manifest for tests/integration/catalog_logs.sh. */
#include "unit.h"
#include "fixture.h"

#include <sqlite3.h>

#include "../../lib/catalog/cat_ctx.h"
#include "../../catalog/catalog.h"
#include "crypto/seal.h"
#include "repo/manifest.h"
#include "repo/repo_pins.h"

static char out_path[128];

/* run @fn with stdout into out_path; its exit code */
static int quiet(int (*fn)(const struct conf *, const struct repo_unlock *,
                           const struct catalog_opts *),
                 const struct conf *c, const struct catalog_opts *o)
{
    struct repo_unlock u = { NULL };
    fflush(stdout);
    int save = dup(1), fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 1);
    close(fd);
    int rc = fn(c, &u, o);
    fflush(stdout);
    dup2(save, 1);
    close(save);
    return rc;
}

static bool out_has(const char *needle)
{
    struct buf b = BUF_INIT;
    struct cf_err e = CF_ERR_INIT;
    bool has = fs_read_file(out_path, 1 << 20, &b, &e) == 0 && b.len > 0 &&
               memmem(b.data, b.len, needle, strlen(needle)) != NULL;
    if (!has)
        printf("# output lacks \"%s\"\n", needle);
    buf_free(&b);
    return has;
}

static void push(struct fixture *f, const char *name)
{
    struct cf_err e = CF_ERR_INIT;
    struct repo_log_stats st;
    char *p = cf_asprintf("%s/%s", f->dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, name, strlen(name)) < 0)
        abort();
    close(fd);
    if (repo_log_push(f->repo, "pg", p, 1, &st, &e) != 0)
        printf("# push %s: %s\n", name, e.msg);
    unlink(p);
    free(p);
}

/* a committed physical base backup of @source (no data objects: prune reads manifests
 * only) */
static void base_of(struct fixture *f, const char *source, const char *id, int tl,
                    const char *start, const char *stop, time_t stop_time)
{
    struct cf_err e = CF_ERR_INIT;
    struct seal_key sk;
    struct manifest *m = manifest_new();
    snprintf(m->id, sizeof(m->id), "%s", id);
    snprintf(m->source, sizeof(m->source), "%s", source);
    snprintf(m->kind, sizeof(m->kind), "postgres");
    snprintf(m->tool, sizeof(m->tool), "coffer test");
    m->started = stop_time - 60;
    m->finished = stop_time;
    m->objects_listed = true;
    m->info = json_pack("{s:s, s:i, s:s, s:s, s:I, s:I, s:I}", "method", "physical", "timeline",
                        tl, "start_wal", start, "stop_wal", stop, "start_time",
                        (json_int_t)(stop_time - 60), "stop_time", (json_int_t)stop_time,
                        "wal_segment_size", (json_int_t)(16 * 1024 * 1024));
    if (seal_key_new(&sk, repo_keys(f->repo), id, &e) != 0 ||
        repo_manifest_save(f->repo, &sk, m, &e) != 0)
        fprintf(stderr, "# base %s: %s\n", id, e.msg);
    seal_key_wipe(&sk);
    manifest_free(m);
}

static void base(struct fixture *f, const char *id, int tl, const char *start, const char *stop,
                 time_t stop_time)
{
    base_of(f, "pg", id, tl, start, stop, stop_time);
}

static bool archived(struct fixture *f, const char *file)
{
    struct repo_log_meta m;
    struct cf_err e = CF_ERR_INIT;
    return repo_log_stat(f->repo, "pg", file, &m, &e) == 0;
}

static char seg_name[64];
static const char *S(int tl, int q)
{
    snprintf(seg_name, sizeof(seg_name), "%08X%08X%08X", tl, 0, q);
    return seg_name;
}

static struct conf *conf_with(struct fixture *f, const char *idx, const char *rules)
{
    struct cf_err e = CF_ERR_INIT;
    struct conf *c = NULL;
    char *p = cf_asprintf("%s/rules.conf", f->dir);
    char *text = cf_asprintf("[repository]\npath = %s/repo\nkey-file = %s/repo.key\n"
                             "[catalog]\npath = %s\n[source pg]\ntype = postgres\n%s\n",
                             f->dir, f->dir, idx, rules);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, text, strlen(text)) < 0)
        abort();
    close(fd);
    if (validate_load(p, &c, &e) != 0)
        printf("# conf: %s\n", e.msg);
    free(text);
    free(p);
    return c;
}

/* the push time of every file in the index: segment q pushed (41 - q) hours before @now
 * (a .history file as its timeline's first segment, 30) */
static void set_pushed(const char *idx, time_t now)
{
    sqlite3 *db;
    sqlite3_stmt *sel = NULL, *upd = NULL;
    if (sqlite3_open(idx, &db) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT file FROM logs", -1, &sel, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "UPDATE logs SET pushed = ?1 WHERE file = ?2", -1, &upd,
                           NULL) != SQLITE_OK)
        printf("# set_pushed: %s\n", sqlite3_errmsg(db));
    while (sel && sqlite3_step(sel) == SQLITE_ROW) {
        const char *file = (const char *)sqlite3_column_text(sel, 0);
        long q = strlen(file) >= 24 ? strtol(file + 16, NULL, 16) : 30;
        sqlite3_bind_int64(upd, 1, (sqlite3_int64)(now - (41 - q) * 3600));
        sqlite3_bind_text(upd, 2, file, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(upd) != SQLITE_DONE)
            printf("# set_pushed: %s\n", sqlite3_errmsg(db));
        sqlite3_reset(upd);
    }
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    sqlite3_close(db);
}

static int count_archived(struct fixture *f)
{
    int n = 0;
    for (int q = 1; q <= 40; q++) {
        n += archived(f, S(1, q));
        n += archived(f, S(2, q));
    }
    char part[64];
    snprintf(part, sizeof(part), "%s.partial", S(1, 30));
    return n + archived(f, part) + archived(f, "00000002.history");
}

static bool backup_there(struct fixture *f, const char *id)
{
    struct manifest *m = NULL;
    struct cf_err e = CF_ERR_INIT;
    bool ok = repo_manifest_load(f->repo, "pg", id, &m, &e) == 0;
    manifest_free(m);
    return ok;
}

TEST(prune_keeps_window_and_base_ranges)
{
    struct fixture f;
    struct catalog_opts o = { 0 };
    struct cf_err e = CF_ERR_INIT;
    time_t now = time(NULL);
    char part[64];
    const char *A = "20261101T000000Z-aaaaaaaa", *B = "20261102T000000Z-bbbbbbbb",
               *C = "20261103T000000Z-cccccccc";

    CHECK(fixture_open(&f, NULL) == 0);
    snprintf(out_path, sizeof(out_path), "%s/out", f.dir);
    char *idx = cf_asprintf("%s/catalog.db", f.dir);
    /* timeline 1: segments 1..29 and 30 as .partial (a promotion), the history of timeline
     * 2, timeline 2: 30..40 */
    for (int q = 1; q <= 29; q++)
        push(&f, S(1, q));
    snprintf(part, sizeof(part), "%s.partial", S(1, 30));
    push(&f, part);
    push(&f, "00000002.history");
    for (int q = 30; q <= 40; q++)
        push(&f, S(2, q));
    CHECK_EQ_INT(count_archived(&f), 42);

    /* no base backup at all: prune deletes no log file, and says so */
    struct conf *c = conf_with(&f, idx, "keep-last = 1\nkeep-pitr = 6h\n");
    CHECK(c != NULL);
    CHECK_EQ_INT(quiet(catalog_prune, c, &o), 0);
    CHECK(out_has("no physical base backup: no log file is deleted"));
    CHECK_EQ_INT(count_archived(&f), 42);
    set_pushed(idx, now);

    /* base backups A (1: 2..3), B (1: 10..11), C (2: 32..33), each stopped 30 minutes
     * before its stop segment was pushed; A pinned */
    char s1[32], s2[32];
    snprintf(s1, sizeof(s1), "%s", S(1, 2));
    snprintf(s2, sizeof(s2), "%s", S(1, 3));
    base(&f, A, 1, s1, s2, now - 38 * 3600 - 1800);
    snprintf(s1, sizeof(s1), "%s", S(1, 0x10));
    snprintf(s2, sizeof(s2), "%s", S(1, 0x11));
    base(&f, B, 1, s1, s2, now - (41 - 0x11) * 3600 - 1800);
    snprintf(s1, sizeof(s1), "%s", S(2, 0x20));
    snprintf(s2, sizeof(s2), "%s", S(2, 0x21));
    base(&f, C, 2, s1, s2, now - (41 - 0x21) * 3600 - 1800);
    CHECK_EQ_INT(repo_pin_put(f.repo, "pg", A, "audit", now, &e), 0);

    /* no retention rule at all: every backup is kept, and every log file */
    conf_free(c);
    c = conf_with(&f, idx, "");
    CHECK_EQ_INT(quiet(catalog_prune, c, &o), 0);
    CHECK(out_has("no retention rules: every archived log file is kept"));
    CHECK_EQ_INT(count_archived(&f), 42);

    /* keep-pitr 12h: the window starts at now - 12h; B is the newest base backup that stopped
     * before it, so B is kept (pitr) and every file from its start (0x10) on; A keeps its
     * own 2..3; 1 and 4..0xF go */
    conf_free(c);
    c = conf_with(&f, idx, "keep-last = 1\nkeep-pitr = 12h\n");
    o.dry_run = true;
    CHECK_EQ_INT(quiet(catalog_prune, c, &o), 0);
    CHECK(out_has("keep-pitr 43200s [source pg]: the window from"));
    CHECK(out_has("replayed from base backup 20261102T000000Z-bbbbbbbb"));
    CHECK(out_has("consistency of kept base backup 20261101T000000Z-aaaaaaaa"));
    CHECK(out_has("logs DELETE 000000010000000000000004..00000001000000000000000F (12 files"));
    CHECK(out_has("logs DELETE 000000010000000000000001..000000010000000000000001 (1 files"));
    CHECK(out_has("13 archived log files to delete"));
    CHECK(out_has("pitr"));
    CHECK_EQ_INT(count_archived(&f), 42);   /* a dry run changes nothing */
    o.dry_run = false;
    CHECK_EQ_INT(quiet(catalog_prune, c, &o), 0);
    CHECK_EQ_INT(count_archived(&f), 42 - 13);
    CHECK(!archived(&f, S(1, 1)) && archived(&f, S(1, 2)) && archived(&f, S(1, 3)));
    CHECK(!archived(&f, S(1, 4)) && !archived(&f, S(1, 0xF)) && archived(&f, S(1, 0x10)));
    CHECK(backup_there(&f, A) && backup_there(&f, B) && backup_there(&f, C));
    /* again: nothing more */
    CHECK_EQ_INT(quiet(catalog_prune, c, &o), 0);
    CHECK_EQ_INT(count_archived(&f), 42 - 13);

    /* keep-pitr 6h: C (stopped 8.5h ago) anchors the window; B is kept by no rule and goes,
     * with the WAL only it needed; A (pinned) keeps only 2..3; the history of timeline 2 stays */
    conf_free(c);
    c = conf_with(&f, idx, "keep-last = 1\nkeep-pitr = 6h\n");
    CHECK_EQ_INT(quiet(catalog_prune, c, &o), 0);
    CHECK(!backup_there(&f, B));
    CHECK(backup_there(&f, A) && backup_there(&f, C));
    CHECK(archived(&f, S(1, 2)) && archived(&f, S(1, 3)));
    for (int q = 0x10; q <= 0x1D; q++)
        CHECK(!archived(&f, S(1, q)));
    CHECK(!archived(&f, part));
    CHECK(!archived(&f, S(2, 0x1E)) && !archived(&f, S(2, 0x1F)));
    for (int q = 0x20; q <= 0x28; q++)
        CHECK(archived(&f, S(2, q)));
    CHECK(archived(&f, "00000002.history"));
    CHECK_EQ_INT(count_archived(&f), 2 + 9 + 1);
    conf_free(c);
    fixture_close(&f);
    free(idx);
}

/* The tests-only helper tests/integration/catalog_logs.sh uses while physical base backups
 * cannot be made by `backupd run`: `test_cat_logprune --write-base CONF SOURCE ID TIMELINE
 * START_WAL STOP_WAL STOP_TIME` commits such a manifest into CONF's repository. */
static int write_base(char **argv)
{
    struct cf_err e = CF_ERR_INIT;
    struct conf *c = NULL;
    struct fixture f;
    int rc = 1;

    memset(&f, 0, sizeof(f));
    if (validate_load(argv[2], &c, &e) != 0 || repo_open(c, NULL, &f.repo, &e) != 0) {
        fprintf(stderr, "write-base: %s\n", e.msg);
        goto out;
    }
    base_of(&f, argv[3], argv[4], atoi(argv[5]), argv[6], argv[7], (time_t)atoll(argv[8]));
    rc = 0;
out:
    repo_close(f.repo);
    conf_free(c);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 9 && strcmp(argv[1], "--write-base") == 0)
        return write_base(argv);
    RUN(prune_keeps_window_and_base_ranges);
    return unit_done();
}

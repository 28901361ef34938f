/* test_superv.c - backupd/backupd_superv.c with real processes and a clock of the test's own:
 * a restarted archiver, the backoff doubling up to its cap and reset by a stable run, a
 * restart loop reported and cleared, a reload that keeps the same archiver's process and
 * stops one left out, and the binlog followers read from a configuration. The archiver that
 * fails is `backupd status` (exit 1 without a daemon) when COFFER_BIN is set. */
#include "unit.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../backupd/backupd_superv.h"
#include "../../lib/config/conf.h"
#include "../../lib/core/util.h"

/* wait for @a's process to end and hand it to the supervisor at @now */
static void end_at(struct superv *s, struct archiver *a, time_t now)
{
    int status;
    pid_t pid = a->pid;
    CHECK(pid > 0);
    if (pid <= 0)
        return;
    CHECK_EQ_INT(waitpid(pid, &status, 0), pid);
    CHECK(superv_reaped(s, pid, status, now));
}

static char fail_cmd[512];
static const char *fail_exit;   /* how it ends */

static void fail_argv(char *argv[6])
{
    const char *bin = getenv("COFFER_BIN");
    if (bin != NULL) {
        snprintf(fail_cmd, sizeof(fail_cmd), "%s/backupd", bin);
        argv[0] = fail_cmd;
        argv[1] = "--config";
        argv[2] = "/nonexistent/coffer.conf";
        argv[3] = "status";
        argv[4] = NULL;
        fail_exit = "exit 2";   /* no configuration file: a configuration error */
    } else {
        argv[0] = "/bin/sh";
        argv[1] = "-c";
        argv[2] = "exit 1";
        argv[3] = NULL;
        fail_exit = "exit 1";
    }
}

TEST(backoff_and_loop)
{
    struct superv s = { .n = 0 };
    char *argv[6];
    time_t now = 1000;
    const time_t waits[] = { 2, 4, 8, 16, 32, 64, 128, 256, 300, 300 };

    fail_argv(argv);
    superv_add(&s, "failing", argv);
    superv_start_due(&s, now);
    CHECK(s.a[0].pid > 0);
    CHECK_STR(superv_state(&s.a[0]), "running");
    for (size_t k = 0; k < sizeof(waits) / sizeof(waits[0]); k++) {
        end_at(&s, &s.a[0], now);
        CHECK_STR(s.a[0].last_exit, fail_exit);
        CHECK_STR(superv_state(&s.a[0]), "waiting");
        CHECK_EQ_INT(s.a[0].restart_at, now + waits[k]);
        CHECK_EQ_INT(superv_wait(&s, now, 1000), waits[k]);
        CHECK_EQ_INT(s.a[0].looping, k + 1 >= SUPERV_LOOP_N);   /* 5 within 30 s: a loop */
        superv_start_due(&s, now + waits[k] - 1);   /* not yet */
        CHECK_EQ_INT(s.a[0].pid, 0);
        now += waits[k];
        superv_start_due(&s, now);
        CHECK(s.a[0].pid > 0);
    }
    CHECK_EQ_INT(s.a[0].restarts, 10);
    CHECK(s.a[0].looping);
    /* a stable run: the backoff and the loop are over */
    end_at(&s, &s.a[0], now + SUPERV_STABLE);
    CHECK_EQ_INT(s.a[0].restart_at, now + SUPERV_STABLE + 1);
    CHECK(!s.a[0].looping);
    CHECK_EQ_INT(superv_running(&s), 0);
    superv_free(&s);
}

TEST(loop_needs_the_window)
{
    struct superv s = { .n = 0 };
    char *argv[6];
    time_t now = 5000;

    fail_argv(argv);
    superv_add(&s, "slow-failing", argv);
    /* five restarts, but spread over more than the window: no loop */
    for (int k = 0; k < SUPERV_LOOP_N + 2; k++) {
        superv_start_due(&s, now);
        end_at(&s, &s.a[0], now + 30);
        now += SUPERV_LOOP_WINDOW / 4 + 31;
    }
    CHECK(!s.a[0].looping);
    CHECK_EQ_INT(s.a[0].restarts, SUPERV_LOOP_N + 2);
    superv_free(&s);
}

TEST(reload_keeps_and_stops)
{
    struct superv s = { .n = 0 }, next = { .n = 0 };
    char *keep[] = { "/bin/sleep", "30", NULL }, *drop[] = { "/bin/sleep", "31", NULL };
    char *changed[] = { "/bin/sleep", "32", NULL };
    int status;

    superv_add(&s, "keep", keep);
    superv_add(&s, "drop", drop);
    superv_start_due(&s, 100);
    pid_t kp = s.a[0].pid, dp = s.a[1].pid;
    CHECK(kp > 0 && dp > 0);
    superv_add(&next, "keep", keep);
    superv_add(&next, "new", changed);
    superv_replace(&s, &next);
    CHECK_EQ_INT(s.n, 3);   /* keep, new, and drop until it ends */
    CHECK_STR(s.a[0].name, "keep");
    CHECK_EQ_INT(s.a[0].pid, kp);
    CHECK_STR(s.a[1].name, "new");
    CHECK_EQ_INT(s.a[1].pid, 0);
    CHECK_STR(s.a[2].name, "drop");
    CHECK(s.a[2].gone);
    CHECK_STR(superv_state(&s.a[2]), "running");
    CHECK_EQ_INT(waitpid(dp, &status, 0), dp);   /* stopped by SIGTERM */
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    CHECK(superv_reaped(&s, dp, status, 101));
    CHECK_EQ_INT(s.n, 2);   /* dropped, not restarted */
    superv_start_due(&s, 101);
    CHECK(s.a[1].pid > 0);
    CHECK_EQ_INT(superv_running(&s), 2);
    superv_signal(&s, SIGKILL);
    for (size_t i = 0; i < s.n; i++)
        waitpid(s.a[i].pid, &status, 0);
    CHECK(!superv_reaped(&s, 1, 0, 102));   /* not ours */
    superv_free(&s);
}

TEST(from_conf)
{
    char dir[] = "/tmp/coffer-superv.XXXXXX", path[64];
    struct conf *c = NULL;
    struct cf_err e = CF_ERR_INIT;
    struct superv s = { .n = 0 };
    FILE *f;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/c.conf", dir);
    f = fopen(path, "w");
    fputs("[repository]\npath = /r\nkey-file = /k\n"
          "[source shop]\ntype = mariadb\nbinlog-archive = yes\nbinlog-mode = follow\n"
          "[source other]\ntype = mariadb\nbinlog-archive = yes\nbinlog-mode = batch\n"
          "[source media]\ntype = volume\npath = /m\n",
          f);
    fclose(f);
    /* only read: the binlog keys are the binlog helper's (not validated here) */
    CHECK_EQ_INT(conf_read(path, NULL, NULL, NULL, &c, &e), 0);
    if (c != NULL) {
        superv_from_conf(&s, c, "/usr/bin/backupd", path);
        CHECK_EQ_INT(s.n, 1);
        if (s.n == 1) {
            CHECK_STR(s.a[0].name, "binlog-follow shop");
            CHECK_STR(s.a[0].argv[0], "/usr/bin/backupd");
            CHECK_STR(s.a[0].argv[2], path);
            CHECK_STR(s.a[0].argv[3], "binlog-follow");
            CHECK_STR(s.a[0].argv[4], "shop");
            CHECK(s.a[0].argv[5] == NULL);
            CHECK_STR(s.a[0].tmpdir, "/run/coffer/archivers/binlog-follow-shop");
            CHECK_STR(s.a[0].statefile, "/run/coffer/archivers/binlog-follow-shop/state.json");
        }
    }
    superv_free(&s);
    conf_free(c);
    unlink(path);
    rmdir(dir);
}

/* the lag from the state file, or from the start; the file's name reaches the child */
TEST(lag)
{
    char dir[] = "/tmp/test_superv_XXXXXX", path[256], env[256], cmd[600];
    char *argv[] = { "/bin/sh", "-c", cmd, NULL };
    struct superv s = { 0 };
    struct buf seen = BUF_INIT;
    struct cf_err e = CF_ERR_INIT;
    struct archiver_lag l;
    FILE *f;
    time_t now = time(NULL);

    CHECK(mkdtemp(dir) != NULL);
    snprintf(env, sizeof(env), "%s.env", dir);
    snprintf(cmd, sizeof(cmd), "printf %%s \"$COFFER_ARCHIVER_STATE\" >%s", env);
    superv_add(&s, "t", argv);
    snprintf(path, sizeof(path), "%s/state.json", dir);
    s.a[0].tmpdir = strdup(dir);
    s.a[0].statefile = strdup(path);
    superv_lag(&s.a[0], now, &l);
    CHECK(!l.known);   /* not running, nothing archived */
    superv_start_due(&s, now - 7);
    superv_lag(&s.a[0], now, &l);
    CHECK(l.known);
    CHECK_EQ_INT(l.lag, 7);   /* since it started */
    CHECK_EQ_INT(l.newest_event, 0);
    f = fopen(path, "w");
    fprintf(f, "{\"newest_event\": %lld, \"sealed\": %lld}\n", (long long)(now - 4),
            (long long)(now - 1));
    fclose(f);
    superv_lag(&s.a[0], now, &l);
    CHECK(l.known);
    CHECK_EQ_INT(l.lag, 4);
    CHECK_EQ_INT(l.sealed, now - 1);
    end_at(&s, &s.a[0], now);
    superv_lag(&s.a[0], now, &l);   /* ended: its TMPDIR, state file too, is emptied */
    CHECK(!l.known);
    CHECK(s.a[0].pid == 0);
    superv_free(&s);
    /* the child had the state file's name in its environment */
    CHECK_EQ_INT(fs_read_file(env, 4096, &seen, &e), 0);
    CHECK(seen.len == strlen(path) && memcmp(seen.data, path, seen.len) == 0);
    buf_free(&seen);
    unlink(env);
    rmdir(dir);
}

int main(void)
{
    RUN(backoff_and_loop);
    RUN(loop_needs_the_window);
    RUN(reload_keeps_and_stops);
    RUN(from_conf);
    RUN(lag);
    return unit_done();
}

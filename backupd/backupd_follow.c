/* backupd_follow.c - `backupd binlog-follow SOURCE`: mariadb-binlog --read-from-remote-server
 * --raw --stop-never writes the server's binlog files into a private directory as the server
 * writes them; every binlog-seal-interval, each file the server closed (it ends with a rotate
 * or stop event) is archived whole under its own name, and the file still being written is
 * archived as "<name>.partial-<length>", its first <length> bytes up to the last whole event.
 * A binlog file only grows, so one name never holds two contents; once a newer partial or the
 * whole file is durable, the older partial objects of that file are removed. When
 * mariadb-binlog exits (server restart, network cut), it is started again after a pause at the
 * newest file it had (which it reads again from its start). SIGTERM or SIGINT: seal what is
 * there, stop the child, exit 0. docs/PITR.md "MariaDB". */
#include "backupd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../lib/core/cli.h"
#include "../lib/core/log.h"
#include "../lib/core/util.h"
#include "../lib/db/db_maria.h"
#include "backupd_binlog.h"
#include "backupd_superv.h"

static volatile sig_atomic_t stop_asked;

static void on_stop(int sig)
{
    (void)sig;
    stop_asked = 1;
}

/* what was sealed of the file being written */
struct follow {
    const struct binlog_src *b;
    struct repo *r;
    const char *dir;
    char partial_of[256];   /* its name, and the length of its newest partial object */
    uint64_t partial_len;
    char done[256];         /* the newest file archived whole (kept here while the child
                               may still write it) */
    const char *statefile;  /* SUPERV_STATE_ENV (under the daemon), or NULL */
    int64_t newest_event;   /* the newest event archived (Unix time), 0: none yet */
};

/* tell the daemon how far the archive reaches: the state file, rewritten atomically
 * (backupd_superv.h SUPERV_STATE_ENV); a failure is logged, the follower goes on */
static void state_write(const struct follow *f)
{
    struct cf_err e = CF_ERR_INIT;
    char text[128];
    int n = snprintf(text, sizeof(text), "{\"newest_event\": %" PRId64 ", \"sealed\": %" PRId64
                     "}\n", f->newest_event, (int64_t)time(NULL));
    if (f->statefile == NULL)
        return;
    if (fs_write_file_atomic(f->statefile, text, (size_t)n, 0644, &e) != 0)
        log_warn("binlog-follow source=%s: state file not written: %s", f->b->name, e.msg);
}

static void newest_event_seen(struct follow *f, int64_t t)
{
    if (t > f->newest_event)
        f->newest_event = t;
}

/* copy the first @len bytes of @from to the new file @to */
static int copy_prefix(const char *from, const char *to, uint64_t len, struct cf_err *e)
{
    char buf[65536];
    int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
    if (in < 0)
        return cf_err_sys(e, CF_E_IO, "unable to open '%s'", from);
    if ((out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
        cf_err_sys(e, CF_E_IO, "unable to create '%s'", to);
        goto out;
    }
    while (len > 0) {
        ssize_t k = read(in, buf, len < sizeof(buf) ? (size_t)len : sizeof(buf));
        if (k <= 0) {
            cf_err_sys(e, CF_E_IO, "unable to read '%s'", from);
            goto out;
        }
        if (fs_write_all(out, buf, (size_t)k, to, e) != 0)
            goto out;
        len -= (uint64_t)k;
    }
    rc = 0;
out:
    if (out >= 0)
        close(out);
    close(in);
    return rc;
}

/* remove the partial object of @name of length @len (0: none) */
static void drop_partial(struct follow *f, const char *name, uint64_t len)
{
    struct cf_err e = CF_ERR_INIT;
    if (len == 0)
        return;
    char *obj = cf_asprintf("%s.partial-%" PRIu64, name, len);
    char *key = repo_key_log(f->b->name, obj);
    const char *keys[1] = { key };
    if (key == NULL || repo_remove_objects(f->r, keys, 1, &e) != 0)
        log_warn("binlog-follow source=%s: the superseded '%s' stays: %s", f->b->name, obj,
                 e.msg);
    free(key);
    free(obj);
}

static int by_seq(const void *a, const void *b)
{
    uint64_t x, y;
    db_binlog_name(*(char *const *)a, &x, NULL);
    db_binlog_name(*(char *const *)b, &y, NULL);
    return x < y ? -1 : x > y;
}

/* the binlog files in @dir, oldest first */
static int local_files(const char *dir, char ***names, size_t *n, struct cf_err *e)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    *names = NULL;
    *n = 0;
    if (d == NULL)
        return cf_err_sys(e, CF_E_IO, "unable to read '%s'", dir);
    while ((de = readdir(d)) != NULL) {
        if (!db_binlog_name(de->d_name, NULL, NULL))
            continue;
        *names = cf_realloc(*names, (*n + 1) * sizeof(char *));
        (*names)[(*n)++] = cf_strdup(de->d_name);
    }
    closedir(d);
    if (*n > 1)
        qsort(*names, *n, sizeof(char *), by_seq);
    return 0;
}

/* archive what the directory holds: closed files whole (then removed here), the newest one
 * as a partial object when it grew. @newest gets the name of the newest file (for a
 * restart), "" when there is none. */
static int seal(struct follow *f, char *newest, size_t cap, struct cf_err *e)
{
    char **names = NULL;
    size_t n = 0;
    int rc = -1;

    newest[0] = '\0';
    if (local_files(f->dir, &names, &n, e) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char *path = cf_asprintf("%s/%s", f->dir, names[i]);
        struct db_binlog_scan sc;
        struct repo_log_stats st;
        int prc = db_binlog_scan(path, 4, 0, NULL, false, &sc, e);
        snprintf(newest, cap, "%s", names[i]);
        if (prc == 0 && sc.closed && strcmp(f->done, names[i]) == 0) {
            /* archived whole before; a partial sealed since (read again after a restart)
             * is superseded */
            if (strcmp(f->partial_of, names[i]) == 0) {
                drop_partial(f, names[i], f->partial_len);
                f->partial_of[0] = '\0';
                f->partial_len = 0;
            }
        } else if (prc == 0 && sc.closed) {
            prc = binlog_push_file(f->r, f->b, path, names[i], true, &st, &sc, e);
            if (prc == 0) {
                newest_event_seen(f, sc.last_time);
                log_info("binlog archived source=%s file=%s events=%" PRIu64 " last=%" PRId64
                         " gtid=%s..%s%s", f->b->name, names[i], sc.events, sc.last_time,
                         sc.gtid_first, sc.gtid_last, st.existed ? " (already archived)" : "");
                if (strcmp(f->partial_of, names[i]) == 0) {
                    drop_partial(f, names[i], f->partial_len);
                    f->partial_of[0] = '\0';
                    f->partial_len = 0;
                }
                if (i + 1 < n)   /* the child may still write the newest; keep it */
                    unlink(path);
                else
                    snprintf(f->done, sizeof(f->done), "%s", names[i]);
            }
        } else if (prc == 0 && i + 1 == n && sc.events > 0 &&
                   (strcmp(f->partial_of, names[i]) != 0 || sc.size > f->partial_len)) {
            char *obj = cf_asprintf("%s.partial-%" PRIu64, names[i], sc.size);
            char *copy = cf_asprintf("%s/.seal/%s", f->dir, obj);
            prc = copy_prefix(path, copy, sc.size, e);
            if (prc == 0)
                prc = binlog_push_file(f->r, f->b, copy, obj, false, &st, &sc, e);
            unlink(copy);
            if (prc == 0) {
                newest_event_seen(f, sc.last_time);
                log_info("binlog sealed source=%s file=%s bytes=%" PRIu64 " last=%" PRId64,
                         f->b->name, obj, sc.size, sc.last_time);
                if (strcmp(f->partial_of, names[i]) == 0)
                    drop_partial(f, names[i], f->partial_len);
                snprintf(f->partial_of, sizeof(f->partial_of), "%s", names[i]);
                f->partial_len = sc.size;
            }
            free(copy);
            free(obj);
        }
        free(path);
        if (prc != 0) {
            cf_err_ctx(e, "sealing '%s'", names[i]);
            goto out;
        }
    }
    rc = 0;
out:
    ini_list_free(names, n);
    if (rc == 0)
        state_write(f);
    return rc;
}

/* where to start when nothing is local: the oldest file on the server not archived whole
 * (so nothing is skipped), else the newest; a jump past the archive is a reported gap */
static int first_file(const struct binlog_src *b, struct repo *r, char *out, size_t cap,
                      struct cf_err *e)
{
    struct binlog_archived a = { 0 };
    MYSQL *my = NULL;
    char **names = NULL;
    size_t n = 0;
    int rc = -1;

    out[0] = '\0';
    if (db_maria_connect(b->m, NULL, 0, &my, e) != 0 ||
        binlog_server_files(my, &names, &n, e) != 0 ||
        binlog_archived_load(r, b->name, &a, e) != 0)
        goto out;
    binlog_gap_report(b->name, names, n, &a);
    for (size_t i = 0; i < n; i++) {
        if (!db_binlog_name(names[i], NULL, NULL))
            continue;
        snprintf(out, cap, "%s", names[i]);
        if (!binlog_archived_has(&a, names[i]))
            break;
    }
    if (out[0] == '\0') {
        cf_err_set(e, CF_E_SOURCE, "the server lists no binlog file. HINT: is log_bin on?");
        goto out;
    }
    rc = 0;
out:
    ini_list_free(names, n);
    mysql_close(my);
    binlog_archived_free(&a);
    return rc;
}

/* has the child ended? reaps it */
static bool child_ended(struct child *ch)
{
    int st;
    if (ch->pid == 0)
        return true;
    if (waitpid(ch->pid, &st, WNOHANG) != ch->pid)
        return false;
    ch->pid = 0;
    if (ch->fd >= 0) {
        close(ch->fd);
        ch->fd = -1;
    }
    return true;
}

int backupd_binlog_follow(const struct conf *c, const char *source)
{
    struct cf_err e = CF_ERR_INIT;
    struct binlog_src b;
    struct repo *r = NULL;
    struct child ch = { 0 };
    struct follow f;
    struct sigaction sa;
    char *optfile = NULL, *dir = NULL, *sealdir = NULL, start[256] = "";
    unsigned pause_s = 1;
    int rc = EXIT_FAILED;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (binlog_source_open(c, source, "binlog-follow", &b, &e) != 0 ||
        repo_open(c, NULL, &r, &e) != 0 || db_maria_binlog_option_file(b.m, &optfile, &e) != 0 ||
        fs_private_tmpdir("binlog", &dir, &e) != 0)
        goto fail;
    sealdir = cf_asprintf("%s/.seal", dir);
    if (mkdir(sealdir, 0700) != 0) {
        cf_err_sys(&e, CF_E_IO, "unable to create '%s'", sealdir);
        goto fail;
    }
    memset(&f, 0, sizeof(f));
    f.b = &b;
    f.r = r;
    f.dir = dir;
    f.statefile = getenv(SUPERV_STATE_ENV);
    log_info("binlog-follow start source=%s seal-interval=%" PRId64 "s", source,
             b.conf.seal_interval);
    while (!stop_asked) {
        if (ch.pid == 0) {
            if (start[0] == '\0' && first_file(&b, r, start, sizeof(start), &e) != 0) {
                log_warn("binlog-follow source=%s: %s; trying again in %us", source, e.msg,
                         pause_s);
                cf_err_clear(&e);
            } else if (binlog_fetch(&b, optfile, dir, start, true, &ch, &e) != 0) {
                log_warn("binlog-follow source=%s: %s; trying again in %us", source, e.msg,
                         pause_s);
                cf_err_clear(&e);
            } else {
                log_info("binlog-follow reading source=%s from=%s", source, start);
            }
        }
        /* wait one seal interval, or until stopped, or until the child ends */
        time_t until = time(NULL) + b.conf.seal_interval;
        while (!stop_asked && time(NULL) < until && !child_ended(&ch))
            usleep(100 * 1000);
        bool ended = ch.pid == 0;
        if (seal(&f, start, sizeof(start), &e) != 0) {
            log_error("binlog-follow source=%s: %s", source, e.msg);
            cf_err_clear(&e);
        }
        if (ended && !stop_asked) {
            struct buf err = BUF_INIT;
            src_child_stderr(&ch, 400, &err);
            log_warn("binlog-follow source=%s: mariadb-binlog ended (%s); starting again at %s "
                     "in %us", source, err.len ? err.data : "no message",
                     start[0] ? start : "the oldest file not archived", pause_s);
            buf_free(&err);
            src_child_kill(&ch);
            memset(&ch, 0, sizeof(ch));
            for (unsigned i = 0; i < pause_s * 10 && !stop_asked; i++)
                usleep(100 * 1000);
            pause_s = pause_s < 16 ? pause_s * 2 : 30;
        } else if (!ended) {
            pause_s = 1;
        }
    }
    /* stopped: seal what is there while the child still runs, then stop it */
    if (seal(&f, start, sizeof(start), &e) != 0)
        goto fail;
    log_info("binlog-follow stop source=%s: sealed", source);
    rc = EXIT_OK;
    goto out;
fail:
    rc = cli_fail("backupd", &e);
out:
    src_child_kill(&ch);
    if (dir) {
        struct cf_err re = CF_ERR_INIT;
        if (fs_remove_tree(dir, &re) != 0)
            log_warn("binlog-follow: %s", re.msg);
    }
    free(sealdir);
    free(dir);
    db_secret_file_remove(optfile);
    repo_close(r);
    binlog_source_close(&b);
    return rc;
}

/* backupd_superv.c - the archivers' supervisor (see backupd_superv.h).
 *
 * Backoff: an archiver that exits after running SUPERV_STABLE seconds or more restarts after
 * 1 s; one that exits sooner waits 2, 4, 8 ... s, at most SUPERV_BACKOFF_MAX, so that a
 * follower whose server is down does not spin. SUPERV_LOOP_N restarts within
 * SUPERV_LOOP_WINDOW is a restart loop: logged as an error once when it begins, shown by
 * `status` and `coffer_daemon_archiver_restart_loop`, and cleared once a process runs stably. */
#include "backupd_superv.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/db/db_binlog.h"
#include "../lib/validate/validate.h"
#include "../lib/core/log.h"
#include "../lib/core/util.h"

static char **argv_dup(char *const argv[])
{
    size_t n = 0;
    while (argv[n] != NULL)
        n++;
    char **v = cf_calloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = cf_strdup(argv[i]);
    return v;
}

static bool argv_same(char *const *a, char *const *b)
{
    for (; *a && *b; a++, b++)
        if (strcmp(*a, *b) != 0)
            return false;
    return *a == NULL && *b == NULL;
}

static void archiver_clear(struct archiver *a)
{
    for (size_t i = 0; a->argv && a->argv[i]; i++)
        free(a->argv[i]);
    free(a->argv);
    free(a->name);
    free(a->tmpdir);
    free(a->statefile);
}

/* empty the archiver's TMPDIR (a process that was killed cleaned nothing), and make it anew
 * when @make; false when that fails (logged) */
static bool tmpdir_reset(const struct archiver *a, bool make)
{
    struct cf_err e = CF_ERR_INIT;
    if (a->tmpdir == NULL)
        return true;
    if (fs_remove_tree(a->tmpdir, &e) != 0 || (make && fs_mkdir_p(a->tmpdir, 0700, &e) != 0)) {
        log_error("archiver %s: its temporary directory: %s", a->name, e.msg);
        return false;
    }
    return true;
}

void superv_add(struct superv *s, const char *name, char *const argv[])
{
    s->a = cf_realloc(s->a, (s->n + 1) * sizeof(*s->a));
    struct archiver *a = &s->a[s->n++];
    memset(a, 0, sizeof(*a));
    a->name = cf_strdup(name);
    a->argv = argv_dup(argv);
}

void superv_from_conf(struct superv *s, const struct conf *c, const char *self,
                      const char *config_path)
{
    struct daemon_opts o;
    const char *runtime_dir =
        daemon_opts_read(c, &o, NULL) == 0 ? o.runtime_dir : DAEMON_RUNTIME_DIR;

    for (size_t i = 0; i < c->nsources; i++) {
        const struct ini_section *src = c->sources[i];
        const struct ini_kv *type = ini_kv_find(src, "type");
        struct db_binlog_conf bc;
        /* the keys' one reader; the configuration was validated, so it does not fail */
        if (type == NULL || strcmp(type->value, "mariadb") != 0 ||
            db_binlog_conf_load(src, &bc, NULL) != 0 || !bc.archive ||
            bc.mode != DB_BINLOG_FOLLOW)
            continue;
        char *name = cf_asprintf("binlog-follow %s", src->name);
        char *const argv[] = { (char *)self, "--config", (char *)config_path, "binlog-follow",
                               (char *)src->name, NULL };
        superv_add(s, name, argv);
        s->a[s->n - 1].tmpdir = cf_asprintf("%s/archivers/binlog-follow-%s", runtime_dir,
                                            src->name);
        s->a[s->n - 1].statefile = cf_asprintf("%s/state.json", s->a[s->n - 1].tmpdir);
        free(name);
    }
}

void superv_replace(struct superv *s, struct superv *next)
{
    for (size_t i = 0; i < next->n; i++)
        for (size_t k = 0; k < s->n; k++) {
            struct archiver *old = &s->a[k], *nw = &next->a[i];
            if (old->gone || strcmp(old->name, nw->name) != 0 || !argv_same(old->argv, nw->argv))
                continue;
            /* the same archiver: its process and history go on */
            char *name = nw->name, *tmpdir = nw->tmpdir, *statefile = nw->statefile;
            char **argv = nw->argv;
            *nw = *old;
            nw->name = name;
            nw->argv = argv;
            nw->tmpdir = tmpdir;
            nw->statefile = statefile;
            old->pid = 0;
            old->gone = true;
        }
    /* what is left of @s is no longer wanted: stopped, kept until it exits */
    for (size_t k = 0; k < s->n; k++) {
        struct archiver *old = &s->a[k];
        if (old->pid == 0) {
            archiver_clear(old);
            continue;
        }
        if (!old->gone)
            log_info("archiver %s stopped: no longer in the configuration", old->name);
        kill(old->pid, SIGTERM);
        old->gone = true;
        next->a = cf_realloc(next->a, (next->n + 1) * sizeof(*next->a));
        next->a[next->n++] = *old;
    }
    free(s->a);
    *s = *next;
    memset(next, 0, sizeof(*next));
}

void superv_start_due(struct superv *s, time_t now)
{
    for (size_t i = 0; i < s->n; i++) {
        struct archiver *a = &s->a[i];
        pid_t parent = getpid(), pid;
        if (a->gone || a->pid != 0 || a->restart_at > now)
            continue;
        if (!tmpdir_reset(a, true)) {
            a->restart_at = now + 5;
            continue;
        }
        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid < 0) {
            log_error("archiver %s not started: fork: %s", a->name, strerror(errno));
            a->restart_at = now + 1;
            continue;
        }
        if (pid == 0) {
            sigset_t none;
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, NULL);
            signal(SIGTERM, SIG_DFL);
            signal(SIGINT, SIG_DFL);
            signal(SIGHUP, SIG_DFL);
            signal(SIGCHLD, SIG_DFL);
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() != parent)
                _exit(127);
            if (a->tmpdir != NULL)
                setenv("TMPDIR", a->tmpdir, 1);
            if (a->statefile != NULL)
                setenv(SUPERV_STATE_ENV, a->statefile, 1);
            execv(a->argv[0], a->argv);
            fprintf(stderr, "backupd: error: archiver %s: unable to run %s: %s\n", a->name,
                    a->argv[0], strerror(errno));
            _exit(127);
        }
        a->pid = pid;
        a->started = now;
        log_info("archiver %s started pid=%ld", a->name, (long)pid);
    }
}

bool superv_reaped(struct superv *s, pid_t pid, int status, time_t now)
{
    for (size_t i = 0; i < s->n; i++) {
        struct archiver *a = &s->a[i];
        if (a->pid != pid)
            continue;
        a->pid = 0;
        if (WIFEXITED(status))
            snprintf(a->last_exit, sizeof(a->last_exit), "exit %d", WEXITSTATUS(status));
        else
            snprintf(a->last_exit, sizeof(a->last_exit), "signal %d", WTERMSIG(status));
        tmpdir_reset(a, false);
        if (a->gone) {
            archiver_clear(a);
            s->a[i] = s->a[--s->n];
            return true;
        }
        if (now - a->started >= SUPERV_STABLE) {
            a->quick_exits = 0;
            if (a->looping)
                log_info("archiver %s ran %lld s: no longer in a restart loop", a->name,
                         (long long)(now - a->started));
            a->looping = false;
        } else if (a->quick_exits < 30) {
            a->quick_exits++;
        }
        time_t wait = 1;
        for (unsigned k = 0; k < a->quick_exits && wait < SUPERV_BACKOFF_MAX; k++)
            wait *= 2;
        if (wait > SUPERV_BACKOFF_MAX)
            wait = SUPERV_BACKOFF_MAX;
        a->restart_at = now + wait;
        a->recent[a->restarts % SUPERV_LOOP_N] = now;
        a->restarts++;
        log_warn("archiver %s ended (%s) after %lld s: restart in %lld s (restart %lu)", a->name,
                 a->last_exit, (long long)(now - a->started), (long long)wait, a->restarts);
        /* the oldest of the last SUPERV_LOOP_N restarts within the window: a loop */
        if (!a->looping && a->restarts >= SUPERV_LOOP_N &&
            now - a->recent[a->restarts % SUPERV_LOOP_N] <= SUPERV_LOOP_WINDOW) {
            a->looping = true;
            log_error("archiver %s is in a restart loop: %d restarts in %lld s, last %s "
                      "(HINT: its own messages above say why; backupd status shows it)",
                      a->name, SUPERV_LOOP_N,
                      (long long)(now - a->recent[a->restarts % SUPERV_LOOP_N]), a->last_exit);
        }
        return true;
    }
    return false;
}

time_t superv_wait(const struct superv *s, time_t now, time_t cap)
{
    time_t w = cap;
    for (size_t i = 0; i < s->n; i++)
        if (!s->a[i].gone && s->a[i].pid == 0 && s->a[i].restart_at - now < w)
            w = s->a[i].restart_at - now;
    return w < 0 ? 0 : w;
}

size_t superv_running(const struct superv *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += s->a[i].pid != 0;
    return n;
}

void superv_signal(const struct superv *s, int sig)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->a[i].pid != 0)
            kill(s->a[i].pid, sig);
}

void superv_lag(const struct archiver *a, time_t now, struct archiver_lag *l)
{
    memset(l, 0, sizeof(*l));
    if (a->statefile != NULL) {
        json_t *o = json_load_file(a->statefile, 0, NULL);
        l->newest_event = (time_t)json_integer_value(json_object_get(o, "newest_event"));
        l->sealed = (time_t)json_integer_value(json_object_get(o, "sealed"));
        json_decref(o);
    }
    if (l->newest_event > 0) {
        l->lag = now - l->newest_event;
        l->known = true;
    } else if (a->pid != 0) {
        l->lag = now - a->started;
        l->known = true;
    }
    if (l->lag < 0)
        l->lag = 0;
}

const char *superv_state(const struct archiver *a)
{
    return a->pid != 0 ? "running" : a->gone ? "stopped" : "waiting";
}

void superv_free(struct superv *s)
{
    for (size_t i = 0; i < s->n; i++)
        archiver_clear(&s->a[i]);
    free(s->a);
    memset(s, 0, sizeof(*s));
}

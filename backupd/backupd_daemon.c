/* backupd_daemon.c - `backupd daemon`: each job at its schedule, at most max-jobs at once.
 *
 * Each run is a child process of the daemon running backupd_job_run(), exactly what a
 * one-shot `backupd run JOB` does (per-source lock, attempt in the index, notifications,
 * textfile). Processes rather than threads: a run holds a whole pipeline of threads, libraries
 * with process-wide state (libcurl, the database clients) and a working directory that restore
 * code changes; a process can be stopped at the end of the grace period without leaving the
 * daemon in an unknown state, and what a killed run leaves is what a killed `backupd run`
 * leaves (nothing listed; debris swept by prune; its lease stale once its pid is gone). The
 * children die with the daemon (PR_SET_PDEATHSIG), so a crashed daemon leaves no run behind.
 *
 * The daemon's own work is one thread waiting on a self-pipe fed by the signal handlers
 * (SIGTERM, SIGINT, SIGHUP, SIGCHLD) with a timeout until the next start; the metrics server
 * (libmicrohttpd) answers from a thread of its own under the state's mutex. */
#include "backupd.h"
#include "backupd_daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/catalog/cat_health.h"
#include "../lib/catalog/cat_index.h"
#include "../lib/core/cli.h"
#include "../lib/core/log.h"
#include "../lib/core/util.h"
#include "../lib/metrics/metrics.h"

#define KILL_AFTER 10   /* seconds between SIGTERM and SIGKILL to a run at the grace's end */

static int sig_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
    char c = sig == SIGHUP ? 'H' : sig == SIGCHLD ? 'C' : 'T';
    int saved = errno;
    if (write(sig_pipe[1], &c, 1) < 0) {
        /* the pipe is full: a wakeup is already pending */
    }
    errno = saved;
}

static int signals_setup(struct cf_err *e)
{
    struct sigaction sa;
    const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };

    if (pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) != 0)
        return cf_err_sys(e, CF_E_IO, "unable to create the signal pipe");
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        if (sigaction(sigs[i], &sa, NULL) != 0)
            return cf_err_sys(e, CF_E_IO, "unable to set a signal handler");
    return 0;
}

static void djob_clear(struct djob *j)
{
    free(j->name);
    tz_free(j->tz);
    memset(j, 0, sizeof(*j));
}

/* when @j starts next: the schedule's next fire after @now plus a random delay up to jitter */
static void djob_plan(struct djob *j, time_t now)
{
    struct cf_err e = CF_ERR_INIT;

    j->fire = j->next = 0;
    if (!j->has_sched)
        return;
    if (schedule_next(&j->sched, j->tz, now, &j->fire, &e) != 0) {
        log_error("job %s will not run: %s", j->name, e.msg);
        return;
    }
    j->next = j->fire;
    if (j->jitter > 0)
        j->next += (time_t)arc4random_uniform((uint32_t)(j->jitter + 1));
}

/* @j's schedule, zone and jitter from [job] of @c */
static int djob_read(const struct conf *c, const struct conf_job *cj, struct djob *j,
                     struct cf_err *e)
{
    const char *text, *tz;

    j->name = cf_strdup(cj->name);
    if (ini_get_str(cj->sec, "schedule", NULL, &text, e) != 0 ||
        ini_get_str(cj->sec, "timezone", "", &tz, e) != 0 ||
        ini_get_duration(cj->sec, "jitter", 0, &j->jitter, e) != 0)
        return -1;
    (void)c;
    snprintf(j->tzname, sizeof(j->tzname), "%s", tz);
    if (text == NULL)
        return 0;
    if (schedule_parse(text, &j->sched, e) != 0 || tz_open(tz, &j->tz, e) != 0)
        return cf_err_ctx(e, "job %s", cj->name);
    j->has_sched = true;
    return 0;
}

/* the newest attempt of @j's sources in the index: for the catch-up and for status */
static void djob_last_from_index(const struct conf *c, struct djob *j)
{
    const struct conf_job *cj = conf_job(c, j->name);
    struct cf_err e = CF_ERR_INIT;
    struct cat_index *x = NULL;
    const char *path;
    bool fresh, all_ok = true;

    if (cj == NULL || cat_index_path(c, &path, &e) != 0 ||
        cat_index_open(path, &x, &fresh, &e) != 0) {
        log_warn("last run of job %s unknown: %s", j->name, e.msg);
        return;
    }
    for (size_t i = 0; i < cj->nsources; i++) {
        struct cat_attempts at;
        if (cat_index_attempts(x, cj->sources[i], j->name, &at, &e) != 0) {
            log_warn("last run of job %s unknown: %s", j->name, e.msg);
            break;
        }
        if (at.have_last) {
            if (!j->have_last || at.last.started > j->last_started)
                j->last_started = at.last.started;
            if (!j->have_last || at.last.finished > j->last_finished)
                j->last_finished = at.last.finished;
            j->have_last = true;
            all_ok = all_ok && at.last.ok;
        }
        cat_attempt_clear(&at.last);
    }
    if (j->have_last)
        j->last_result = all_ok ? "ok" : "failed";
    cat_index_close(x);
}

/* the jobs of @c into @out; @old (the jobs before a reload, or NULL) keeps its runs */
static int jobs_load(const struct conf *c, struct dstate *old, struct djob **out, size_t *n,
                     time_t now, struct cf_err *e)
{
    struct djob *v = cf_calloc(c->njobs + (old ? old->njobs : 0) + 1, sizeof(*v));
    size_t k = 0;

    for (; k < c->njobs; k++)
        if (djob_read(c, &c->jobs[k], &v[k], e) != 0)
            goto fail;
    /* all read: only now do the runs under way move over */
    for (size_t i = 0; i < c->njobs; i++) {
        struct djob *j = &v[i], *was = NULL;
        for (size_t m = 0; old && m < old->njobs; m++)
            if (!old->jobs[m].gone && strcmp(old->jobs[m].name, j->name) == 0)
                was = &old->jobs[m];
        if (was != NULL) {
            j->pid = was->pid;
            j->run_started = was->run_started;
            j->due = was->due;
            j->skipped = was->skipped;
            j->have_last = was->have_last;
            j->last_started = was->last_started;
            j->last_finished = was->last_finished;
            j->last_result = was->last_result;
            was->pid = 0;
        } else {
            djob_last_from_index(c, j);
        }
        djob_plan(j, now);
        if (was != NULL && was->has_sched && j->has_sched && was->jitter == j->jitter &&
            strcmp(was->sched.text, j->sched.text) == 0 && strcmp(was->tzname, j->tzname) == 0)
            j->next = was->next;   /* the same plan: the same jitter draw */
    }
    /* a run of a job the new file no longer has goes on to its end */
    for (size_t m = 0; old && m < old->njobs; m++)
        if (old->jobs[m].pid != 0) {
            v[k] = old->jobs[m];
            v[k].gone = true;
            v[k].has_sched = false;
            v[k].next = v[k].fire = 0;
            v[k].due = false;
            old->jobs[m].name = NULL;
            old->jobs[m].tz = NULL;
            k++;
        }
    *out = v;
    *n = k;
    return 0;
fail:
    for (size_t i = 0; i <= k; i++)
        djob_clear(&v[i]);
    free(v);
    return -1;
}

static void jobs_free(struct djob *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        djob_clear(&v[i]);
    free(v);
}

/* a missed run (systemd's Persistent=true): a fire time between the job's last attempt and
 * now means the daemon was down when it came; one run makes up for any number missed */
static void catch_up(struct dstate *d, time_t now)
{
    for (size_t i = 0; i < d->njobs; i++) {
        struct djob *j = &d->jobs[i];
        time_t missed;
        struct cf_err e = CF_ERR_INIT;
        if (!j->has_sched || !j->have_last ||
            schedule_next(&j->sched, j->tz, j->last_started, &missed, &e) != 0 || missed > now)
            continue;
        char at[32];
        time_format_rfc3339(missed, at, sizeof(at));
        log_info("job %s missed its run at %s while the daemon was down: running it now",
                 j->name, at);
        j->due = true;
    }
}

static size_t running(const struct dstate *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->njobs; i++)
        n += d->jobs[i].pid != 0;
    return n;
}

static void run_start(struct dstate *d, struct djob *j)
{
    pid_t parent = getpid(), pid;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        log_error("job %s not started: fork: %s", j->name, strerror(errno));
        return;
    }
    if (pid == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_DFL;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        sigaction(SIGCHLD, &sa, NULL);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(EXIT_FAILED);
        close(sig_pipe[0]);
        close(sig_pipe[1]);
        if (d->lock_fd >= 0)
            close(d->lock_fd);   /* the daemon's lock is the daemon's alone */
        time_t since = time(NULL);
        int rc = backupd_job_run(d->c, j->name);
        if (backupd_job_verify(d->c, j->name, since) != EXIT_OK && rc == EXIT_OK)
            rc = EXIT_FAILED;
        int prc = backupd_job_prune(d->c, j->name);
        if (prc != EXIT_OK && prc != EXIT_PARTIAL && rc == EXIT_OK)
            rc = EXIT_FAILED;   /* a source skipped because it was locked is no failure */
        fflush(stdout);
        fflush(stderr);
        _exit(rc);
    }
    j->pid = pid;
    j->run_started = time(NULL);
    j->due = false;
    log_info("job %s started pid=%ld", j->name, (long)pid);
}

/* a run killed at the end of the grace recorded nothing: its sources get a failed attempt */
static void run_aborted(const struct dstate *d, const struct djob *j)
{
    const struct conf_job *cj = conf_job(d->c, j->name);
    for (size_t i = 0; cj != NULL && i < cj->nsources; i++) {
        struct backupd_outcome o = {
            .source = cj->sources[i], .started = j->run_started,
            .ms = (uint64_t)(time(NULL) - j->run_started) * 1000,
            .error = "aborted: the daemon was stopped and the run outlasted its stop-grace",
        };
        backupd_attempt(d->c, j->name, &o);
    }
}

static void reap(struct dstate *d)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        pthread_mutex_lock(&d->mu);
        bool archiver = superv_reaped(&d->sv, pid, status, time(NULL));
        pthread_mutex_unlock(&d->mu);
        if (archiver)
            continue;
        for (size_t i = 0; i < d->njobs; i++) {
            struct djob *j = &d->jobs[i];
            if (j->pid != pid)
                continue;
            pthread_mutex_lock(&d->mu);
            j->pid = 0;
            j->have_last = true;
            j->last_started = j->run_started;
            j->last_finished = time(NULL);
            if (WIFEXITED(status)) {
                int rc = WEXITSTATUS(status);
                j->last_result = rc == EXIT_OK ? "ok" : rc == EXIT_PARTIAL ? "partial" : "failed";
                log_info("job %s finished result=%s exit=%d s=%lld", j->name, j->last_result,
                         rc, (long long)(j->last_finished - j->last_started));
            } else {
                j->last_result = "aborted";
                log_warn("job %s aborted by signal %d s=%lld", j->name, WTERMSIG(status),
                         (long long)(j->last_finished - j->last_started));
                run_aborted(d, j);
            }
            if (j->gone) {
                djob_clear(j);
                d->jobs[i] = d->jobs[--d->njobs];
            }
            pthread_mutex_unlock(&d->mu);
            break;
        }
    }
}

/* the new configuration in force, or -1 with @e and the one loaded before kept */
static int reload_conf(struct dstate *d, struct cf_err *e)
{
    struct conf *nc = NULL;
    struct daemon_opts o;
    struct djob *v = NULL;
    size_t n = 0;

    if (validate_load(d->config_path, &nc, e) != 0 || daemon_opts_read(nc, &o, e) != 0) {
        conf_free(nc);
        return -1;
    }
    /* jobs_load() moves the runs under way out of d->jobs: under the lock from here */
    pthread_mutex_lock(&d->mu);
    if (jobs_load(nc, d, &v, &n, time(NULL), e) != 0) {
        pthread_mutex_unlock(&d->mu);
        conf_free(nc);
        return -1;
    }
    if (strcmp(o.runtime_dir, d->rundir) != 0)
        log_warn("runtime-dir changed: it takes effect when the daemon restarts");
    struct superv next = { .n = 0 };
    superv_from_conf(&next, nc, d->self, d->config_path);
    superv_replace(&d->sv, &next);
    jobs_free(d->jobs, d->njobs);
    d->jobs = v;
    d->njobs = n;
    conf_free(d->c);
    d->c = nc;
    d->o = o;
    pthread_mutex_unlock(&d->mu);
    return 0;
}

static void reload(struct dstate *d)
{
    struct cf_err e = CF_ERR_INIT;

    log_info("reloading the configuration %s", d->config_path);
    bool ok = reload_conf(d, &e) == 0;
    pthread_mutex_lock(&d->mu);
    d->reload_ok = ok;
    pthread_mutex_unlock(&d->mu);
    /* status says it before the log does: who reads the outcome in the log finds it there */
    dstate_write(d);
    if (ok)
        log_info("configuration reloaded jobs=%zu max-jobs=%ld", d->njobs, d->o.max_jobs);
    else
        log_error("configuration reload refused, the one loaded before stays in force: %s",
                  e.msg);
}

/* the metrics server's body: the textfile's metrics, then the daemon's own */
static void metrics_body(void *arg, struct buf *out)
{
    struct dstate *d = arg;
    struct cf_err e = CF_ERR_INIT;

    pthread_mutex_lock(&d->mu);
    struct metrics_daemon_job *mj = cf_calloc(d->njobs + 1, sizeof(*mj));
    struct metrics_daemon md = { d->started, d->reload_ok, mj, 0, NULL, 0 };
    for (size_t i = 0; i < d->njobs; i++) {
        if (d->jobs[i].gone)
            continue;
        mj[md.njobs].job = d->jobs[i].name;
        mj[md.njobs].running = d->jobs[i].pid != 0;
        mj[md.njobs].next = d->jobs[i].next;
        mj[md.njobs++].skipped = d->jobs[i].skipped;
    }
    struct metrics_daemon_archiver *ma = cf_calloc(d->sv.n + 1, sizeof(*ma));
    for (size_t i = 0; i < d->sv.n; i++) {
        struct archiver_lag l;
        if (d->sv.a[i].gone)
            continue;
        superv_lag(&d->sv.a[i], time(NULL), &l);
        ma[md.narchivers++] = (struct metrics_daemon_archiver){
            d->sv.a[i].name, d->sv.a[i].pid != 0, d->sv.a[i].restarts, d->sv.a[i].looping,
            l.known, l.lag };
    }
    md.archivers = ma;
    if (backupd_metrics_text(d->c, out, &e) != 0)
        log_warn("metrics of the catalog index not served: %s", e.msg);
    metrics_format_daemon(&md, out);
    pthread_mutex_unlock(&d->mu);
    free(ma);
    free(mj);
}

/* one pass: start what is due, as slots allow; the seconds until something is due */
static time_t schedule_pass(struct dstate *d, time_t now)
{
    time_t wait = 60;

    pthread_mutex_lock(&d->mu);

    for (size_t i = 0; i < d->njobs; i++) {
        struct djob *j = &d->jobs[i];
        if (j->next == 0 || now < j->next)
            continue;
        if (j->pid != 0 || j->due) {
            j->skipped++;
            log_warn("job %s: its run at this fire time passed over, the previous one is still "
                     "%s", j->name, j->pid ? "running" : "waiting for a free slot");
        } else {
            j->due = true;
        }
        djob_plan(j, now);
    }
    for (size_t i = 0; i < d->njobs && running(d) < (size_t)d->o.max_jobs; i++)
        if (d->jobs[i].due && d->jobs[i].pid == 0)
            run_start(d, &d->jobs[i]);
    for (size_t i = 0; i < d->njobs; i++)
        if (d->jobs[i].next != 0 && d->jobs[i].next - now < wait)
            wait = d->jobs[i].next - now;
    superv_start_due(&d->sv, now);
    wait = superv_wait(&d->sv, now, wait);
    /* the state file shows the archivers' lag: kept fresh while one runs */
    if (superv_running(&d->sv) > 0 && wait > DSTATE_ARCHIVER_REFRESH)
        wait = DSTATE_ARCHIVER_REFRESH;
    pthread_mutex_unlock(&d->mu);
    return wait < 1 ? 1 : wait;
}

static int lock_runtime(const struct dstate *d, int *fd, struct cf_err *e)
{
    char *path = cf_asprintf("%s/%s", d->rundir, DSTATE_LOCK);
    int rc = -1;

    if (fs_mkdir_p(d->rundir, 0755, e) != 0)
        goto out;
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (*fd < 0) {
        cf_err_sys(e, CF_E_IO, "unable to open '%s'", path);
        goto out;
    }
    /* an flock dies with its process: a crashed daemon leaves nothing that blocks a restart */
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        cf_err_set(e, errno == EWOULDBLOCK ? CF_E_LOCKED : CF_E_IO,
                   "another backupd daemon runs with runtime-dir %s (HINT: backupd status "
                   "shows it; stop it first)", d->rundir);
        close(*fd);
        *fd = -1;
        goto out;
    }
    rc = 0;
out:
    free(path);
    return rc;
}

int backupd_daemon(const char *config_path, struct conf *c)
{
    struct dstate d = { .config_path = config_path, .c = c, .reload_ok = true, .lock_fd = -1 };
    struct cf_err e = CF_ERR_INIT;
    struct metrics_http *http = NULL;
    const char *listen;
    int rc = EXIT_FAILED;
    time_t deadline = 0, kill_at = 0;
    bool termed = false;

    pthread_mutex_init(&d.mu, NULL);
    d.started = time(NULL);
    if (daemon_opts_read(c, &d.o, &e) != 0)
        goto fail;
    d.rundir = cf_strdup(d.o.runtime_dir);
    d.self = realpath("/proc/self/exe", NULL);
    if (d.self == NULL)
        d.self = cf_strdup("backupd");
    superv_from_conf(&d.sv, c, d.self, config_path);
    if (lock_runtime(&d, &d.lock_fd, &e) != 0 ||
        jobs_load(c, NULL, &d.jobs, &d.njobs, d.started, &e) != 0 || signals_setup(&e) != 0)
        goto fail;
    if (metrics_listen_get(c->metrics, &listen, &e) != 0 ||
        (listen != NULL && metrics_http_start(listen, metrics_body, &d, &http, &e) != 0))
        goto fail;
    log_info("daemon started pid=%ld jobs=%zu max-jobs=%ld archivers=%zu metrics=%s",
             (long)getpid(), d.njobs, d.o.max_jobs, d.sv.n, listen ? listen : "off");
    catch_up(&d, d.started);

    for (;;) {
        time_t now = time(NULL), wait;
        char sig;
        while (read(sig_pipe[0], &sig, 1) == 1) {
            if (sig == 'H' && !d.stopping)
                reload(&d);
            else if (sig == 'T' && !d.stopping) {
                d.stopping = true;
                deadline = now + (time_t)d.o.stop_grace;
                log_info("stopping: no new runs; %zu running get up to %lld s; archivers "
                         "stopped", running(&d), (long long)d.o.stop_grace);
                /* an archiver holds no backup: it stops now (and is killed with the runs) */
                superv_signal(&d.sv, SIGTERM);
            }
        }
        reap(&d);
        if (d.stopping) {
            if (running(&d) == 0 && superv_running(&d.sv) == 0)
                break;
            if (running(&d) == 0 && !termed) {   /* only archivers left: they get KILL_AFTER */
                deadline = now;
            }
            if (now >= deadline && !termed) {
                for (size_t i = 0; i < d.njobs; i++)
                    if (d.jobs[i].pid) {
                        log_warn("job %s outlasted the stop-grace: aborting it", d.jobs[i].name);
                        kill(d.jobs[i].pid, SIGTERM);
                    }
                termed = true;
                kill_at = now + KILL_AFTER;
            } else if (termed && now >= kill_at) {
                for (size_t i = 0; i < d.njobs; i++)
                    if (d.jobs[i].pid)
                        kill(d.jobs[i].pid, SIGKILL);
                superv_signal(&d.sv, SIGKILL);
            }
            wait = 1;
        } else {
            wait = schedule_pass(&d, now);
        }
        dstate_write(&d);
        struct pollfd p = { .fd = sig_pipe[0], .events = POLLIN };
        if (poll(&p, 1, (int)wait * 1000) < 0 && errno != EINTR) {
            cf_err_sys(&e, CF_E_IO, "poll");
            goto fail;
        }
    }
    log_info("daemon stopped");
    rc = EXIT_OK;
    goto out;
fail:
    fprintf(stderr, "backupd: error: %s\n", e.msg);
    log_error("daemon: %s", e.msg);
    rc = cli_exit_code(&e);
out:
    metrics_http_stop(http);
    if (d.lock_fd >= 0)
        dstate_remove(&d);
    jobs_free(d.jobs, d.njobs);
    superv_free(&d.sv);
    free(d.self);
    conf_free(d.c);
    if (d.lock_fd >= 0)
        close(d.lock_fd);
    pthread_mutex_destroy(&d.mu);
    free(d.rundir);
    return rc;
}

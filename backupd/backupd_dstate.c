/* backupd_dstate.c - the daemon's state file and `backupd status`.
 *
 * The daemon rewrites RUNTIME/daemon.json atomically (lib/core/afile.h) whenever something
 * changes, and holds an flock on RUNTIME/daemon.lock while it runs. `status` takes the lock
 * first: when it can, no daemon runs (whatever an old state file says, say after a kill -9),
 * and it says so; otherwise it prints the state file. The file holds job names, schedules and
 * times: nothing secret (mode 0644). */
#include "backupd.h"
#include "backupd_daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "../lib/catalog/cat_ctx.h"
#include "../lib/core/cli.h"
#include "../lib/core/log.h"
#include "../lib/core/util.h"

void dstate_write(const struct dstate *d)
{
    struct cf_err e = CF_ERR_INIT;
    json_t *root, *jobs = json_array();
    char *text, *path = cf_asprintf("%s/%s", d->rundir, DSTATE_FILE);

    for (size_t i = 0; i < d->njobs; i++) {
        const struct djob *j = &d->jobs[i];
        json_t *o = json_pack(
            "{s:s, s:s?, s:s, s:b, s:o, s:o, s:s?, s:o, s:o, s:I}", "job", j->name, "schedule",
            j->has_sched ? j->sched.text : NULL, "timezone", j->tzname[0] ? j->tzname : "UTC",
            "running", j->pid != 0, "run_started", cat_json_time(j->pid ? j->run_started : 0),
            "next_run", cat_json_time(j->next), "last_result",
            j->have_last ? j->last_result : NULL, "last_started",
            cat_json_time(j->have_last ? j->last_started : 0), "last_finished",
            cat_json_time(j->have_last ? j->last_finished : 0), "skipped",
            (json_int_t)j->skipped);
        if (j->have_last)
            json_object_set_new(o, "last_duration_seconds",
                                json_integer((json_int_t)(j->last_finished - j->last_started)));
        if (j->gone)
            json_object_set_new(o, "removed", json_true());
        json_array_append_new(jobs, o);
    }
    json_t *arch = json_array();
    for (size_t i = 0; i < d->sv.n; i++) {
        const struct archiver *a = &d->sv.a[i];
        struct archiver_lag l;
        superv_lag(a, time(NULL), &l);
        json_array_append_new(
            arch, json_pack("{s:s, s:s, s:I, s:I, s:b, s:s?, s:o, s:o, s:o, s:o}", "archiver",
                            a->name, "state", superv_state(a), "pid", (json_int_t)a->pid,
                            "restarts", (json_int_t)a->restarts, "restart_loop", a->looping,
                            "last_exit", a->last_exit[0] ? a->last_exit : NULL, "started",
                            cat_json_time(a->pid ? a->started : 0), "newest_event",
                            cat_json_time(l.newest_event), "sealed", cat_json_time(l.sealed),
                            "lag_seconds", l.known ? json_integer(l.lag) : json_null()));
    }
    root = json_pack("{s:I, s:s, s:o, s:b, s:b, s:I, s:I, s:o, s:o}", "pid", (json_int_t)getpid(),
                     "config", d->config_path, "started", cat_json_time(d->started), "stopping",
                     d->stopping, "last_reload_ok", d->reload_ok, "max_jobs",
                     (json_int_t)d->o.max_jobs, "stop_grace_seconds", (json_int_t)d->o.stop_grace,
                     "jobs", jobs, "archivers", arch);
    text = json_dumps(root, JSON_INDENT(2));
    if (text == NULL || fs_write_file_atomic(path, text, strlen(text), 0644, &e) != 0)
        log_warn("daemon state not written to %s: %s", path, text ? e.msg : "out of memory");
    free(text);
    json_decref(root);
    free(path);
}

void dstate_remove(const struct dstate *d)
{
    char *path = cf_asprintf("%s/%s", d->rundir, DSTATE_FILE);
    if (unlink(path) != 0 && errno != ENOENT)
        log_warn("unable to remove %s: %s", path, strerror(errno));
    free(path);
}

/* true when a daemon holds the lock of @dir */
static bool daemon_runs(const char *dir)
{
    char *path = cf_asprintf("%s/%s", dir, DSTATE_LOCK);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    bool runs = false;

    free(path);
    if (fd < 0)
        return false;
    if (flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK)
        runs = true;
    close(fd);
    return runs;
}

static const char *str_or(const json_t *o, const char *key, const char *def)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : def;
}

static void print_text(const json_t *root)
{
    const json_t *jobs = json_object_get(root, "jobs"), *j;
    size_t i;

    printf("daemon pid %lld, up since %s, %lld job(s) at once%s%s\n",
           (long long)json_integer_value(json_object_get(root, "pid")),
           str_or(root, "started", "?"),
           (long long)json_integer_value(json_object_get(root, "max_jobs")),
           json_is_true(json_object_get(root, "stopping")) ? ", stopping" : "",
           json_is_false(json_object_get(root, "last_reload_ok"))
               ? ", last reload refused (see the log)"
               : "");
    printf("%-16s %-16s %-22s %-22s %-8s %s\n", "JOB", "SCHEDULE", "NEXT RUN", "LAST RUN",
           "RESULT", "DURATION");
    json_array_foreach(jobs, i, j)
    {
        char dur[32] = "-";
        const json_t *d = json_object_get(j, "last_duration_seconds");
        bool run = json_is_true(json_object_get(j, "running"));
        if (d != NULL)
            snprintf(dur, sizeof(dur), "%lld s", (long long)json_integer_value(d));
        printf("%-16s %-16s %-22s %-22s %-8s %s%s%s\n", str_or(j, "job", "?"),
               str_or(j, "schedule", "(none)"), str_or(j, "next_run", "-"),
               str_or(j, "last_started", "-"), str_or(j, "last_result", "-"), dur,
               run ? ", running since " : "", run ? str_or(j, "run_started", "?") : "");
    }
    jobs = json_object_get(root, "archivers");
    if (json_array_size(jobs) == 0)
        return;
    printf("\n%-28s %-8s %-8s %-22s %-9s %s\n", "ARCHIVER", "STATE", "LAG", "NEWEST EVENT",
           "RESTARTS", "LAST EXIT");
    json_array_foreach(jobs, i, j)
    {
        char lag[32] = "-";
        const json_t *l = json_object_get(j, "lag_seconds");
        if (json_is_integer(l))
            snprintf(lag, sizeof(lag), "%lld s", (long long)json_integer_value(l));
        printf("%-28s %-8s %-8s %-22s %-9lld %s%s\n", str_or(j, "archiver", "?"),
               str_or(j, "state", "?"), lag, str_or(j, "newest_event", "-"),
               (long long)json_integer_value(json_object_get(j, "restarts")),
               str_or(j, "last_exit", "-"),
               json_is_true(json_object_get(j, "restart_loop")) ? " (RESTART LOOP)" : "");
    }
}

int backupd_status(const struct conf *c, bool json)
{
    struct cf_err e = CF_ERR_INIT;
    struct daemon_opts o;
    struct buf text = BUF_INIT;
    json_t *root = NULL;
    json_error_t je;
    char *path = NULL;
    int rc = EXIT_FAILED;

    if (daemon_opts_read(c, &o, &e) != 0)
        return cli_fail("backupd", &e);
    if (!daemon_runs(o.runtime_dir)) {
        fprintf(stderr, "backupd: no daemon running (runtime-dir %s; HINT: start it with "
                "`backupd daemon` or its service)\n", o.runtime_dir);
        return EXIT_FAILED;
    }
    path = cf_asprintf("%s/%s", o.runtime_dir, DSTATE_FILE);
    if (fs_read_file(path, 16 << 20, &text, &e) != 0 ||
        (root = json_loadb((const char *)text.data, text.len, 0, &je)) == NULL) {
        if (e.code == CF_E_OK)
            cf_err_set(&e, CF_E_IO, "%s: %s", path, je.text);
        rc = cli_fail("backupd", &e);
        goto out;
    }
    if (json) {
        char *s = json_dumps(root, JSON_INDENT(2));
        printf("%s\n", s ? s : "{}");
        free(s);
    } else {
        print_text(root);
    }
    rc = EXIT_OK;
out:
    json_decref(root);
    buf_free(&text);
    free(path);
    return rc;
}

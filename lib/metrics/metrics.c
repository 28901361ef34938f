/* metrics.c - the Prometheus text format and the textfile (see metrics.h). */
#include "metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../core/afile.h"
#include "../core/util.h"

const char *const metrics_keys[] = { "textfile-dir", "listen", NULL };

int metrics_check(const struct ini_section *s, struct cf_err *e)
{
    const char *dir;

    if (ini_get_str(s, "textfile-dir", NULL, &dir, e) != 0)
        return -1;
    if (dir != NULL && dir[0] != '/')
        return ini_err(s, "textfile-dir", e, "textfile-dir: '%s' is not an absolute path; "
                       "HINT: give the directory node_exporter's textfile collector reads, "
                       "e.g. /var/lib/prometheus/node-exporter", dir);
    return metrics_listen_check(s, e);
}

int metrics_textfile_dir(const struct conf *c, const char **dir, struct cf_err *e)
{
    *dir = NULL;
    return c->metrics ? ini_get_str(c->metrics, "textfile-dir", NULL, dir, e) : 0;
}

/* a label value with \, " and newline escaped */
static void put_label(struct buf *out, const char *name, const char *v)
{
    buf_printf(out, "%s=\"", name);
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            buf_printf(out, "\\%c", *v);
        else if (*v == '\n')
            buf_puts(out, "\\n");
        else
            buf_append(out, v, 1);
    }
    buf_puts(out, "\"");
}

static void family(struct buf *out, const char *name, const char *type, const char *help)
{
    buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(struct buf *out, const char *name, const char *job, const char *source,
                   double v)
{
    buf_puts(out, name);
    buf_puts(out, "{");
    if (job != NULL) {
        put_label(out, "job", job);
        buf_puts(out, ",");
    }
    put_label(out, "source", source);
    /* whole values as integers, never with an exponent */
    if (v == (double)(int64_t)v)
        buf_printf(out, "} %" PRId64 "\n", (int64_t)v);
    else
        buf_printf(out, "} %.3f\n", v);
}

/* the metrics of one job and source; @v returns whether it has a value and sets it */
struct bfam {
    const char *name, *type, *help;
    bool (*v)(const struct metrics_backup *b, double *out);
};
struct sfam {
    const char *name, *type, *help;
    bool (*v)(const struct metrics_source *s, double *out);
};

#define GETTER(fn, T, cond, expr)                                                          \
    static bool fn(const T *x, double *out)                                                 \
    {                                                                                       \
        *out = (double)(expr);                                                              \
        return (cond);                                                                      \
    }
GETTER(b_attempts, struct metrics_backup, true, x->attempts)
GETTER(b_failures, struct metrics_backup, true, x->failures)
GETTER(b_last_attempt, struct metrics_backup, x->have_attempt, x->last_attempt)
GETTER(b_last_ok, struct metrics_backup, x->have_attempt, x->last_ok ? 1 : 0)
GETTER(b_duration, struct metrics_backup, x->have_attempt, x->last_duration)
GETTER(b_success, struct metrics_backup, x->last_success != 0, x->last_success)
GETTER(b_in, struct metrics_backup, x->last_success != 0, x->bytes_in)
GETTER(b_stored, struct metrics_backup, x->last_success != 0, x->bytes_stored)
GETTER(s_rpo, struct metrics_source, x->rpo > 0, x->rpo)
GETTER(s_violation, struct metrics_source, x->rpo > 0, x->rpo_violated ? 1 : 0)
GETTER(s_newest, struct metrics_source, x->newest != 0, x->newest)
GETTER(s_backups, struct metrics_source, true, x->backups)
GETTER(s_stored, struct metrics_source, true, x->stored_bytes)
GETTER(s_verified, struct metrics_source, true, x->verified ? 1 : 0)
GETTER(s_verified_at, struct metrics_source, x->verified, x->verified_at)
GETTER(s_verify_ok, struct metrics_source, x->verified, x->verify_ok ? 1 : 0)
GETTER(s_arch_last, struct metrics_source, x->archive && x->archive_last, x->archive_last)
GETTER(s_arch_gaps, struct metrics_source, x->archive, x->archive_gaps)

/* every metric, as docs/METRICS.md lists them */
static const struct bfam bfams[] = {
    { "coffer_backup_attempts_total", "counter",
      "Attempts of backupd run to back up the source, committed or not.", b_attempts },
    { "coffer_backup_failures_total", "counter",
      "Attempts that failed (nothing committed).", b_failures },
    { "coffer_backup_last_attempt_timestamp_seconds", "gauge",
      "When the newest attempt finished, Unix time.", b_last_attempt },
    { "coffer_backup_last_attempt_success", "gauge",
      "1 when the newest attempt committed a backup, 0 when it failed.", b_last_ok },
    { "coffer_backup_last_duration_seconds", "gauge",
      "How long the newest attempt took.", b_duration },
    { "coffer_backup_last_success_timestamp_seconds", "gauge",
      "When the newest successful attempt finished, Unix time.", b_success },
    { "coffer_backup_last_input_bytes", "gauge",
      "Bytes read from the source by the newest successful attempt.", b_in },
    { "coffer_backup_last_stored_bytes", "gauge",
      "Bytes stored in the repository by the newest successful attempt.", b_stored },
};
static const struct sfam sfams[] = {
    { "coffer_source_rpo_seconds", "gauge",
      "The recovery point objective of the source.", s_rpo },
    { "coffer_source_rpo_violation", "gauge",
      "1 when the newest complete backup is older than the RPO (or there is none).",
      s_violation },
    { "coffer_source_newest_backup_timestamp_seconds", "gauge",
      "When the newest complete backup started, Unix time.", s_newest },
    { "coffer_source_backups", "gauge",
      "Complete backups of the source in the repository.", s_backups },
    { "coffer_source_stored_bytes", "gauge",
      "Bytes the complete backups of the source occupy in the repository.", s_stored },
    { "coffer_source_verified", "gauge",
      "1 when a backup of the source was ever verified, 0 when never.", s_verified },
    { "coffer_source_last_verify_timestamp_seconds", "gauge",
      "When the newest verify of a backup of the source ran, Unix time.", s_verified_at },
    { "coffer_source_last_verify_success", "gauge",
      "1 when the newest verify found the backup good, 0 when damaged.", s_verify_ok },
    { "coffer_archive_last_timestamp_seconds", "gauge",
      "What the log archive reaches: when its newest WAL segment was pushed, or its newest "
      "binlog event, Unix time.", s_arch_last },
    { "coffer_archive_gaps", "gauge",
      "Gaps in the log archive: runs of segments missing between two archived ones.",
      s_arch_gaps },
};

struct dfam {
    const char *name, *type, *help;
    bool (*v)(const struct metrics_drill *d, double *out);
};
GETTER(d_last, struct metrics_drill, x->have, x->last)
GETTER(d_ok, struct metrics_drill, x->have, x->ok ? 1 : 0)
GETTER(d_rto, struct metrics_drill, x->have, x->rto)
GETTER(d_overdue, struct metrics_drill, x->every, x->overdue ? 1 : 0)

static const struct dfam dfams[] = {
    { "coffer_drill_last_timestamp_seconds", "gauge",
      "When the newest restore drill finished, Unix time.", d_last },
    { "coffer_drill_last_success", "gauge",
      "1 when the newest restore drill passed, 0 when it failed.", d_ok },
    { "coffer_drill_rto_seconds", "gauge",
      "The recovery time the newest restore drill measured.", d_rto },
    { "coffer_drill_overdue", "gauge",
      "1 when the job had no restore drill within its drill-every.", d_overdue },
};

/* a drill's sample: labelled by its job, or by its source */
static void dsample(struct buf *out, const char *name, const struct metrics_drill *d, double v)
{
    if (d->job == NULL) {
        sample(out, name, NULL, d->source, v);
        return;
    }
    buf_printf(out, "%s{", name);
    put_label(out, "job", d->job);
    if (v == (double)(int64_t)v)
        buf_printf(out, "} %" PRId64 "\n", (int64_t)v);
    else
        buf_printf(out, "} %.3f\n", v);
}

void metrics_format(const struct metrics_set *m, struct buf *out)
{
    double v;

    for (size_t f = 0; f < sizeof(bfams) / sizeof(*bfams); f++) {
        family(out, bfams[f].name, bfams[f].type, bfams[f].help);
        for (size_t i = 0; i < m->nb; i++)
            if (bfams[f].v(&m->b[i], &v))
                sample(out, bfams[f].name, m->b[i].job, m->b[i].source, v);
    }
    for (size_t f = 0; f < sizeof(sfams) / sizeof(*sfams); f++) {
        family(out, sfams[f].name, sfams[f].type, sfams[f].help);
        for (size_t i = 0; i < m->ns; i++)
            if (sfams[f].v(&m->s[i], &v))
                sample(out, sfams[f].name, NULL, m->s[i].source, v);
    }
    /* the lag at the moment of writing (time() - coffer_archive_last_timestamp_seconds in a
     * rule is the live one) */
    family(out, "coffer_archive_lag_seconds", "gauge",
           "Age of the newest archived log segment when these metrics were written.");
    for (size_t i = 0; i < m->ns; i++)
        if (m->s[i].archive && m->s[i].archive_last)
            sample(out, "coffer_archive_lag_seconds", NULL, m->s[i].source,
                   m->generated > m->s[i].archive_last
                       ? (double)(m->generated - m->s[i].archive_last) : 0);
    for (size_t f = 0; f < sizeof(dfams) / sizeof(*dfams); f++) {
        family(out, dfams[f].name, dfams[f].type, dfams[f].help);
        for (size_t i = 0; i < m->nd; i++)
            if (dfams[f].v(&m->d[i], &v))
                dsample(out, dfams[f].name, &m->d[i], v);
    }
    family(out, "coffer_metrics_generated_timestamp_seconds", "gauge",
           "When these metrics were written, Unix time (an old value: no run since).");
    buf_printf(out, "coffer_metrics_generated_timestamp_seconds %" PRId64 "\n",
               (int64_t)m->generated);
}

int metrics_write_textfile(const char *dir, const struct metrics_set *m, struct cf_err *e)
{
    struct buf text = BUF_INIT;
    struct afile f;
    char *path = cf_asprintf("%s/%s", dir, METRICS_TEXTFILE);
    int rc = -1;

    metrics_format(m, &text);
    /* the temporary name does not end in .prom: the collector never reads a half file */
    if (afile_begin(&f, path, ".tmp-", 0644, e) != 0)
        goto out;
    if (afile_write(&f, text.data, text.len, e) != 0 || afile_commit(&f, 0, e) != 0) {
        afile_abort(&f);
        goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        cf_err_ctx(e, "unable to write metrics to '%s'", path);
    free(path);
    buf_free(&text);
    return rc;
}

void metrics_format_daemon(const struct metrics_daemon *d, struct buf *out)
{
    family(out, "coffer_daemon_up", "gauge", "1 while backupd daemon runs.");
    buf_puts(out, "coffer_daemon_up 1\n");
    family(out, "coffer_daemon_start_timestamp_seconds", "gauge",
           "When the daemon started, Unix time.");
    buf_printf(out, "coffer_daemon_start_timestamp_seconds %" PRId64 "\n", (int64_t)d->started);
    family(out, "coffer_daemon_config_last_reload_success", "gauge",
           "1 when the last configuration reload (SIGHUP) was taken, 0 when it was refused.");
    buf_printf(out, "coffer_daemon_config_last_reload_success %d\n", d->reload_ok ? 1 : 0);
    family(out, "coffer_daemon_job_running", "gauge", "1 while a run of the job is under way.");
    for (size_t i = 0; i < d->njobs; i++) {
        buf_puts(out, "coffer_daemon_job_running{");
        put_label(out, "job", d->jobs[i].job);
        buf_printf(out, "} %d\n", d->jobs[i].running ? 1 : 0);
    }
    family(out, "coffer_daemon_job_next_run_timestamp_seconds", "gauge",
           "When the daemon starts the job next (jitter included), Unix time.");
    for (size_t i = 0; i < d->njobs; i++) {
        if (d->jobs[i].next == 0)
            continue;
        buf_puts(out, "coffer_daemon_job_next_run_timestamp_seconds{");
        put_label(out, "job", d->jobs[i].job);
        buf_printf(out, "} %" PRId64 "\n", (int64_t)d->jobs[i].next);
    }
    family(out, "coffer_daemon_job_skipped_total", "counter",
           "Fire times of the job passed over because its previous run was still under way.");
    for (size_t i = 0; i < d->njobs; i++) {
        buf_puts(out, "coffer_daemon_job_skipped_total{");
        put_label(out, "job", d->jobs[i].job);
        buf_printf(out, "} %" PRIu64 "\n", d->jobs[i].skipped);
    }
    static const char *const afam[][3] = {
        { "coffer_daemon_archiver_up", "gauge", "1 while the archiver's process runs." },
        { "coffer_daemon_archiver_restarts_total", "counter",
          "Times the archiver's process ended and was restarted." },
        { "coffer_daemon_archiver_restart_loop", "gauge",
          "1 while the archiver restarts again and again (5 restarts within 10 minutes)." },
    };
    for (size_t f = 0; f < 3; f++) {
        family(out, afam[f][0], afam[f][1], afam[f][2]);
        for (size_t i = 0; i < d->narchivers; i++) {
            const struct metrics_daemon_archiver *a = &d->archivers[i];
            buf_printf(out, "%s{", afam[f][0]);
            put_label(out, "archiver", a->archiver);
            buf_printf(out, "} %" PRIu64 "\n",
                       f == 0 ? (uint64_t)a->up : f == 1 ? a->restarts : (uint64_t)a->looping);
        }
    }
    family(out, "coffer_daemon_archiver_lag_seconds", "gauge",
           "Seconds since the newest event the archiver has archived (since its start when it "
           "has archived nothing yet).");
    for (size_t i = 0; i < d->narchivers; i++) {
        const struct metrics_daemon_archiver *a = &d->archivers[i];
        if (!a->lag_known)
            continue;
        buf_puts(out, "coffer_daemon_archiver_lag_seconds{");
        put_label(out, "archiver", a->archiver);
        buf_printf(out, "} %" PRId64 "\n", a->lag);
    }
}

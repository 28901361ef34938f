/* backupd_report.c - what `backupd run` tells after each source and after the job: the
 * attempt in the catalog index, notifications (failure, recovery, RPO violation) and the
 * metrics textfile. None of it fails the run: what cannot be done is logged. */
#include "backupd.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../lib/catalog/cat_archive.h"
#include "../lib/catalog/cat_drill.h"
#include "../lib/catalog/cat_health.h"
#include "../lib/core/log.h"
#include "../lib/core/util.h"
#include "../lib/metrics/metrics.h"
#include "../lib/notify/notify.h"
#include "../policies/objectives.h"

static void notify_job(const struct conf *c, const char *job, struct notify_event *ev)
{
    struct notify_cfg cfg;
    struct cf_err e = CF_ERR_INIT;

    if (notify_config(c, conf_job(c, job), &cfg, &e) != 0) {
        log_warn("notification %s of source %s not sent: %s", ev->event, ev->source, e.msg);
        return;
    }
    if (cfg.command == NULL && cfg.url == NULL)
        return;
    ev->job = job;
    ev->time = time(NULL);
    notify_send(&cfg, ev);
}

void backupd_attempt(const struct conf *c, const char *job, const struct backupd_outcome *o)
{
    struct cat_attempt a;
    struct cat_attempts prev = { .have_last = false };
    struct cat_index *x = NULL;
    struct cf_err e = CF_ERR_INIT;
    const char *path;
    bool fresh, have_prev = false;
    char msg[512];

    memset(&a, 0, sizeof(a));
    snprintf(a.source, sizeof(a.source), "%s", o->source);
    snprintf(a.job, sizeof(a.job), "%s", job);
    snprintf(a.repo, sizeof(a.repo), "%s", o->repo_id ? o->repo_id : "");
    a.started = o->started;
    a.finished = time(NULL);
    a.duration_ms = o->ms;
    a.ok = o->res != NULL;
    a.error = (char *)o->error;
    if (o->res != NULL) {
        snprintf(a.backup_id, sizeof(a.backup_id), "%s", o->res->id);
        a.bytes_in = o->res->bytes_in;
        a.bytes_stored = o->res->bytes_stored;
    }
    if (cat_index_path(c, &path, &e) != 0 || cat_index_open(path, &x, &fresh, &e) != 0 ||
        cat_index_attempts(x, o->source, job, &prev, &e) != 0 ||
        cat_index_attempt_add(x, &a, &e) != 0)
        log_warn("attempt of source %s (job %s) not recorded in the catalog index: %s",
                 o->source, job, e.msg);
    else
        have_prev = prev.have_last;
    cat_index_close(x);

    struct notify_event ev = { .source = o->source, .duration = (double)o->ms / 1000.0,
                               .age = -1 };
    if (!a.ok) {
        snprintf(msg, sizeof(msg), "backup of %s (job %s) failed", o->source, job);
        ev.event = "failure";
        ev.error = o->error;
    } else if (have_prev && !prev.last.ok) {
        snprintf(msg, sizeof(msg), "backup of %s (job %s) succeeded again after a failure",
                 o->source, job);
        ev.event = "recovery";
        ev.backup_id = a.backup_id;
    }
    cat_attempt_clear(&prev.last);
    if (ev.event != NULL) {
        ev.message = msg;
        notify_job(c, job, &ev);
    }
}

/* what the index knows of @source: newest complete backup, counts, last verify */
static int source_state(const struct conf *c, struct cat_index *x, const char *repo_id,
                        const char *source, time_t now, struct metrics_source *out,
                        struct cf_err *e)
{
    struct cat_filter f = { .repo = repo_id, .source = source };
    struct cat_row *v = NULL;
    const struct cat_row *verified = NULL;
    struct rpo_eval ev;
    size_t n = 0;

    memset(out, 0, sizeof(*out));
    out->source = source;
    if (cat_source_rpo(c, source, &out->rpo, e) != 0 || cat_index_query(x, &f, &v, &n, e) != 0)
        return -1;
    for (size_t k = 0; k < n; k++) {
        if (v[k].status == CAT_COMPLETE) {
            out->backups++;
            out->stored_bytes += v[k].bytes_stored;
            if (v[k].time > out->newest)
                out->newest = v[k].time;
        }
        if (v[k].verify != CAT_VERIFY_NEVER &&
            (verified == NULL || v[k].verified_at >= verified->verified_at))
            verified = &v[k];
    }
    if (verified != NULL) {
        out->verified = true;
        out->verified_at = verified->verified_at;
        out->verify_ok = verified->verify == CAT_VERIFY_OK;
    }
    /* the log archive: its newest segment is a recovery point too */
    struct cat_archive a;
    struct cat_bases bs;
    int64_t pitr;
    char origin[160];
    time_t point = out->newest;
    if (cat_source_keep_pitr(c, source, &pitr, origin, sizeof(origin), e) != 0 ||
        cat_bases_cached(x, v, n, &bs, e) != 0) {
        cat_rows_free(v, n);
        return -1;
    }
    if (cat_archive_load(x, repo_id, source, cat_log_naming_of(c, source), bs.seg_size, &a,
                         e) != 0) {
        cat_bases_free(&bs);
        cat_rows_free(v, n);
        return -1;
    }
    cat_archive_judge_gaps(&a, bs.b, bs.n, now, pitr);
    cat_bases_free(&bs);
    out->archive = a.files > 0;
    out->archive_last = (time_t)a.point;
    out->archive_gaps = a.ngaps;
    cat_archive_free(&a);
    if (out->archive_last > point)
        point = out->archive_last;
    objective_rpo(point != 0, point, now, out->rpo, &ev);
    out->rpo_violated = ev.state == OBJ_VIOLATED;
    cat_rows_free(v, n);
    return 0;
}

/* the newest drill of @subject ("job.NAME", "source.NAME") into @d; @every: the job's
 * drill-every (0: none) */
static int drill_state(struct cat_index *x, const char *repo_id, const char *subject,
                       int64_t every, time_t now, struct metrics_drill *d, struct cf_err *e)
{
    struct cat_drill last;
    bool found;

    if (cat_index_drill_last(x, repo_id, subject, &last, &found, e) != 0)
        return -1;
    d->have = found;
    d->last = last.finished ? last.finished : last.started;
    d->ok = last.ok;
    d->rto = (double)last.rto_ms / 1000.0;
    d->every = every > 0;
    /* as catalog status judges it: the time since the newest drill started, whatever its
     * result (a failed one is coffer_drill_last_success) */
    d->overdue = every > 0 && objective_drill(found, last.started ? last.started : d->last, true,
                                              now, every) == OBJ_VIOLATED;
    return 0;
}

static int drills_gather(const struct conf *c, struct cat_index *x, const char *repo_id,
                         time_t now, struct metrics_set *m, struct cf_err *e)
{
    char subject[300];

    m->d = cf_calloc(c->njobs + c->nsources + 1, sizeof(*m->d));
    for (size_t i = 0; i < c->njobs; i++) {
        int64_t every = 0;
        struct metrics_drill *d = &m->d[m->nd++];
        d->job = c->jobs[i].name;
        snprintf(subject, sizeof(subject), "job.%s", d->job);
        if (ini_get_duration(c->jobs[i].sec, "drill-every", 0, &every, e) != 0 ||
            drill_state(x, repo_id, subject, every, now, d, e) != 0)
            return -1;
    }
    for (size_t i = 0; i < c->nsources; i++) {
        struct metrics_drill *d = &m->d[m->nd];
        d->source = c->sources[i]->name;
        snprintf(subject, sizeof(subject), "source.%s", d->source);
        if (drill_state(x, repo_id, subject, 0, now, d, e) != 0)
            return -1;
        if (d->have)   /* a source never drilled alone says nothing */
            m->nd++;
        else
            memset(d, 0, sizeof(*d));
    }
    return 0;
}

/* every job and source of the configuration, so that one file tells all whichever job ran */
static int metrics_gather(const struct conf *c, struct cat_index *x, const char *repo_id,
                          time_t now, struct metrics_set *m, struct cf_err *e)
{
    memset(m, 0, sizeof(*m));
    m->generated = now;
    m->s = cf_calloc(c->nsources ? c->nsources : 1, sizeof(*m->s));
    for (size_t i = 0; i < c->nsources; i++, m->ns++)
        if (source_state(c, x, repo_id, c->sources[i]->name, now, &m->s[i], e) != 0)
            return -1;
    for (size_t i = 0; i < c->njobs; i++) {
        const struct conf_job *j = &c->jobs[i];
        m->b = cf_realloc(m->b, (m->nb + j->nsources) * sizeof(*m->b));
        for (size_t k = 0; k < j->nsources; k++) {
            struct metrics_backup *b = &m->b[m->nb++];
            struct cat_attempts at;
            memset(b, 0, sizeof(*b));
            b->job = j->name;
            b->source = j->sources[k];
            if (cat_index_attempts(x, b->source, b->job, &at, e) != 0)
                return -1;
            b->attempts = at.total;
            b->failures = at.failures;
            b->have_attempt = at.have_last;
            b->last_attempt = at.last.finished;
            b->last_ok = at.last.ok;
            b->last_duration = (double)at.last.duration_ms / 1000.0;
            b->last_success = at.last_success;
            b->bytes_in = at.success_bytes_in;
            b->bytes_stored = at.success_bytes_stored;
            cat_attempt_clear(&at.last);
        }
    }
    return drills_gather(c, x, repo_id, now, m, e);
}

void backupd_after_run(const struct conf *c, const char *job, const char *repo_id)
{
    const struct conf_job *j = conf_job(c, job);
    struct cf_err e = CF_ERR_INIT;
    struct cat_index *x = NULL;
    const char *path;
    time_t now = time(NULL);
    bool fresh;

    if (cat_index_path(c, &path, &e) != 0 || cat_index_open(path, &x, &fresh, &e) != 0) {
        log_warn("no notification of RPO and no metrics after job %s: %s", job, e.msg);
        return;
    }
    for (size_t i = 0; j != NULL && i < j->nsources; i++) {
        struct metrics_source s;
        char msg[512], age[32] = "no backup";
        if (source_state(c, x, repo_id, j->sources[i], now, &s, &e) != 0) {
            log_warn("RPO of source %s not checked: %s", j->sources[i], e.msg);
            cf_err_clear(&e);
            continue;
        }
        if (!s.rpo_violated)
            continue;
        if (s.newest)
            snprintf(age, sizeof(age), "newest backup %" PRId64 " s old",
                     (int64_t)(now - s.newest));
        snprintf(msg, sizeof(msg), "source %s violates its RPO of %" PRId64 " s (%s)",
                 s.source, s.rpo, age);
        log_warn("%s", msg);
        struct notify_event ev = { .event = "rpo-violation", .source = s.source,
                                   .message = msg, .rpo = s.rpo,
                                   .age = s.newest ? (int64_t)(now - s.newest) : -1 };
        notify_job(c, job, &ev);
    }
    cat_index_close(x);
    backupd_textfile(c, repo_id);
}

void backupd_textfile(const struct conf *c, const char *repo_id)
{
    struct cf_err e = CF_ERR_INIT;
    struct cat_index *x = NULL;
    struct metrics_set m = { .nb = 0 };
    const char *path, *dir = NULL;
    bool fresh;

    if (metrics_textfile_dir(c, &dir, &e) != 0 || dir == NULL)
        return;
    if (cat_index_path(c, &path, &e) != 0 || cat_index_open(path, &x, &fresh, &e) != 0 ||
        metrics_gather(c, x, repo_id, time(NULL), &m, &e) != 0 ||
        metrics_write_textfile(dir, &m, &e) != 0)
        log_warn("metrics not written: %s", e.msg);
    free(m.b);
    free(m.s);
    free(m.d);
    cat_index_close(x);
}

int backupd_metrics_text(const struct conf *c, struct buf *out, struct cf_err *e)
{
    struct cat_index *x = NULL;
    struct metrics_set m = { .nb = 0 };
    const char *path;
    bool fresh;
    int rc = -1;

    if (cat_index_path(c, &path, e) != 0 || cat_index_open(path, &x, &fresh, e) != 0)
        goto out;
    if (metrics_gather(c, x, NULL, time(NULL), &m, e) != 0)
        goto out;
    metrics_format(&m, out);
    rc = 0;
out:
    free(m.b);
    free(m.s);
    free(m.d);
    cat_index_close(x);
    return rc;
}

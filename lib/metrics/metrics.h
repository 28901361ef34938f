/* metrics.h - coffer's metrics in the Prometheus text exposition format (docs/METRICS.md):
 * the values are gathered by the caller (backupd, from the catalog index), this file only
 * names, labels and writes them. Labels are `job` and `source`, never a backup id or anything
 * else that grows without bound.
 *
 * The textfile: `[metrics] textfile-dir = DIR` makes every one-shot `backupd run` replace
 * DIR/coffer.prom atomically (lib/core/afile.h), for node_exporter's textfile collector. */
#ifndef CF_METRICS_H
#define CF_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "../config/conf.h"
#include "../core/buf.h"
#include "../core/err.h"
#include "metrics_http.h"

#define METRICS_TEXTFILE "coffer.prom"

/* the keys of [metrics] (NULL-terminated) */
extern const char *const metrics_keys[];

/* one source as backed up by one job: from the attempts of `backupd run` */
struct metrics_backup {
    const char *job, *source;
    uint64_t attempts, failures;
    bool have_attempt;
    time_t last_attempt;        /* when the newest attempt finished */
    bool last_ok;
    double last_duration;       /* seconds, of the newest attempt */
    time_t last_success;        /* when the newest successful attempt finished, 0: none */
    uint64_t bytes_in, bytes_stored;   /* of the newest successful attempt */
};

/* one source: from its backups in the index and its objective */
struct metrics_source {
    const char *source;
    int64_t rpo;                /* seconds, 0: none set */
    bool rpo_violated;
    time_t newest;              /* start of the newest complete backup, 0: none */
    uint64_t backups;           /* complete backups in the repository */
    uint64_t stored_bytes;      /* what they occupy in the repository (their objects) */
    bool verified;
    time_t verified_at;
    bool verify_ok;
    /* its log archive (WAL, binlogs), as the catalog index last saw it */
    bool archive;               /* any archived log file */
    time_t archive_last;        /* what the archive reaches (the newest WAL segment's push, the
                                   newest binlog event), 0: unknown */
    uint64_t archive_gaps;      /* segments missing between two archived ones, as gaps */
};

/* the newest restore drill of a job (or of a source drilled alone): from the index's drills */
struct metrics_drill {
    const char *job;            /* the label: job, or NULL for ... */
    const char *source;         /* ... a source drill */
    bool have;                  /* any drill */
    time_t last;                /* when the newest drill finished */
    bool ok;
    double rto;                 /* seconds measured by the newest drill */
    bool every;                 /* the job has drill-every */
    bool overdue;               /* ... and no drill within it */
};

struct metrics_set {
    struct metrics_backup *b;
    size_t nb;
    struct metrics_source *s;
    size_t ns;
    time_t generated;
    struct metrics_drill *d;
    size_t nd;
};

/* what the daemon adds to the metrics it serves (docs/METRICS.md "Daemon") */
struct metrics_daemon_job {
    const char *job;
    bool running;
    time_t next;         /* 0: no schedule */
    uint64_t skipped;
};
struct metrics_daemon_archiver {
    const char *archiver;
    bool up;
    uint64_t restarts;
    bool looping;
    bool lag_known;      /* false: not running and nothing archived; no lag sample */
    int64_t lag;         /* seconds: now minus the newest event archived (or its start) */
};
struct metrics_daemon {
    time_t started;
    bool reload_ok;
    const struct metrics_daemon_job *jobs;
    size_t njobs;
    const struct metrics_daemon_archiver *archivers;
    size_t narchivers;
};

/* metrics_check() - the values of [metrics] @s: textfile-dir an absolute path, listen (see
 * metrics_http.h) an address and port */
int metrics_check(const struct ini_section *s, struct cf_err *e);
/* the textfile directory of @c, or NULL when not set */
int metrics_textfile_dir(const struct conf *c, const char **dir, struct cf_err *e);

/* metrics_format() - @m as Prometheus text (every family with HELP and TYPE) into @out */
void metrics_format(const struct metrics_set *m, struct buf *out);
/* metrics_format_daemon() - the daemon's own families (coffer_daemon_*) into @out */
void metrics_format_daemon(const struct metrics_daemon *d, struct buf *out);
/* metrics_write_textfile() - replace @dir/coffer.prom (mode 0644) by @m, atomically */
int metrics_write_textfile(const char *dir, const struct metrics_set *m, struct cf_err *e);

#endif

/* backupd_daemon.h - what backupd_daemon.c (the scheduler) and backupd_dstate.c (the state
 * file and `status`) share; private to backupd/. */
#ifndef CF_BACKUPD_DAEMON_H
#define CF_BACKUPD_DAEMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "../lib/config/conf.h"
#include "../lib/core/tz.h"
#include "../lib/validate/validate.h"
#include "../policies/schedule.h"
#include "backupd_superv.h"

#define DSTATE_FILE "daemon.json"
#define DSTATE_LOCK "daemon.lock"
#define DSTATE_ARCHIVER_REFRESH 2   /* seconds: the state file's refresh while archivers run */

/* one job as the daemon runs it */
struct djob {
    char *name;
    bool gone;               /* left out by a reload: kept until its run ends */
    bool has_sched;
    struct sched sched;
    char tzname[TZ_NAME_MAX];
    struct cf_tz *tz;
    int64_t jitter;          /* seconds */
    time_t fire;             /* the schedule's next fire time, 0: none */
    time_t next;             /* fire plus its jitter: when the run starts */
    bool due;                /* a run waits for a free slot */
    uint64_t skipped;        /* fire times passed over: the previous run still under way */
    pid_t pid;               /* the run under way, 0: none */
    time_t run_started;
    bool have_last;          /* the newest finished run (this daemon's, or from the index) */
    time_t last_started, last_finished;
    const char *last_result; /* "ok", "failed", "partial", "aborted" */
};

struct dstate {
    const char *config_path;
    struct conf *c;
    struct daemon_opts o;    /* o.runtime_dir points into c: use rundir */
    char *rundir;            /* the runtime-dir the daemon started with (a reload keeps it) */
    struct djob *jobs;
    size_t njobs;
    struct superv sv;        /* the long-running archivers */
    char *self;              /* this program, for the archivers' argv */
    int lock_fd;             /* the flock of the runtime-dir (closed in the runs) */
    time_t started;
    bool reload_ok;
    bool stopping;
    pthread_mutex_t mu;      /* c and jobs, against the metrics server's thread */
};

/* dstate_write() - replace RUNTIME/daemon.json by what @d says now (logs a failure) */
void dstate_write(const struct dstate *d);
/* dstate_remove() - the daemon stops: its state file goes */
void dstate_remove(const struct dstate *d);

#endif

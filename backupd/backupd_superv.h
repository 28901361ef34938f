/* backupd_superv.h - the daemon's long-running archivers (backupd_superv.c): one child process
 * per archiver, restarted when it exits, with a backoff; a restart loop is reported in the log,
 * in `status` and in the metrics. Generic: an archiver is a name and an argv. Times come in as
 * arguments so that the policy can be tested without waiting. */
#ifndef CF_BACKUPD_SUPERV_H
#define CF_BACKUPD_SUPERV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "../lib/config/conf.h"

#define SUPERV_STABLE 60        /* a process that ran this long resets the backoff */
#define SUPERV_BACKOFF_MAX 300  /* the longest wait before a restart */
#define SUPERV_LOOP_N 5         /* this many restarts ... */
#define SUPERV_LOOP_WINDOW 600  /* ... within this many seconds: a restart loop */

struct archiver {
    char *name;            /* "binlog-follow shop" */
    char **argv;           /* NULL-terminated; argv[0] a path */
    char *tmpdir;          /* its TMPDIR, emptied before each start and after each exit (what
                              a killed process left: binlog copies, option files), or NULL */
    char *statefile;       /* its state file (in tmpdir), given in SUPERV_STATE_ENV, or NULL */
    pid_t pid;             /* 0: not running */
    time_t started;        /* of the process under way, or the last one */
    time_t restart_at;     /* when the next start is due (0: at once) */
    unsigned quick_exits;  /* exits in a row before SUPERV_STABLE: the backoff's exponent */
    unsigned long restarts;
    time_t recent[SUPERV_LOOP_N];   /* the last restarts, a ring */
    bool looping;          /* SUPERV_LOOP_N restarts within SUPERV_LOOP_WINDOW */
    char last_exit[64];    /* "exit 3", "signal 9", "" */
    bool gone;             /* left out by a reload: stopped, dropped once it exits */
};

/* The archiver's state file, named by this variable in its environment: JSON
 * {"newest_event": T, "sealed": T} (Unix times: the newest event it has archived, 0 when
 * none yet, and its last seal), rewritten atomically after each seal. Without the variable
 * (an archiver run by hand) there is none. */
#define SUPERV_STATE_ENV "COFFER_ARCHIVER_STATE"

/* what an archiver's state file says, and its lag at a moment */
struct archiver_lag {
    time_t newest_event;   /* 0: nothing archived yet (or no state file) */
    time_t sealed;         /* its last seal, 0: none */
    int64_t lag;           /* now minus newest_event, or minus the start when nothing was
                              archived yet; valid when known */
    bool known;            /* false: not running and nothing archived */
};

struct superv {
    struct archiver *a;
    size_t n;
};

/* superv_add() - supervise @argv (copied) as @name; started by the next superv_start_due */
void superv_add(struct superv *s, const char *name, char *const argv[]);
/* superv_from_conf() - the archivers @c asks for (the binlog follower of each mariadb source
 * with binlog-archive = yes and binlog-mode = follow), run as @self (this program), each with
 * a TMPDIR of its own under [daemon] runtime-dir */
void superv_from_conf(struct superv *s, const struct conf *c, const char *self,
                      const char *config_path);
/* superv_replace() - after a reload: archivers of @next with the same name and argv as one of
 * @s keep its process; the others of @s are stopped (SIGTERM) and dropped when they exit */
void superv_replace(struct superv *s, struct superv *next);
/* superv_start_due() - start every archiver whose restart is due at @now */
void superv_start_due(struct superv *s, time_t now);
/* superv_reaped() - @pid ended with @status at @now: true when it was an archiver (then its
 * restart is planned) */
bool superv_reaped(struct superv *s, pid_t pid, int status, time_t now);
/* superv_wait() - seconds until the next planned restart (@cap when none sooner) */
time_t superv_wait(const struct superv *s, time_t now, time_t cap);
/* superv_running() - archivers with a process under way */
size_t superv_running(const struct superv *s);
/* superv_signal() - send @sig to every archiver process under way */
void superv_signal(const struct superv *s, int sig);
/* superv_lag() - read @a's state file (missing or unreadable: nothing archived yet) and its
 * lag at @now into @l; reads only, so any thread may call it under the caller's lock */
void superv_lag(const struct archiver *a, time_t now, struct archiver_lag *l);
/* superv_state() - "running", "waiting" (a restart planned) or "stopped" */
const char *superv_state(const struct archiver *a);
void superv_free(struct superv *s);

#endif

/* child.h - what the database sources (postgres, mariadb, redis) share to run a dump or load
 * tool: a child process with a pipe and a private environment (child.c), and which program
 * to run (tool_path.c). The reader that parses a tool's stream while forwarding it is in
 * reader.h; connection settings, passwords and 0600 option files in lib/db/db_settings.h. */
#ifndef CF_CHILD_H
#define CF_CHILD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../core/buf.h"
#include "../core/err.h"

/* --- child processes --- */

enum child_pipe {
    CHILD_READ,    /* we read the child's stdout; its stdin is /dev/null */
    CHILD_WRITE,   /* we write the child's stdin; its stdout joins its stderr */
};

struct child {
    pid_t pid;         /* 0 when not running */
    int fd;            /* our end of the pipe, -1 once closed */
    int err_fd;        /* unlinked temp file that collects the child's stderr */
    char *what;        /* "pg_dump app", for messages */
};

/* src_child_start() - run @argv[0] (a path, or a name looked up in PATH) with @argv, the
 * environment of this process minus the variables @env sets, plus @env ("NAME=value",
 * NULL-terminated, may be NULL). SIGPIPE is ignored in this process from now on (a dead
 * child's pipe is an EPIPE error, not a signal) and restored to the default in the child.
 * On -1 nothing is left running. */
int src_child_start(struct child *c, const char *what, char *const argv[],
                    const char *const env[], enum child_pipe dir, struct cf_err *e);
/* src_child_finish() - close our end, wait for the child, and fail unless it exited 0; the
 * error names the tool and quotes the last lines of its stderr. */
int src_child_finish(struct child *c, struct cf_err *e);
/* src_child_conclude() - end a child whose stream was checked: @check_rc is the checker's
 * result (0 proved, -1 with @e set), @stream_ended whether the child's stream reached its end.
 * A check that failed while the stream still flowed (bad data, the backup side failed) kills
 * the child; otherwise the child is waited for, and its own failure (exit status and stderr)
 * replaces @e, since it explains a cut stream best (also when we wrote into a pipe it closed).
 * Returns 0 only when both the check and the child succeeded. */
int src_child_conclude(struct child *c, int check_rc, bool stream_ended, struct cf_err *e);
/* src_child_kill() - SIGTERM, wait briefly, SIGKILL, reap; safe on a finished child */
void src_child_kill(struct child *c);
/* src_child_stdio_env() - for a tool that reads or writes the pipe through stdio (mariadb-dump
 * writes, pg_restore reads): the environment (src_child_start's @env) that gives its stdout
 * (@dir CHILD_READ) or its stdin (CHILD_WRITE) a 1 MiB buffer, as `stdbuf -o 1M` / `-i 1M`
 * do, so it moves 1 MiB per system call rather than 4 KiB (each a wake-up of the other side).
 * Empty when coreutils' libstdbuf is missing; @s holds it. */
struct child_stdio_env {
    char preload[1024];
    const char *v[3];
};
const char *const *src_child_stdio_env(struct child_stdio_env *s, enum child_pipe dir);
/* src_child_stderr() - the last @max bytes of the child's stderr (so far) into @out */
void src_child_stderr(const struct child *c, size_t max, struct buf *out);

/* --- which program runs (tool_path.c) --- */

/* src_tool_path() - the program to run for @tool: "@bindir/@tool" when @bindir is set, else
 * the highest-versioned match of the glob pattern @glob_dir (such as
 * "/usr/lib/postgresql/[0-9]*" + "/bin"; may be NULL) that holds it, else @tool itself
 * (looked up in PATH). Freshly allocated. */
char *src_tool_path(const char *tool, const char *bindir, const char *glob_dir);

#endif

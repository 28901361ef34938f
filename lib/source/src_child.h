/* src_child.h - what the database sources (postgres, mariadb, redis) share: running a dump
 * or load tool as a child process with a pipe and a private environment, and a buffered reader
 * that parses a stream while passing every byte it consumes on to a sink (the backup stream).
 * Connection settings, passwords and 0600 option files are in lib/db/db_settings.h. */
#ifndef CF_SRC_CHILD_H
#define CF_SRC_CHILD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "../core/buf.h"
#include "../core/err.h"
#include "../db/db_settings.h"

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
/* src_child_stderr() - the last @max bytes of the child's stderr (so far) into @out */
void src_child_stderr(const struct child *c, size_t max, struct buf *out);

/* src_tool_path() - the program to run for @tool: "@bindir/@tool" when @bindir is set, else
 * the highest-versioned match of the glob pattern @glob_dir (such as
 * "/usr/lib/postgresql/[0-9]*" + "/bin"; may be NULL) that holds it, else @tool itself
 * (looked up in PATH). Freshly allocated. */
char *src_tool_path(const char *tool, const char *bindir, const char *glob_dir);

/* --- a reader that parses while it forwards --- */

typedef int (*src_sink_fn)(void *ctx, const void *buf, size_t len, struct cf_err *e);
/* bytes read (0 at the end) or -1 */
typedef ssize_t (*src_read_fn)(void *ctx, void *buf, size_t cap, struct cf_err *e);

struct src_reader {
    src_read_fn read;        /* where the bytes come from (a fd by default) */
    void *read_ctx;
    int fd;
    const char *what;        /* "pg_dump app output", for messages */
    src_sink_fn sink;        /* consumed bytes go here (may be NULL) */
    void *sink_ctx;
    bool crc;                /* keep crc64 (Redis's Jones polynomial) of consumed bytes */
    uint64_t crc64;
    uint64_t limit;          /* read at most this many bytes from fd in all (UINT64_MAX) */
    struct buf *capture;     /* when not NULL, consumed bytes are also appended here */
    /* private */
    unsigned char *buf;
    size_t cap, pos, len, fwd;   /* buf[fwd..pos) consumed but not yet forwarded */
    uint64_t nread;              /* bytes read from fd */
    uint64_t consumed;           /* bytes consumed */
    bool eof;
};

void src_reader_init(struct src_reader *r, int fd, const char *what, src_sink_fn sink,
                     void *sink_ctx);
/* as src_reader_init, reading through @fn (a restore reads the backup stream this way) */
void src_reader_init_fn(struct src_reader *r, src_read_fn fn, void *fn_ctx, const char *what,
                        src_sink_fn sink, void *sink_ctx);
void src_reader_free(struct src_reader *r);
/* make @n bytes available at src_reader_peek(); 1 when they are, 0 when the input ends
 * first, -1 on a read or sink error */
int src_reader_fill(struct src_reader *r, size_t n, struct cf_err *e);
/* the unconsumed bytes (valid until the next fill) */
const unsigned char *src_reader_peek(const struct src_reader *r);
size_t src_reader_avail(const struct src_reader *r);
/* consume @n available bytes */
void src_reader_consume(struct src_reader *r, size_t n);
/* read exactly @n bytes into @out (NULL: skip them, any size); a short input is CF_E_CORRUPT
 * "@what: truncated (...)" naming @field */
int src_reader_get(struct src_reader *r, void *out, size_t n, const char *field,
                   struct cf_err *e);
/* 1 when the input has ended with nothing unconsumed, 0 when bytes remain, -1 on error */
int src_reader_at_eof(struct src_reader *r, struct cf_err *e);
/* pass every consumed byte to the sink (and the crc) now */
int src_reader_flush(struct src_reader *r, struct cf_err *e);

/* src_pump() - consume the rest of @r, keeping its first @head_cap bytes in @head and its
 * last @tail_cap bytes in @tail (either may be NULL) */
int src_pump(struct src_reader *r, struct buf *head, size_t head_cap, struct buf *tail,
             size_t tail_cap, struct cf_err *e);

/* crc64 as Redis computes it (Jones polynomial, reflected); crc64(0, "123456789", 9) is
 * 0xe9c6d914c4b8d9ca */
uint64_t src_crc64(uint64_t crc, const void *p, size_t n);

/* --- restore plumbing shared by the database sources --- */

struct source_in;
struct restore_opts;

/* Database parts are named "db:<name>"; info.databases lists them as {"name": ...}. */
#define SRC_PART_DB_PREFIX SOURCE_PART_DB_PREFIX

/* src_info_db_name() - the name of entry @i of info.databases, NULL past the end */
const char *src_info_db_name(json_t *info, size_t i);
/* src_select_db() - the database a restore takes: @want when given (it must be in the
 * backup: CF_E_NOTFOUND listing what is there), else the only one when @one_needed and the
 * backup holds one, else NULL (all). @what ("--to-file") names the option needing one: with
 * several databases and none chosen, a CF_E_USAGE error asks for --database. */
int src_select_db(json_t *info, const char *want, bool one_needed, const char *what,
                  const char **out, struct cf_err *e);
/* src_dest_db() - the database that database @orig of the backup is restored into: the name
 * --into-db gives, or @orig itself when --into-db is absent or the word SAME (one meaning for
 * every database kind) */
const char *src_dest_db(const struct restore_opts *o, const char *orig);
/* src_into_named() - whether --into-db names one database (given, and not SAME) */
bool src_into_named(const struct restore_opts *o);
/* src_plan_db_size() - "; 12.0 MB of the backup's dump" for the plan line of database @name
 * (the bytes of its part, as the manifest records them: the plan's size line counts every
 * database), or "" when the manifest does not know them. Freshly allocated. */
char *src_plan_db_size(json_t *info, const char *name);
/* src_in_next_db() - move to the next part of @in: 1 with *@db set to the database of a
 * "db:<name>" part (freshly allocated) or NULL for any other part (named *@part), 0 after the
 * last part, -1 on error */
int src_in_next_db(struct source_in *in, const char **part, char **db, struct cf_err *e);

/* a src_read_fn over the current part of a backup stream (@ctx: struct source_in *) */
ssize_t src_in_read_fn(void *ctx, void *buf, size_t cap, struct cf_err *e);
/* a src_sink_fn writing to a file descriptor (@ctx: int * holding it) */
int src_fd_sink(void *ctx, const void *buf, size_t len, struct cf_err *e);

/* A file written by --to-file: created beside @path as a 0600 temp file, renamed into place
 * only when complete (nothing half-written ever carries the name). */
struct src_outfile {
    int fd;
    char *tmp;
    char *path;
};
/* refuses an existing @path unless @force (CF_E_EXISTS with a HINT) */
int src_outfile_begin(struct src_outfile *f, const char *path, bool force, struct cf_err *e);
/* fsync, rename over @path, fsync the directory */
int src_outfile_commit(struct src_outfile *f, struct cf_err *e);
/* remove the temp file; safe after commit */
void src_outfile_abort(struct src_outfile *f);
/* the --to-file checks every kind shares, for plan(): refuses an existing file without --force
 * and a directory that does not exist */
int src_outfile_check(const char *path, bool force, struct cf_err *e);

#endif

/* logrange.h - an archive of log files (PostgreSQL WAL, MariaDB binlogs) as ranges, its gaps,
 * and which files retention keeps. Pure: no I/O, no process-wide state.
 *
 * Every log file is reduced to a place: a stream and a sequence number. For WAL the stream is
 * the timeline (8 hex digits) and the sequence the segment number, which counts the same way
 * on every timeline (a timeline branches off at an LSN, and segment numbers are LSNs divided by
 * the segment size); for binlogs the stream is the base name ("mysql-bin") and the sequence the
 * file's number. The decisions below only see places, so a new kind of log needs only a name
 * parser. */
#ifndef CF_LOGRANGE_H
#define CF_LOGRANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define LOG_WAL_SEG_DEFAULT (16u * 1024 * 1024)
#define LOG_STREAM_MAX 64

enum log_kind {
    LOG_SEGMENT = 0,   /* a whole WAL segment, a binlog file */
    LOG_PARTIAL,       /* WAL: the last, incomplete segment of a timeline left by a promotion */
    LOG_BACKUP,        /* WAL: the .backup label of a base backup (seq: its start segment) */
    LOG_HISTORY,       /* WAL: a timeline's .history file (seq 0) */
};

struct log_pos {
    char stream[LOG_STREAM_MAX];
    uint64_t seq;
    enum log_kind kind;
};

/* log_wal_seg_ok() - is @seg_size one PostgreSQL allows (a power of two, 1 MiB to 1 GiB)? */
bool log_wal_seg_ok(uint64_t seg_size);
/* log_parse_wal() - the place of WAL file @file for segments of @seg_size bytes: segment
 * (TTTTTTTTXXXXXXXXYYYYYYYY, YY below 4 GiB / @seg_size), .partial, .backup or .history.
 * false when @file is not such a name (or @seg_size is not allowed). */
bool log_parse_wal(const char *file, uint64_t seg_size, struct log_pos *out);
/* log_format_wal() - the segment name of @seq on timeline @tl ("00000001"): 25 bytes */
void log_format_wal(const char *tl, uint64_t seq, uint64_t seg_size, char out[25]);
/* log_parse_binlog() - "mysql-bin.000042": stream "mysql-bin", seq 42; false when the name
 * has no dot followed by digits only (at least 6, as MariaDB writes them) */
bool log_parse_binlog(const char *file, struct log_pos *out);

/* A run of consecutive sequence numbers on one stream, or a gap between two of them. */
struct log_range {
    char stream[LOG_STREAM_MAX];
    uint64_t first, last;   /* range: archived first..last; gap: missing first..last */
    size_t files;           /* range: how many files (= last - first + 1) */
};

/* log_ranges() - the archived segments among @p (any order; kinds other than LOG_SEGMENT are
 * passed over) as ranges and the gaps between them, per stream, streams in name order and
 * ranges in sequence order. @ranges and @gaps are allocated (free()); either may be NULL when
 * not wanted. A gap is only ever between two archived segments of one stream: nothing is
 * said about what precedes the first or follows the last. */
void log_ranges(const struct log_pos *p, size_t n, struct log_range **ranges, size_t *nranges,
                struct log_range **gaps, size_t *ngaps);

/* --- retention of a log archive --- */

/* A base backup (a physical backup, a dump with its binlog position) as retention sees it:
 * restoring it needs its stream's files from start to stop, and a restore to a later moment
 * every file after start. */
struct log_base {
    const char *id;
    char stream[LOG_STREAM_MAX];   /* its timeline; binlogs: the base name */
    uint64_t start, stop;          /* first and last sequence it needs */
    time_t stop_time;              /* when it became consistent */
    bool kept;                     /* the backup retention keeps it */
    bool usable;                   /* complete: a restore may start from it */
    bool self_contained;           /* restores as of its own time without any log file (a
                                      MariaDB dump: start is the binlog file its recorded
                                      position is in, stop unused): kept alone, it keeps no
                                      file; only a replay after it (window, latest) needs
                                      files from start on */
};

/* why a log file is kept: bits; 0 means deleted */
enum log_keep {
    LOGK_WINDOW = 1u << 0,    /* at or after the first file the keep-pitr window needs, or
                                 pushed within the window */
    LOGK_BACKUP = 1u << 1,    /* between start and stop of a kept base backup */
    LOGK_HISTORY = 1u << 2,   /* a .history file of a timeline that a kept file is on, or later */
    LOGK_NO_BASE = 1u << 3,   /* there is no base backup at all: nothing is deleted */
    LOGK_LATEST = 1u << 4,    /* after the newest base backup's start (restore to latest) */
};

struct log_file {
    struct log_pos pos;
    time_t pushed;            /* 0 when not known */
};

struct log_decision {
    unsigned keep;            /* enum log_keep bits */
    size_t base;              /* LOGK_BACKUP: index in the bases of the first one that needs it */
};

/* What log_retention() decided beyond the files. */
struct log_plan {
    bool have_base;           /* any usable base backup */
    bool anchored;            /* a window is kept: @anchor is its base backup */
    size_t anchor;            /* index of the base backup the window starts from */
    bool anchor_short;        /* no base backup stopped before the window start: the window
                                 starts at the oldest usable one instead */
    size_t latest;            /* index of the newest usable base backup */
    time_t window_start;      /* now - keep_pitr (0 when no window) */
};

/* log_retention() - which of the @nf log files to keep, given the @nb base backups (any order)
 * with their backup retention already decided (@b[].kept), at @now, with keep-pitr
 * @keep_pitr seconds (0: not set). @out has @nf entries. Rules:
 *   - no usable base backup: everything is kept (LOGK_NO_BASE);
 *   - every file of the stream of a kept base backup between its start and stop (BACKUP),
 *     none for a self-contained one (a dump restores as of its own time without a binlog);
 *   - every file from the start of the newest usable base backup on, in sequence order on any
 *     stream (LATEST): a restore to the end of the archive stays possible;
 *   - with @keep_pitr: the anchor is the newest usable base backup that stopped at or before
 *     now - @keep_pitr (else the oldest usable one); every file from its start on is kept, and
 *     every file pushed at or after the window start (WINDOW). The caller must keep the
 *     anchor backup itself (@plan->anchor), or the window's first seconds cannot be restored;
 *   - a .history file of timeline N while a kept file is on a timeline N or later (HISTORY);
 *   - everything else is deleted.
 * Files with a sequence above every base backup's are never deleted by the rules above;
 * applying it again to what it kept deletes nothing more. */
void log_retention(const struct log_base *b, size_t nb, const struct log_file *f, size_t nf,
                   time_t now, int64_t keep_pitr, struct log_decision *out,
                   struct log_plan *plan);

/* log_gap_matters() - does gap @g (segments missing on its stream) stop a restore that the
 * base backups @b (the ones that exist; any order) and keep-pitr promise? It does when there
 * is no usable base backup (prune never deletes then: the gap was not made by coffer), when
 * it reaches the newest usable one's start or, with @keep_pitr, the start of the base backup
 * the window replays from, or when it overlaps a base backup's own start..stop on its
 * stream (not a self-contained one's: it needs none). Otherwise it is a hole retention left between what it keeps (log_retention() never
 * makes a gap that matters). */
bool log_gap_matters(const struct log_base *b, size_t nb, time_t now, int64_t keep_pitr,
                     const struct log_range *g);

/* "window,backup" or "none" */
void log_keep_format(unsigned keep, char *out, size_t cap);

#endif

/* cat_archive.h - the log archive in the catalog index: one row per archived log file (WAL,
 * binlogs) of a source, as the last refresh found it under logs/<source>/, and what the
 * status, the metrics and prune read from those rows (ranges, gaps, the newest file). */
#ifndef CF_CAT_ARCHIVE_H
#define CF_CAT_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../../policies/logrange.h"
#include "../config/conf.h"
#include "../core/err.h"

struct cat_index;

struct cat_log {
    char file[80];      /* its name: 000000010000000000000003, mysql-bin.000042 */
    int64_t pushed;     /* when it was stored (Unix seconds); 0: not recorded */
    uint64_t stored;    /* the stored object's size */
    int64_t last_event; /* a binlog object's last event (header); 0: none recorded, -1: not
                           read yet (WAL rows) */
};

/* the rows of @source in repository @repo, sorted by name */
int cat_index_logs(struct cat_index *x, const char *repo, const char *source,
                   struct cat_log **v, size_t *n, struct cf_err *e);
/* insert or replace one row */
int cat_index_log_put(struct cat_index *x, const char *repo, const char *source,
                      const struct cat_log *l, struct cf_err *e);
/* drop one row; @file NULL: every row of @source; @source NULL too: of @repo */
int cat_index_log_drop(struct cat_index *x, const char *repo, const char *source,
                       const char *file, struct cf_err *e);
/* the sources of @repo that have rows (names to free() one by one, then the array) */
int cat_index_log_sources(struct cat_index *x, const char *repo, char ***names, size_t *n,
                          struct cf_err *e);

/* how a source names its log files */
enum cat_log_naming { CAT_LOG_WAL = 0, CAT_LOG_BINLOG };

/* how @source names its log files: binlogs for a mariadb source, else WAL */
enum cat_log_naming cat_log_naming_of(const struct conf *c, const char *source);

/* cat_log_parse() - the place of @file (policies/logrange.h); false when not such a name.
 * A binlog's partial object ("binlog.000042.partial-<length>", db_binlog.h) is at its file's
 * place, as a segment: the archive holds that file, up to where it was sealed. */
bool cat_log_parse(enum cat_log_naming k, const char *file, uint64_t seg_size,
                   struct log_pos *out);

/* cat_log_partial() - the length a binlog's partial object holds ("...partial-<length>"); 0 for
 * a whole file, or any name of another naming */
uint64_t cat_log_partial(enum cat_log_naming k, const char *file);

/* What a source's archive holds, from its rows. */
struct cat_archive {
    size_t files, unparsed;   /* rows, and rows whose names the naming does not know */
    uint64_t stored;
    bool have_last;           /* any segment (binlog file) */
    struct cat_log last;      /* the newest: highest stream, then sequence (binlogs: the
                                 whole file before a partial object, then the longer one) */
    int64_t point;            /* the last moment a restore reaches, 0: unknown: WAL, when the
                                 newest segment was pushed; binlogs, the newest object's last
                                 event (its push time when the header records none) */
    struct log_range *ranges, *gaps;
    size_t nranges, ngaps;
    size_t holes;             /* gaps left by retention between what it keeps (not in gaps) */
};

/* cat_archive_sum() - @out from the @n rows @v (ranges and gaps from policies/logrange.h) */
void cat_archive_sum(const struct cat_log *v, size_t n, enum cat_log_naming k,
                     uint64_t seg_size, struct cat_archive *out);
void cat_archive_free(struct cat_archive *a);
/* cat_archive_load() - @out for @source of @repo from the index, names read with WAL segments
 * of @seg_size bytes */
int cat_archive_load(struct cat_index *x, const char *repo, const char *source,
                     enum cat_log_naming k, uint64_t seg_size, struct cat_archive *out,
                     struct cf_err *e);
/* cat_archive_judge_gaps() - keep in @a only the gaps that matter to the base backups @b
 * (policies/logrange.h log_gap_matters()); the others, holes retention left, are counted in
 * @a->holes */
void cat_archive_judge_gaps(struct cat_archive *a, const struct log_base *b, size_t nb,
                            time_t now, int64_t keep_pitr);

/* What the index remembers of a backup's manifest for the log archive, so that status and
 * the metrics need not read every manifest again: meta "base:<repo>:<source>:<id>", "-" when
 * the backup is no base backup of a log archive, else its stream, start, stop, stop time and
 * WAL segment size, then "dump" for a self-contained one (a mariadb dump with its binlog
 * position). CF_E_NOTFOUND when not remembered. */
int cat_base_get(struct cat_index *x, const char *repo, const char *source, const char *id,
                 bool *phys, struct log_base *b, uint64_t *seg_size, struct cf_err *e);
int cat_base_put(struct cat_index *x, const char *repo, const char *source, const char *id,
                 bool phys, const struct log_base *b, uint64_t seg_size, struct cf_err *e);

/* the base backups of a source's log archive (physical ones, dumps with a binlog
 * position), newest first */
struct cat_bases {
    struct log_base *b;
    size_t *row;          /* index of each in the rows they were read from */
    size_t n;
    uint64_t seg_size;    /* the newest one's WAL segment size, else 16 MiB */
};
/* cat_bases_cached() - those among @rows (one source's, sorted by time) that the index
 * remembers (cat_base_get), complete and damaged ones (usable: complete); rows it has not
 * remembered are passed over */
struct cat_row;
int cat_bases_cached(struct cat_index *x, const struct cat_row *rows, size_t nrows,
                     struct cat_bases *out, struct cf_err *e);
void cat_bases_free(struct cat_bases *b);
/* the name of sequence @seq of stream @stream ("0000000100000000000000A3", "mysql-bin.000042")
 * into @out */
void cat_log_format(enum cat_log_naming k, const char *stream, uint64_t seq, uint64_t seg_size,
                    char *out, size_t cap);

#endif

/* pg_int.h - private to the postgres source: what src_postgres.c and pg_replace.c share. */
#ifndef CF_PG_INT_H
#define CF_PG_INT_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "../core/err.h"
#include "../db/db_settings.h"
#include "source.h"

/* the scratch database a replacement loads first: the destination's name plus this */
#define PG_SCRATCH_SUFFIX "_coffer_restore"

/* --- src_postgres.c --- */

/* run @sql with @nparams text parameters; PGRES_TUPLES_OK or COMMAND_OK, else an error */
PGresult *pg_exec(PGconn *c, const char *what, const char *sql, int nparams,
                  const char *const *params, struct cf_err *e);
/* pg_restore of one database part from @in into the existing, empty database @dest */
int pg_load(struct db_settings *p, struct source_in *in, const struct restore_opts *o,
            const char *orig, const char *dest, struct cf_err *e);
/* whether database @name exists on the server */
int pg_db_exists(PGconn *c, const char *name, bool *exists, struct cf_err *e);
/* drop database @name if it exists; a failure is logged (a cleanup) */
void pg_drop_db(PGconn *c, const char *name);

/* --- pg_replace.c --- */

/* @base followed by @suffix, @base cut at a character boundary so that the whole fits
 * PostgreSQL's 63-byte names (the server would cut a longer one silently) */
char *pg_name_suffixed(const char *base, const char *suffix);
/* where database @dest is renamed to, at time @t (for the plan; the swap takes a name no
 * database has, adding _2, _3... when two restores replace @dest within one second) */
char *pg_aside_name(const char *dest, time_t t);
/* Replace the existing database @dest by database part @orig of the backup: load it into a
 * scratch database shaped like @dest, copy @dest's privileges, comment and settings, then
 * swap. On -1 @dest is as it was (unless pg_swap said otherwise) and no scratch is left. */
int pg_replace_db(struct db_settings *p, struct source_in *in, const struct restore_opts *o,
                  const char *orig, const char *dest, PGconn *admin, struct cf_err *e);

/* --- pg_physical.c: method = physical --- */

struct pg_phys {
    bool physical;          /* method = physical */
    bool fast;              /* checkpoint = fast (the default) or spread */
    int64_t archive_wait;   /* archive-wait: seconds the backup waits for its last segment */
};
/* the keys method, checkpoint and archive-wait of @sec */
int pg_phys_load(const struct ini_section *sec, struct pg_phys *ph, struct cf_err *e);
/* whether @info is a physical base backup's */
bool pg_info_physical(json_t *info);
/* the name of the WAL segment holding @lsn on timeline @tli */
void pg_wal_name(uint32_t tli, uint64_t lsn, uint64_t segsize, char out[25]);
/* stream a base backup of the cluster into @out (part "base"), recording its WAL range in
 * @info and, in info.wait_for_log, the segment the pipeline waits for before the commit */
int pg_phys_export(struct db_settings *p, const struct pg_phys *ph, struct source_out *out,
                   json_t *info, struct cf_err *e);
/* check --to-datadir (new or empty) and add the plan's line */
int pg_phys_plan(const struct restore_opts *o, json_t *info, struct buf *lines,
                 struct cf_err *e);
/* extract the base backup beside --to-datadir, add recovery.signal and the recovery
 * settings, then rename it into place; on -1 nothing is left at or beside it */
int pg_phys_import(struct source_in *in, const struct restore_opts *o, json_t *info,
                   struct cf_err *e);

#endif

/* cat_ctx.h - what the catalog commands share: the repository, the index kept in step with
 * it, the pins in the repository, and the retention policy of each source. */
#ifndef CF_CAT_CTX_H
#define CF_CAT_CTX_H

#include <stdbool.h>

#include <jansson.h>

#include <stdio.h>

#include "../../policies/retention.h"
#include "../config/conf.h"
#include "../repo/repo.h"
#include "../repo/repo_pins.h"
#include "cat_archive.h"
#include "cat_drill.h"
#include "cat_health.h"
#include "cat_index.h"

struct cat_sync_stats {
    size_t added;     /* backups found in the repository, not in the index */
    size_t gone;      /* index rows whose backup is no longer in the repository */
    size_t reread;    /* rows completed now that the manifests can be read */
    size_t pins;      /* pins that changed */
    size_t damaged;   /* of the added: manifest fails to load */
    size_t vanished;  /* index rows whose backup is gone without a removal record */
    size_t logs_added, logs_gone;   /* archived log files learnt, and gone (cat_logcmd.c) */
    size_t drills_added;            /* drill reports learnt from drills/ */
    bool fresh;       /* the index was created (or replaced) by this command */
};

struct cat_ctx {
    const struct conf *c;
    struct repo *r;             /* NULL when offline */
    struct cat_index *x;
    char repo_id[80];
    bool offline;               /* repository unreachable: answers come from the index */
    char offline_why[1024];
    time_t synced_at;           /* last refresh from the repository (offline: from the index) */
    struct cat_sync_stats st;
};

/* cat_ctx_open() - open the index and the repository, and bring the index in step with the
 * repository (the repository wins). With @allow_offline, an unreachable repository is not
 * an error: ctx->offline is set and the index answers alone, as it was last refreshed. */
int cat_ctx_open(const struct conf *c, const struct repo_unlock *u, bool allow_offline,
                 struct cat_ctx *ctx, struct cf_err *e);
void cat_ctx_close(struct cat_ctx *ctx);
/* cat_index_refresh() - the refresh cat_ctx_open() makes, for a caller that has repository @r
 * open already (restore drill, when the index is missing): the index is opened (created when
 * missing) and brought in step with @r; what changed in *@st (may be NULL) */
int cat_index_refresh(const struct conf *c, struct repo *r, struct cat_sync_stats *st,
                      struct cf_err *e);

/* cat_sync() - compare the index with the repository and fix the index: new backups added
 * (read from their manifests), gone ones marked pruned (a removal record exists) or vanished
 * (none: removed behind coffer's back), pins copied, drill reports not known yet learnt. With @rebuild,
 * every row of this repository is dropped first and recreated. */
int cat_sync(struct cat_ctx *ctx, bool rebuild, struct cf_err *e);

/* @t as an RFC 3339 JSON string, null when 0 */
json_t *cat_json_time(time_t t);
/* open the index's write transaction unless *@in_tx says it is open; sets it */
int cat_begin_once(struct cat_ctx *ctx, bool *in_tx, struct cf_err *e);

/* say on stderr what the refresh changed, or that the repository was unreachable */
void cat_ctx_note(const struct cat_ctx *ctx);
/* the same as a JSON object: {"offline", "refreshed", "added", "gone", ...} */
json_t *cat_ctx_json(const struct cat_ctx *ctx);

/* the status shown for a row: complete, damaged, pruned, or sealed (committed, manifest not
 * readable here: public-key mode without the secret key) */
const char *cat_row_status(const struct cat_row *r);
/* a row as JSON, with the stable field names of docs/CATALOG.md */
json_t *cat_row_json(const struct cat_row *r);
void cat_print_json(json_t *v);
/* @t as an RFC 3339 JSON string, null when 0 */
json_t *cat_json_time(time_t t);

/* "its manifest is missing from the repository since T and no coffer prune removed it; HINT:
 * ..." for a vanished row */
void cat_vanished_msg(const struct cat_row *r, char *out, size_t cap);

/* --- policies (cat_policy.c) --- */

#define CAT_POLICY_MAX 16

/* The retention rules that apply to a source: its own keep-* keys if it has any, else those
 * of every job that backs it up (a backup is kept if any of them keeps it). None at all:
 * n = 0 (everything is kept). @rpo: the source's own rpo, else the smallest of its jobs'. */
struct cat_policy_set {
    struct ret_policy p[CAT_POLICY_MAX];
    char origin[CAT_POLICY_MAX][160];   /* "[source media]", "[job nightly]" */
    size_t n;
    int64_t rpo;
    int64_t keep_pitr;   /* the source's own keep-pitr, else the largest of its jobs'; 0: none */
    char pitr_origin[160];
};

int cat_policy_for(const struct conf *c, const char *source, struct cat_policy_set *out,
                   struct cf_err *e);
/* apply every policy of @ps and merge (kept if any keeps, reasons or'ed) */
int cat_policy_apply(const struct cat_policy_set *ps, const struct ret_backup *b, size_t n,
                     time_t now, struct ret_decision *out, struct cf_err *e);

/* --- the log archive (cat_sync.c, cat_archive.c; the rest catalog/cat_logcmd.c) --- */

/* cat_sync_logs() - part of cat_sync(): for every configured source, every source with
 * backups and every source seen before, list logs/<source>/ once and bring the logs table in
 * step (the header of a file is read only when the index lacks it). Opens the write
 * transaction through *@in_tx on the first change. */
int cat_sync_logs(struct cat_ctx *ctx, bool rebuild, bool *in_tx, struct cf_err *e);

/* cat_log_bases() - the base backups of the log archive (cat_archive.h) among @source's
 * complete and damaged backups in @rows (sorted by time): the manifests of postgres and
 * mariadb backups the index does not remember yet are read once (docs/PITR.md: a physical
 * one's info.method, timeline, start_wal, stop_wal, stop_time, wal_segment_size; a dump's
 * databases[].binlog_file and binlog_pos, self-contained) and remembered; without a readable
 * repository, only what the index remembers. b[].kept is left false. */
int cat_log_bases(struct cat_ctx *ctx, const char *source, const struct cat_row *rows,
                  size_t nrows, struct cat_bases *out, struct cf_err *e);

/* one source's archive as status and `catalog logs` show it */
struct cat_arch {
    bool have;                    /* any archived file */
    enum cat_log_naming naming;
    uint64_t seg_size;
    struct cat_archive a;
};
int cat_arch_load(struct cat_ctx *ctx, const char *source, struct cat_arch *out,
                  struct cf_err *e);
void cat_arch_free(struct cat_arch *a);
json_t *cat_arch_json(const struct cat_arch *s, time_t now);
/* "  pg archive: last ... pushed ... (42s ago), ..." and one line per gap */
void cat_arch_print(const struct cat_arch *s, const char *source, time_t now, FILE *out);
/* verify every archived file of @source the index lists: add one result each to @results,
 * count them; -1 only when the repository cannot be read (not for damage) */
struct catalog_opts;
int cat_verify_logs(struct cat_ctx *ctx, const char *source, const struct catalog_opts *o,
                    json_t *results, size_t *done, size_t *bad, struct cf_err *e);

#endif

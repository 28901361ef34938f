/* mig_ctx.h - what the migrate commands share inside migrate/: the state of one run, the
 * history table, the lock, and the checks made before anything changes. Not for use outside
 * migrate/. */
#ifndef CF_MIG_CTX_H
#define CF_MIG_CTX_H

#include <jansson.h>

#include "../lib/config/conf.h"
#include "mig.h"

/* one row of coffer_schema_history as read */
struct mig_hist {
    uint64_t version;
    char *name, *checksum, *applied_at, *applied_by, *status, *snapshot, *run_id;
    char *failed_statement, *error;
    int64_t duration_ms;
};

/* one run of the tool */
struct mig_ctx {
    const struct mig_opts *o;
    int exit;                      /* exit code for the error in flight */
    struct conf *conf;             /* the configuration, read once */
    const struct ini_section *sec; /* its [source] section */
    const struct mig_engine_ops *ops;
    struct db_settings *set;       /* the source's connection settings */
    char *dir;
    char *database;
    void *db;
    bool locked;
    struct mig_set files;
    struct mig_hist *h;
    size_t nh;
    bool have_table;
    char *hist;                    /* the history table's qualified, quoted name */
    char *hist_schema;             /* its schema as a string literal */
    char who[320];
    json_t *out;                   /* --json result */
};

/* a row to insert or replace */
struct mig_hist_row {
    uint64_t version;
    const char *name, *checksum, *status, *snapshot, *run_id, *failed_statement, *error;
    int64_t duration_ms;
};

/* --- small helpers (mig_history.c) --- */

bool mig_is_status(const struct mig_hist *h, const char *s);
/* the history row of version @v, or NULL */
const struct mig_hist *mig_hist_find(const struct mig_ctx *c, uint64_t v);
void mig_hist_free(struct mig_ctx *c);
/* "migrate --config F --source S [--database D] [--dir P]", for the commands we suggest;
 * freshly allocated */
char *mig_cmd_prefix(const struct mig_ctx *c);
/* fill c->who with user@host */
void mig_who_am_i(struct mig_ctx *c);
/* a new run id; later runs have greater ids */
void mig_new_run_id(char *out, size_t cap);

/* --- the history table (mig_history.c) --- */

/* find where the history table lives (c->hist, c->hist_schema); right after connecting,
 * before any migration can change the session */
int mig_hist_locate(struct mig_ctx *c, struct cf_err *e);

/* read every row into c->h (empty when the table does not exist; c->have_table says) */
int mig_hist_load(struct mig_ctx *c, struct cf_err *e);
/* create the table when it is missing */
int mig_hist_ensure(struct mig_ctx *c, struct cf_err *e);
/* insert or replace the row of @w->version; applied_at and applied_by are set here */
int mig_hist_write(struct mig_ctx *c, const struct mig_hist_row *w, struct cf_err *e);
/* rewrite @h with a new status and error */
int mig_hist_set_status(struct mig_ctx *c, const struct mig_hist *h, const char *status,
                        const char *error, struct cf_err *e);

/* --- the lock (mig_history.c) --- */

/* poll the engine's lock until taken or o->lock_timeout_ms passed (CF_E_LOCKED, exit 12) */
int mig_lock_take(struct mig_ctx *c, struct cf_err *e);
/* release it if held; safe to call twice */
void mig_lock_release(struct mig_ctx *c);

/* --- checks before anything changes (mig_history.c) --- */

/* applied rows whose file changed or is gone: -1 with exit 13 and a hint */
int mig_check_drift(struct mig_ctx *c, struct cf_err *e);
const struct mig_hist *mig_first_failed(const struct mig_ctx *c);
/* the error (exit 11) for a row left failed, with the exact commands out of it */
int mig_failed_error(struct mig_ctx *c, const struct mig_hist *h, struct cf_err *e);
/* lock (unless --dry-run), load the history, refuse drift and (unless @allow_failed) a
 * failed row */
int mig_prepare_change(struct mig_ctx *c, bool allow_failed, struct cf_err *e);

/* --- scripts (mig_apply.c) --- */

/* split @sql of file @path, refusing a script without statements (exit 2) */
int mig_split_file(struct mig_ctx *c, const char *sql, const char *path, struct mig_stmts *st,
                   struct cf_err *e);
/* PostgreSQL, transactional file: refuse transaction control statements (exit 2) */
int mig_check_tx_control(struct mig_ctx *c, const char *path, bool no_tx,
                         const struct mig_stmts *st, struct cf_err *e);
void mig_print_stmts(const struct mig_stmts *st);
json_t *mig_stmts_json(const struct mig_stmts *st);

/* --- the commands that run scripts (mig_apply.c) --- */

int mig_cmd_up(struct mig_ctx *c, struct cf_err *e);
int mig_cmd_down(struct mig_ctx *c, struct cf_err *e);
int mig_cmd_rollback(struct mig_ctx *c, struct cf_err *e);

#endif

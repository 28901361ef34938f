/* cat_ctx.h - what the catalog commands share: the repository, the index kept in step with
 * it, the pins in the repository, and the retention policy of each source. */
#ifndef CF_CAT_CTX_H
#define CF_CAT_CTX_H

#include <stdbool.h>

#include <jansson.h>

#include "../lib/catalog/cat_health.h"
#include "../lib/catalog/cat_index.h"
#include "../lib/config/conf.h"
#include "../lib/repo/repo.h"
#include "../lib/repo/repo_pins.h"
#include "../policies/retention.h"
#include "catalog.h"

struct cat_sync_stats {
    size_t added;     /* backups found in the repository, not in the index */
    size_t gone;      /* index rows whose backup is no longer in the repository */
    size_t reread;    /* rows completed now that the manifests can be read */
    size_t pins;      /* pins that changed */
    size_t damaged;   /* of the added: manifest fails to load */
    size_t vanished;  /* index rows whose backup is gone without a removal record */
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

/* cat_sync() - compare the index with the repository and fix the index: new backups added
 * (read from their manifests), gone ones marked pruned (a removal record exists) or vanished
 * (none: removed behind coffer's back), pins copied. With @rebuild,
 * every row of this repository is dropped first and recreated. */
int cat_sync(struct cat_ctx *ctx, bool rebuild, struct cf_err *e);

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

/* "its manifest is missing from the repository since T and no coffer prune removed it; HINT:
 * ..." for a vanished row */
void cat_vanished_msg(const struct cat_row *r, char *out, size_t cap);

/* an age as "3d 4h", "2h 05m", "42s" (catalog.c) */
void cat_fmt_age(int64_t s, char *out, size_t cap);

/* --- mirrors (catalog/cat_mirror.c) --- */

/* cat_mirror_status() - `catalog status`'s part on the mirrors of the configuration (none
 * when a mirror is the repository in use): each one's lag, printed (text) or appended to
 * @arr; *@notok counts those behind, unreachable or of another repository */
void cat_mirror_status(const struct cat_ctx *ctx, const struct catalog_opts *o, json_t *arr,
                       size_t *notok);

/* --- policies (catalog/cat_policy.c) --- */

#define CAT_POLICY_MAX 16

/* The retention rules that apply to a source: its own keep-* keys if it has any, else those
 * of every job that backs it up (a backup is kept if any of them keeps it). None at all:
 * n = 0 (everything is kept). @rpo: the source's own rpo, else the smallest of its jobs'. */
struct cat_policy_set {
    struct ret_policy p[CAT_POLICY_MAX];
    char origin[CAT_POLICY_MAX][160];   /* "[source media]", "[job nightly]" */
    size_t n;
    int64_t rpo;
};

int cat_policy_for(const struct conf *c, const char *source, struct cat_policy_set *out,
                   struct cf_err *e);
/* apply every policy of @ps and merge (kept if any keeps, reasons or'ed) */
int cat_policy_apply(const struct cat_policy_set *ps, const struct ret_backup *b, size_t n,
                     time_t now, struct ret_decision *out, struct cf_err *e);

#endif

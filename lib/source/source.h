/* source.h - what is backed up and restored: a volume (directory tree), a PostgreSQL, MariaDB
 * or Redis server.
 *
 * An export pushes bytes into a `struct source_out`, split into named parts (one per
 * database, say; a volume has one part). An import pulls them back from a `struct source_in`,
 * part by part. Sources never know targets: the pipeline (lib/stream) sits between them.
 *
 * A driver exports one `const struct source_ops`; everything else in its file is static. */
#ifndef CF_SOURCE_H
#define CF_SOURCE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "../config/conf_check.h"
#include "../config/ini.h"
#include "../core/buf.h"
#include "../core/err.h"

/* Opaque to drivers: the frame writer and reader (lib/stream/frame.c) implement them, through
 * the table in source_io.h. */
struct source_out;
struct source_in;
struct sqlrows;   /* sqlrows.h */

/* Start a new part named @name (the previous one ends). A source with a single stream may
 * skip this: its bytes go to a part named after the source kind. */
int source_out_part(struct source_out *o, const char *name, struct cf_err *e);
int source_out_write(struct source_out *o, const void *buf, size_t len, struct cf_err *e);

/* Segmented streams (a layout 3 volume backup, docs/FORMAT.md): whole entries packed into
 * segments that can be read alone. source_out_seg_mark() is called before each entry: the
 * stream may close the current segment there, and says where the entry's first byte will
 * land (segment @n, offset @off of its decompressed bytes); -1 (CF_E_INTERNAL) when
 * the stream is not segmented. source_out_seg_parent() is the parent's index (NULL: a full
 * backup), source_out_seg_index() takes this backup's index (and the reference). */
int source_out_seg_mark(struct source_out *o, uint32_t *n, uint64_t *off, struct cf_err *e);
json_t *source_out_seg_parent(struct source_out *o);
const char *source_out_seg_id(struct source_out *o);
int source_out_seg_index(struct source_out *o, json_t *index, struct cf_err *e);
/* The index of the backup being restored (borrowed; NULL when it is not segmented), and
 * the opening of one segment: source_in_read() then reads its decompressed bytes. */
json_t *source_in_seg_index(struct source_in *in);
int source_in_seg_open(struct source_in *in, const char *id, uint32_t n, struct cf_err *e);

/* Move to the next part: 1 with @name set (valid until the next call), 0 when there are no
 * more parts, -1 on error. */
int source_in_next_part(struct source_in *in, const char **name, struct cf_err *e);
/* Read from the current part: bytes read, 0 at its end, -1 on error. */
ssize_t source_in_read(struct source_in *in, void *buf, size_t cap, struct cf_err *e);

/* What `restore` asks of an import. Fields a kind does not use are ignored by it. */
struct restore_opts {
    const char *to_dir;       /* volume: --to DIR */
    const char *to_file;      /* databases: --to-file F */
    const char *database;     /* --database DB: only this part */
    const char *into_db;      /* --into-db NAME */
    const char *into_redis;   /* --into-redis ADDR */
    bool clean;               /* --clean */
    bool globals;             /* --globals */
    bool force;               /* --force */
    bool dry_run;             /* --dry-run: print the plan, change nothing */
    int jobs;                 /* --jobs N */
    const char *backup_id;    /* the backup being restored, for messages */
    /* postgres, physical base backups (docs/PITR.md) */
    const char *to_datadir;       /* --to-datadir DIR */
    const char *recovery_target;  /* recovery_target_time ("2026-11-30 01:02:03+00"), or
                                     NULL: to the end of the archive */
    bool pause;                   /* --pause: recovery_target_action = pause */
    const char *restore_command;  /* the restore_command the recovered server runs */
    /* mariadb: each table's rows in the SQL loaded, counted as it goes by (the drill's) */
    struct sqlrows *count_rows;
};

struct source_ops {
    const char *name;          /* "volume", "postgres", "mariadb", "redis" */
    const char *const *keys;   /* configuration keys this kind reads, besides the common ones */
    /* parse and check the [source] section; no connection yet; *priv is freed by close */
    int (*open)(const struct ini_section *sec, void **priv, struct cf_err *e);
    void (*close)(void *priv);
    /* Back up: push the whole stream into @out. Record in @info (a JSON object) the
     * consistency point, server version, warnings, and anything restore needs. Return 0
     * only when the stream is known complete: a dump that cannot be proved whole is an
     * error, never a backup. */
    int (*export)(void *priv, struct source_out *out, json_t *info, struct cf_err *e);
    /* Restore: pull the stream from @in into the destination @opts names. @info is what
     * export recorded. On failure nothing at the destination may look complete. */
    int (*import)(void *priv, struct source_in *in, const struct restore_opts *opts,
                  json_t *info, struct cf_err *e);
    /* Check @opts and the destination before anything is read (destination given, not
     * occupied...) and append the plan's lines to @lines; nothing is printed. */
    int (*plan)(void *priv, const struct restore_opts *opts, json_t *info, struct buf *lines,
                struct cf_err *e);
    /* Optional: check what a backup will need (server reachable and accepting the
     * credentials, dump tool present and new enough, path readable), adding every finding to
     * @r about @sec; with r->offline, nothing that needs the network. */
    void (*check)(void *priv, const struct ini_section *sec, struct conf_report *r);
    /* Optional, for kinds with databases: from now on back up only database @db (a name
     * db_name_is_safe accepts), as if `databases =` named it alone */
    void (*only_database)(void *priv, const char *db);
};

/* A database source names the part of each database "db:<name>" (several databases in one
 * backup); other parts (roles, say) have names of their own. */
#define SOURCE_PART_DB_PREFIX "db:"
/* source_restore_bytes() - the bytes a restore brings back from a backup whose manifest lists
 * @parts ([{"name","bytes"}]): those of database @database's part, or @all when @database is
 * NULL or the backup has no part of that name. */
uint64_t source_restore_bytes(json_t *parts, const char *database, uint64_t all);

/* the driver for kind @name, or NULL */
const struct source_ops *source_driver_find(const char *name);

struct source {
    const struct source_ops *ops;
    void *priv;
    char *name;     /* the section name: [source media] -> "media" */
};

/* source_check_keys() - the validation step's key check of a [source]: its type names a
 * known kind, and every key is the source's own (type), its kind's (ops->keys) or in one of
 * @others (a NULL-terminated list of at most five NULL-terminated lists: the keys other
 * owners read from [source], such as the stream's and the policies') */
int source_check_keys(const struct ini_section *sec, const char *const *const *others,
                      struct cf_err *e);
/* source_open() - open the kind @sec's type names with the section's settings (no connection
 * yet). The keys are not checked here: the validation step did that (source_check_keys). */
int source_open(const struct ini_section *sec, struct source **out, struct cf_err *e);
void source_close(struct source *s);
/* source_kind() - the kind of @s: "volume", "postgres", ... (its driver's name) */
const char *source_kind(const struct source *s);
/* source_export() - back up @s into @out, recording in @info what restore needs (the
 * driver's export: 0 only when the stream is known complete) */
int source_export(struct source *s, struct source_out *out, json_t *info, struct cf_err *e);
/* source_import() - restore what @in holds into the destination @opts names; @info is what
 * the export recorded */
int source_import(struct source *s, struct source_in *in, const struct restore_opts *opts,
                  json_t *info, struct cf_err *e);
/* source_plan() - check @opts and the destination, then append the plan's lines to @lines
 * (the caller prints them once every check has passed). On -1 @lines is as it was. */
int source_plan(struct source *s, const struct restore_opts *opts, json_t *info,
                struct buf *lines, struct cf_err *e);
/* source_only_database() - narrow the opened @s to its one database @db (migrate's snapshot);
 * CF_E_USAGE for a kind without databases */
int source_only_database(struct source *s, const char *db, struct cf_err *e);
/* source_check() - the validation step for one [source]: open it (its keys and files), then
 * its driver's check; every finding goes to @r */
void source_check(const struct ini_section *sec, struct conf_report *r);

#endif
